"""One module per claim, each exporting ``CLAIM``; :data:`ALL` lists them for the registry."""
from ntkrepro.claims.etf import CLAIM as ETF
from ntkrepro.claims.finite_vs_infinite import CLAIM as FINITE_VS_INFINITE

ALL = [ETF, FINITE_VS_INFINITE]

"""One module per claim, each exporting ``CLAIM``; :data:`ALL` lists them for the registry."""
from ntkrepro.claims.bottleneck import CLAIM as BOTTLENECK
from ntkrepro.claims.etf import CLAIM as ETF
from ntkrepro.claims.factorized_ntk import CLAIM as FACTORIZED_NTK
from ntkrepro.claims.finite_vs_infinite import CLAIM as FINITE_VS_INFINITE
from ntkrepro.claims.ntt import CLAIM as NTT

ALL = [FACTORIZED_NTK, ETF, BOTTLENECK, FINITE_VS_INFINITE, NTT]

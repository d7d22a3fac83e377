"""Claim folder: `claim.py` (declaration), `science.py`, `figures.py`, `test_etf.py`."""
from ntkrepro.claims.etf.claim import CLAIM

__all__ = ["CLAIM"]

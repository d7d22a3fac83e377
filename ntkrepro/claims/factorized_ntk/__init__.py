"""Claim folder: `claim.py` (declaration), `science.py`, `figures.py`, `test_factorized_ntk.py`."""
from ntkrepro.claims.factorized_ntk.claim import CLAIM

__all__ = ["CLAIM"]

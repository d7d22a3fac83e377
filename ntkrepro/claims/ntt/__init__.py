"""Claim folder: `claim.py` (declaration), `science.py`, `figures.py`, tests beside them."""
from ntkrepro.claims.ntt.claim import CLAIM

__all__ = ["CLAIM"]

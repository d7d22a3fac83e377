"""Claim folder: `claim.py` (declaration), `science.py`, `figures.py`, tests beside them."""
from ntkrepro.claims.finite_vs_infinite.claim import CLAIM

__all__ = ["CLAIM"]

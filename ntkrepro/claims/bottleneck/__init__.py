"""Claim folder: `claim.py` (declaration), `science.py`, `figures.py`, `test_bottleneck.py`."""
from ntkrepro.claims.bottleneck.claim import CLAIM

__all__ = ["CLAIM"]

"""ntkrepro: a thin helper package behind the claim notebooks.

Importing the package turns on float64 in jax (``jax_enable_x64``): kernels, eigenvalues
and kernel solves need it. Training loops that can run in float32 cast explicitly.
"""
from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # neural-tangents imports tensorflow

import jax

jax.config.update("jax_enable_x64", True)

from ntkrepro.params import resolve_params  # noqa: E402
from ntkrepro.registry import CLAIMS, get_claim  # noqa: E402

__version__ = "0.1.0"
__all__ = ["CLAIMS", "get_claim", "resolve_params", "__version__"]

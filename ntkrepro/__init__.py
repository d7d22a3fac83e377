"""ntkrepro: a thin helper package behind the claim notebooks.

Importing the package (1) replaces ``neural_tangents.experimental`` by an empty module before
neural-tangents is imported, so that neural-tangents loads without tensorflow
(:mod:`ntkrepro.compat`; import ``ntkrepro`` first), and (2) turns on float64 in jax
(``jax_enable_x64``): kernels, eigenvalues and kernel solves need it. Training loops that can
run in float32 cast explicitly.
"""
from __future__ import annotations

from ntkrepro import compat

compat.install()
compat.patch_jax()

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

from ntkrepro.registry import CLAIMS, get_claim, resolve_params  # noqa: E402

__version__ = "0.1.0"
__all__ = ["CLAIMS", "get_claim", "resolve_params", "__version__"]

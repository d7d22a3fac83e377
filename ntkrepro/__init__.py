"""ntkrepro: a thin helper package behind the claim notebooks.

``import ntkrepro`` is light: it imports neither jax nor any claim's science. It (1) puts an empty
module in place of ``neural_tangents.experimental``, so that neural-tangents loads without tensorflow
(:func:`ntkrepro.compat.install`), and (2) arranges that when jax is first imported in this process
(where computation starts) :func:`ntkrepro.compat.setup_jax` runs: the jax-version patches and float64
(``jax_enable_x64``: kernels, eigenvalues and kernel solves need it; training loops that can run in
float32 cast explicitly). ``CLAIMS``, ``get_claim`` and ``resolve_params`` come from
:mod:`ntkrepro.registry`, loaded on first use.
"""
from __future__ import annotations

from typing import Any

from ntkrepro import compat

compat.install()
compat.after_import("jax", compat.setup_jax)

__version__ = "0.1.0"
__all__ = ["CLAIMS", "get_claim", "resolve_params", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("CLAIMS", "get_claim", "resolve_params"):
        from ntkrepro import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'ntkrepro' has no attribute {name!r}")

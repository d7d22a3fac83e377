"""The one place where ntkrepro adjusts neural-tangents before it is imported.

neural-tangents 0.6.5 (its last release) runs ``from . import experimental`` in its
``__init__``; ``experimental/empirical_tf`` imports tensorflow, tf2jax and jax2tf, which cost
13-15 s of start-up and 1.8 GB of disk, and which ntkrepro never uses. :func:`install` puts an
empty module in ``sys.modules["neural_tangents.experimental"]`` *before* neural-tangents is
first imported, so that import finds it and tensorflow is never loaded (nor needs to be
installed: the lock drops it, see ``requirements/overrides.txt``). Every other feature the
project uses (``stax`` kernels, the three empirical-NTK implementations, ``predict``,
``monte_carlo_kernel_fn``, ``batch``, ``linearize``) lives outside ``experimental`` and is
unchanged; ``tests/test_environment.py`` checks them.

``import ntkrepro`` calls :func:`install`; import ``ntkrepro`` before ``neural_tangents``.
Accessing an attribute of the stub raises an ``AttributeError`` that says why it is empty.
"""
from __future__ import annotations

import sys
import types

STUB_NAME = "neural_tangents.experimental"


class _EmptyExperimental(types.ModuleType):
    """Stands in for ``neural_tangents.experimental`` (its tensorflow interop only)."""

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(
            f"neural_tangents.experimental.{name} is not available: ntkrepro replaces that "
            "subpackage by an empty module so that neural-tangents imports without tensorflow "
            "(see ntkrepro/compat.py)")


def install() -> bool:
    """Install the stub; return False (and do nothing) if neural-tangents is already imported
    with its real ``experimental`` subpackage, True otherwise."""
    if STUB_NAME in sys.modules:
        return isinstance(sys.modules[STUB_NAME], _EmptyExperimental)
    if "neural_tangents" in sys.modules:
        return False
    sys.modules[STUB_NAME] = _EmptyExperimental(STUB_NAME, __doc__)
    return True

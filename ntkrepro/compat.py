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

On jax >= 0.5 (the modern stack, ``requirements-modern.lock``) :func:`patch_jax` also restores,
before neural-tangents is imported, the few jax names it still uses that moved or went away:
``jax.core.{Jaxpr, JaxprEqn, Literal, Var, Primitive}`` (now in ``jax.extend.core``),
``jax.util.safe_map`` / ``safe_zip`` (the ``jax.util`` module is gone), ``jax.core.DShapedArray``
(gone: a class nothing is an instance of), and ``ad.source_info_util``, ``ad.config`` and
``ad.zeros_like_p`` (used by STRUCTURED_DERIVATIVES); and it sets
``jax_threefry_partitionable = False`` so that seeded draws equal those of jax 0.4.25. On the
pinned stack (jax 0.4.25) it does nothing.

``import ntkrepro`` calls :func:`install` and :func:`patch_jax`; import ``ntkrepro`` before
``neural_tangents``. Accessing an attribute of the stub raises an ``AttributeError`` that says why
it is empty.
"""
from __future__ import annotations

import sys
import types

MODERN_FROM = (0, 5)  # jax versions from which patch_jax has work to do

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


def jax_version() -> tuple[int, ...]:
    import jax

    return tuple(int(p) for p in jax.__version__.split(".")[:3] if p.isdigit())


def stack() -> str:
    """``"modern"`` on jax >= 0.5 (requirements-modern.lock), else ``"pinned"`` (requirements.lock)."""
    return "modern" if jax_version()[:2] >= MODERN_FROM else "pinned"


def patch_jax() -> list[str]:
    """Make neural-tangents 0.6.5 import and run on jax 0.5-0.9; return what was patched (empty on
    the pinned stack)."""
    import jax

    if stack() == "pinned":
        return []
    import jax.core as core
    import jax.extend.core as ext
    from jax._src import core as src_core
    from jax._src import source_info_util
    from jax._src import util as src_util
    from jax.interpreters import ad

    done: list[str] = []
    for name in ("Jaxpr", "JaxprEqn", "Literal", "Var", "Primitive"):
        if not hasattr(core, name):
            setattr(core, name, getattr(ext, name))
            done.append(f"jax.core.{name}")
    for name in ("Value", "AbstractValue", "ShapedArray", "eval_context"):
        if not hasattr(core, name) and hasattr(src_core, name):
            setattr(core, name, getattr(src_core, name))
            done.append(f"jax.core.{name}")
    if not hasattr(core, "DShapedArray"):
        core.DShapedArray = type("DShapedArray", (), {})  # nothing is an instance: the branch never runs
        done.append("jax.core.DShapedArray")
    if "jax.util" not in sys.modules:
        try:
            import jax.util  # noqa: F401
        except ImportError:
            util = types.ModuleType("jax.util")
            util.safe_map, util.safe_zip = src_util.safe_map, src_util.safe_zip
            sys.modules["jax.util"] = util
            jax.util = util
            done.append("jax.util")
    if not hasattr(ad, "source_info_util"):
        ad.source_info_util = source_info_util
        done.append("ad.source_info_util")
    if not hasattr(ad, "config"):
        ad.config = jax.config
        done.append("ad.config")
    if not hasattr(ad, "zeros_like_p"):
        ad.zeros_like_p = ext.Primitive("zeros_like")  # a rule key no jaxpr contains any more
        done.append("ad.zeros_like_p")
    jax.config.update("jax_threefry_partitionable", False)
    done.append("jax_threefry_partitionable=False")
    return done


def float32_scope():
    """A context in which jax's default floating type is float32 (``jax_enable_x64`` off), for code
    that must trace in float32 although ntkrepro enables x64: ``jax.enable_x64(False)`` where it exists
    (jax >= 0.5), ``jax.experimental.disable_x64()`` on jax 0.4.25. neural-tangents' ``Conv``
    multiplies by a numpy float64 scale, which under x64 promotes a float32 network to float64."""
    import jax

    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(False)
    from jax.experimental import disable_x64
    return disable_x64()

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

When they run: ``import ntkrepro`` imports no jax. It calls :func:`install` (the stub; no import) and
:func:`after_import` so that :func:`setup_jax` (:func:`patch_jax`, then ``jax_enable_x64``) runs the
moment jax is first imported in that process, i.e. where computation starts (at once if jax is already
imported). ``neural_tangents`` also imports on its own, without ``ntkrepro`` first: ``make venv``
writes ``<site-packages>/ntkrepro-neural-tangents.pth`` (:func:`write_startup_hook`), an interpreter
start-up hook that imports nothing until ``neural_tangents`` is first imported and then runs
:func:`prepare_neural_tangents` (``import ntkrepro``, :func:`install`, :func:`patch_jax`): in the
project's environments ``import neural_tangents`` behaves as it does after ``import ntkrepro`` (float64
on, seeded draws as on jax 0.4.25). Accessing an attribute of the stub raises an ``AttributeError``
that says why it is empty.
"""
from __future__ import annotations

import sys
import sysconfig
import types
from pathlib import Path
from typing import Callable

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


def setup_jax() -> None:
    """What every ntkrepro computation needs from jax: :func:`patch_jax`, then float64 on
    (``jax_enable_x64``: kernels, eigenvalues and kernel solves need it; training loops that can run
    in float32 cast explicitly). Idempotent; imports jax."""
    import jax

    patch_jax()
    jax.config.update("jax_enable_x64", True)


def after_import(name: str, callback: Callable[[], None]) -> None:
    """Run ``callback()`` right after the top-level module ``name`` is first imported in this process
    (at once if it already is). The module's own loader runs it; only its ``exec_module`` is wrapped,
    for that one call."""
    if name in sys.modules:
        callback()
        return
    for finder in sys.meta_path:
        if isinstance(finder, _AfterImport):
            finder.callbacks.setdefault(name, []).append(callback)
            return
    sys.meta_path.insert(0, _AfterImport({name: [callback]}))


class _AfterImport:
    """A meta-path finder that finds nothing itself: for a watched name it asks the other finders and
    wraps the found loader's ``exec_module`` so that the callbacks run once the module has executed."""

    def __init__(self, callbacks: dict[str, list[Callable[[], None]]]):
        self.callbacks = callbacks

    def find_spec(self, fullname: str, path=None, target=None):
        if fullname not in self.callbacks:
            return None
        callbacks = self.callbacks.pop(fullname)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec = find(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        original = getattr(loader, "exec_module", None)
        if original is None:
            return spec

        def exec_module(module):
            try:
                original(module)
            finally:
                vars(loader).pop("exec_module", None)
            for callback in callbacks:
                callback()

        loader.exec_module = exec_module
        return spec


def prepare_neural_tangents() -> None:
    """What must happen before neural-tangents is first imported: the stub (:func:`install`) and the
    jax names it needs (:func:`patch_jax`). Called by the start-up hook (:data:`STARTUP_CODE`)."""
    install()
    patch_jax()


# The start-up hook: a .pth file's line that starts with "import" is executed when the interpreter
# starts; it defines a meta-path finder that imports nothing until neural_tangents is first imported.
STARTUP_CODE = '''
import sys


class NtkreproNeuralTangentsHook:
    """ntkrepro's start-up hook (ntkrepro/compat.py): applies ntkrepro.compat before neural_tangents
    is first imported, so that it imports without tensorflow."""

    def find_spec(self, name, path=None, target=None):
        if name == "neural_tangents" and self in sys.meta_path:
            sys.meta_path.remove(self)
            try:
                from ntkrepro.compat import prepare_neural_tangents
            except ImportError:  # ntkrepro uninstalled: neural_tangents fails as it would anyway
                return None
            prepare_neural_tangents()
        return None


sys.meta_path.insert(0, NtkreproNeuralTangentsHook())
'''
STARTUP_FILE = "ntkrepro-neural-tangents.pth"


def write_startup_hook(site_dir: str | Path | None = None) -> Path:
    """Write :data:`STARTUP_FILE` (one line that runs :data:`STARTUP_CODE`) into ``site_dir``
    (default: this interpreter's site-packages); return its path."""
    path = Path(site_dir or sysconfig.get_paths()["purelib"]) / STARTUP_FILE
    path.write_text(f"import sys; exec({STARTUP_CODE!r})\n")
    return path


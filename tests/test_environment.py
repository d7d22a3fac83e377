"""The pinned environment: lock and environment.yml agree, installed versions match the lock,
and every neural-tangents feature the project uses works (so a bad pin fails loudly)."""
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import jax
import numpy as np
import pytest

from ntkrepro.envfile import ENV_FILE, LOCK, active_lock, env_yml_pins, lock_pins, render
from ntkrepro.kernels import fcn
from ntkrepro.numerics import tolerance

KEY_PACKAGES = ("jax", "jaxlib", "numpy", "scipy", "neural-tangents", "papermill", "optax",
                "scikit-learn", "seaborn")
REPO = Path(__file__).resolve().parents[1]


def test_environment_yml_matches_lock():
    lock, env = lock_pins(LOCK.read_text()), env_yml_pins(ENV_FILE.read_text())
    assert env == lock, f"differ: {sorted(set(env.items()) ^ set(lock.items()))[:10]}"
    assert ENV_FILE.read_text() == render(LOCK.read_text()), "run `make lock` to regenerate environment.yml"


@pytest.mark.parametrize("name", KEY_PACKAGES)
def test_installed_versions_match_lock(name):
    assert metadata.version(name) == lock_pins(active_lock().read_text())[name]


@pytest.fixture(scope="module")
def net():
    init, apply, kfn = fcn(32, 2, 2**0.5, 0.1, out_dim=3)
    x = jax.random.normal(jax.random.PRNGKey(0), (6, 5))
    _, params = init(jax.random.PRNGKey(1), x.shape)
    return init, apply, kfn, x, params


def test_empirical_ntk_implementations_agree(net):
    import neural_tangents as nt

    _, apply, _, x, params = net
    kernels = {impl.name: np.asarray(nt.empirical_ntk_fn(apply, vmap_axes=0, implementation=impl)(x, None, params))
               for impl in nt.NtkImplementation if impl.name != "AUTO"}
    assert set(kernels) >= {"JACOBIAN_CONTRACTION", "NTK_VECTOR_PRODUCTS", "STRUCTURED_DERIVATIVES"}
    ref = kernels["JACOBIAN_CONTRACTION"]
    for name, k in kernels.items():
        np.testing.assert_allclose(k, ref, atol=tolerance(np.float64, np.abs(ref).max()), err_msg=name)


def test_monte_carlo_kernel_approaches_analytic(net):
    import neural_tangents as nt

    init, apply, kfn, x, _ = net
    exact = np.asarray(kfn(x, None, "ntk"))
    errs = [np.abs(np.asarray(nt.monte_carlo_kernel_fn(init, apply, jax.random.PRNGKey(2), n)(x, None, "ntk")) - exact).max()
            for n in (4, 64)]
    assert errs[1] < errs[0]


def test_predict_and_gp_inference_run(net):
    import neural_tangents as nt

    _, _, kfn, x, _ = net
    y = np.eye(3)[np.arange(6) % 3]
    pred = nt.predict.gradient_descent_mse_ensemble(kfn, x, y, learning_rate=1.0)
    mean_cov = pred(t=10.0, x_test=x[:2], get="ntk", compute_cov=True)
    assert mean_cov.mean.shape == (2, 3) and mean_cov.covariance.shape == (2, 2)
    k = kfn(x, None, "nngp")
    out = nt.predict.gp_inference(k, y, diag_reg=1e-3)(get="nngp", k_test_train=kfn(x[:2], x, "nngp"))
    assert out.shape == (2, 3)


def test_neural_tangents_imports_without_tensorflow():
    """``import ntkrepro`` then ``import neural_tangents`` loads no tensorflow, tf2jax or jax2tf
    module, and writes nothing to stderr (no TF/absl log lines)."""
    code = ("import sys, ntkrepro, neural_tangents as nt; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf2jax', 'keras') "
            "or 'jax2tf' in m]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert out.stderr == ""


def test_tensorflow_is_not_installed():
    for name in ("tensorflow", "tf2jax", "keras"):
        with pytest.raises(metadata.PackageNotFoundError):
            metadata.version(name)


def test_compat_is_the_only_place_that_patches_neural_tangents():
    """One documented measure: only ntkrepro/compat.py touches ``sys.modules`` for neural-tangents."""
    hits = [p.relative_to(REPO) for p in (REPO / "ntkrepro").rglob("*.py")
            if "sys.modules[" in p.read_text() and "neural_tangents" in p.read_text()]
    assert hits == [Path("ntkrepro/compat.py")]


def test_stub_explains_itself():
    import neural_tangents as nt

    with pytest.raises(AttributeError, match="compat.py"):
        nt.experimental.empirical_ntk_fn_tf  # noqa: B018


# ----- neural-tangents on its own, ntkrepro without jax ------------------------------------------

STANDALONE_NT = """
import sys
import numpy as np
import jax
import neural_tangents as nt
from neural_tangents import stax
bad = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'tf2jax', 'keras') or 'jax2tf' in m]
assert bad == [], bad
init, apply, _ = stax.serial(stax.Dense(32), stax.Relu(), stax.Dense(1))
x = jax.random.normal(jax.random.PRNGKey(0), (5, 4))
_, params = init(jax.random.PRNGKey(1), x.shape)
kernels = [np.asarray(nt.empirical_ntk_fn(apply, vmap_axes=0, implementation=impl)(x, None, params))
           for impl in (nt.NtkImplementation.JACOBIAN_CONTRACTION, nt.NtkImplementation.NTK_VECTOR_PRODUCTS,
                        nt.NtkImplementation.STRUCTURED_DERIVATIVES)]
assert kernels[0].shape == (5, 5) and kernels[0].dtype == np.float64, (kernels[0].shape, kernels[0].dtype)
for k in kernels[1:]:
    np.testing.assert_allclose(k, kernels[0], rtol=1e-10, atol=1e-12)
print("ok")
"""
STACK_PYTHONS = {"pinned": REPO / ".venv" / "bin" / "python", "modern": REPO / ".venv-modern" / "bin" / "python"}


@pytest.mark.parametrize("stack", list(STACK_PYTHONS))
def test_neural_tangents_imports_on_its_own(stack, tmp_path):
    """A fresh interpreter of each stack's environment, outside the repository and without importing
    ntkrepro first: ``import neural_tangents`` and ``stax`` work without tensorflow (the start-up hook
    that ``make venv`` writes, ntkrepro/compat.py), and the three empirical-NTK implementations agree."""
    python = sys.executable if stack == "pinned" and not STACK_PYTHONS["pinned"].exists() else STACK_PYTHONS[stack]
    if not Path(python).exists():
        pytest.skip(f"no {stack} environment here ({python}; `make venv STACK={stack}` creates it)")
    out = subprocess.run([str(python), "-c", STANDALONE_NT], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip() == "ok", (
        f"{stack}: {out.stderr.strip().splitlines()[-1:]} (if the start-up hook is missing, run `make venv "
        f"STACK={stack}` or write it: python -c 'from ntkrepro.compat import write_startup_hook; "
        f"write_startup_hook()')")


NO_JAX = """
import sys
import ntkrepro
from ntkrepro import cli, readme
from ntkrepro.registry import CLAIMS
assert list(CLAIMS) and ntkrepro.get_claim("etf").id == "etf"
for argv in (["list"], ["ids"], ["report"]):
    assert cli.main(argv) == 0, argv
assert cli.main(["status"]) in (0, 1)  # 1 = some record is stale; either way without jax
readme.render(readme.README.read_text())
assert cli.main(["run", "etf", "-p", "seed", "-1"]) == 2
assert cli.main(["run", "etf", "-p", "seed", "[1"]) == 2
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "jaxlib", "neural_tangents", "optax")
               and m != "neural_tangents.experimental" or m.endswith(".science"))
assert heavy == [], heavy
"""


def test_ntkrepro_imports_without_jax():
    """``import ntkrepro``, the registry, ``list``, ``ids``, ``report``, ``status``, the README render and parameter
    errors import neither jax nor any claim's science."""
    out = subprocess.run([sys.executable, "-c", NO_JAX], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]


@pytest.mark.parametrize("first", ["ntkrepro", "jax"])
def test_float64_on_once_jax_is_imported(first):
    """x64 is turned on where computation starts (jax's first import after ``import ntkrepro``, or at
    once when jax came first), as it was at ``import ntkrepro``."""
    code = (f"import {first}; import ntkrepro, jax, jax.numpy as jnp; "
            "assert jnp.ones(1).dtype == jnp.float64 and jax.config.jax_enable_x64; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]


def test_no_import_cycle_among_ntkrepro_modules():
    """Imports between ntkrepro modules (at module level and inside functions) form no cycle."""
    import ast

    graph = {}
    for path in (REPO / "ntkrepro").rglob("*.py"):
        if path.name.startswith("test_"):
            continue
        mod = ".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__")
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("ntkrepro"):
                deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("ntkrepro"))
        graph[mod] = deps
    graph = {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(m, stack):
        state[m] = 1
        for d in graph[m]:
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(d):] + [d]))
            if d not in state:
                visit(d, stack + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_a_hand_run_pins_threads_like_the_runner_and_says_when_too_late():
    """notebook.start() pins XLA and BLAS threads (numerics.pin_threads) when no jax computation ran yet, as the
    runner's kernels are pinned; after a computation it cannot, and says so (False)."""
    code = ("import os; os.environ.pop('XLA_FLAGS', None); os.environ['XLA_FLAGS'] = '--xla_cpu_enable_fast_math=false'\n"
            "from ntkrepro.numerics import SINGLE_THREAD_ENV, pin_threads\n"
            "import jax, jax.numpy as jnp\n"
            "print(pin_threads(), SINGLE_THREAD_ENV['XLA_FLAGS'] in os.environ['XLA_FLAGS'],\n"
            "      os.environ['XLA_FLAGS'].startswith('--xla_cpu_enable_fast_math'))\n"
            "jnp.ones(2).block_until_ready(); print(pin_threads())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "True", "True", "True"]
    late = ("import os; os.environ.pop('XLA_FLAGS', None)\n"
            "import jax.numpy as jnp; jnp.ones(2).block_until_ready()\n"
            "from ntkrepro.numerics import pin_threads; print(pin_threads(), 'XLA_FLAGS' in os.environ)\n")
    assert subprocess.run([sys.executable, "-c", late], capture_output=True, text=True,
                          check=True).stdout.split() == ["False", "False"]

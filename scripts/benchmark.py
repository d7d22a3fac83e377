"""Speed ratios behind the project's implementation choices (prints ratios, asserts nothing).

    .venv/bin/python scripts/benchmark.py [--no-runs]

Each line times two ways of doing the same computation, side by side in one run (median of
repeats after a warm-up), and prints their ratio; absolute times depend on the machine (two
machines of the same kind differed by up to 3x), the ratios much less. Everything is also
written to build/benchmark.json. ``--no-runs`` skips the smoke-profile comparison of
``run all --jobs 2`` against ``--jobs 1`` (several minutes).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

import ntkrepro  # noqa: F401  (float64 on)
from ntkrepro.kernels import fcn
from ntkrepro.train import gd_mse, mse


def median_time(fn: Callable[[], Any], repeats: int = 5) -> float:
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


RESULTS: list[dict[str, Any]] = []
ROOT = Path(__file__).resolve().parents[1]


def report(name: str, slow_label: str, slow: float, fast_label: str, fast: float) -> None:
    print(f"{name:42s} {slow_label} {slow * 1e3:9.2f} ms | {fast_label} {fast * 1e3:9.2f} ms | ratio {slow / fast:7.1f}x",
          flush=True)
    RESULTS.append({"name": name, "a": slow_label.strip(), "a_s": slow, "b": fast_label.strip(), "b_s": fast,
                    "ratio": slow / fast})


def wall(argv: list[str], repeats: int = 1, env: dict | None = None) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def imports() -> None:
    """Import of ntkrepro + neural-tangents (tensorflow never loaded) against the same import with
    neural-tangents' real ``experimental`` subpackage, which loads tensorflow: only where
    tensorflow is installed (the lock no longer installs it)."""
    ours = wall([sys.executable, "-c", "import ntkrepro, neural_tangents"], 3)
    floor = wall([sys.executable, "-c", "import jax"], 3)
    report("import ntkrepro+neural_tangents vs jax", "ours ", ours, "jax  ", floor)
    try:
        from importlib import metadata
        metadata.version("tensorflow")
    except Exception:
        print(f"{'import with tensorflow':42s} tensorflow not installed (the lock drops it); measured before "
              "the change: 13-15 s on this kind of machine", flush=True)
        RESULTS.append({"name": "import with tensorflow", "skipped": "tensorflow not installed"})
        return
    real = wall([sys.executable, "-c", "import neural_tangents, ntkrepro"], 3)
    report("import: real experimental vs stub", "tf   ", real, "stub ", ours)


def parallel_runs() -> None:
    """Every smoke profile (outputs in build/smoke/) with ``run all --jobs 1`` against ``--jobs 2``."""
    times = {}
    for jobs in (1, 2):
        argv = [sys.executable, "-m", "ntkrepro", "run", "all", "--profile", "smoke", "-q", "--no-html",
                "--jobs", str(jobs)]
        times[jobs] = wall(argv)
    report("smoke profiles, run all", "jobs1", times[1], "jobs2", times[2])


def structured_ntk() -> None:
    """Our structured MLP NTK (ntkrepro.ntk) against each neural-tangents implementation: the NTT
    step (value and gradient of the cross-NTK distance, 64-300-100-10 MLP, float32, batch 64) and
    the FCN empirical NTK of the finite-vs-infinite claim (100 points, width 512, depth 2)."""
    import neural_tangents as nt
    from jax.example_libraries import stax

    from ntkrepro.claims.ntt.science import ntk as ours_ntt, nt_ntk_fn
    from ntkrepro.ntk import nt_fcn_ntk

    init, apply = stax.serial(stax.Dense(300), stax.Relu, stax.Dense(100), stax.Relu, stax.Dense(10))
    p = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), init(jax.random.PRNGKey(0), (-1, 64))[1])
    t = jax.tree_util.tree_map(lambda a: a * 1.01, p)
    x = jax.random.normal(jax.random.PRNGKey(1), (64, 64), jnp.float32)

    def step_for(k):
        target = k(x[:32], x[32:], t)
        return jax.jit(jax.value_and_grad(lambda q: jnp.mean((k(x[:32], x[32:], q) - target) ** 2)))

    ours_step = step_for(ours_ntt)
    t_ours = median_time(lambda: ours_step(p), 5)
    for impl in nt.NtkImplementation:  # AUTO only picks one of these three
        if impl.name == "AUTO":
            continue
        nt_step = step_for(nt_ntk_fn(apply, impl))  # compiled once, outside the timing
        t_nt = median_time(lambda: nt_step(p), 3)
        report("NTT step (grad of cross-NTK distance)", f"{impl.name[:7]:7s}", t_nt, "ours ", t_ours)

    W_std, b_std = 2**0.5, 0.1
    init2, apply2, _ = fcn(512, 2, W_std, b_std)
    xf = jax.random.normal(jax.random.PRNGKey(2), (100, 64))
    pf = init2(jax.random.PRNGKey(3), xf.shape)[1]
    ours_f = jax.jit(lambda q: nt_fcn_ntk(q, xf, None, W_std, b_std))
    t_ours = median_time(lambda: ours_f(pf), 5)
    for impl in nt.NtkImplementation:  # AUTO only picks one of these three
        if impl.name == "AUTO":
            continue
        f = jax.jit(nt.empirical_ntk_fn(apply2, trace_axes=(-1,), vmap_axes=0, implementation=impl))
        report("FCN empirical NTK (100 pts, w=512, depth 2)", f"{impl.name[:7]:7s}",
               median_time(lambda: f(xf, None, pf), 3), "ours ", t_ours)


def conv_training() -> None:
    """The claim-4 CNN (two 1-D convolutions of 32 channels, MNIST-1D shape, 300 points, 3 seeds), 20 GD
    steps: a ``lax.scan`` against steps in Python (XLA:CPU convolutions are slow inside a while loop,
    jax issue 12868), and float64 against float32 (traced with x64 off: ``compat.float32_scope``)."""
    from ntkrepro.compat import float32_scope
    from ntkrepro.claims.finite_vs_infinite.science import cnn_layers
    from ntkrepro.train import gd_mse_seeds, gd_mse_seeds_stepped, init_seeds

    init, apply, _ = cnn_layers(32, W_std=2**0.5, b_std=0.1)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 40, 1)), rng.normal(size=(300, 10))
    steps = 20

    def timed(train, dtype):
        xj, yj = jnp.asarray(x, dtype), jnp.asarray(y, dtype)
        p0 = init_seeds(init, jax.random.PRNGKey(0), 3, xj.shape, dtype=dtype)
        return median_time(lambda: train(apply, p0, xj, yj, xj, 0.05, steps)[0], 2)

    with float32_scope():
        scan32, step32 = timed(gd_mse_seeds, jnp.float32), timed(gd_mse_seeds_stepped, jnp.float32)
    report(f"CNN GD, {steps} steps, 3 seeds (float32)", "scan   ", scan32, "stepped", step32)
    report(f"CNN GD stepped, {steps} steps: f64 vs f32", "f64  ", timed(gd_mse_seeds_stepped, jnp.float64),
           "f32  ", step32)


def batched_tuning() -> None:
    """The fair-comparison tuner (ntkrepro.tuning): a grid of 8 learning rates x 5 seeds, 200 GD steps of a
    one-hidden-layer tanh network (width 64, 200 points, float64), as one jitted, vmapped program against
    a Python loop over the same 40 (rate, seed) pairs (each a jitted scan, compiled once)."""
    from ntkrepro.tuning import tune, tune_loop

    rng = np.random.default_rng(3)
    data = (jnp.asarray(rng.normal(size=(200, 16))), jnp.asarray(rng.normal(size=(200, 1))))

    def init_fn(key):
        k1, k2 = jax.random.split(key)
        return [jax.random.normal(k1, (16, 64)) / 4.0, jax.random.normal(k2, (64, 1)) / 8.0]

    def loss_fn(params, d):
        return 0.5 * jnp.mean((jnp.tanh(d[0] @ params[0]) @ params[1] - d[1]) ** 2)

    lrs, seeds, steps = list(np.geomspace(0.01, 3.0, 8)), list(range(5)), 200
    batched = median_time(lambda: tune(init_fn, loss_fn, data, lrs, seeds, steps).losses, 3)
    step = jax.jit(lambda p, lr: jax.tree_util.tree_map(lambda a, g: a - lr * g, p, jax.grad(loss_fn)(p, data)))

    def steps_loop():  # what one writes without the tuner: a Python loop over pairs and steps
        out = []
        for lr in lrs:
            for seed in seeds:
                p = init_fn(jax.random.PRNGKey(seed))
                for _ in range(steps):
                    p = step(p, lr)
                out.append(loss_fn(p, data))
        return jnp.stack(out)

    name = f"tuning {len(lrs)} lr x {len(seeds)} seeds x {steps} steps"
    report(name + " (pairs)", "scans", median_time(lambda: tune_loop(init_fn, loss_fn, data, lrs, seeds,
                                                                        steps).losses, 3), "tune ", batched)
    report(name + " (steps)", "py   ", median_time(steps_loop, 1), "tune ", batched)


def main() -> None:
    imports()
    batched_tuning()
    structured_ntk()
    conv_training()
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(500, 64)))
    y = jnp.asarray(rng.normal(size=(500, 10)))

    kfn = fcn(1, 3, 2**0.5, 0.1)[2]
    jitted = jax.jit(kfn, static_argnames="get")
    report("stax kernel_fn (500x500, depth 3)", "eager", median_time(lambda: kfn(x, None, "ntk")),
           "jit  ", median_time(lambda: jitted(x, None, "ntk")))

    init, apply, _ = fcn(512, 1, 2**0.5, 0.1)
    params = init(jax.random.PRNGKey(0), x.shape)[1]
    steps = 100
    step = jax.jit(lambda p: jax.tree_util.tree_map(lambda a, g: a - 0.5 * g, p,
                                                    jax.grad(lambda q: mse(apply(q, x), y))(p)))

    def python_loop():
        p = params
        for _ in range(steps):
            p = step(p)
        return p

    report(f"GD, {steps} steps (width 512)", "py loop", median_time(python_loop, 3),
           "scan ", median_time(lambda: gd_mse(apply, params, x, y, x, 0.5, steps)[0], 3))
    p32 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), params)
    x32, y32 = x.astype(jnp.float32), y.astype(jnp.float32)
    report(f"GD scan, {steps} steps: float64 vs float32", "f64  ",
           median_time(lambda: gd_mse(apply, params, x, y, x, 0.5, steps)[0], 3),
           "f32  ", median_time(lambda: gd_mse(apply, p32, x32, y32, x32, 0.5, steps)[0], 3))

    import neural_tangents as nt

    init3, apply3, _ = fcn(256, 3, 2**0.5, 0.1)
    p3 = init3(jax.random.PRNGKey(1), x.shape)[1]
    xs = x[:100]
    times = {}
    for impl in nt.NtkImplementation:  # AUTO only picks one of these three
        if impl.name == "AUTO":
            continue
        f = jax.jit(nt.empirical_ntk_fn(apply3, vmap_axes=0, implementation=impl))
        times[impl.name] = median_time(lambda: f(xs, None, p3), 3)
    fastest = min(times, key=times.get)
    for name, t in times.items():
        report(f"empirical NTK (100 pts, FCN-3 w=256)", f"{name[:7]:7s}", t, f"{fastest[:5]}", times[fastest])
    if "--no-runs" not in sys.argv:
        parallel_runs()
    out = ROOT / "build" / "benchmark.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": {"cores": os.cpu_count()}, "results": RESULTS}, indent=2) + "\n")
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

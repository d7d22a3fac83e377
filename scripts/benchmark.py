"""Speed ratios behind the project's implementation choices (prints ratios, asserts nothing).

    .venv/bin/python scripts/benchmark.py

Each line times two ways of doing the same computation (median of repeats after a warm-up) and
prints their ratio; absolute times depend on the machine, the ratios much less.
"""
from __future__ import annotations

import time
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


def report(name: str, slow_label: str, slow: float, fast_label: str, fast: float) -> None:
    print(f"{name:42s} {slow_label} {slow * 1e3:9.2f} ms | {fast_label} {fast * 1e3:9.2f} ms | ratio {slow / fast:7.1f}x")


def main() -> None:
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
    for impl in nt.NtkImplementation:
        f = jax.jit(nt.empirical_ntk_fn(apply3, vmap_axes=0, implementation=impl))
        times[impl.name] = median_time(lambda: f(xs, None, p3), 3)
    fastest = min(times, key=times.get)
    for name, t in times.items():
        report(f"empirical NTK (100 pts, FCN-3 w=256)", f"{name[:7]:7s}", t, f"{fastest[:5]}", times[fastest])


if __name__ == "__main__":
    main()

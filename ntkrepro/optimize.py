"""Small jitted optimizers for closed-form objectives: plain gradient descent in ``lax.scan``,
vectorized over restarts."""
from __future__ import annotations

from functools import lru_cache, partial
from typing import Any, Callable

import jax
import jax.numpy as jnp

PyTree = Any


@partial(jax.jit, static_argnames=("loss_fn", "steps"))
def gradient_descent(loss_fn: Callable[..., jnp.ndarray], x0: PyTree, lr: float, steps: int,
                     *args: Any) -> tuple[PyTree, jnp.ndarray]:
    """``steps`` of ``x <- x - lr * grad loss_fn(x, *args)``; returns (x, loss after each step).

    ``args`` are passed as arguments, not closed over, so large arrays do not become constants
    of the compiled program."""
    grad = jax.value_and_grad(loss_fn)

    def step(x, _):
        _, g = grad(x, *args)
        x = jax.tree_util.tree_map(lambda a, b: a - lr * b, x, g)
        return x, loss_fn(x, *args)

    return jax.lax.scan(step, x0, None, length=steps)


@partial(jax.jit, static_argnames=("loss_fn", "steps"))
def gradient_descent_restarts(loss_fn: Callable[..., jnp.ndarray], x0s: PyTree, lr: float,
                              steps: int, *args: Any) -> tuple[PyTree, jnp.ndarray]:
    """:func:`gradient_descent` vmapped over a leading restart axis of ``x0s``."""
    return jax.vmap(lambda x0: gradient_descent(loss_fn, x0, lr, steps, *args))(x0s)


def polish(loss_fn: Callable[..., jnp.ndarray], x0: jnp.ndarray, *args: Any, maxiter: int = 5000,
           gtol: float = 1e-13) -> tuple[jnp.ndarray, float]:
    """Finish a gradient-descent run with L-BFGS (scipy, float64): ``(x, loss)`` at the point where
    the projected gradient falls below ``gtol`` (or after ``maxiter`` iterations). L-BFGS's line
    search never raises the loss, so a polished loss is at most the starting one."""
    import numpy as np
    from scipy.optimize import minimize

    shape = jnp.shape(x0)
    vg = _value_and_grad_flat(loss_fn, shape)
    x0 = np.asarray(x0, dtype=np.float64).ravel()

    def fun(x):
        v, g = vg(jnp.asarray(x), *args)
        return float(v), np.asarray(g, dtype=np.float64)

    res = minimize(fun, x0, jac=True, method="L-BFGS-B",
                   options={"maxiter": maxiter, "gtol": gtol, "ftol": 0.0, "maxcor": 30})
    start = fun(x0)[0]
    x, f = (res.x, float(res.fun)) if res.fun <= start else (x0, start)
    return jnp.asarray(x).reshape(shape), f


@lru_cache(maxsize=128)  # bounded: one compiled value-and-grad per (loss, shape) in use
def _value_and_grad_flat(loss_fn: Callable[..., jnp.ndarray], shape: tuple) -> Callable:
    return jax.jit(jax.value_and_grad(lambda x, *a: loss_fn(x.reshape(shape), *a)))

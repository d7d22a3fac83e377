"""Small jitted optimizers for closed-form objectives: plain gradient descent in ``lax.scan``,
vectorized over restarts."""
from __future__ import annotations

from functools import partial
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

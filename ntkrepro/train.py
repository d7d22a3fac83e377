"""Jitted full-batch gradient-descent loops (``lax.scan``) for the MSE loss, vectorized over seeds."""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import jax
import jax.numpy as jnp

PyTree = Any


def mse(f: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    """0.5 * mean((f - y)^2) over all outputs (neural-tangents' predict convention)."""
    return 0.5 * jnp.mean((f - y) ** 2)


def sq_norm(params: PyTree) -> jnp.ndarray:
    return sum(jnp.sum(p**2) for p in jax.tree_util.tree_leaves(params))


def centered(apply_fn: Callable, params0: PyTree) -> Callable:
    """The centred model f(x; theta) - f(x; theta_0), theta_0 frozen (the centring of Lee et al. 2020)."""
    return lambda params, x: apply_fn(params, x) - apply_fn(params0, x)


def _gd_pieces(apply_fn: Callable, params0: PyTree, x: jnp.ndarray, y: jnp.ndarray, lr: float,
               weight_decay: float, center: bool, decay_to_init: bool,
               f0: jnp.ndarray | None = None) -> tuple[Callable, Callable, Callable]:
    """(model, objective, step) of full-batch GD from ``params0``. The centred model subtracts
    f0 = f(x; theta_0), computed once (here, unless given), not at every step."""
    if center:
        f0 = apply_fn(params0, x) if f0 is None else f0
        f_train = lambda p: apply_fn(p, x) - f0  # noqa: E731
        model = centered(apply_fn, params0)
    else:
        f_train = lambda p: apply_fn(p, x)  # noqa: E731
        model = apply_fn

    def objective(p):
        data_loss = mse(f_train(p), y)
        reg = p if not decay_to_init else jax.tree_util.tree_map(jnp.subtract, p, params0)
        return data_loss + 0.5 * weight_decay * sq_norm(reg), data_loss

    def step(p):
        (_, data_loss), g = jax.value_and_grad(objective, has_aux=True)(p)
        return jax.tree_util.tree_map(lambda a, b: a - lr * b, p, g), data_loss

    return model, objective, step


@partial(jax.jit, static_argnames=("apply_fn", "steps", "center", "decay_to_init"))
def gd_mse(apply_fn: Callable, params0: PyTree, x: jnp.ndarray, y: jnp.ndarray,
           x_eval: jnp.ndarray, lr: float, steps: int, weight_decay: float = 0.0,
           center: bool = False, decay_to_init: bool = False) -> tuple[PyTree, jnp.ndarray, jnp.ndarray]:
    """``steps`` of full-batch GD on ``0.5*mean((f-y)^2) + weight_decay/2 * ||theta||^2`` (with
    ``decay_to_init``: ``||theta - theta_0||^2``, L2 toward the initial weights, which shrinks nothing).

    Returns the final parameters, the training loss (data term) after 0..steps steps, and the model's
    outputs on ``x_eval`` at the end (centred outputs when ``center``).
    """
    model, objective, step = _gd_pieces(apply_fn, params0, x, y, lr, weight_decay, center, decay_to_init)
    params, losses = jax.lax.scan(lambda p, _: step(p), params0, None, length=steps)
    losses = jnp.concatenate([losses, objective(params)[1][None]])
    return params, losses, model(params, x_eval)


def gd_mse_seeds(apply_fn: Callable, params0: PyTree, x: jnp.ndarray, y: jnp.ndarray,
                 x_eval: jnp.ndarray, lr: float, steps: int, weight_decay: float = 0.0,
                 center: bool = False, decay_to_init: bool = False) -> tuple[PyTree, jnp.ndarray, jnp.ndarray]:
    """:func:`gd_mse` vmapped over a leading seed axis of ``params0``.

    Not ``lax.map`` over seeds: on XLA:CPU (jaxlib 0.4.25) that nests the step scan in a second loop, and
    in float32 it gave outputs 0.3 away from float64 (where the vmapped scan agrees to 2e-5) on the
    claim-4 width sweep, though it ran 20 % faster at width 1024."""
    return _gd_mse_seeds(apply_fn, params0, x, y, x_eval, lr, steps, weight_decay, center, decay_to_init)


@partial(jax.jit, static_argnames=("apply_fn", "steps", "center", "decay_to_init"))
def _gd_mse_seeds(apply_fn, params0, x, y, x_eval, lr, steps, weight_decay, center, decay_to_init):
    return jax.vmap(lambda p0: gd_mse(apply_fn, p0, x, y, x_eval, lr, steps, weight_decay, center,
                                      decay_to_init))(params0)


def init_seeds(init_fn: Callable, key: jax.Array, n_seeds: int, input_shape: tuple[int, ...],
               dtype: Any = jnp.float32) -> PyTree:
    """``n_seeds`` independent initializations stacked on a leading axis, cast to ``dtype``."""
    keys = jax.random.split(key, n_seeds)
    params = jax.vmap(lambda k: init_fn(k, input_shape)[1])(keys)
    return jax.tree_util.tree_map(lambda a: a.astype(dtype), params)


@partial(jax.jit, static_argnames=("apply_fn", "center", "decay_to_init"))
def _one_step(apply_fn, p, p0, f0, x, y, lr, weight_decay, center, decay_to_init):
    return _gd_pieces(apply_fn, p0, x, y, lr, weight_decay, center, decay_to_init, f0)[2](p)


@partial(jax.jit, static_argnames=("apply_fn", "center", "decay_to_init"))
def _loss_and_outputs(apply_fn, p, p0, f0, x, y, x_eval, lr, weight_decay, center, decay_to_init):
    model, objective, _ = _gd_pieces(apply_fn, p0, x, y, lr, weight_decay, center, decay_to_init, f0)
    return objective(p)[1], model(p, x_eval)


def gd_mse_seeds_stepped(apply_fn: Callable, params0: PyTree, x: jnp.ndarray, y: jnp.ndarray,
                         x_eval: jnp.ndarray, lr: float, steps: int, weight_decay: float = 0.0,
                         center: bool = False, decay_to_init: bool = False) -> tuple[PyTree, jnp.ndarray, jnp.ndarray]:
    """:func:`gd_mse_seeds` with the loops over seeds and steps in Python around one jitted step
    (compiled once per model and shape, cached across calls).

    For convolutional models on CPU: XLA:CPU runs a convolution about 10x slower inside a while loop
    (``lax.scan``) than outside one (jax issue 12868; measured here: 125 ms against 12 ms per step of the
    claim-4 CNN), and the seed-vmapped step was 1.6x slower than one seed at a time (its batched readout
    fell back to oneDNN's reference matmul). The arithmetic is the same as :func:`gd_mse_seeds` (a test
    compares them)."""
    n_seeds = jax.tree_util.tree_leaves(params0)[0].shape[0]
    finals, curves, outs = [], [], []
    for s in range(n_seeds):
        p0 = jax.tree_util.tree_map(lambda a: a[s], params0)
        f0 = apply_fn(p0, x) if center else None
        p, losses = p0, []
        for _ in range(steps):
            p, loss = _one_step(apply_fn, p, p0, f0, x, y, lr, weight_decay, center, decay_to_init)
            losses.append(loss)
        last, out = _loss_and_outputs(apply_fn, p, p0, f0, x, y, x_eval, lr, weight_decay, center, decay_to_init)
        finals.append(p)
        curves.append(jnp.stack(losses + [last]))
        outs.append(out)
    stack = lambda *a: jnp.stack(a)  # noqa: E731
    return jax.tree_util.tree_map(stack, *finals), jnp.stack(curves), jnp.stack(outs)

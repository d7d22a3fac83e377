"""Batched tuning: full-batch gradient descent over a grid of learning rates x seeds as one jitted,
vmapped program (the fair-comparison protocols tune every model this way).

For learning rate :math:`\\eta_i` and seed :math:`s_j`, the run starts from
:math:`\\theta^{(ij)}_0 = \\mathrm{init}(\\mathrm{PRNGKey}(s_j))` (the same start for every rate) and steps

.. math::  \\theta^{(ij)}_{t+1} = \\theta^{(ij)}_t - \\eta_i \\nabla_\\theta L(\\theta^{(ij)}_t;\\ \\mathcal{D}),
           \\qquad t = 0, \\dots, T - 1,

recording :math:`L(\\theta^{(ij)}_t)` before each step. :func:`tune` runs the whole grid as one jitted
program: ``vmap`` over seeds, ``lax.map`` over rates, ``lax.scan`` over steps (vmapping the rates too
keeps every run's activations in flight at once; on a shared 2-core CPU it was no faster, and up to
2x slower, than mapping them). Against a loop of per-pair jitted scans the gain is the dispatch and
compilation saved, small once each pair runs for milliseconds; against a Python loop of jitted
steps it is large (``make benchmark`` prints both ratios).
:func:`tune_loop` runs the same pairs one after another (a jitted scan per pair) and is the reference
:func:`tune` is tested against (``tests/test_tuning.py``) and timed against (``make benchmark``).

A run is *stable* when every recorded loss and the final loss :math:`L(\\theta_T)` are finite and
:math:`L(\\theta_T) \\le L(\\theta_0)`; a diverging rate gives ``inf``/``nan`` curves, not an error.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable, NamedTuple, Sequence

import jax
import jax.numpy as jnp

PyTree = Any
InitFn = Callable[[jax.Array], PyTree]  # PRNG key -> parameters
LossFn = Callable[[PyTree, PyTree], jax.Array]  # (parameters, data) -> scalar loss


class TuningResult(NamedTuple):
    """Curves and verdicts of a learning-rate x seed grid.

    ``losses[i, j, t]`` = :math:`L(\\theta_t)` for ``lrs[i]``, ``seeds[j]`` (shape ``[n_lr, n_seed, steps]``);
    ``final[i, j]`` = :math:`L(\\theta_T)`; ``stable[i, j]`` (bool) as in the module docstring."""

    lrs: jax.Array
    seeds: jax.Array
    losses: jax.Array
    final: jax.Array
    stable: jax.Array

    def best_lr(self) -> jax.Array:
        """The rate with the lowest mean final loss over seeds among rates stable for every seed
        (``nan`` when none is)."""
        ok = jnp.all(self.stable, axis=1)
        score = jnp.where(ok, jnp.mean(jnp.where(self.stable, self.final, 0.0), axis=1), jnp.inf)
        return jnp.where(jnp.any(ok), self.lrs[jnp.argmin(score)], jnp.nan)


def _run(init_fn: InitFn, loss_fn: LossFn, data: PyTree, lr: jax.Array, seed: jax.Array,
         steps: int) -> tuple[jax.Array, jax.Array]:
    """One run: (losses [steps], final loss) of ``steps`` GD steps with rate ``lr`` from ``init(seed)``."""
    params0 = init_fn(jax.random.PRNGKey(seed))
    value_and_grad = jax.value_and_grad(loss_fn)

    def step(params, _):
        loss, grads = value_and_grad(params, data)
        return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), loss

    params, losses = jax.lax.scan(step, params0, None, length=steps)
    return losses, loss_fn(params, data)


def _stable(losses: jax.Array, final: jax.Array) -> jax.Array:
    return jnp.all(jnp.isfinite(losses), axis=-1) & jnp.isfinite(final) & (final <= losses[..., 0])


@partial(jax.jit, static_argnames=("init_fn", "loss_fn", "steps"))
def _tune(init_fn: InitFn, loss_fn: LossFn, data: PyTree, lrs: jax.Array, seeds: jax.Array,
          steps: int) -> tuple[jax.Array, jax.Array]:
    over_seeds = jax.vmap(_run, in_axes=(None, None, None, None, 0, None))
    return jax.lax.map(lambda lr: over_seeds(init_fn, loss_fn, data, lr, seeds, steps), lrs)


def tune(init_fn: InitFn, loss_fn: LossFn, data: PyTree, lrs: Sequence[float] | jax.Array,
         seeds: Sequence[int] | jax.Array, steps: int) -> TuningResult:
    """Full-batch GD for every (rate, seed) pair of ``lrs`` x ``seeds`` as one jitted program (seeds
    vmapped, rates mapped).

    Args:
      init_fn: ``key -> params``, e.g. ``lambda k: stax_init(k, x.shape)[1]``; pure.
      loss_fn: ``(params, data) -> scalar``, e.g. ``lambda p, d: mse(apply(p, d[0]), d[1])``; pure.
      data: any pytree of arrays, passed to ``loss_fn`` unchanged (full batch).
      lrs: ``[n_lr]`` learning rates :math:`\\eta_i`.
      seeds: ``[n_seed]`` integer seeds (``PRNGKey(seed)`` for ``init_fn``).
      steps: number of GD steps :math:`T` (static: one compilation per value).

    Returns:
      :class:`TuningResult` with ``losses`` ``[n_lr, n_seed, steps]``, ``final`` and ``stable``
      ``[n_lr, n_seed]``. Pass ``init_fn`` and ``loss_fn`` as the same function objects between calls
      to reuse the compiled program. The dtype follows ``init_fn``'s parameters and ``data``.
    """
    lrs_a, seeds_a = jnp.asarray(lrs), jnp.asarray(seeds, dtype=jnp.uint32)
    if lrs_a.ndim != 1 or seeds_a.ndim != 1 or steps < 1:
        raise ValueError(f"tune needs 1-d lrs and seeds and steps >= 1, got shapes {lrs_a.shape}, "
                         f"{seeds_a.shape} and steps={steps}")
    losses, final = _tune(init_fn, loss_fn, data, lrs_a, seeds_a, steps)
    return TuningResult(lrs_a, seeds_a, losses, final, _stable(losses, final))


@partial(jax.jit, static_argnames=("init_fn", "loss_fn", "steps"))
def _run_jit(init_fn: InitFn, loss_fn: LossFn, data: PyTree, lr: jax.Array, seed: jax.Array,
             steps: int) -> tuple[jax.Array, jax.Array]:
    return _run(init_fn, loss_fn, data, lr, seed, steps)


def tune_loop(init_fn: InitFn, loss_fn: LossFn, data: PyTree, lrs: Sequence[float] | jax.Array,
              seeds: Sequence[int] | jax.Array, steps: int) -> TuningResult:
    """The same grid as :func:`tune`, one (rate, seed) pair after another in a Python loop (each pair
    a jitted ``lax.scan``, compiled once): the reference for tests and ``make benchmark``."""
    lrs_a, seeds_a = jnp.asarray(lrs), jnp.asarray(seeds, dtype=jnp.uint32)
    rows = [[_run_jit(init_fn, loss_fn, data, lr, seed, steps) for seed in seeds_a] for lr in lrs_a]
    losses = jnp.stack([jnp.stack([r[0] for r in row]) for row in rows])
    final = jnp.stack([jnp.stack([r[1] for r in row]) for row in rows])
    return TuningResult(lrs_a, seeds_a, losses, final, _stable(losses, final))

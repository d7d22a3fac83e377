"""Pruning masks for stax MLPs (weights only; biases are never pruned), in two allocations:
layerwise (every weight matrix keeps exactly ``round(density * size)`` weights) and global (one
top-k over all weight matrices together, ``round(density * total)`` weights; layers keep
different fractions). Ties are broken by index.

Parameters are a stax params list: ``[(W, b), (), (W, b), (), ...]``; a mask has the same
structure with 0/1 arrays of the same shapes (all-ones for biases).
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

Params = Any


def is_weight(leaf: jnp.ndarray) -> bool:
    return leaf.ndim == 2


def kept_count(size: int, density: float) -> int:
    """Weights kept in a layer of ``size`` weights at ``density``: round(density * size), at least 1."""
    return max(1, int(round(density * size)))


def top_k_mask(scores: jnp.ndarray, density: float | jnp.ndarray) -> jnp.ndarray:
    """1 at the ``kept_count`` largest scores of a weight matrix, 0 elsewhere. ``density`` may be a
    traced value, so one compiled program serves every density."""
    k = jnp.maximum(1, jnp.round(density * scores.size))
    rank = jnp.argsort(jnp.argsort(-scores.ravel()))  # 0 for the largest score
    return (rank < k).astype(scores.dtype).reshape(scores.shape)


def masks_from_scores(params: Params, scores: Params, density: float) -> Params:
    """Layerwise top-k of ``scores`` on weights; ones on biases."""
    return jax.tree_util.tree_map(lambda p, s: top_k_mask(s, density) if is_weight(p) else jnp.ones_like(p),
                                  params, scores)


def apply_masks(params: Params, masks: Params) -> Params:
    return jax.tree_util.tree_map(lambda p, m: p * m, params, masks)


def magnitude_masks(params: Params, density: float) -> Params:
    """Keep the largest |w| in each layer."""
    return masks_from_scores(params, jax.tree_util.tree_map(jnp.abs, params), density)


def random_masks(params: Params, density: float, key: jax.Array) -> Params:
    """Keep a uniformly random set of weights in each layer (exact count)."""
    return masks_from_scores(params, _uniform_scores(params, key), density)


def _uniform_scores(params: Params, key: jax.Array) -> Params:
    """Independent uniform scores, one array per leaf (a random top-k is a random subset)."""
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(key, len(leaves))
    return jax.tree_util.tree_unflatten(tree, [jax.random.uniform(k, p.shape, p.dtype) for k, p in zip(keys, leaves)])


def saliency(params: Params, objective: Callable[[Params], jnp.ndarray]) -> Params:
    """SNIP's connection sensitivity |dL/dw * w| (Lee et al. 2019) for an objective L of the params."""
    return jax.tree_util.tree_map(lambda a, b: jnp.abs(a * b), jax.grad(objective)(params), params)


def saliency_masks(params: Params, objective: Callable[[Params], jnp.ndarray], density: float) -> Params:
    """Keep the largest :func:`saliency` per layer (layerwise SNIP)."""
    return masks_from_scores(params, saliency(params, objective), density)


def saliency_masks_global(params: Params, objective: Callable[[Params], jnp.ndarray], density: float) -> Params:
    """SNIP as published: the largest |dL/dw * w| over ALL weights together (one global top-k, so
    layers keep different fractions); ones on biases."""
    return masks_from_scores_global(params, saliency(params, objective), density)


def masks_from_scores_global(params: Params, scores: Params, density: float | jnp.ndarray) -> Params:
    """One top-k of ``scores`` over all weight matrices together (exactly ``round(density * total)``
    kept, ties broken by position); ones on biases. ``density`` may be traced."""
    leaves, tree = jax.tree_util.tree_flatten(scores)
    plv = jax.tree_util.tree_leaves(params)
    flat = jnp.concatenate([s.ravel() for s, p in zip(leaves, plv) if is_weight(p)])
    keep = top_k_mask(flat, density)
    out, i = [], 0
    for s, p in zip(leaves, plv):
        if is_weight(p):
            out.append(keep[i:i + s.size].reshape(s.shape).astype(s.dtype))
            i += s.size
        else:
            out.append(jnp.ones_like(p))
    return jax.tree_util.tree_unflatten(tree, out)


def magnitude_masks_global(params: Params, density: float | jnp.ndarray) -> Params:
    """Keep the largest |w| over all weight matrices (the authors' ``GLOBAL_PRUNE_BOOL`` option)."""
    return masks_from_scores_global(params, jax.tree_util.tree_map(jnp.abs, params), density)


def random_masks_global(params: Params, density: float, key: jax.Array) -> Params:
    """A uniformly random set of ``round(density * total)`` weights over all weight matrices."""
    return masks_from_scores_global(params, _uniform_scores(params, key), density)


def total_count_error(masks: Params, density: float) -> int:
    """|kept - round(density * total)| over all weight matrices together (global masks)."""
    ws = [np.asarray(m) for m in jax.tree_util.tree_leaves(masks) if m.ndim == 2]
    return abs(int(sum(m.sum() for m in ws)) - kept_count(sum(m.size for m in ws), density))


def layer_densities(masks: Params) -> list[float]:
    """Achieved density of each weight layer."""
    return [float(np.asarray(m).mean()) for m in jax.tree_util.tree_leaves(masks) if m.ndim == 2]


def layer_count_errors(masks: Params, density: float) -> list[int]:
    """|kept - round(density * size)| per weight layer (0 for an exact mask)."""
    return [abs(int(np.asarray(m).sum()) - kept_count(m.size, density))
            for m in jax.tree_util.tree_leaves(masks) if m.ndim == 2]


def pruned_nonzero(params: Params, masks: Params) -> int:
    """Number of weights that are pruned by the mask but nonzero in ``params``."""
    return int(sum(np.count_nonzero(np.asarray(p)[np.asarray(m) == 0])
                   for p, m in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(masks))
                   if p.ndim == 2))


def connectivity(masks: Params) -> dict[str, int]:
    """Paths through a masked MLP (weight masks in order, inputs x outputs): the output classes no
    input can reach (``disconnected_classes``) and the hidden units on some input-to-output path
    (``units_reaching_output``)."""
    Ms = [np.asarray(m) > 0 for m in jax.tree_util.tree_leaves(masks) if m.ndim == 2]
    fwd = [np.ones(Ms[0].shape[0], bool)]
    for M in Ms:
        fwd.append((fwd[-1].astype(int) @ M.astype(int)) > 0)
    bwd = [np.ones(Ms[-1].shape[1], bool)]
    for M in reversed(Ms):
        bwd.insert(0, (M.astype(int) @ bwd[0].astype(int)) > 0)
    hidden = sum(int(np.sum(f & b)) for f, b in zip(fwd[1:-1], bwd[1:-1]))
    return {"disconnected_classes": int(np.sum(~fwd[-1])), "units_reaching_output": hidden}

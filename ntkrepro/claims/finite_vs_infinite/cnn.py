"""F1-CNN as the paper poses it (issue 29): a 1-D CNN-GAP on MNIST-1D, tuned, against its tuned kernel.

Three pieces, each checked against an independent computation in ``test_finite_vs_infinite.py``:

- :func:`cnn_gap_kernels`: the infinite-width NNGP and NTK of ``[Conv(k, SAME, stride) + ReLU]`` per stride, global
  average pooling, ``Dense`` (NTK parameterization) on (n, W) signals, written out in jax (the per-pair
  W x W covariance recursion neural-tangents' ``stax`` uses; tested equal to ``stax`` to 1e-10). ``stax``
  with ``nt.batch`` took 15 s for 200 x 200 pairs on 2 shared cores; this takes well under a second.
- :func:`cnn_apply`: the finite CNN-GAP forward pass with each convolution written as k shifted matmuls
  (``stax.Conv``'s parameter layout; tested equal to ``stax``'s ``apply_fn``), so many networks batch into
  one matmul and the training loop runs inside a ``lax.scan`` (XLA:CPU's convolutions are slow there;
  its matmuls are not; an im2col stack of the windows was slower than the shifted matmuls).
- :func:`train_grid`: every (learning rate, L2, seed) network of a grid trained at once (vmapped), Adam on
  minibatches of the MSE plus ``wd/2 ||theta||^2``, with validation and test predictions every
  ``eval_every`` steps for early stopping. (helper B's batched lr x seed trainer in ``ntkrepro/tuning.py``
  was not available to this branch; this one is local to the claim.)
"""
from __future__ import annotations

from functools import partial
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np


# ----------------------------------------------------------------------------- kernels
def _same_pad(w: int, k: int, stride: int) -> tuple[int, int, int]:
    """(output positions, padding before, padding after) of a SAME convolution (lax's convention)."""
    out = -(-w // stride)
    total = max((out - 1) * stride + k - w, 0)
    return out, total // 2, total - total // 2


def _window_mean(s: jnp.ndarray, k: int, stride: int = 1) -> jnp.ndarray:
    """SAME-padded mean over the k diagonal shifts of the last two (position) axes, at ``stride``: the
    effect of a width-k convolution on a covariance between positions (i, j)."""
    out, lo, hi = _same_pad(s.shape[-1], k, stride)
    pad = jnp.pad(s, [(0, 0)] * (s.ndim - 2) + [(lo, hi), (lo, hi)])
    end = lambda o: o + stride * (out - 1) + 1  # noqa: E731
    return sum(pad[..., o:end(o):stride, o:end(o):stride] for o in range(k)) / k


def _relu_maps(s, q1, q2):
    """E[relu(u)relu(v)] and E[relu'(u)relu'(v)] for covariance s and variances q1 (rows), q2 (columns)."""
    norm = jnp.sqrt(q1[..., :, None] * q2[..., None, :])
    c = jnp.clip(s / norm, -1.0, 1.0)
    th = jnp.arccos(c)
    return norm * (jnp.sqrt(1 - c * c) + (jnp.pi - th) * c) / (2 * jnp.pi), (jnp.pi - th) / (2 * jnp.pi)


def _diag_vars(x: jnp.ndarray, strides: tuple[int, ...], k: int, W_std: float, b_std: float) -> list[jnp.ndarray]:
    """Per point and position, the pre-activation variance of each conv layer: the variance only
    needs the covariance's diagonal, which the window mean keeps on the diagonal."""
    q = x ** 2
    out = []
    for st in strides:
        n_out, lo, hi = _same_pad(q.shape[1], k, st)
        pad = jnp.pad(q, [(0, 0), (lo, hi)])
        q = W_std ** 2 * sum(pad[:, o:o + st * (n_out - 1) + 1:st] for o in range(k)) / k + b_std ** 2
        out.append(q)
        q = q / 2  # E[relu(u)^2] = q / 2
    return out


def _input_window_mean(x1: jnp.ndarray, x2: jnp.ndarray, k: int, stride: int) -> jnp.ndarray:
    """:func:`_window_mean` of the input covariance ``x1[:, None, :, None] * x2[None, :, None, :]`` without forming
    it: the sum over the k taps of the outer products of the shifted, strided signals (the same products added in
    the same order, on the (n1, n2, W_out, W_out) output instead of the (n1, n2, W, W) input)."""
    out, lo, hi = _same_pad(x1.shape[-1], k, stride)
    p1, p2 = jnp.pad(x1, [(0, 0), (lo, hi)]), jnp.pad(x2, [(0, 0), (lo, hi)])
    end = lambda o: o + stride * (out - 1) + 1  # noqa: E731
    return sum(p1[:, None, o:end(o):stride, None] * p2[None, :, None, o:end(o):stride] for o in range(k)) / k


@partial(jax.jit, static_argnames=("strides", "k"))
def _cnn_gap_block(x1, x2, q1s, q2s, strides, k, W_std, b_std):
    theta = None  # no zeros array: XLA would constant-fold its window mean (slowly)
    for layer, st in enumerate(strides):
        # the first layer's window mean of the input covariance (n1, n2, W, W), taken without forming it
        s = W_std ** 2 * (_input_window_mean(x1, x2, k, st) if layer == 0 else _window_mean(s, k, st)) + b_std ** 2
        theta = s if theta is None else W_std ** 2 * _window_mean(theta, k, st) + s
        rel, dot = _relu_maps(s, q1s[layer][:, None], q2s[layer][None, :])
        s, theta = rel, theta * dot
    nngp = W_std ** 2 * s.mean((-1, -2)) + b_std ** 2
    return nngp, W_std ** 2 * theta.mean((-1, -2)) + nngp


def cnn_gap_kernels(x1: np.ndarray, x2: np.ndarray | None, strides: tuple[int, ...], W_std: float, b_std: float,
                    filter_size: int = 5, block: int = 16, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """(NNGP, NTK) of the CNN-GAP (one conv layer per entry of ``strides``; NTK parameterization, one
    output) between (n1, W) and (n2, W) signals, computed in ``dtype`` ``block`` rows of x1 at a time (memory ~ block n2 W^2), returned in
    float64. float32 is 2-3x faster (the arc-cosine of every position pair dominates) and agrees with
    float64 to ~1e-6 relative (tested); the solves stay in float64."""
    sym = x2 is None  # train x train: only the blocks on and above the diagonal, mirrored
    x2 = x1 if x2 is None else x2
    x1, x2 = jnp.asarray(x1, dtype), jnp.asarray(x2, dtype)
    strides = tuple(strides)
    q1s = _diag_vars(x1, strides, filter_size, W_std, b_std)
    q2s = _diag_vars(x2, strides, filter_size, W_std, b_std)
    nngp, ntk = np.zeros((len(x1), len(x2))), np.zeros((len(x1), len(x2)))
    for a in range(0, len(x1), block):
        sl = slice(a, a + block)
        c0 = a if sym else 0
        g, t = _cnn_gap_block(x1[sl], x2[c0:], [q[sl] for q in q1s], [q[c0:] for q in q2s], strides, filter_size,
                              W_std, b_std)
        nngp[sl, c0:], ntk[sl, c0:] = np.asarray(g, np.float64), np.asarray(t, np.float64)
    if sym:
        low = np.tril_indices(len(x1), -1)
        nngp[low], ntk[low] = nngp.T[low], ntk.T[low]
    return nngp, ntk


# ----------------------------------------------------------------------------- finite network
def cnn_stax(width: int, strides: tuple[int, ...], W_std: float, b_std: float, k: int = 5,
             parameterization: str = "ntk") -> tuple:
    """The same CNN-GAP as neural-tangents ``stax`` layers (the reference the tests compare with)."""
    from neural_tangents import stax

    layers = []
    for st in strides:
        layers += [stax.Conv(width, (k,), strides=(st,), padding="SAME", W_std=W_std, b_std=b_std,
                             dimension_numbers=("NWC", "WIO", "NWC"), parameterization=parameterization), stax.Relu()]
    return stax.serial(*layers, stax.GlobalAvgPool(), stax.Dense(10, W_std=W_std, b_std=b_std,
                                                                  parameterization=parameterization))


def cnn_init(key: jax.Array, width: int, depth: int, W_std: float, b_std: float, k: int = 5,
             n_out: int = 10, parameterization: str = "standard") -> list[tuple[jnp.ndarray, jnp.ndarray]]:
    """Parameters in ``stax``'s layout ([(W (k, C_in, C_out), b (C_out,)) per conv], (W (C, n_out), b)):
    standard parameterization draws W ~ N(0, W_std^2 / fan_in), b ~ N(0, b_std^2); the NTK one
    draws N(0, 1) and scales in :func:`cnn_apply`."""
    params = []
    c_in = 1
    keys = jax.random.split(key, 2 * depth + 2)
    for layer in range(depth):
        fan = k * c_in
        sd = W_std / np.sqrt(fan) if parameterization == "standard" else 1.0
        params.append((sd * jax.random.normal(keys[2 * layer], (k, c_in, width)),
                       (b_std if parameterization == "standard" else 1.0) * jax.random.normal(keys[2 * layer + 1], (width,))))
        c_in = width
    sd = W_std / np.sqrt(c_in) if parameterization == "standard" else 1.0
    params.append((sd * jax.random.normal(keys[-2], (c_in, n_out)),
                   (b_std if parameterization == "standard" else 1.0) * jax.random.normal(keys[-1], (n_out,))))
    return params


def _conv_matmuls(h: jnp.ndarray, w: jnp.ndarray, stride: int = 1) -> jnp.ndarray:
    """A SAME-padded 1-D convolution of (B, W, C_in) by w (k, C_in, C_out) at ``stride``, as the sum over the k
    filter taps of (shifted, strided input) @ w[tap]: k plain matmuls, no (B, W_out, k, C_in) im2col copy.
    Measured on the tuned grid's Adam step (15 networks, width 32, batch 100, float32, vmapped ``lax.scan``,
    2 shared cores): 55 ms per step against 212 ms with the im2col stack and 70 ms with ``lax.conv`` stepped
    from Python (XLA:CPU convolutions are slower still inside the scan)."""
    k = w.shape[0]
    out, lo, hi = _same_pad(h.shape[1], k, stride)
    pad = jnp.pad(h, [(0, 0), (lo, hi), (0, 0)])
    return sum(pad[:, o:o + stride * (out - 1) + 1:stride] @ w[o] for o in range(k))


def cnn_apply(params, x: jnp.ndarray, W_std: float = 1.0, b_std: float = 0.0,
              parameterization: str = "standard", strides: tuple[int, ...] = (2, 1)) -> jnp.ndarray:
    """The CNN-GAP on (B, W) or (B, W, 1) inputs. Standard parameterization: the weights as stored;
    NTK: ``W_std / sqrt(fan_in) W`` and ``b_std b``."""
    h = x if x.ndim == 3 else x[..., None]
    ntk = parameterization == "ntk"
    for (w, b), st in zip(params[:-1], strides):
        k, c_in, c_out = w.shape
        scale = W_std / np.sqrt(k * c_in) if ntk else 1.0
        h = jax.nn.relu(_conv_matmuls(h, scale * w, st) + (b_std * b if ntk else b))
    w, b = params[-1]
    scale = W_std / np.sqrt(w.shape[0]) if ntk else 1.0
    return h.mean(1) @ (scale * w) + (b_std * b if ntk else b)


# ----------------------------------------------------------------------------- batched Adam over a grid
@partial(jax.jit, static_argnames=("steps", "eval_every", "batch", "strides"))
def _train(params0, lrs, wds, orders, x, y, x_eval, steps, eval_every, batch, strides):
    """Adam (optax.scale_by_adam) on 0.5 mean((f - y)^2) + wd/2 ||theta||^2 for every network on the
    leading axis (its own rate, L2 and minibatch order); eval outputs and the params every ``eval_every``
    steps."""
    import optax

    from ntkrepro.train import sq_norm

    adam = optax.scale_by_adam()

    def one(p0, lr, wd, order):
        def loss(p, xb, yb):
            return 0.5 * jnp.mean((cnn_apply(p, xb, strides=strides) - yb) ** 2) + 0.5 * wd * sq_norm(p)

        def step(carry, i):
            p, st = carry
            idx = jax.lax.dynamic_slice_in_dim(order, (i * batch) % order.shape[0], batch)
            g = jax.grad(loss)(p, x[idx], y[idx])
            upd, st = adam.update(g, st)
            return (jax.tree_util.tree_map(lambda a, u: a - lr * u, p, upd), st), None

        def chunk(carry, c):
            carry, _ = jax.lax.scan(step, carry, c * eval_every + jnp.arange(eval_every))
            out = cnn_apply(carry[0], x_eval, strides=strides)
            return carry, (out, carry[0])

        _, outs = jax.lax.scan(chunk, (p0, adam.init(p0)), jnp.arange(steps // eval_every))
        return outs  # (n_evals, n_eval_points, n_out), params with a leading n_evals axis

    return jax.vmap(one)(params0, lrs, wds, orders)


def train_grid(x: np.ndarray, y: np.ndarray, x_eval: np.ndarray, lrs: list[float], wds: list[float], n_seeds: int,
               width: int, strides: tuple[int, ...], W_std: float, b_std: float, steps: int, batch: int,
               eval_every: int, seed: int) -> tuple[np.ndarray, Any]:
    """Every (lr, wd, seed) standard-parameterization CNN-GAP of the grid, trained at once in float32;
    returns the outputs on ``x_eval`` after every ``eval_every`` steps, shape (len(lrs), len(wds),
    n_seeds, steps // eval_every, len(x_eval), n_out). Seed s is the same initial network and the same
    minibatch order in every (lr, wd) cell (the grid is paired by seed). Also the
    params at every read (leaves of shape (len(lrs), len(wds), n_seeds, steps // eval_every, ...)), so that
    a test set is read only where early stopping chose (:func:`apply_at`) instead of at every read."""
    from ntkrepro.compat import float32_scope

    n = len(x)
    epochs = -(-steps * batch // n) + 1
    with float32_scope():
        keys = jax.random.split(jax.random.PRNGKey(seed), n_seeds)
        inits = [cnn_init(kk, width, len(strides), W_std, b_std) for kk in keys]
        rng = np.random.default_rng(seed)
        orders = [np.concatenate([rng.permutation(n) for _ in range(epochs)]) for _ in range(n_seeds)]
        cells = [(lr, wd, s) for lr in lrs for wd in wds for s in range(n_seeds)]
        stack = lambda *a: jnp.stack(a)  # noqa: E731
        p0 = jax.tree_util.tree_map(stack, *[inits[s] for _, _, s in cells])
        p0 = jax.tree_util.tree_map(lambda a: a.astype(jnp.float32), p0)
        outs = _train(p0, jnp.asarray([c[0] for c in cells], jnp.float32), jnp.asarray([c[1] for c in cells], jnp.float32),
                      jnp.asarray(np.stack([orders[s] for _, _, s in cells]), jnp.int32),
                      jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32), jnp.asarray(x_eval, jnp.float32),
                      steps, eval_every, batch, tuple(strides))
        outs, kept = outs
        outs = np.asarray(outs, np.float64)
    shape = (len(lrs), len(wds), n_seeds)
    outs = outs.reshape(*shape, *outs.shape[1:])
    return outs, jax.tree_util.tree_map(lambda a: a.reshape(*shape, *a.shape[1:]), kept)


def apply_at(kept: Any, cell: tuple[int, int], stops: Sequence[int], x: np.ndarray,
             strides: tuple[int, ...]) -> np.ndarray:
    """Outputs on ``x`` of the networks :func:`train_grid` kept in grid cell ``cell`` = (lr
    index, wd index), seed s at its read ``stops[s]``: shape (n_seeds, len(x), n_out), float32 as trained."""
    from ntkrepro.compat import float32_scope

    i, j = cell
    with float32_scope():
        params = jax.tree_util.tree_map(lambda a: jnp.stack([a[i, j, sd, e] for sd, e in enumerate(stops)]), kept)
        xs = jnp.asarray(x, jnp.float32)
        return np.asarray(jax.vmap(lambda p: cnn_apply(p, xs, strides=strides))(params), np.float64)

"""F10 (issue 29): is the equivariance of CNNs only beneficial for narrow networks, far from the kernel regime?

A 1-D CNN (``stax.Conv``: one filter bank shared by every position) against a locally connected network of the
same shape (``stax.ConvLocal``: one filter bank per position, no weight sharing) on MNIST-1D, both with a
**Flatten** readout (CNN-VEC / LCN-VEC). With a Flatten readout the infinite-width kernels of the two coincide
(Novak et al. 2019: the readout only needs the spatial diagonal of the covariance, and that diagonal does not
depend on whether the filters are shared), so whatever separates the finite networks is a finite-width effect:
the paper's point (the notes, F10). A pooling readout (GAP) would make the kernels differ (the CNN-GAP kernel
keeps the cross-position covariances the LCN-GAP kernel drops), mixing pooling into the comparison.

Pieces:

- :func:`kernels`: the NNGP and NTK of either architecture from neural-tangents' ``stax`` (float64).
- :func:`vec_apply`: the finite network written out (im2col matmuls, NTK parameterization, ``stax``'s layer
  order), so every (rate, seed) network of one architecture and width trains at once in a vmapped, jitted
  ``lax.scan``. Its empirical NTK at large width is tested against :func:`kernels`.
- :func:`train_adam`: the same networks in the standard parameterization trained with Adam to convergence, early
  stopping on validation (the finite half of the experiment since issue 29's re-run; GD in the NTK parameterization,
  :func:`train_nets`, left them barely trained).
- :func:`equivariance`: the experiment (kernel half, and finite networks at a narrow and a wide width).
"""
from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ntkrepro.data import accuracy, load_split
from ntkrepro.kernels import kernel_regression, max_learning_rate

ARCHS = ("cnn", "lcn")


# ----------------------------------------------------------------------------- kernels
def stax_layers(arch: str, width: int, depth: int, W_std: float, b_std: float, k: int = 5) -> tuple:
    """``[Conv or ConvLocal(width, k, SAME) + ReLU] * depth``, Flatten, Dense(10), NTK parameterization, on
    (n, W, 1) signals: neural-tangents' ``(init_fn, apply_fn, kernel_fn)``."""
    from neural_tangents import stax

    if arch not in ARCHS:
        raise ValueError(f"parameter 'arch'={arch!r} is invalid: expected one of {ARCHS}")
    layer = stax.Conv if arch == "cnn" else stax.ConvLocal
    layers = []
    for _ in range(depth):
        layers += [layer(width, (k,), padding="SAME", W_std=W_std, b_std=b_std,
                         dimension_numbers=("NWC", "WIO", "NWC")), stax.Relu()]
    return stax.serial(*layers, stax.Flatten(), stax.Dense(10, W_std=W_std, b_std=b_std))


def kernels(arch: str, x1: np.ndarray, x2: np.ndarray | None, depth: int, W_std: float, b_std: float,
            k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(NNGP, NTK) at infinite width of :func:`stax_layers` between (n1, W) and (n2, W) signals (x2 None: x1
    against itself), float64. With the Flatten readout only the spatial diagonal is tracked: O(n1 n2 W)."""
    kfn = stax_layers(arch, 1, depth, W_std, b_std, k)[2]
    a = np.asarray(x1, np.float64)[..., None]
    b = None if x2 is None else np.asarray(x2, np.float64)[..., None]
    out = kfn(a, b, ("nngp", "ntk"))
    return np.asarray(out.nngp, np.float64), np.asarray(out.ntk, np.float64)


# ----------------------------------------------------------------------------- finite networks
def _im2col(h: jnp.ndarray, k: int) -> jnp.ndarray:
    """(B, W, C) -> (B, W, k C): the SAME-padded (stride 1) window of every position, flattened (k, C)."""
    lo = (k - 1) // 2
    pad = jnp.pad(h, [(0, 0), (lo, k - 1 - lo), (0, 0)])
    cols = jnp.stack([pad[:, o:o + h.shape[1]] for o in range(k)], axis=2)
    return cols.reshape(h.shape[0], h.shape[1], k * h.shape[2])


def _local(cols: jnp.ndarray, w: jnp.ndarray) -> jnp.ndarray:
    """(B, P, I) windows times the filters: one bank w (I, O) shared by every position (CNN), or a bank per
    position w (P, I, O) (LCN). With few inputs per window (I <= 32: the first layer, I = k) the LCN's product is a
    sum of I broadcast products: XLA:CPU runs the vmapped batched einsum through a slow reference matmul."""
    if w.ndim == 2:
        return cols @ w
    if w.shape[1] <= 32:
        return sum(cols[..., i, None] * w[:, i] for i in range(w.shape[1]))
    return jnp.einsum("bpi,pio->bpo", cols, w)


def vec_init(key: jax.Array, arch: str, width: int, depth: int, n_pos: int, k: int = 5,
             n_out: int = 10, parameterization: str = "ntk", W_std: float = 1.0,
             b_std: float = 1.0) -> list[tuple[jnp.ndarray, jnp.ndarray]]:
    """Parameters: per conv layer (W, b) with W (k C_in, C_out) for the CNN and (n_pos, k C_in, C_out) for the
    LCN (its own filters at every position; the LCN's bias is per position and channel, as
    ``stax.ConvLocal``'s), then the readout (n_pos C, n_out), (n_out,). NTK parameterization: every entry
    N(0, 1) (``W_std``/``b_std`` are applied in :func:`vec_apply`); standard: W ~ N(0, W_std^2 / fan_in),
    b ~ N(0, b_std^2) (the same network function at initialization)."""
    std = parameterization == "standard"
    keys = jax.random.split(key, 2 * depth + 2)
    params, c_in = [], 1
    for layer in range(depth):
        shape_w = (k * c_in, width) if arch == "cnn" else (n_pos, k * c_in, width)
        shape_b = (width,) if arch == "cnn" else (n_pos, width)
        sw, sb = (W_std / np.sqrt(k * c_in), b_std) if std else (1.0, 1.0)
        params.append((sw * jax.random.normal(keys[2 * layer], shape_w),
                       sb * jax.random.normal(keys[2 * layer + 1], shape_b)))
        c_in = width
    sw, sb = (W_std / np.sqrt(n_pos * c_in), b_std) if std else (1.0, 1.0)
    params.append((sw * jax.random.normal(keys[-2], (n_pos * c_in, n_out)), sb * jax.random.normal(keys[-1], (n_out,))))
    return params


def vec_apply(params, x: jnp.ndarray, W_std: float, b_std: float, k: int = 5,
              parameterization: str = "ntk") -> jnp.ndarray:
    """The CNN-VEC or LCN-VEC (read from the parameters' shapes) on (B, W) signals. NTK parameterization:
    h <- relu(W_std / sqrt(k C_in) * window(h) . W + b_std b) per conv layer, then
    W_std / sqrt(W C) * flatten(h) . W_out + b_std b_out; standard: the weights as stored (scale 1)."""
    ntk = parameterization == "ntk"
    h = x[..., None] if x.ndim == 2 else x
    for w, b in params[:-1]:
        cols = _im2col(h, k)
        scale, bs = (W_std / np.sqrt(cols.shape[-1]), b_std) if ntk else (1.0, 1.0)
        h = jax.nn.relu(scale * _local(cols, w) + bs * b)
    w, b = params[-1]
    flat = h.reshape(h.shape[0], -1)
    scale, bs = (W_std / np.sqrt(flat.shape[-1]), b_std) if ntk else (1.0, 1.0)
    return scale * flat @ w + bs * b


@partial(jax.jit, static_argnames=("steps", "W_std", "b_std"))
def _train(params0, lrs, x, y, x_eval, steps, W_std, b_std):
    """Full-batch GD on 0.5 mean((f - y)^2) for every network on the leading axis (its own rate); the
    outputs on ``x_eval`` after the last step and the final training loss."""
    def one(p0, lr):
        loss = lambda p: 0.5 * jnp.mean((vec_apply(p, x, W_std, b_std) - y) ** 2)  # noqa: E731

        def step(p, _):
            g = jax.grad(loss)(p)
            return jax.tree_util.tree_map(lambda a, d: a - lr * d, p, g), None

        p, _ = jax.lax.scan(step, p0, None, length=steps)
        return vec_apply(p, x_eval, W_std, b_std), loss(p)

    return jax.vmap(one)(params0, lrs)


def train_nets(arch: str, width: int, depth: int, x: np.ndarray, y: np.ndarray, x_eval: np.ndarray,
               lrs: list[float], n_seeds: int, steps: int, W_std: float, b_std: float,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Every (rate of ``lrs``, seed) network of one architecture and width, trained at once in float32:
    outputs on ``x_eval`` (len(lrs), n_seeds, n_eval, 10) and final training losses (len(lrs), n_seeds).
    Seed s draws from fold_in(PRNGKey(seed), s) in every rate (the rate grid is paired by seed)."""
    from ntkrepro.compat import float32_scope

    with float32_scope():
        inits = [vec_init(jax.random.fold_in(jax.random.PRNGKey(seed), s), arch, width, depth, x.shape[1])
                 for s in range(n_seeds)]
        cells = [(lr, s) for lr in lrs for s in range(n_seeds)]
        p0 = jax.tree_util.tree_map(lambda *a: jnp.stack(a).astype(jnp.float32), *[inits[s] for _, s in cells])
        out, loss = _train(p0, jnp.asarray([c[0] for c in cells], jnp.float32), jnp.asarray(x, jnp.float32),
                           jnp.asarray(y, jnp.float32), jnp.asarray(x_eval, jnp.float32), steps, float(W_std),
                           float(b_std))
        out, loss = np.asarray(out, np.float64), np.asarray(loss, np.float64)
    return out.reshape(len(lrs), n_seeds, *out.shape[1:]), loss.reshape(len(lrs), n_seeds)


@partial(jax.jit, static_argnames=("steps", "eval_every", "batch"))
def _train_adam(params0, lrs, orders, x, y, x_val, steps, eval_every, batch):
    """Adam (optax.scale_by_adam) on 0.5 mean((f - y)^2) for every standard-parameterization network on the
    leading axis (its own rate and minibatch order), the rate decayed by a cosine to 0 at ``steps``:
    lr_t = lr (1 + cos(pi t / steps)) / 2, so every run settles by its last step; at every read (each
    ``eval_every`` steps): the outputs on ``x_val``, the full-batch training loss and the parameters."""
    import optax

    adam = optax.scale_by_adam()

    def one(p0, lr, order):
        def loss(p, xb, yb):
            return 0.5 * jnp.mean((vec_apply(p, xb, 1.0, 1.0, parameterization="standard") - yb) ** 2)

        def step(carry, i):
            p, st = carry
            idx = jax.lax.dynamic_slice_in_dim(order, i * batch, batch)
            g = jax.grad(loss)(p, x[idx], y[idx])
            upd, st = adam.update(g, st)
            lr_t = lr * 0.5 * (1.0 + jnp.cos(jnp.pi * i / steps))
            return (jax.tree_util.tree_map(lambda a, u: a - lr_t * u, p, upd), st), None

        def chunk(carry, c):
            carry, _ = jax.lax.scan(step, carry, c * eval_every + jnp.arange(eval_every))
            p = carry[0]
            return carry, (vec_apply(p, x_val, 1.0, 1.0, parameterization="standard"), loss(p, x, y), p)

        _, outs = jax.lax.scan(chunk, (p0, adam.init(p0)), jnp.arange(steps // eval_every))
        return outs

    return jax.vmap(one)(params0, lrs, orders)


def train_adam(arch: str, width: int, depth: int, x: np.ndarray, y: np.ndarray, x_val: np.ndarray,
               lrs: list[float], n_seeds: int, steps: int, eval_every: int, batch: int, W_std: float, b_std: float,
               seed: int) -> tuple[np.ndarray, np.ndarray, Any]:
    """Every (rate of ``lrs``, seed) standard-parameterization network of one architecture and width, trained at
    once with Adam in float32 (minibatches of ``batch``; ``batch`` = len(x) is full batch). Returns the outputs on
    ``x_val`` at every read, (len(lrs), n_seeds, steps // eval_every, len(x_val), 10), the full-batch training
    loss there, (len(lrs), n_seeds, reads), and the parameters there (leaves (len(lrs), n_seeds, reads, ...)).
    Seed s is the same initial network and minibatch order in every rate (the rate grid is paired by seed)."""
    from ntkrepro.compat import float32_scope

    n = len(x)
    per_epoch = max(n // batch, 1)
    epochs = -(-steps // per_epoch) + 1
    with float32_scope():
        inits = [vec_init(jax.random.fold_in(jax.random.PRNGKey(seed), s), arch, width, depth, x.shape[1],
                          parameterization="standard", W_std=W_std, b_std=b_std) for s in range(n_seeds)]
        rng = np.random.default_rng(seed)
        # each epoch a fresh permutation cut into len(x) // batch minibatches (a remainder is dropped that epoch)
        orders = [np.concatenate([rng.permutation(n)[:per_epoch * batch] for _ in range(epochs)])
                  for _ in range(n_seeds)]
        cells = [(lr, s) for lr in lrs for s in range(n_seeds)]
        p0 = jax.tree_util.tree_map(lambda *a: jnp.stack(a).astype(jnp.float32), *[inits[s] for _, s in cells])
        outs, loss, kept = _train_adam(p0, jnp.asarray([c[0] for c in cells], jnp.float32),
                                       jnp.asarray(np.stack([orders[s] for _, s in cells]), jnp.int32),
                                       jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32),
                                       jnp.asarray(x_val, jnp.float32), steps, eval_every, batch)
        outs, loss = np.asarray(outs, np.float64), np.asarray(loss, np.float64)
    shape = (len(lrs), n_seeds)
    return (outs.reshape(*shape, *outs.shape[1:]), loss.reshape(*shape, *loss.shape[1:]),
            jax.tree_util.tree_map(lambda a: a.reshape(*shape, *a.shape[1:]), kept))


def apply_at(kept: Any, i: int, stops, x: np.ndarray) -> np.ndarray:
    """Outputs on ``x`` of the networks :func:`train_adam` kept at rate index ``i``, seed s at its read
    ``stops[s]``: (n_seeds, len(x), 10), float32 as trained."""
    from ntkrepro.compat import float32_scope

    with float32_scope():
        params = jax.tree_util.tree_map(lambda a: jnp.stack([a[i, sd, e] for sd, e in enumerate(stops)]), kept)
        xs = jnp.asarray(x, jnp.float32)
        return np.asarray(jax.vmap(lambda p: vec_apply(p, xs, 1.0, 1.0, parameterization="standard"))(params),
                          np.float64)


def empirical_lr_max(arch: str, width: int, depth: int, x: np.ndarray, W_std: float, b_std: float, seed: int,
                     n_points: int = 100) -> float:
    """The largest stable full-batch rate 2 m k / lambda_max of the network's own empirical NTK at initialization
    (seed fold_in(PRNGKey(seed), 0), the first seed of :func:`train_nets`) on the first ``n_points`` rows of x
    (m of them; lambda_max grows like m, so the rate is nearly size-free). A narrow CNN's kernel fluctuates far
    above the infinite-width one (shared filters add up over positions), so a rate in units of the infinite
    kernel's lr_max would diverge or crawl for it alone: each network gets rates in units of its own."""
    import neural_tangents as nt

    from ntkrepro.compat import float32_scope

    with float32_scope():
        p = vec_init(jax.random.fold_in(jax.random.PRNGKey(seed), 0), arch, width, depth, x.shape[1])
        f = lambda params, xx: vec_apply(params, xx, W_std, b_std)  # noqa: E731
        k = nt.empirical_ntk_fn(f, trace_axes=(-1,), vmap_axes=0)(jnp.asarray(x[:n_points], jnp.float32), None, p)
    return max_learning_rate(np.asarray(k, np.float64), 10)


# ----------------------------------------------------------------------------- the experiment
def _tuned_kernel(ktr: np.ndarray, kev: np.ndarray, y: np.ndarray, n_val: int, lab_val: np.ndarray,
                  diag_regs: list[float]) -> tuple[float, float, np.ndarray]:
    """(chosen ridge, its validation accuracy, test outputs): the ridge with the best validation accuracy
    (ties: the larger ridge); ``kev`` holds the validation rows, then the test rows."""
    scores = []
    for dr in diag_regs:
        pred = kernel_regression(ktr, kev, y, dr)
        scores.append((accuracy(pred[:n_val], lab_val), dr, pred[n_val:]))
    val, dr, pred = max(scores, key=lambda s: (s[0], s[1]))
    return float(dr), float(val), pred


def equivariance(depth: int, widths: tuple[int, int], n_train: int, n_val: int, n_test: int, n_seeds: int,
                 steps: int, eval_every: int, batch: int, lrs: list[float], diag_regs: list[float], W_std: float,
                 b_std: float, seed: int) -> dict[str, Any]:
    """F10 on MNIST-1D (``n_train`` training, ``n_val`` validation, ``n_test`` test points, disjoint; split seed
    ``seed`` + 10). Kernel half: the NTK (infinite time) of the CNN-VEC and of the LCN-VEC (``depth`` conv
    layers, Flatten readout), each arm's ridge chosen from ``diag_regs`` on the validation split; their test
    accuracies and the largest relative difference of the two kernel matrices. Finite half: at the narrow and
    the wide width of ``widths``, CNN and LCN networks trained alike to convergence (issue 29, the record at
    53aef4b was barely trained): standard parameterization (``W_std`` / ``b_std`` at initialization), Adam
    (:func:`train_adam`) on the MSE on centred one-hot targets (the kernel arm's and the claim's loss),
    minibatches of ``batch``, ``steps`` steps, the validation split read every ``eval_every`` steps; each seed
    early-stopped at its best read, the rate of ``lrs`` chosen per architecture and width by the mean over
    ``n_seeds`` seeds of the early-stopped validation accuracy (diverged runs never chosen). The CNN - LCN test
    accuracy advantage per width, and the difference of differences (narrow advantage - wide advantage) with a
    paired bootstrap interval over seeds and test points (:func:`ntkrepro.stats.paired_bootstrap`; test-set
    sampling error included)."""
    from ntkrepro.stats import paired_bootstrap

    s = load_split("mnist1d", n_train + n_val, n_test, seed + 10)
    x, y = s.x_train[:n_train], s.y_train[:n_train]
    xv, labv = s.x_train[n_train:], s.labels_train[n_train:]
    xe = np.concatenate([xv, s.x_test])
    kern: dict[str, Any] = {}
    mats = {}
    for arch in ARCHS:
        (_, ktr), (_, kev) = kernels(arch, x, None, depth, W_std, b_std), kernels(arch, xe, x, depth, W_std, b_std)
        mats[arch] = (ktr, kev)
        dr, val, pred = _tuned_kernel(ktr, kev, y, n_val, labv, diag_regs)
        kern[arch] = {"diag_reg": dr, "val_accuracy": val, "accuracy": float(accuracy(pred, s.labels_test))}
    rel = max(np.abs(mats["cnn"][i] - mats["lcn"][i]).max() / np.abs(mats["cnn"][i]).max() for i in (0, 1))
    batch = min(batch, n_train)
    nets: dict[str, Any] = {}
    correct: dict[tuple[str, int], np.ndarray] = {}
    iv_keys = ("mean_diff", "ci_low", "ci_high", "n", "se", "mde", "se_seeds", "se_points")
    for w in widths:
        row: dict[str, Any] = {}
        for a_i, arch in enumerate(ARCHS):
            net_seed = seed + 100 * a_i + 17
            outs, loss, kept = train_adam(arch, w, depth, x, y, xv, lrs, n_seeds, steps, eval_every, batch,
                                          W_std, b_std, net_seed)
            ok = np.isfinite(outs).all(axis=(-1, -2, -3)) & np.isfinite(loss).all(-1)  # (lr, seed)
            val_reads = (outs.argmax(-1) == labv).mean(-1)  # (lr, seed, read)
            best = val_reads.argmax(-1)  # each seed's early-stopping read (ties: the earliest)
            val = np.where(ok, val_reads.max(-1), -1.0).mean(-1)  # (lr,)
            i = int(np.argmax(val))  # ties: the smaller rate
            stops = best[i]
            test_out = apply_at(kept, i, stops, s.x_test)
            correct[(arch, w)] = test_out.argmax(-1) == s.labels_test  # (seed, test)
            row[arch] = {"lr": float(lrs[i]), "val_accuracy": float(val[i]),
                         "accuracy_mean": float(correct[(arch, w)].mean()),
                         "accuracy_per_seed": [float(c) for c in correct[(arch, w)].mean(1)],
                         "final_train_loss": float(loss[i, :, -1].mean()),
                         "train_loss_at_stop": float(np.mean([loss[i, sd, e] for sd, e in enumerate(stops)])),
                         "stop_steps": [int(eval_every * (e + 1)) for e in stops],
                         "finite": bool(ok[i].all() and np.isfinite(test_out).all()),
                         "val_accuracy_per_lr": [float(v) for v in val]}
        adv = paired_bootstrap(correct[("cnn", w)], correct[("lcn", w)], seed=seed)
        row["advantage"] = {k: adv[k] for k in iv_keys}
        nets[str(w)] = row
    narrow, wide = widths
    diff = lambda w: correct[("cnn", w)].astype(float) - correct[("lcn", w)]  # noqa: E731
    did = paired_bootstrap(diff(narrow), diff(wide), seed=seed)
    return {
        "dataset": "mnist1d", "n_train": n_train, "n_val": n_val, "n_test": n_test, "depth": depth,
        "readout": "flatten", "kernel": "ntk", "widths": [int(narrow), int(wide)], "n_seeds": n_seeds,
        "steps": steps, "eval_every": eval_every, "batch": batch, "lr_grid": [float(a) for a in lrs],
        "optimizer": "Adam (optax.scale_by_adam), rate decayed by a cosine to 0 at the last step, early stopping per seed on validation",
        "parameterization": "standard", "loss": "0.5 mean((f - y)^2), centred one-hot targets",
        "zero_predictor_train_loss": float(0.5 * np.mean(y ** 2)),
        "diag_reg_grid": [float(d) for d in diag_regs],
        "kernel_relative_difference": float(rel),
        "kernel_cnn": kern["cnn"], "kernel_lcn": kern["lcn"],
        "kernel_advantage": kern["cnn"]["accuracy"] - kern["lcn"]["accuracy"],
        "nets": nets,
        "advantage_narrow_minus_wide": {**{k: did[k] for k in iv_keys + ("n_test",)}, "method": did["method"]},
        "architecture": f"[{{Conv|ConvLocal}}(width, 5, SAME) + ReLU] x {depth}, Flatten, Dense(10); kernels: NTK "
                        f"parameterization, nets: standard parameterization; W_std={W_std:.3g}, b_std={b_std:g}",
    }

"""Neural tangent transfer (Liu & Zenke 2020, arXiv 2006.08228), reimplemented (no code copied).

NTT finds a sparse student without labels: starting from the dense teacher at initialization
and its layerwise magnitude mask, Adam minimizes
    lambda_K mean((Theta_s(X1, X2) - Theta_t(X1, X2))^2) + mean((f_s(X) - f_t(X))^2)
    + (lambda_2 / density) sum_l |m_l * W_l|^2
on unlabeled batches X = [X1; X2] (full K x K cross-NTK between the halves), with the magnitude
mask recomputed every ``mask_every`` steps. The student enters the loss as m * theta, so pruned
weights get exactly zero gradient. Everything runs in float32, vmapped over seeds.
"""
from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ntkrepro import masks as M
from ntkrepro.data import Split
from ntkrepro.io import to_jsonable
from ntkrepro.ntk import example_stax_layers, mlp_ntk
from ntkrepro.stats import paired_bootstrap, paired_interval

from ntkrepro.claims.ntt.claim import (HUMAN, METHODS, NTT_FAMILY, allocation,  # noqa: E402,F401
                                      base_method, label)
from ntkrepro.claims.ntt.metrics import NttMetrics, RunRecord, cell
GLOBAL_MASKS = tuple(m for m in METHODS if allocation(m) == "global")

F32 = jnp.float32


def mlp(hidden: tuple[int, ...], out_dim: int = 10) -> tuple[Callable, Callable]:
    """ReLU MLP from jax.example_libraries.stax (Glorot-normal weights, N(0, 0.01^2) biases, as the
    authors' LeNet-300-100)."""
    from jax.example_libraries import stax

    layers: list = []
    for h in hidden:
        layers += [stax.Dense(h), stax.Relu]
    return stax.serial(*layers, stax.Dense(out_dim))


def init_params(init_fn: Callable, key: jax.Array, d_in: int) -> Any:
    return jax.tree_util.tree_map(lambda a: a.astype(F32), init_fn(key, (-1, d_in))[1])


def ntk(x1: jnp.ndarray, x2: jnp.ndarray, params: Any) -> jnp.ndarray:
    """Full (n1, n2, K, K) empirical NTK (no trace over logits) of the MLP at ``params``, over the
    dense Jacobian (the authors' choice), by :func:`ntkrepro.ntk.mlp_ntk`."""
    return mlp_ntk(example_stax_layers(params), x1, x2)


def ntk_masked(x1: jnp.ndarray, x2: jnp.ndarray, params: Any, masks: Any) -> jnp.ndarray:
    """The NTK the sparse network trains with, J_m J_m^T (kept weights and all biases)."""
    return mlp_ntk(example_stax_layers(params), x1, x2,
                   masks=[m for m in jax.tree_util.tree_leaves(masks) if m.ndim == 2])


def nt_ntk_fn(apply_fn: Callable, implementation: Any = None) -> Callable:
    """neural-tangents' full empirical NTK (the reference :func:`ntk` is checked and benchmarked
    against; structured derivatives by default)."""
    import neural_tangents as nt

    return nt.empirical_ntk_fn(apply_fn, trace_axes=(), vmap_axes=0,
                               implementation=implementation or nt.NtkImplementation.STRUCTURED_DERIVATIVES)


def l2_masked(params: Any) -> jnp.ndarray:
    """Sum of squared (masked) weights; biases excluded."""
    return sum(jnp.sum(p**2) for p in jax.tree_util.tree_leaves(params) if p.ndim == 2)


def ntt_loss(student: Any, masks: Any, teacher: Any, x: jnp.ndarray, apply_fn: Callable,
             lam_ker: float, lam_l2: float, density: float) -> tuple[jnp.ndarray, tuple]:
    """The NTT objective (Liu & Zenke 2020; the authors' implementation, see the notes):
    returns (loss, (kernel distance, output distance, L2 of masked weights))."""
    sp = M.apply_masks(student, masks)
    out = jnp.mean((apply_fn(sp, x) - apply_fn(teacher, x)) ** 2)
    l2 = l2_masked(sp)
    if lam_ker:
        half = x.shape[0] // 2
        ker = jnp.mean((ntk(x[:half], x[half:], sp) - jax.lax.stop_gradient(ntk(x[:half], x[half:], teacher))) ** 2)
    else:
        ker = jnp.zeros((), out.dtype)
    return lam_ker * ker + out + lam_l2 / density * l2, (ker, out, l2)


def _mask_fn(global_alloc: bool) -> Callable:
    return M.magnitude_masks_global if global_alloc else M.magnitude_masks


@partial(jax.jit, static_argnames=("apply_fn", "n_periods", "mask_every", "batch", "lam_ker", "global_alloc"))
def _ntt_chunk(state: Any, teacher: Any, x_pool: jnp.ndarray, x_val: jnp.ndarray, density: float,
               lam_l2: float, lr: float, first: jnp.ndarray, apply_fn: Callable, n_periods: int,
               mask_every: int, batch: int, lam_ker: float, global_alloc: bool) -> tuple[Any, jnp.ndarray, jnp.ndarray]:
    """``n_periods`` periods of ``mask_every`` NTT steps, vmapped over seeds. Each period starts with
    the magnitude-mask update (except the run's very first period) and ends with the NTT objective
    on the held-out inputs ``x_val`` (label-free), so the last period of a run always trains under a
    fixed mask, as in the authors' code."""
    opt = optax.adam(lr)
    mask_fn = _mask_fn(global_alloc)

    def one(state, teacher):
        def step(st, _):
            params, masks, o, key = st
            key, sub = jax.random.split(key)
            x = x_pool[jax.random.choice(sub, x_pool.shape[0], (batch,), replace=False)]
            (loss, aux), g = jax.value_and_grad(ntt_loss, has_aux=True)(
                params, masks, teacher, x, apply_fn, lam_ker, lam_l2, density)
            u, o = opt.update(g, o)
            return (optax.apply_updates(params, u), masks, o, key), jnp.stack([loss, *aux])

        def period(st, p):
            params, masks, o, key = st
            masks = jax.lax.cond(first & (p == 0), lambda q: masks, lambda q: mask_fn(q, density), params)
            st, log = jax.lax.scan(step, (params, masks, o, key), None, length=mask_every)
            val = ntt_loss(st[0], st[1], teacher, x_val, apply_fn, lam_ker, lam_l2, density)[0]
            return st, (log, val)

        st, (log, val) = jax.lax.scan(period, state, jnp.arange(n_periods))
        return st, log.reshape(-1, log.shape[-1]), val

    return jax.vmap(one)(state, teacher)


def ntt_seeds(teacher: Any, x_pool: jnp.ndarray, x_val: jnp.ndarray, keys: jax.Array, apply_fn: Callable,
              density: float, max_steps: int, batch: int, mask_every: int, lam_ker: float, lam_l2: float,
              lr: float, patience: int | None = None, rtol: float = 0.0, global_alloc: bool = False,
              chunk_periods: int = 5) -> tuple[Any, Any, np.ndarray, dict[str, Any]]:
    """NTT for a batch of seeds (leading axis of ``teacher`` and ``keys``), trained to its plateau:
    the declared stopping rule (:func:`plateau_epoch`, ``patience`` in periods of ``mask_every``
    steps) is applied to NTT's own objective on the held-out inputs ``x_val``, checked every
    ``chunk_periods`` periods; the run stops when every seed has plateaued, or at ``max_steps``.
    Returns the masked student (m * theta), the masks, the per-step (loss, kernel, output, l2) log
    and {"val_curve", "plateau_step" (per seed, None = not reached), "steps_run"}."""
    masks0 = jax.vmap(lambda t: _mask_fn(global_alloc)(t, density))(teacher)
    state = (teacher, masks0, jax.vmap(optax.adam(lr).init)(teacher), keys)
    total = max(1, max_steps // mask_every)
    logs, vals, done = [], [], 0
    while done < total:
        n = min(chunk_periods, total - done)
        state, log, val = _ntt_chunk(state, teacher, x_pool, x_val, density, lam_l2, lr, jnp.asarray(done == 0),
                                     apply_fn, n, mask_every, batch, lam_ker, global_alloc)
        logs.append(np.asarray(log))
        vals.append(np.asarray(val))
        done += n
        if patience is not None:
            v = np.concatenate(vals, axis=1)
            if all(plateau_epoch(vi, patience, rtol)[0] is not None for vi in v):
                break
    v = np.concatenate(vals, axis=1)
    plateau = [None] * len(v) if patience is None else \
        [None if e is None else (e + 1) * mask_every for e, _ in (plateau_epoch(vi, patience, rtol) for vi in v)]
    student = jax.vmap(M.apply_masks)(state[0], state[1])
    return student, state[1], np.concatenate(logs, axis=1), \
        {"val_curve": v, "plateau_step": plateau, "steps_run": done * mask_every}


def cross_entropy(params: Any, masks: Any, x: jnp.ndarray, y: jnp.ndarray, apply_fn: Callable) -> jnp.ndarray:
    logits = apply_fn(M.apply_masks(params, masks), x)
    return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))


@partial(jax.jit, static_argnames=("apply_fn", "batch"))
def _train_chunk(state: Any, masks: Any, epoch_keys: jax.Array, x: jnp.ndarray, y: jnp.ndarray,
                 x_val: jnp.ndarray, y_val: jnp.ndarray, x_test: jnp.ndarray, y_test: jnp.ndarray,
                 apply_fn: Callable, batch: int, lr: float) -> tuple[Any, tuple[jnp.ndarray, ...]]:
    """A chunk of epochs (one per row of ``epoch_keys``, per seed) of masked Adam, vmapped over seeds."""
    opt = optax.adam(lr)
    steps = x.shape[0] // batch

    def one(state, masks, keys):
        def epoch(state, k):
            idx = jax.random.permutation(k, x.shape[0])[: steps * batch].reshape(steps, batch)

            def step(st, i):
                p, o = st
                loss, g = jax.value_and_grad(cross_entropy)(p, masks, x[i], y[i], apply_fn)
                u, o = opt.update(g, o)
                return (optax.apply_updates(p, u), o), loss

            state, losses = jax.lax.scan(step, state, idx)
            pm = M.apply_masks(state[0], masks)
            val_logits = apply_fn(pm, x_val)
            val_loss = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(val_logits), y_val[:, None], axis=1))
            val_acc = jnp.mean(jnp.argmax(val_logits, -1) == y_val)
            correct = jnp.argmax(apply_fn(pm, x_test), -1) == y_test
            return state, (losses.mean(), val_loss, val_acc, jnp.mean(correct), correct.astype(jnp.int8))

        return jax.lax.scan(epoch, state, keys)

    return jax.vmap(one)(state, masks, epoch_keys)


def train_seeds(params0: Any, masks: Any, keys: jax.Array, x: jnp.ndarray, y: jnp.ndarray,
                x_val: jnp.ndarray, y_val: jnp.ndarray, x_test: jnp.ndarray, y_test: jnp.ndarray,
                apply_fn: Callable, epochs: int, batch: int, lr: float, patience: int | None = None,
                rtol: float = 0.0, min_epochs: int = 0, chunk: int = 10) -> tuple[Any, ...]:
    """Supervised Adam training with the mask held fixed (the loss sees m * theta), vmapped over
    seeds, for at most ``epochs`` epochs in chunks of ``chunk``. Returns the final raw params and,
    per seed and epoch run, the mean training loss, the validation loss and accuracy, the test
    accuracy and the per-test-point correctness (int8). With ``patience`` set, training stops after the first chunk (and at least
    ``min_epochs`` epochs) at which every seed has reached its plateau by :func:`plateau_epoch`: the
    rule looks back only, so the chosen epochs are those a full-length run would give."""
    opt = optax.adam(lr)
    epoch_keys = jax.vmap(lambda k: jax.random.split(k, epochs))(keys)
    state = (params0, jax.vmap(opt.init)(params0))
    parts = []
    done = 0
    while done < epochs:
        n = min(chunk, epochs - done)
        state, curves = _train_chunk(state, masks, epoch_keys[:, done:done + n], x, y, x_val, y_val, x_test, y_test,
                                     apply_fn, batch, lr)
        parts.append([np.asarray(c) for c in curves])
        done += n
        if patience is not None and done >= min_epochs:
            vl = np.concatenate([p[1] for p in parts], axis=1)
            if all(plateau_epoch(v, patience, rtol)[0] is not None for v in vl):
                break
    curves = tuple(np.concatenate([p[i] for p in parts], axis=1) for i in range(5))
    return (state[0], *curves)


def plateau_epoch(val_loss: np.ndarray, patience: int, rtol: float) -> tuple[int | None, int]:
    """The declared stopping rule. Training has reached its plateau at the first epoch e (0-based)
    where the best validation loss of the last ``patience`` epochs is not below (1 - rtol) x the best
    before them; the chosen epoch is the one with the lowest validation loss up to e. Returns
    (e, chosen), with e = None when the run never plateaued (then chosen is over the whole run)."""
    v = np.asarray(val_loss, np.float64)
    for e in range(patience, len(v)):
        if np.min(v[e - patience + 1:e + 1]) > (1 - rtol) * np.min(v[:e - patience + 1]):
            return e, int(np.argmin(v[:e + 1]))
    return None, int(np.argmin(v))


def select(curves: tuple[np.ndarray, ...], patience: int, rtol: float) -> dict[str, np.ndarray]:
    """Per seed: plateau epoch, chosen epoch, and the validation and test accuracy and the
    per-test-point correctness there."""
    tr, vl, va, te, tc = (np.asarray(c) for c in curves)
    rows = [plateau_epoch(vl[s], patience, rtol) for s in range(len(vl))]
    chosen = np.array([c for _, c in rows])
    idx = np.arange(len(vl))
    return {"plateau": [None if e is None else e + 1 for e, _ in rows], "chosen": chosen + 1,
            "val_acc": va[idx, chosen], "test_acc": te[idx, chosen], "train_loss": tr,
            "test_correct": tc[idx, chosen]}


@partial(jax.jit, static_argnames=("apply_fn",))
def rel_errors(students: Any, masks: Any, teachers: Any, x: jnp.ndarray,
               apply_fn: Callable) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """Per seed, on the cross-kernel of the two halves of ``x`` (full K x K): the relative Frobenius
    NTK error ||Theta_s - Theta_t|| / ||Theta_t|| over the dense Jacobian at m * theta (the authors'
    choice), the same for the kernel the sparse network trains with (J_m J_m^T), and the relative
    output error."""
    h = x.shape[0] // 2

    def one(s, m, t):
        ts, tm, tt = ntk(x[:h], x[h:], s), ntk_masked(x[:h], x[h:], s, m), ntk(x[:h], x[h:], t)
        fs, ft = apply_fn(s, x), apply_fn(t, x)
        norm = jnp.linalg.norm(tt)
        return jnp.linalg.norm(ts - tt) / norm, jnp.linalg.norm(tm - tt) / norm, \
            jnp.linalg.norm(fs - ft) / jnp.linalg.norm(ft)

    return jax.vmap(one)(students, masks, teachers)


def _stack(trees: list) -> Any:
    return jax.tree_util.tree_map(lambda *a: jnp.stack(a), *trees)


def _unstack(tree: Any, i: int) -> Any:
    return jax.tree_util.tree_map(lambda a: a[i], tree)


def make_masks(method: str, teachers: Any, density: float, P: Any, split: Split, apply_fn: Callable,
               ntt_out: dict, seed_keys: jax.Array, init_fn: Callable) -> tuple[Any, Any]:
    """(initial params, masks) for every seed (stacked) for one pruning method, in its allocation."""
    xs = jnp.asarray(split.x_train[: P.snip_examples], F32)
    ys = jnp.asarray(split.labels_train[: P.snip_examples])
    if method in NTT_FAMILY:
        return ntt_out[method][0], ntt_out[method][1]
    if method == "ntt_mask_fresh_init":
        fresh = _stack([init_params(init_fn, jax.random.fold_in(k, 7), split.x_train.shape[1]) for k in seed_keys])
        return M.apply_masks(fresh, ntt_out["ntt"][1]), ntt_out["ntt"][1]
    glob = allocation(method) == "global"
    kind = base_method(method)
    per_seed = []
    for s, key in enumerate(seed_keys):
        t = _unstack(teachers, s)
        if kind == "magnitude":
            m = (M.magnitude_masks_global if glob else M.magnitude_masks)(t, density)
        elif kind in ("random", "scaled_random"):
            m = (M.random_masks_global if glob else M.random_masks)(t, density, jax.random.fold_in(key, 3))
        elif kind in ("snip", "logit_snip"):
            sal = M.saliency_masks_global if glob else M.saliency_masks
            if kind == "snip":
                obj = lambda p: cross_entropy(p, jax.tree_util.tree_map(jnp.ones_like, p), xs, ys, apply_fn)  # noqa: E731
            else:  # the paper's label-free saliency: the gradient of ||f(x)||^2
                obj = lambda p: jnp.sum(apply_fn(p, xs) ** 2)  # noqa: E731
            m = sal(t, obj, density)
        else:
            raise ValueError(f"parameter 'methods' has unknown method {method!r}; allowed: {METHODS}")
        p0 = M.apply_masks(t, m)
        if kind == "scaled_random":
            p0 = jax.tree_util.tree_map(lambda a: a / np.sqrt(density) if a.ndim == 2 else a, p0)
        per_seed.append((p0, m))
    return _stack([p for p, _ in per_seed]), _stack([m for _, m in per_seed])


def early_fraction(epochs: int) -> int:
    """Epochs that count as 'early' training: the first 30 %."""
    return max(1, int(np.ceil(0.3 * epochs)))


def ntt_masks(teachers: Any, split: Split, x_val: jnp.ndarray, keys: jax.Array, apply_fn: Callable,
              density: float, P: Any, lam_ker: float, steps: int) -> Any:
    """NTT's masks after ``steps`` steps for a data split (it reads ``split.x_train`` only: label-free)."""
    x = jnp.asarray(split.x_train, F32)
    return ntt_seeds(teachers, x, x_val, keys, apply_fn, density, steps, P.batch_size, P.mask_every, lam_ker,
                     P.lambda_l2, P.lr_ntt)[1]


def validation_split(split: Split, n_val: int) -> tuple[Split, tuple[np.ndarray, np.ndarray]]:
    """The last ``n_val`` training examples become the validation set (the stopping epoch is chosen
    on it; the test set is read only at the chosen epoch)."""
    keep = len(split.x_train) - n_val
    fit = dataclasses.replace(split, x_train=split.x_train[:keep], y_train=split.y_train[:keep],
                              labels_train=split.labels_train[:keep])
    return fit, (split.x_train[keep:], split.labels_train[keep:])


STOP_RULE = ("plateau of the validation loss: stop at the first epoch where the best of the last `patience` "
             "epochs is not `plateau_rtol` below the best before them; read the test set at the epoch of lowest "
             "validation loss up to there")


def experiment(P: Any, split: Split) -> dict[str, Any]:
    """Every method at every density for ``P.seeds`` seeds, all from the same dense init per seed:
    masks (NTT, trained to its plateau, and the baselines, each in its allocation), kernel and
    output errors on held-out inputs, and supervised training with ONE optimizer for every method
    (Adam at ``lr_train``, batch ``batch_size``) to the plateau of the validation loss; test
    accuracy (and per-point correctness) at the chosen epoch. With ``lr_grid`` set, every method is
    also trained at each of its rates and the best on validation is recorded as a labelled
    sensitivity analysis (never the verdict's basis)."""
    split, (xv_np, yv_np) = validation_split(split, P.n_val)
    init_fn, apply_fn = mlp(tuple(P.hidden))
    d_in = split.x_train.shape[1]
    seed_keys = [jax.random.PRNGKey(P.seed + s) for s in range(P.seeds)]
    teachers = _stack([init_params(init_fn, k, d_in) for k in seed_keys])
    ntt_keys = jnp.stack([jax.random.fold_in(k, 1) for k in seed_keys])
    train_keys = jnp.stack([jax.random.fold_in(k, 2) for k in seed_keys])  # same batches for every method
    x, xt = jnp.asarray(split.x_train, F32), jnp.asarray(split.x_test, F32)
    y, yt = jnp.asarray(split.labels_train), jnp.asarray(split.labels_test)
    xv, yv = jnp.asarray(xv_np, F32), jnp.asarray(yv_np)
    x_ntt_val = xv[: P.batch_size]  # NTT's held-out monitor batch (inputs only), as the authors'
    x_eval = xt[: P.n_ntk_eval]

    def train(p0, m, lr):
        pT, *curves = train_seeds(p0, m, train_keys, x, y, xv, yv, xt, yt, apply_fn, P.epochs, P.batch_size, lr,
                                  P.patience, P.plateau_rtol, min_epochs=early_fraction(P.epochs))
        return pT, select(curves, P.patience, P.plateau_rtol)

    ones = jax.tree_util.tree_map(jnp.ones_like, teachers)
    _, dense_sel = train(teachers, ones, P.lr_train)
    dense_acc = dense_sel["test_acc"]
    runs, curves, ntt_logs, ntt_info, sensitivity, correct = [], {}, {}, {}, {}, {}
    for density in P.densities:
        ntt_out = {}
        for name, lam, glob in (("ntt", P.lambda_ker, False), ("ntt_no_kernel", 0.0, False),
                                ("ntt_global", P.lambda_ker, True)):
            if name in P.methods or (name == "ntt" and "ntt_mask_fresh_init" in P.methods):
                ntt_out[name] = ntt_seeds(teachers, x, x_ntt_val, ntt_keys, apply_fn, density, P.ntt_steps,
                                          P.batch_size, P.mask_every, lam, P.lambda_l2, P.lr_ntt,
                                          patience=P.ntt_patience, rtol=P.plateau_rtol, global_alloc=glob)
                ntt_logs[f"{name}@{density:g}"] = np.asarray(ntt_out[name][2]).mean(0)
                info = ntt_out[name][3]
                ntt_info[f"{name}@{density:g}"] = {"steps_run": info["steps_run"],
                                                   "plateau_step": info["plateau_step"],
                                                   "val_curve": np.asarray(info["val_curve"]).mean(0).tolist()}
        for method in P.methods:
            p0, m = make_masks(method, teachers, density, P, split, apply_fn, ntt_out, seed_keys, init_fn)
            pT, sel = train(p0, m, P.lr_train)
            correct[f"{method}@{density:g}"] = sel["test_correct"]
            if P.lr_grid:
                tries = [(lr, train(p0, m, lr)[1]) for lr in P.lr_grid]
                lr_b, sel_b = max(tries, key=lambda t: (float(np.mean(t[1]["val_acc"])), -t[0]))
                sensitivity[f"{method}@{density:g}"] = {"lr": lr_b, "test_acc": [float(a) for a in sel_b["test_acc"]],
                                                        "val_acc": float(np.mean(sel_b["val_acc"]))}
            rel_ntk, rel_ntk_masked, rel_out = rel_errors(p0, m, teachers, x_eval, apply_fn)
            losses = sel["train_loss"]
            curves[f"{method}@{density:g}"] = losses
            info = ntt_out[method][3] if method in NTT_FAMILY else None
            for s in range(P.seeds):
                ms = _unstack(m, s)
                runs.append(RunRecord(
                    method=method, allocation=allocation(method), density=density, seed=P.seed + s,
                    lr=P.lr_train,
                    rel_ntk_error=float(rel_ntk[s]), rel_ntk_error_masked=float(rel_ntk_masked[s]),
                    rel_output_error=float(rel_out[s]),
                    test_accuracy=float(sel["test_acc"][s]), val_accuracy=float(sel["val_acc"][s]),
                    epochs_to_plateau=sel["plateau"][s], chosen_epoch=int(sel["chosen"][s]),
                    early_train_loss=float(losses[s, : early_fraction(P.epochs)].mean()),
                    final_train_loss=float(losses[s, -1]), epochs_run=int(losses.shape[1]),
                    ntt_steps=None if info is None else info["plateau_step"][s],
                    ntt_steps_run=None if info is None else info["steps_run"],
                    achieved_density_per_layer=M.layer_densities(ms),
                    layer_count_errors=([M.total_count_error(ms, density)] if allocation(method) == "global"
                                        else M.layer_count_errors(ms, density)),
                    pruned_weights_nonzero_after_training=M.pruned_nonzero(_unstack(pT, s), ms),
                    **M.connectivity(ms),
                ))
    # label-free: NTT sees the training inputs only, so permuting the labels must leave its masks bitwise
    # identical (a short run of the same entry point at the highest sparsity, on both splits)
    identical = None
    if "ntt" in P.methods:
        d_min = min(P.densities)
        perm = np.random.default_rng(P.seed + 99).permutation(len(split.labels_train))
        shuffled = dataclasses.replace(split, labels_train=split.labels_train[perm], y_train=split.y_train[perm])
        steps = 2 * P.mask_every
        masks_a = ntt_masks(teachers, split, x_ntt_val, ntt_keys, apply_fn, d_min, P, P.lambda_ker, steps)
        masks_b = ntt_masks(teachers, shuffled, x_ntt_val, ntt_keys, apply_fn, d_min, P, P.lambda_ker, steps)
        identical = all(bool(np.array_equal(np.asarray(a), np.asarray(b)))
                        for a, b in zip(jax.tree_util.tree_leaves(masks_a), jax.tree_util.tree_leaves(masks_b)))
    return {"per_run": runs, "dense_test_accuracy": float(np.mean(dense_acc)), "dense_lr": P.lr_train,
            "label_permutation_masks_identical": identical,
            "dense_test_accuracy_per_seed": [float(a) for a in np.asarray(dense_acc)],
            "ntt_runs": ntt_info, "sensitivity": sensitivity,
            "_correct": correct, "_curves": curves, "_dense_curve": np.asarray(dense_sel["train_loss"]),
            "_ntt_logs": ntt_logs}


# ----- metrics and checks ---------------------------------------------------------------------


def summarize(runs: list[RunRecord]) -> dict[str, Any]:
    """Mean and sd over seeds per ``method@density``."""
    out = {}
    for method in dict.fromkeys(r.method for r in runs):
        for density in dict.fromkeys(r.density for r in runs):
            row = {}
            for key in ("rel_ntk_error", "rel_ntk_error_masked", "rel_output_error", "test_accuracy",
                        "early_train_loss"):
                v = cell(runs, method, density, key)
                row[key] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0}
            out[f"{method}@{density:g}"] = row
    return out




def paired(runs: list[RunRecord], density: float, other: str, key: str = "test_accuracy",
           ntt: str = "ntt") -> dict[str, float]:
    """``ntt`` minus ``other`` per seed at ``density``: mean, sd, and the one-sided paired t-test
    p-value (H1: NTT larger)."""
    from scipy.stats import ttest_rel

    a, b = cell(runs, ntt, density, key), cell(runs, other, density, key)
    diff = a - b
    p = float(ttest_rel(a, b, alternative="greater").pvalue) if len(a) > 1 and diff.std() > 0 else float("nan")
    return {"mean_diff": float(diff.mean()), "sd_diff": float(diff.std(ddof=1)) if len(diff) > 1 else 0.0,
            "n": int(len(diff)), "p_one_sided": p}


def comparisons(methods: list[str]) -> dict[str, tuple[str, str]]:
    """Like-for-like pairs: key ``ntt_vs_<method>_<allocation>`` -> (NTT in that allocation, the
    other method). Only pairs whose two arms are both in ``methods``."""
    out = {}
    for other in methods:
        if other in ("ntt", "ntt_global"):
            continue
        alloc = allocation(other)
        ntt = "ntt" if alloc == "layerwise" else "ntt_global"
        if ntt in methods:
            out[f"ntt_vs_{base_method(other)}_{alloc}"] = (ntt, other)
    return out


def epochs_to_plateau(runs: list[RunRecord], method: str, density: float, epochs: int) -> dict[str, Any]:
    """Mean epochs to the plateau over seeds; runs that never plateaued count as ``epochs`` and are
    counted in ``not_plateaued``."""
    v = [r.epochs_to_plateau for r in runs if r.method == method and r.density == density]
    return {"mean": float(np.mean([e if e is not None else epochs for e in v])),
            "not_plateaued": int(sum(e is None for e in v))}


def collect(exp: dict[str, Any], P: Any, power: dict[str, Any] | None = None) -> NttMetrics:
    """The claim's typed record (:class:`~ntkrepro.claims.ntt.metrics.NttMetrics`) from the runs of
    :func:`experiment`: per-run rows, summaries, the paired bootstrap intervals per density, NTT's steps,
    plateau counts, mask diagnostics and, given ``power`` (claim.POWER), the seeds a 2-point effect needs
    from this run's sd. Validated where it is built (a missing or renamed field raises MetricsError)."""
    from ntkrepro.stats import seeds_for_power

    runs = exp["per_run"]
    d_min = min(P.densities)
    pairs = comparisons(list(P.methods))
    correct = exp["_correct"]
    by_density = {}
    for d in P.densities:
        intervals = {}
        for key, (a, b) in pairs.items():
            iv = paired_bootstrap(correct[f"{a}@{d:g}"], correct[f"{b}@{d:g}"], 0.90, seed=P.seed)
            t = paired(runs, d, b, ntt=a)
            intervals[key] = {**iv, "density": d, "n_seeds": iv["n"], "arms": [a, b], "allocation": allocation(b),
                             "sd_diff": t["sd_diff"], "p_one_sided_t": t["p_one_sided"]}
        by_density[f"{d:g}"] = intervals
    fresh = {f"{d:g}": by_density[f"{d:g}"]["ntt_vs_ntt_mask_fresh_init_layerwise"] for d in P.densities
             if "ntt_vs_ntt_mask_fresh_init_layerwise" in by_density[f"{d:g}"]}
    ntt_steps = {}
    for name, info in exp.get("ntt_runs", {}).items():
        reached = [s for s in info["plateau_step"] if s is not None]
        ntt_steps[name] = {"steps_run": info["steps_run"], "plateau_step_per_seed": info["plateau_step"],
                           "reached": len(reached), "n": len(info["plateau_step"]), "budget": P.ntt_steps}
    out = {"per_run": runs, "summary": summarize(runs), "dense_test_accuracy": exp["dense_test_accuracy"],
           "dense_test_accuracy_per_seed": exp["dense_test_accuracy_per_seed"], "dense_lr": exp["dense_lr"],
           "training": {"optimizer": "adam", "lr": P.lr_train, "batch": P.batch_size, "stop_rule": STOP_RULE,
                        "patience": P.patience, "plateau_rtol": P.plateau_rtol, "max_epochs": P.epochs,
                        "same_for_every_method": True},
           "data": {"dataset": P.dataset, "n_fit": P.n_train - P.n_val, "n_validation": P.n_val,
                    "n_test": P.n_test, "input_dim": int(784 if P.dataset == "mnist5k" else 64)},
           "interval_method": next(iter(by_density[f"{d_min:g}"].values()))["method"] if by_density[f"{d_min:g}"] else "",
           "paired_accuracy_at_highest_sparsity": by_density[f"{d_min:g}"],
           "paired_accuracy": by_density[f"{d_min:g}"],
           "paired_accuracy_by_density": by_density,
           "fresh_value_ablation": fresh,
           "ntt_steps": ntt_steps,
           "ntt_val_curves": {k: v["val_curve"] for k, v in exp.get("ntt_runs", {}).items()},
           "epochs_to_plateau": {m: {f"{d:g}": epochs_to_plateau(runs, m, d, P.epochs) for d in P.densities}
                                 for m in P.methods},
           "mask_diagnostics": {m: {k: float(np.mean(cell(runs, m, d_min, k)))
                                    for k in ("disconnected_classes", "units_reaching_output")} for m in P.methods},
           "mask_diagnostics_by_density": {f"{d:g}": {m: {k: float(np.mean(cell(runs, m, d, k)))
                                                          for k in ("disconnected_classes", "units_reaching_output")}
                                                      for m in P.methods} for d in P.densities},
           "label_permutation_masks_identical": exp["label_permutation_masks_identical"],
           "highest_sparsity_density": d_min,
           "ntt_rel_ntk_error_highest_sparsity": float(cell(runs, "ntt", d_min, "rel_ntk_error").mean()),
           "ntt_rel_ntk_error_masked_highest_sparsity":
               float(cell(runs, "ntt", d_min, "rel_ntk_error_masked").mean())}
    if exp.get("sensitivity"):
        sens = {}
        for d in P.densities:
            for key, (a, b) in pairs.items():
                ra, rb = exp["sensitivity"][f"{a}@{d:g}"], exp["sensitivity"][f"{b}@{d:g}"]
                diff = np.asarray(ra["test_acc"]) - np.asarray(rb["test_acc"])
                sens.setdefault(f"{d:g}", {})[key] = {"lr": [ra["lr"], rb["lr"]], "mean_diff": float(diff.mean())}
        out["sensitivity_tuned_rates"] = {"label": "sensitivity analysis: each method at its own best rate on "
                                                   "validation from lr_grid; not the verdict's basis",
                                          "lr_grid": list(P.lr_grid), "by_density": sens}
    if power is not None:
        key = "ntt_vs_snip_layerwise"
        realized = dict(power)
        if key in by_density[f"{d_min:g}"]:
            sd = by_density[f"{d_min:g}"][key]["sd_diff"]
            realized["sd_diff_this_run"] = sd
            if np.isfinite(sd) and sd > 0:
                realized["seeds_needed_from_this_run"] = seeds_for_power(power["effect"], sd,
                                                                         alpha=power["alpha_one_sided"],
                                                                         power=power["power"])
        out["power"] = realized
    return NttMetrics.from_json(to_jsonable({**out, "per_run": [r.to_json() for r in runs]}))

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
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ntkrepro.claims.ntt import masks as M
from ntkrepro.data import Split
from ntkrepro.io import to_jsonable
from ntkrepro.ntk import example_stax_layers, forward, mlp_ntk, ntk_from_activations
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


def _outputs_and_ntk(params: Any, x: jnp.ndarray, half: int) -> tuple[jnp.ndarray, jnp.ndarray]:
    """The MLP's outputs on ``x`` and :func:`ntk` between ``x[:half]`` and ``x[half:]``, from one forward
    pass over ``x`` (:func:`ntkrepro.ntk.forward`; the NTT objective needs both on the same batch)."""
    layers = example_stax_layers(params)
    hs, zs = forward(layers, x)
    rows = lambda sl: ([h[sl] for h in hs], [z[sl] for z in zs])  # noqa: E731
    return zs[-1], ntk_from_activations(layers, [(1.0, 1.0)] * len(layers), rows(slice(None, half)),
                                        rows(slice(half, None)))


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
    l2 = l2_masked(sp)
    if lam_ker:  # one forward pass per network gives the outputs and both halves' activations of the kernel
        half = x.shape[0] // 2
        (fs, ks), (ft, kt) = _outputs_and_ntk(sp, x, half), _outputs_and_ntk(teacher, x, half)
        out = jnp.mean((fs - ft) ** 2)
        ker = jnp.mean((ks - jax.lax.stop_gradient(kt)) ** 2)
    else:
        out = jnp.mean((apply_fn(sp, x) - apply_fn(teacher, x)) ** 2)
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
              chunk_periods: int = 1) -> tuple[Any, Any, np.ndarray, dict[str, Any]]:
    """NTT for a batch of seeds (leading axis of ``teacher`` and ``keys``), trained to its plateau:
    the declared stopping rule (:func:`plateau_epoch`, ``patience`` in periods of ``mask_every``
    steps) is applied to NTT's own objective on the held-out inputs ``x_val``, checked every
    ``chunk_periods`` periods (1: after every period, so the run ends at the period where its last seed
    plateaus; it was 5 up to the record at 7a6b7ca, which ran up to 400 steps past that, changed for the
    budget of issue 30 before any run of it); the run stops when every seed has plateaued, or at ``max_steps``.
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
                 x_val: jnp.ndarray, y_val: jnp.ndarray, apply_fn: Callable, batch: int,
                 lr: float) -> tuple[Any, tuple[Any, ...]]:
    """A chunk of epochs (one per row of ``epoch_keys``, per seed) of masked Adam, vmapped over seeds;
    per epoch: the mean training loss, the validation loss and accuracy, and the masked params at the
    epoch's end (the test set is read only at the chosen epoch, by :func:`train_seeds`)."""
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
            return state, (losses.mean(), val_loss, val_acc, pm)

        return jax.lax.scan(epoch, state, keys)

    return jax.vmap(one)(state, masks, epoch_keys)


@partial(jax.jit, static_argnames=("apply_fn",))
def _test_correct(params: Any, x_test: jnp.ndarray, y_test: jnp.ndarray, apply_fn: Callable) -> jnp.ndarray:
    """Per seed (leading axis of ``params``) and test point: argmax prediction == label."""
    return jax.vmap(lambda p: jnp.argmax(apply_fn(p, x_test), -1) == y_test)(params)


def _chosen(val_loss: np.ndarray, patience: int | None, rtol: float) -> int:
    """The epoch (0-based) the stopping rule chooses on a validation-loss curve (the lowest one
    overall without ``patience``)."""
    return int(np.argmin(val_loss)) if patience is None else plateau_epoch(val_loss, patience, rtol)[1]


def train_seeds(params0: Any, masks: Any, keys: jax.Array, x: jnp.ndarray, y: jnp.ndarray,
                x_val: jnp.ndarray, y_val: jnp.ndarray, x_test: jnp.ndarray, y_test: jnp.ndarray,
                apply_fn: Callable, epochs: int, batch: int, lr: float, patience: int | None = None,
                rtol: float = 0.0, min_epochs: int = 0, chunk: int = 10) -> tuple[Any, ...]:
    """Supervised Adam training with the mask held fixed (the loss sees m * theta), vmapped over
    seeds, for at most ``epochs`` epochs in chunks of ``chunk``. Returns the final raw params and,
    per seed and epoch run, the mean training loss and the validation loss and accuracy, then per
    seed the test accuracy and the per-test-point correctness (int8) at the epoch the stopping rule
    chooses (:func:`plateau_epoch`; the lowest validation loss without ``patience``), and last that
    chosen epoch per seed (0-based): the params of
    that epoch are kept as the run goes (the rule looks back only, so the choice made after a chunk
    never moves to an earlier chunk) and the test set is read once, there. With ``patience`` set,
    training stops after the first chunk (and at least ``min_epochs`` epochs) at which every seed has
    reached its plateau: the chosen epochs are those a full-length run would give."""
    opt = optax.adam(lr)
    epoch_keys = jax.vmap(lambda k: jax.random.split(k, epochs))(keys)
    state = (params0, jax.vmap(opt.init)(params0))
    parts = []
    n_seeds = len(keys)
    best = [None] * n_seeds
    best_epoch = [-1] * n_seeds
    done = 0
    while done < epochs:
        n = min(chunk, epochs - done)
        state, (*curves, pm) = _train_chunk(state, masks, epoch_keys[:, done:done + n], x, y, x_val, y_val,
                                            apply_fn, batch, lr)
        parts.append([np.asarray(c) for c in curves])
        vl = np.concatenate([p[1] for p in parts], axis=1)
        for s in range(n_seeds):
            c = _chosen(vl[s], patience, rtol)
            if c >= done:
                best[s], best_epoch[s] = jax.tree_util.tree_map(lambda a: a[s, c - done], pm), c
        done += n
        if patience is not None and done >= min_epochs:
            if all(plateau_epoch(v, patience, rtol)[0] is not None for v in vl):
                break
    curves = tuple(np.concatenate([p[i] for p in parts], axis=1) for i in range(3))
    assert best_epoch == [_chosen(v, patience, rtol) for v in curves[1]], "kept params are not the chosen epoch's"
    correct = np.asarray(_test_correct(_stack(best), x_test, y_test, apply_fn))
    return (state[0], *curves, correct.mean(1), correct.astype(np.int8), np.array(best_epoch))


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
    """Per seed: plateau epoch, and from :func:`train_seeds` (``curves``: its outputs after the params)
    the epoch it chose, the validation accuracy there, and the test accuracy and per-test-point
    correctness it read at that same epoch (1-based epochs)."""
    tr, vl, va, te, tc, chosen = (np.asarray(c) for c in curves)
    idx = np.arange(len(vl))
    return {"plateau": [None if e is None else e + 1 for e, _ in (plateau_epoch(v, patience, rtol) for v in vl)],
            "chosen": chosen + 1,
            "val_acc": va[idx, chosen], "test_acc": te, "train_loss": tr, "test_correct": tc}


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


class Data(NamedTuple):
    """One seeded split as arrays (inputs float32, labels int): ``fit`` is the training split without
    its last ``n_val`` examples (NTT reads ``fit.x_train`` only); ``x``/``y`` (n_fit, d_in)/(n_fit,),
    ``x_val``/``y_val`` the validation split, ``x_test``/``y_test`` the test split;
    ``x_ntt_val`` (batch_size, d_in): NTT's held-out monitor batch (validation inputs, as the
    authors'); ``x_eval`` (n_ntk_eval, d_in): held-out test inputs of the NTK errors; ``x_snip``/
    ``y_snip``: the first ``snip_examples`` training examples (SNIP's labeled batch)."""

    fit: Split
    x: jnp.ndarray
    y: jnp.ndarray
    x_val: jnp.ndarray
    y_val: jnp.ndarray
    x_test: jnp.ndarray
    y_test: jnp.ndarray
    x_ntt_val: jnp.ndarray
    x_eval: jnp.ndarray
    x_snip: jnp.ndarray
    y_snip: jnp.ndarray


def data_arrays(split: Split, n_val: int, batch_size: int, n_ntk_eval: int, snip_examples: int) -> Data:
    """The split's arrays (:class:`Data`): the last ``n_val`` training examples become the validation
    split (:func:`validation_split`)."""
    fit, (xv_np, yv_np) = validation_split(split, n_val)
    x, xt = jnp.asarray(fit.x_train, F32), jnp.asarray(fit.x_test, F32)
    y, yt = jnp.asarray(fit.labels_train), jnp.asarray(fit.labels_test)
    xv, yv = jnp.asarray(xv_np, F32), jnp.asarray(yv_np)
    return Data(fit, x, y, xv, yv, xt, yt, xv[:batch_size], xt[:n_ntk_eval],
                jnp.asarray(fit.x_train[:snip_examples], F32), jnp.asarray(fit.labels_train[:snip_examples]))


class Net(NamedTuple):
    """The MLP (``init_fn``, ``apply_fn``) on ``d_in`` inputs and its dense teachers, one per seed
    (``seeds`` = seed, seed + 1, ...): ``teachers`` is the stacked parameter tree (leading axis: seed);
    per seed, ``seed_keys`` PRNGKey(seed + s), ``ntt_keys`` = fold_in(key, 1) (NTT's batches) and
    ``train_keys`` = fold_in(key, 2) (the supervised minibatch order, the same for every method)."""

    init_fn: Callable
    apply_fn: Callable
    d_in: int
    seeds: list[int]
    seed_keys: list[jax.Array]
    teachers: Any
    ntt_keys: jax.Array
    train_keys: jax.Array


def dense_teachers(hidden: tuple[int, ...], d_in: int, seed: int, n_seeds: int) -> Net:
    """The ReLU MLP d_in -> hidden -> 10 (:func:`mlp`) and its dense initializations for ``n_seeds``
    seeds: every method of a seed starts from the same teacher."""
    init_fn, apply_fn = mlp(tuple(hidden))
    seed_keys = [jax.random.PRNGKey(seed + s) for s in range(n_seeds)]
    teachers = _stack([init_params(init_fn, k, d_in) for k in seed_keys])
    ntt_keys = jnp.stack([jax.random.fold_in(k, 1) for k in seed_keys])
    train_keys = jnp.stack([jax.random.fold_in(k, 2) for k in seed_keys])
    return Net(init_fn, apply_fn, d_in, [seed + s for s in range(n_seeds)], seed_keys, teachers, ntt_keys, train_keys)


def ntt_variants(methods: list[str], density: float, net: Net, data: Data, lambda_ker: float, lambda_l2: float,
                 lr_ntt: float, ntt_steps: int, ntt_patience: int, plateau_rtol: float, batch_size: int,
                 mask_every: int) -> dict[str, tuple]:
    """NTT (:func:`ntt_seeds`, to its plateau) at ``density`` for each variant that ``methods`` needs:
    ``ntt`` (layerwise, lambda_K), ``ntt_no_kernel`` (layerwise, lambda_K = 0) and ``ntt_global`` (one
    threshold over all weights); ``ntt`` also when ``ntt_mask_fresh_init`` needs its mask. Each value
    is :func:`ntt_seeds`' (student, masks, log, info)."""
    out = {}
    for name, lam, glob in (("ntt", lambda_ker, False), ("ntt_no_kernel", 0.0, False),
                            ("ntt_global", lambda_ker, True)):
        if name in methods or (name == "ntt" and "ntt_mask_fresh_init" in methods):
            out[name] = ntt_seeds(net.teachers, data.x, data.x_ntt_val, net.ntt_keys, net.apply_fn, density,
                                  ntt_steps, batch_size, mask_every, lam, lambda_l2, lr_ntt,
                                  patience=ntt_patience, rtol=plateau_rtol, global_alloc=glob)
    return out


def make_masks(method: str, density: float, net: Net, ntt_out: dict[str, tuple], x_snip: jnp.ndarray,
               y_snip: jnp.ndarray) -> tuple[Any, Any]:
    """(initial params m * theta, masks m) for every seed (stacked) for one pruning method in its
    allocation: the NTT family from ``ntt_out`` (:func:`ntt_variants`); NTT's mask on fresh values
    (fold_in(key, 7)); magnitude |theta|; random (fold_in(key, 3)); SNIP |dL/dtheta * theta| on
    (``x_snip``, ``y_snip``); logit-SNIP |d||f(x)||^2/dtheta * theta| (label-free); top-k per weight
    matrix (layerwise) or over all weights (``*_global``)."""
    if method in NTT_FAMILY:
        return ntt_out[method][0], ntt_out[method][1]
    if method == "ntt_mask_fresh_init":
        fresh = _stack([init_params(net.init_fn, jax.random.fold_in(k, 7), net.d_in) for k in net.seed_keys])
        return M.apply_masks(fresh, ntt_out["ntt"][1]), ntt_out["ntt"][1]
    glob = allocation(method) == "global"
    kind = base_method(method)
    apply_fn = net.apply_fn
    per_seed = []
    for s, key in enumerate(net.seed_keys):
        t = _unstack(net.teachers, s)
        if kind == "magnitude":
            m = (M.magnitude_masks_global if glob else M.magnitude_masks)(t, density)
        elif kind in ("random", "scaled_random"):
            m = (M.random_masks_global if glob else M.random_masks)(t, density, jax.random.fold_in(key, 3))
        elif kind in ("snip", "logit_snip"):
            sal = M.saliency_masks_global if glob else M.saliency_masks
            if kind == "snip":
                obj = lambda p: cross_entropy(p, jax.tree_util.tree_map(jnp.ones_like, p), x_snip, y_snip,  # noqa: E731
                                              apply_fn)
            else:  # the paper's label-free saliency: the gradient of ||f(x)||^2
                obj = lambda p: jnp.sum(apply_fn(p, x_snip) ** 2)  # noqa: E731
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
              density: float, steps: int, batch_size: int, mask_every: int, lam_ker: float, lam_l2: float,
              lr: float) -> Any:
    """NTT's masks after ``steps`` steps for a data split (it reads ``split.x_train`` only: label-free)."""
    x = jnp.asarray(split.x_train, F32)
    return ntt_seeds(teachers, x, x_val, keys, apply_fn, density, steps, batch_size, mask_every, lam_ker,
                     lam_l2, lr)[1]


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


TRAIN_CHUNK = 5  # epochs per compiled chunk: the run stops at most 4 epochs after every seed's plateau


def train_masked(net: Net, data: Data, p0: Any, masks: Any, lr: float, epochs: int, batch_size: int,
                 patience: int, plateau_rtol: float) -> tuple[Any, dict[str, np.ndarray]]:
    """Supervised training of every seed from ``p0`` with ``masks`` fixed (:func:`train_seeds`: Adam at
    ``lr``, minibatches of ``batch_size`` in the order of ``net.train_keys``, the loss on m * theta) to
    the plateau of the validation loss, at least the early 30 % of ``epochs``. Returns the final params
    and :func:`select`'s per-seed choice (plateau and chosen epoch, accuracies, training-loss curve)."""
    pT, *curves = train_seeds(p0, masks, net.train_keys, data.x, data.y, data.x_val, data.y_val, data.x_test,
                              data.y_test, net.apply_fn, epochs, batch_size, lr, patience, plateau_rtol,
                              min_epochs=early_fraction(epochs), chunk=TRAIN_CHUNK)
    return pT, select(curves, patience, plateau_rtol)


def train_dense(net: Net, data: Data, lr: float, epochs: int, batch_size: int, patience: int,
                plateau_rtol: float) -> tuple[Any, dict[str, np.ndarray]]:
    """The dense reference: :func:`train_masked` from the teachers with every mask entry 1."""
    return train_masked(net, data, net.teachers, jax.tree_util.tree_map(jnp.ones_like, net.teachers), lr, epochs,
                        batch_size, patience, plateau_rtol)


def tuned_rate(net: Net, data: Data, p0: Any, masks: Any, lr_grid: list[float], **train: Any) -> dict[str, Any]:
    """Sensitivity analysis: one method trained at each rate of ``lr_grid`` (``train``: the other
    arguments of :func:`train_masked`); the rate with the best mean validation accuracy (ties: the
    smaller rate), its test accuracy per seed and its validation accuracy."""
    tries = [(lr, train_masked(net, data, p0, masks, lr, **train)[1]) for lr in lr_grid]
    lr_b, sel_b = max(tries, key=lambda t: (float(np.mean(t[1]["val_acc"])), -t[0]))
    return {"lr": lr_b, "test_acc": [float(a) for a in sel_b["test_acc"]], "val_acc": float(np.mean(sel_b["val_acc"]))}


def run_records(method: str, density: float, net: Net, data: Data, p0: Any, masks: Any, pT: Any,
                sel: dict[str, Any], ntt_info: dict[str, Any] | None, lr: float, epochs: int) -> list[RunRecord]:
    """One :class:`RunRecord` per seed: the held-out kernel and output errors of m * theta_0 against
    the dense teacher (:func:`rel_errors` on ``data.x_eval``), the accuracies at the chosen epoch, the
    early (first 30 % of ``epochs``) and final training loss, NTT's steps (``ntt_info``, None for the
    other methods), and the mask's densities, count errors, pruned weights left nonzero after training
    (``pT``) and connectivity."""
    rel_ntk, rel_ntk_masked, rel_out = rel_errors(p0, masks, net.teachers, data.x_eval, net.apply_fn)
    losses = sel["train_loss"]
    rows = []
    for s, seed in enumerate(net.seeds):
        ms = _unstack(masks, s)
        rows.append(RunRecord(
            method=method, allocation=allocation(method), density=density, seed=seed, lr=lr,
            rel_ntk_error=float(rel_ntk[s]), rel_ntk_error_masked=float(rel_ntk_masked[s]),
            rel_output_error=float(rel_out[s]),
            test_accuracy=float(sel["test_acc"][s]), val_accuracy=float(sel["val_acc"][s]),
            epochs_to_plateau=sel["plateau"][s], chosen_epoch=int(sel["chosen"][s]),
            early_train_loss=float(losses[s, : early_fraction(epochs)].mean()),
            final_train_loss=float(losses[s, -1]), epochs_run=int(losses.shape[1]),
            ntt_steps=None if ntt_info is None else ntt_info["plateau_step"][s],
            ntt_steps_run=None if ntt_info is None else ntt_info["steps_run"],
            achieved_density_per_layer=M.layer_densities(ms),
            layer_count_errors=([M.total_count_error(ms, density)] if allocation(method) == "global"
                                else M.layer_count_errors(ms, density)),
            pruned_weights_nonzero_after_training=M.pruned_nonzero(_unstack(pT, s), ms),
            **M.connectivity(ms),
        ))
    return rows


def label_permutation_identical(net: Net, data: Data, density: float, seed: int, lambda_ker: float,
                                lambda_l2: float, lr_ntt: float, batch_size: int, mask_every: int) -> bool:
    """Label-free: NTT sees the training inputs only, so permuting the labels (a permutation drawn from
    default_rng(seed + 99)) must leave its masks bitwise identical; a short run (2 mask periods) of the
    same entry point at ``density``, on both splits, for the first seed only (the check is about the code
    path, not the seeds; one seed costs a fifth of five)."""
    fit = data.fit
    perm = np.random.default_rng(seed + 99).permutation(len(fit.labels_train))
    shuffled = dataclasses.replace(fit, labels_train=fit.labels_train[perm], y_train=fit.y_train[perm])
    args = (density, 2 * mask_every, batch_size, mask_every, lambda_ker, lambda_l2, lr_ntt)
    first = jax.tree_util.tree_map(lambda a: a[:1], net.teachers)
    masks_a = ntt_masks(first, fit, data.x_ntt_val, net.ntt_keys[:1], net.apply_fn, *args)
    masks_b = ntt_masks(first, shuffled, data.x_ntt_val, net.ntt_keys[:1], net.apply_fn, *args)
    return all(bool(np.array_equal(np.asarray(a), np.asarray(b)))
               for a, b in zip(jax.tree_util.tree_leaves(masks_a), jax.tree_util.tree_leaves(masks_b)))


@dataclasses.dataclass
class Experiment:
    """What :func:`collect` and the figures read from a run: the per-run rows, the dense network's
    test accuracy per seed and training-loss curve (seeds, epochs), NTT's runs per ``<variant>@<density>``
    (steps run, plateau step per seed, seed-mean held-out objective) and seed-mean step logs, per
    ``<method>@<density>`` the test-point correctness at the chosen epoch (seeds, n_test; int8) and the
    training-loss curves (seeds, epochs), the tuned-rate sensitivity analysis (empty without lr_grid)
    and the label-permutation check (None when NTT did not run)."""

    per_run: list[RunRecord]
    dense_lr: float
    dense_test_accuracy: float
    dense_test_accuracy_per_seed: list[float]
    dense_curve: np.ndarray
    ntt_runs: dict[str, dict[str, Any]]
    ntt_logs: dict[str, np.ndarray]
    correct: dict[str, np.ndarray]
    curves: dict[str, np.ndarray]
    sensitivity: dict[str, dict[str, Any]]
    label_permutation_masks_identical: bool | None
    sizes: dict[str, int]  # n_fit, n_validation, n_test, input_dim: the split as run


def evaluate(net: Net, data: Data, densities: list[float], methods: list[str], ntt: dict[float, dict[str, tuple]],
             masks: dict[float, dict[str, tuple]], trained: dict[float, dict[str, tuple]], dense: tuple,
             lr: float, epochs: int, sensitivity: dict[str, dict[str, Any]] | None = None,
             identical: bool | None = None) -> Experiment:
    """The per-run rows (:func:`run_records`, density by density, methods in order) and what the
    metrics and figures read, from NTT's runs ``ntt[density][variant]``, the masks
    ``masks[density][method]`` = (p0, m), the trained ``trained[density][method]`` = (pT, selection)
    and the dense network's ``dense`` = (pT, selection)."""
    runs, curves, correct, ntt_runs, ntt_logs = [], {}, {}, {}, {}
    for density in densities:
        for name, out in ntt[density].items():
            ntt_logs[f"{name}@{density:g}"] = np.asarray(out[2]).mean(0)
            info = out[3]
            ntt_runs[f"{name}@{density:g}"] = {"steps_run": info["steps_run"], "plateau_step": info["plateau_step"],
                                               "val_curve": np.asarray(info["val_curve"]).mean(0).tolist()}
        for method in methods:
            p0, m = masks[density][method]
            pT, sel = trained[density][method]
            correct[f"{method}@{density:g}"] = sel["test_correct"]
            curves[f"{method}@{density:g}"] = sel["train_loss"]
            info = ntt[density][method][3] if method in NTT_FAMILY else None
            runs += run_records(method, density, net, data, p0, m, pT, sel, info, lr, epochs)
    dense_acc = dense[1]["test_acc"]
    return Experiment(runs, lr, float(np.mean(dense_acc)), [float(a) for a in np.asarray(dense_acc)],
                      np.asarray(dense[1]["train_loss"]), ntt_runs, ntt_logs, correct, curves, sensitivity or {},
                      identical, {"n_fit": int(data.x.shape[0]), "n_validation": int(data.x_val.shape[0]),
                                  "n_test": int(data.x_test.shape[0]), "input_dim": int(data.x.shape[1])})


def experiment(P: Any, split: Split) -> Experiment:
    """Every method at every density for ``P.seeds`` seeds, all from the same dense init per seed:
    masks (NTT, trained to its plateau, and the baselines, each in its allocation), kernel and
    output errors on held-out inputs, and supervised training with ONE optimizer for every method
    (Adam at ``lr_train``, batch ``batch_size``) to the plateau of the validation loss; test
    accuracy (and per-point correctness) at the chosen epoch. With ``lr_grid`` set, every method is
    also trained at each of its rates and the best on validation is recorded as a labelled
    sensitivity analysis (never the verdict's basis). The notebook runs these steps one cell each."""
    data = data_arrays(split, P.n_val, P.batch_size, P.n_ntk_eval, P.snip_examples)
    net = dense_teachers(P.hidden, data.x.shape[1], P.seed, P.seeds)
    ntt = {d: ntt_variants(P.methods, d, net, data, P.lambda_ker, P.lambda_l2, P.lr_ntt, P.ntt_steps, P.ntt_patience,
                           P.plateau_rtol, P.batch_size, P.mask_every) for d in P.densities}
    masks = {d: {m: make_masks(m, d, net, ntt[d], data.x_snip, data.y_snip) for m in P.methods} for d in P.densities}
    train = dict(epochs=P.epochs, batch_size=P.batch_size, patience=P.patience, plateau_rtol=P.plateau_rtol)
    dense = train_dense(net, data, P.lr_train, **train)
    trained = {d: {m: train_masked(net, data, *masks[d][m], P.lr_train, **train) for m in P.methods}
               for d in P.densities}
    sensitivity = {f"{m}@{d:g}": tuned_rate(net, data, *masks[d][m], P.lr_grid, **train)
                   for d in P.densities for m in P.methods} if P.lr_grid else {}
    identical = (label_permutation_identical(net, data, min(P.densities), P.seed, P.lambda_ker, P.lambda_l2,
                                             P.lr_ntt, P.batch_size, P.mask_every) if "ntt" in P.methods else None)
    return evaluate(net, data, P.densities, P.methods, ntt, masks, trained, dense, P.lr_train, P.epochs,
                    sensitivity, identical)


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


def collect(exp: Experiment, densities: list[float], methods: list[str], dataset: str, seed: int, lr: float,
            batch_size: int, epochs: int, patience: int, plateau_rtol: float, ntt_steps: int,
            lr_grid: list[float] = (), power: dict[str, Any] | None = None) -> NttMetrics:
    """The claim's typed record (:class:`~ntkrepro.claims.ntt.metrics.NttMetrics`) from the runs of
    :func:`evaluate` at ``densities`` for ``methods``: per-run rows, summaries, the paired bootstrap
    intervals (level 0.90, resampling seeded by ``seed``) of NTT minus each method of its allocation per
    density, NTT's steps against its budget ``ntt_steps``, plateau counts (a run that never plateaued
    counts as ``epochs``), mask diagnostics, the supervised protocol (Adam at ``lr``, ``batch_size``,
    ``patience``, ``plateau_rtol``, ``epochs``), the data (``dataset``, sizes as run), the tuned-rate
    sensitivity analysis when ``lr_grid`` was run and, given ``power`` (claim.POWER), the seeds a 2-point
    effect needs from this run's sd. Validated where it is built (a missing or renamed field raises
    MetricsError)."""
    from ntkrepro.stats import seeds_for_power

    runs = exp.per_run
    d_min = min(densities)
    pairs = comparisons(list(methods))
    correct = exp.correct
    by_density = {}
    for d in densities:
        intervals = {}
        for key, (a, b) in pairs.items():
            iv = paired_bootstrap(correct[f"{a}@{d:g}"], correct[f"{b}@{d:g}"], 0.90, seed=seed)
            t = paired(runs, d, b, ntt=a)
            intervals[key] = {**iv, "density": d, "n_seeds": iv["n"], "arms": [a, b], "allocation": allocation(b),
                             "sd_diff": t["sd_diff"], "p_one_sided_t": t["p_one_sided"]}
        by_density[f"{d:g}"] = intervals
    fresh = {f"{d:g}": by_density[f"{d:g}"]["ntt_vs_ntt_mask_fresh_init_layerwise"] for d in densities
             if "ntt_vs_ntt_mask_fresh_init_layerwise" in by_density[f"{d:g}"]}
    steps = {}
    for name, info in exp.ntt_runs.items():
        reached = [s for s in info["plateau_step"] if s is not None]
        steps[name] = {"steps_run": info["steps_run"], "plateau_step_per_seed": info["plateau_step"],
                       "reached": len(reached), "n": len(info["plateau_step"]), "budget": ntt_steps}
    out = {"per_run": runs, "summary": summarize(runs), "dense_test_accuracy": exp.dense_test_accuracy,
           "dense_test_accuracy_per_seed": exp.dense_test_accuracy_per_seed, "dense_lr": exp.dense_lr,
           "training": {"optimizer": "adam", "lr": lr, "batch": batch_size, "stop_rule": STOP_RULE,
                        "patience": patience, "plateau_rtol": plateau_rtol, "max_epochs": epochs,
                        "same_for_every_method": True},
           "data": {"dataset": dataset, **exp.sizes},
           "interval_method": next(iter(by_density[f"{d_min:g}"].values()))["method"] if by_density[f"{d_min:g}"] else "",
           "paired_accuracy_at_highest_sparsity": by_density[f"{d_min:g}"],
           "paired_accuracy": by_density[f"{d_min:g}"],
           "paired_accuracy_by_density": by_density,
           "fresh_value_ablation": fresh,
           "ntt_steps": steps,
           "ntt_val_curves": {k: v["val_curve"] for k, v in exp.ntt_runs.items()},
           "epochs_to_plateau": {m: {f"{d:g}": epochs_to_plateau(runs, m, d, epochs) for d in densities}
                                 for m in methods},
           "mask_diagnostics": {m: {k: float(np.mean(cell(runs, m, d_min, k)))
                                    for k in ("disconnected_classes", "units_reaching_output")} for m in methods},
           "mask_diagnostics_by_density": {f"{d:g}": {m: {k: float(np.mean(cell(runs, m, d, k)))
                                                          for k in ("disconnected_classes", "units_reaching_output")}
                                                      for m in methods} for d in densities},
           "label_permutation_masks_identical": exp.label_permutation_masks_identical,
           "highest_sparsity_density": d_min,
           "ntt_rel_ntk_error_highest_sparsity": float(cell(runs, "ntt", d_min, "rel_ntk_error").mean()),
           "ntt_rel_ntk_error_masked_highest_sparsity":
               float(cell(runs, "ntt", d_min, "rel_ntk_error_masked").mean())}
    if exp.sensitivity:
        sens = {}
        for d in densities:
            for key, (a, b) in pairs.items():
                ra, rb = exp.sensitivity[f"{a}@{d:g}"], exp.sensitivity[f"{b}@{d:g}"]
                diff = np.asarray(ra["test_acc"]) - np.asarray(rb["test_acc"])
                sens.setdefault(f"{d:g}", {})[key] = {"lr": [ra["lr"], rb["lr"]], "mean_diff": float(diff.mean())}
        out["sensitivity_tuned_rates"] = {"label": "sensitivity analysis: each method at its own best rate on "
                                                   "validation from lr_grid; not the verdict's basis",
                                          "lr_grid": list(lr_grid), "by_density": sens}
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

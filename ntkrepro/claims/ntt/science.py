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
from ntkrepro.ntk import example_stax_layers, mlp_ntk
from ntkrepro.stats import paired_interval

from ntkrepro.claims.ntt.claim import METHODS, _cell  # noqa: E402  (declared with the claim's checks)
GLOBAL_MASKS = ("snip_global",)  # one top-k over all layers: per-layer counts vary by design

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


@partial(jax.jit, static_argnames=("apply_fn", "steps", "batch", "mask_every", "lam_ker"))
def ntt_seeds(teacher: Any, x_pool: jnp.ndarray, keys: jax.Array, apply_fn: Callable, density: float,
              steps: int, batch: int, mask_every: int, lam_ker: float, lam_l2: float,
              lr: float) -> tuple[Any, Any, jnp.ndarray]:
    """NTT for a batch of seeds (leading axis of ``teacher`` and ``keys``): returns the masked
    student (m * theta), the masks and the per-step (loss, kernel, output, l2) log."""
    opt = optax.adam(lr)

    def one(teacher, key):
        def step(state, i):
            params, masks, opt_state, key = state
            key, sub = jax.random.split(key)
            x = x_pool[jax.random.choice(sub, x_pool.shape[0], (batch,), replace=False)]
            (loss, aux), g = jax.value_and_grad(ntt_loss, has_aux=True)(
                params, masks, teacher, x, apply_fn, lam_ker, lam_l2, density)
            updates, opt_state = opt.update(g, opt_state)
            params = optax.apply_updates(params, updates)
            update = ((i + 1) % mask_every == 0) & (i < steps - mask_every)
            masks = jax.lax.cond(update, lambda p: M.magnitude_masks(p, density), lambda p: masks, params)
            return (params, masks, opt_state, key), jnp.stack([loss, *aux])

        masks0 = M.magnitude_masks(teacher, density)
        (params, masks, _, _), log = jax.lax.scan(step, (teacher, masks0, opt.init(teacher), key),
                                                   jnp.arange(steps))
        return M.apply_masks(params, masks), masks, log

    return jax.vmap(one)(teacher, keys)


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
            test_acc = jnp.mean(jnp.argmax(apply_fn(pm, x_test), -1) == y_test)
            return state, (losses.mean(), val_loss, val_acc, test_acc)

        return jax.lax.scan(epoch, state, keys)

    return jax.vmap(one)(state, masks, epoch_keys)


def train_seeds(params0: Any, masks: Any, keys: jax.Array, x: jnp.ndarray, y: jnp.ndarray,
                x_val: jnp.ndarray, y_val: jnp.ndarray, x_test: jnp.ndarray, y_test: jnp.ndarray,
                apply_fn: Callable, epochs: int, batch: int, lr: float, patience: int | None = None,
                rtol: float = 0.0, min_epochs: int = 0, chunk: int = 10) -> tuple[Any, ...]:
    """Supervised Adam training with the mask held fixed (the loss sees m * theta), vmapped over
    seeds, for at most ``epochs`` epochs in chunks of ``chunk``. Returns the final raw params and,
    per seed and epoch run, the mean training loss, the validation loss and accuracy, and the test
    accuracy. With ``patience`` set, training stops after the first chunk (and at least
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
    curves = tuple(np.concatenate([p[i] for p in parts], axis=1) for i in range(4))
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
    """Per seed: plateau epoch, chosen epoch, and the validation and test accuracy there."""
    tr, vl, va, te = (np.asarray(c) for c in curves)
    rows = [plateau_epoch(vl[s], patience, rtol) for s in range(len(vl))]
    chosen = np.array([c for _, c in rows])
    idx = np.arange(len(vl))
    return {"plateau": [None if e is None else e + 1 for e, _ in rows], "chosen": chosen + 1,
            "val_acc": va[idx, chosen], "test_acc": te[idx, chosen], "train_loss": tr}


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
    """(initial params, masks) for every seed (stacked) for one pruning method."""
    xs = jnp.asarray(split.x_train[: P.snip_examples], F32)
    ys = jnp.asarray(split.labels_train[: P.snip_examples])
    if method in ("ntt", "ntt_no_kernel"):
        return ntt_out[method][0], ntt_out[method][1]
    if method == "ntt_mask_fresh_init":
        fresh = _stack([init_params(init_fn, jax.random.fold_in(k, 7), split.x_train.shape[1]) for k in seed_keys])
        return M.apply_masks(fresh, ntt_out["ntt"][1]), ntt_out["ntt"][1]
    per_seed = []
    for s, key in enumerate(seed_keys):
        t = _unstack(teachers, s)
        if method == "magnitude":
            m = M.magnitude_masks(t, density)
        elif method in ("random", "scaled_random"):
            m = M.random_masks(t, density, jax.random.fold_in(key, 3))
        elif method in ("snip", "snip_global"):
            sal = M.saliency_masks if method == "snip" else M.saliency_masks_global
            m = sal(t, lambda p: cross_entropy(p, jax.tree_util.tree_map(jnp.ones_like, p), xs, ys, apply_fn), density)
        elif method == "logit_snip":
            m = M.saliency_masks(t, lambda p: jnp.sum(apply_fn(p, xs) ** 2), density)
        else:
            raise ValueError(f"parameter 'methods' has unknown method {method!r}; allowed: {METHODS}")
        p0 = M.apply_masks(t, m)
        if method == "scaled_random":
            p0 = jax.tree_util.tree_map(lambda a: a / np.sqrt(density) if a.ndim == 2 else a, p0)
        per_seed.append((p0, m))
    return _stack([p for p, _ in per_seed]), _stack([m for _, m in per_seed])


def early_fraction(epochs: int) -> int:
    """Epochs that count as 'early' training: the first 30 %."""
    return max(1, int(np.ceil(0.3 * epochs)))


def ntt_masks(teachers: Any, split: Split, keys: jax.Array, apply_fn: Callable, density: float, P: Any,
              lam_ker: float) -> Any:
    """NTT's masks for a data split (it reads ``split.x_train`` only: label-free)."""
    x = jnp.asarray(split.x_train, F32)
    return ntt_seeds(teachers, x, keys, apply_fn, density, P.ntt_steps, P.batch_size, P.mask_every, lam_ker,
                     P.lambda_l2, P.lr_ntt)[1]


def validation_split(split: Split, n_val: int) -> tuple[Split, tuple[np.ndarray, np.ndarray]]:
    """The last ``n_val`` training examples become the validation set (learning rate and stopping
    epoch are chosen on it; the test set is read only at the chosen epoch)."""
    keep = len(split.x_train) - n_val
    fit = dataclasses.replace(split, x_train=split.x_train[:keep], y_train=split.y_train[:keep],
                              labels_train=split.labels_train[:keep])
    return fit, (split.x_train[keep:], split.labels_train[keep:])


def experiment(P: Any, split: Split) -> dict[str, Any]:
    """Every method at every density for ``P.seeds`` seeds, all from the same dense init per seed:
    masks (NTT and the baselines), kernel/output errors on held-out inputs, and supervised training
    for ``epochs`` epochs at every rate of ``lr_grid``. Per method and density the rate with the best
    mean validation accuracy (at each seed's chosen epoch, :func:`plateau_epoch`) is kept; test
    accuracy is read at the chosen epoch."""
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
    x_eval = xt[: P.n_ntk_eval]

    def train(p0, m, lr):
        pT, *curves = train_seeds(p0, m, train_keys, x, y, xv, yv, xt, yt, apply_fn, P.epochs, P.batch_size, lr,
                                  P.patience, P.plateau_rtol, min_epochs=early_fraction(P.epochs))
        return pT, select(curves, P.patience, P.plateau_rtol)

    def best_rate(p0, m):
        """(final params, selection, lr) at the rate with the best mean validation accuracy."""
        tries = [(lr, *train(p0, m, lr)) for lr in P.lr_grid]
        lr, pT, sel = max(tries, key=lambda t: (float(np.mean(t[2]["val_acc"])), -t[0]))
        return pT, sel, lr

    ones = jax.tree_util.tree_map(jnp.ones_like, teachers)
    _, dense_sel, dense_lr = best_rate(teachers, ones)
    dense_acc = dense_sel["test_acc"]
    runs, curves, ntt_logs, rates = [], {}, {}, {}
    for density in P.densities:
        ntt_out = {}
        for name, lam in (("ntt", P.lambda_ker), ("ntt_no_kernel", 0.0)):
            if name in P.methods or (name == "ntt" and "ntt_mask_fresh_init" in P.methods):
                ntt_out[name] = ntt_seeds(teachers, x, ntt_keys, apply_fn, density, P.ntt_steps, P.batch_size,
                                          P.mask_every, lam, P.lambda_l2, P.lr_ntt)
                ntt_logs[f"{name}@{density:g}"] = np.asarray(ntt_out[name][2]).mean(0)
        if "ntt" in ntt_out and density == min(P.densities):
            ntt_at_dmin = ntt_out["ntt"]
        for method in P.methods:
            p0, m = make_masks(method, teachers, density, P, split, apply_fn, ntt_out, seed_keys, init_fn)
            pT, sel, lr = best_rate(p0, m)
            rates[f"{method}@{density:g}"] = lr
            rel_ntk, rel_ntk_masked, rel_out = rel_errors(p0, m, teachers, x_eval, apply_fn)
            losses = sel["train_loss"]
            curves[f"{method}@{density:g}"] = losses
            for s in range(P.seeds):
                ms = _unstack(m, s)
                runs.append({
                    "method": method, "density": density, "seed": P.seed + s, "lr": lr,
                    "rel_ntk_error": float(rel_ntk[s]), "rel_ntk_error_masked": float(rel_ntk_masked[s]),
                    "rel_output_error": float(rel_out[s]),
                    "test_accuracy": float(sel["test_acc"][s]), "val_accuracy": float(sel["val_acc"][s]),
                    "epochs_to_plateau": sel["plateau"][s], "chosen_epoch": int(sel["chosen"][s]),
                    "early_train_loss": float(losses[s, : early_fraction(P.epochs)].mean()),
                    "final_train_loss": float(losses[s, -1]), "epochs_run": int(losses.shape[1]),
                    "achieved_density_per_layer": M.layer_densities(ms),
                    "layer_count_errors": ([M.total_count_error(ms, density)] if method in GLOBAL_MASKS
                                           else M.layer_count_errors(ms, density)),
                    "pruned_weights_nonzero_after_training": M.pruned_nonzero(_unstack(pT, s), ms),
                    **M.connectivity(ms),
                })
    # label-free: NTT sees the training inputs only, so permuting the labels must leave its masks bitwise
    # identical (run at the highest sparsity through the same entry point, with a label-permuted split)
    identical = None
    if "ntt" in P.methods:  # (ntt_out["ntt"] exists whenever "ntt" is a method)
        d_min = min(P.densities)
        perm = np.random.default_rng(P.seed + 99).permutation(len(split.labels_train))
        shuffled = dataclasses.replace(split, labels_train=split.labels_train[perm], y_train=split.y_train[perm])
        masks_a = ntt_at_dmin[1]  # from the labelled split, in the loop above
        masks_b = ntt_masks(teachers, shuffled, ntt_keys, apply_fn, d_min, P, P.lambda_ker)
        identical = all(bool(np.array_equal(np.asarray(a), np.asarray(b)))
                        for a, b in zip(jax.tree_util.tree_leaves(masks_a), jax.tree_util.tree_leaves(masks_b)))
    return {"per_run": runs, "dense_test_accuracy": float(np.mean(dense_acc)), "dense_lr": dense_lr,
            "learning_rates": rates, "label_permutation_masks_identical": identical,
            "dense_test_accuracy_per_seed": [float(a) for a in np.asarray(dense_acc)],
            "_curves": curves, "_dense_curve": np.asarray(dense_sel["train_loss"]), "_ntt_logs": ntt_logs}


# ----- metrics and checks ---------------------------------------------------------------------


def summarize(runs: list[dict]) -> dict[str, Any]:
    """Mean and sd over seeds per ``method@density``."""
    out = {}
    for method in dict.fromkeys(r["method"] for r in runs):
        for density in dict.fromkeys(r["density"] for r in runs):
            row = {}
            for key in ("rel_ntk_error", "rel_output_error", "test_accuracy", "early_train_loss"):
                v = _cell(runs, method, density, key)
                row[key] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0}
            out[f"{method}@{density:g}"] = row
    return out


def paired(runs: list[dict], density: float, other: str, key: str = "test_accuracy") -> dict[str, float]:
    """NTT minus ``other`` per seed at ``density``: mean, sd, and the one-sided paired t-test p-value
    (H1: NTT larger)."""
    from scipy.stats import ttest_rel

    a, b = _cell(runs, "ntt", density, key), _cell(runs, other, density, key)
    diff = a - b
    p = float(ttest_rel(a, b, alternative="greater").pvalue) if len(a) > 1 and diff.std() > 0 else float("nan")
    return {"mean_diff": float(diff.mean()), "sd_diff": float(diff.std(ddof=1)) if len(diff) > 1 else 0.0,
            "n": int(len(diff)), "p_one_sided": p}


def epochs_to_plateau(runs: list[dict], method: str, density: float, epochs: int) -> dict[str, Any]:
    """Mean epochs to the plateau over seeds; runs that never plateaued count as ``epochs`` and are
    counted in ``not_plateaued``."""
    v = [r["epochs_to_plateau"] for r in runs if r["method"] == method and r["density"] == density]
    return {"mean": float(np.mean([e if e is not None else epochs for e in v])),
            "not_plateaued": int(sum(e is None for e in v))}


def collect(exp: dict[str, Any], P: Any, power: dict[str, Any] | None = None) -> dict[str, Any]:
    runs = exp["per_run"]
    d_min = min(P.densities)
    others = [m for m in ("ntt_no_kernel", "random", "magnitude", "scaled_random", "snip", "snip_global",
                          "logit_snip") if m in P.methods]
    pairs = {o: paired(runs, d_min, o) for o in others}
    by_density = {f"{d:g}": {o: {"density": d, "n_seeds": r["n"],
                                 **paired_interval(r["mean_diff"], r["sd_diff"], r["n"], 0.90)}
                             for o, r in ((o, paired(runs, d, o)) for o in others)} for d in P.densities}
    out = {"per_run": runs, "summary": summarize(runs), "dense_test_accuracy": exp["dense_test_accuracy"],
           "dense_test_accuracy_per_seed": exp["dense_test_accuracy_per_seed"], "dense_lr": exp["dense_lr"],
           "learning_rates": exp["learning_rates"],
           "paired_accuracy_at_highest_sparsity": pairs,
           "paired_accuracy": by_density[f"{d_min:g}"],
           "paired_accuracy_by_density": by_density,
           "epochs_to_plateau": {m: {f"{d:g}": epochs_to_plateau(runs, m, d, P.epochs) for d in P.densities}
                                 for m in P.methods},
           "mask_diagnostics": {m: {k: float(np.mean(_cell(runs, m, d_min, k)))
                                    for k in ("disconnected_classes", "units_reaching_output")} for m in P.methods},
           "label_permutation_masks_identical": exp["label_permutation_masks_identical"],
           "highest_sparsity_density": d_min,
           "ntt_rel_ntk_error_highest_sparsity": float(_cell(runs, "ntt", d_min, "rel_ntk_error").mean()),
           "ntt_rel_ntk_error_masked_highest_sparsity":
               float(_cell(runs, "ntt", d_min, "rel_ntk_error_masked").mean())}
    if power is not None:
        out["power"] = power
    return out

"""X1 (issue 29 item 7): a layer-wise scaling of L2 regularization for networks in the standard parameterization.

The finding (the abstract; the paper's section 3.5, "Improving L2 regularization for networks using standard
parameterization", section number recalled (M)): "an improved layer-wise scaling for weight decay which improves
generalization in finite-width networks (STD parameterization)".

**Reconstructed** (the paper body was not available; the formula below is derived, not quoted). In the NTK
parameterization a dense layer with fan-in n_l computes W_l x + b_l with W_l = sigma_w omega_l / sqrt(n_l) and
b_l = sigma_b beta_l, and the network trains (omega, beta). Its L2 penalty, lambda sum_l ||omega_l||^2 +
||beta_l||^2, written in the standard-parameterization variables (W, b) that a standard network trains directly, is

    lambda sum_l (n_l / sigma_w^2) ||W_l||^2 + ||b_l||^2 / sigma_b^2          (the layer-wise scaled L2)

against the plain weight decay of a standard network,

    lambda sum_l ||W_l||^2 + ||b_l||^2                                        (the plain L2).

The scaled penalty weighs each layer by its fan-in: it is ~ n_l / sigma_w^2 times the plain one, so its lambda grid
sits lower. Same function, same penalty value (:func:`l2_penalty`, tested against neural-tangents' two
parameterizations); the training dynamics stay those of the standard network (gradients in (W, b)).

The experiment (:func:`x1_study`): sklearn digits, an FCN with ``depth`` hidden ReLU layers in the standard
parameterization (``stax.Dense(..., parameterization="standard")``), one-hot centred targets, MSE loss, minibatch
SGD with momentum 0.9 (``optax.sgd``), early stopping at the best validation read. Each arm (plain, scaled, and the
no-L2 reference) chooses its (lambda, lr) cell on the validation split over tuning seeds by the declared rate rule
with a stability margin (:func:`rate_rule`, :data:`RATE_RULE`), then is run at its chosen cell on fresh verdict
seeds; the scaled - plain test accuracy with a paired two-way bootstrap over seeds and test points.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

ARMS = ("plain", "scaled")


# ----------------------------------------------------------------------------- the penalty
def penalty_weights(fan_ins: Sequence[int], W_std: float, b_std: float, scaled: bool) -> tuple[np.ndarray,
                                                                                                np.ndarray]:
    """Per dense layer l (in order) the weights (a_l, c_l) of penalty = sum_l a_l ||W_l||^2 + c_l ||b_l||^2:
    plain a_l = c_l = 1; scaled a_l = n_l / W_std^2 (n_l = ``fan_ins[l]``), c_l = 1 / b_std^2. Two (L,) arrays."""
    n = np.asarray(fan_ins, np.float64)
    if scaled:
        if W_std <= 0 or b_std <= 0:
            raise ValueError(f"parameters 'W_std'={W_std}, 'b_std'={b_std} must be positive for the scaled penalty")
        return n / W_std ** 2, np.full(len(n), 1.0 / b_std ** 2)
    return np.ones(len(n)), np.ones(len(n))


def _dense(params) -> list:
    """The (W, b) pairs of a stax.serial parameter list, in order (the ReLU layers' empty tuples dropped)."""
    return [p for p in params if len(p) == 2]


def weighted_penalty(params, a, c):
    """sum_l a_l ||W_l||^2 + c_l ||b_l||^2 over the dense layers of ``params`` (stax.serial parameters: a list
    with one (W (n_l, n_out), b (1, n_out)) pair per Dense layer and () per ReLU); ``a``, ``c``: (L,)."""
    dense = _dense(params)
    return sum(a[i] * jnp.sum(w ** 2) + c[i] * jnp.sum(b ** 2) for i, (w, b) in enumerate(dense))


def l2_penalty(params, fan_ins: Sequence[int], W_std: float, b_std: float, scaled: bool):
    """The L2 penalty (without lambda) of a standard-parameterization network's ``params`` (stax.serial
    parameters; L dense layers with fan-ins ``fan_ins``): plain sum_l ||W_l||^2 + ||b_l||^2, or (``scaled``) the
    layer-wise sum_l (n_l / W_std^2) ||W_l||^2 + ||b_l||^2 / b_std^2, which equals the plain L2
    sum_l ||omega_l||^2 + ||beta_l||^2 of the same function's NTK-parameterization parameters."""
    if len(_dense(params)) != len(fan_ins):
        raise ValueError(f"parameter 'fan_ins' has {len(fan_ins)} entries for {len(_dense(params))} dense layers")
    a, c = penalty_weights(fan_ins, W_std, b_std, scaled)
    return weighted_penalty(params, a, c)


# ----------------------------------------------------------------------------- the network
def fcn(width: int, depth: int, W_std: float, b_std: float, parameterization: str = "standard", n_out: int = 10):
    """``[Dense(width) + ReLU] * depth, Dense(n_out)``: neural-tangents' ``(init_fn, apply_fn, kernel_fn)``."""
    from neural_tangents import stax

    layers = []
    for _ in range(depth):
        layers += [stax.Dense(width, W_std, b_std, parameterization=parameterization), stax.Relu()]
    return stax.serial(*layers, stax.Dense(n_out, W_std, b_std, parameterization=parameterization))


def fan_ins(d_in: int, width: int, depth: int) -> list[int]:
    """The fan-in of each dense layer of :func:`fcn`: d_in, then width per later layer."""
    return [d_in] + [width] * depth


@partial(jax.jit, static_argnames=("apply_fn", "n_evals", "eval_every", "with_test"))
def _train(p0, lrs, lams, a, c, orders, x, y, xv, lv, xt, lt, apply_fn, n_evals, eval_every, with_test):
    """Every cell on the leading axis (params ``p0``, rate ``lrs``, lambda ``lams``, penalty weights ``a``, ``c``
    (cells, L), minibatch indices ``orders`` (cells, steps, B)) trained by SGD with momentum 0.9 on
    0.5 mean_batch ||f - y||^2 + lambda penalty, validation accuracy read every ``eval_every`` steps. Returns
    per cell the best validation accuracy, its step (the earliest best) and, ``with_test``, the test
    correctness (n_test,) at that step (all False otherwise), and whether every validation read's outputs were
    finite (the last read is at the last step, so False means the run diverged somewhere)."""
    import optax

    def one(p, lr, lam, a_, c_, order):
        opt = optax.sgd(lr, momentum=0.9)

        def obj(q, idx):
            f = apply_fn(q, x[idx])
            return 0.5 * jnp.mean(jnp.sum((f - y[idx]) ** 2, -1)) + lam * weighted_penalty(q, a_, c_)

        def step(carry, idx):
            q, s = carry
            g = jax.grad(obj)(q, idx)
            u, s = opt.update(g, s, q)
            return (optax.apply_updates(q, u), s), None

        def block(carry, k):
            q, s, best, at, corr, ok = carry
            (q, s), _ = jax.lax.scan(step, (q, s), jax.lax.dynamic_slice_in_dim(order, k * eval_every, eval_every))
            fv = apply_fn(q, xv)
            ok = ok & jnp.all(jnp.isfinite(fv))
            val = jnp.mean(jnp.argmax(fv, -1) == lv)
            better = val > best
            if with_test:
                corr = jnp.where(better, jnp.argmax(apply_fn(q, xt), -1) == lt, corr)
            return (q, s, jnp.where(better, val, best), jnp.where(better, (k + 1) * eval_every, at), corr, ok), None

        init = (p, opt.init(p), jnp.float32(-1.0), jnp.int32(0), jnp.zeros(lt.shape, bool), jnp.bool_(True))
        (_, _, best, at, corr, ok), _ = jax.lax.scan(block, init, jnp.arange(n_evals))
        return best, at, corr, ok

    return jax.vmap(one)(p0, lrs, lams, a, c, orders)


def train_cells(cells: list[tuple[float, float, bool, int]], width: int, depth: int, data: dict, steps: int,
                eval_every: int, batch: int, W_std: float, b_std: float, with_test: bool):
    """Train every cell (lr, lambda, scaled, seed) of ``cells`` at once in float32 (one vmapped, jitted scan).
    Seed s: initialization stax init_fn(PRNGKey(s)) and minibatch order from numpy default_rng(s) (a fresh
    permutation of the training set per epoch), shared by every cell of that seed (the arms and grids are paired by
    seed). ``data``: x, y (train), xv, lv (validation inputs, labels), xt, lt (test). Returns numpy arrays: best
    validation accuracy (cells,), its step (cells,), test correctness at that step (cells, n_test), and whether the
    run stayed finite (cells,) (every validation read's outputs finite; :func:`_train`)."""
    from ntkrepro.compat import float32_scope

    if steps % eval_every:
        raise ValueError(f"parameter 'steps'={steps} is not a multiple of 'eval_every'={eval_every}")
    n = len(data["x"])
    if batch > n:
        raise ValueError(f"parameter 'batch'={batch} exceeds the {n} training points")
    per_epoch = n // batch

    def order(s):
        rng = np.random.default_rng(s)
        ep = -(-steps // per_epoch)
        return np.concatenate([rng.permutation(n)[:per_epoch * batch].reshape(per_epoch, batch)
                               for _ in range(ep)])[:steps]

    seeds = sorted({cl[3] for cl in cells})
    orders = {s: order(s) for s in seeds}
    fi = fan_ins(data["x"].shape[1], width, depth)
    with float32_scope():
        init_fn, apply_fn, _ = fcn(width, depth, W_std, b_std)
        inits = {s: init_fn(jax.random.PRNGKey(s), (-1, data["x"].shape[1]))[1] for s in seeds}
        p0 = jax.tree_util.tree_map(lambda *v: jnp.stack(v).astype(jnp.float32), *[inits[cl[3]] for cl in cells])
        ac = [penalty_weights(fi, W_std, b_std, cl[2]) for cl in cells]
        f32 = lambda v: jnp.asarray(np.asarray(v), jnp.float32)  # noqa: E731
        best, at, corr, ok = _train(p0, f32([cl[0] for cl in cells]), f32([cl[1] for cl in cells]),
                                f32([v[0] for v in ac]), f32([v[1] for v in ac]),
                                jnp.asarray(np.stack([orders[cl[3]] for cl in cells]), jnp.int32),
                                f32(data["x"]), f32(data["y"]), f32(data["xv"]), jnp.asarray(data["lv"]),
                                f32(data["xt"]), jnp.asarray(data["lt"]), apply_fn, steps // eval_every,
                                eval_every, with_test)
        return np.asarray(best, np.float64), np.asarray(at), np.asarray(corr), np.asarray(ok, bool)


# ----------------------------------------------------------------------------- the rate rule
RATE_RULE = ("per arm and width, on the tuning seeds, at each lambda of that arm's grid: a rate of the (increasing) "
             "lr grid is stable at that lambda when every tuning seed stays finite there (every validation read's "
             "outputs finite, the last read at the last step); that lambda's stability edge is the largest rate below "
             "its smallest unstable rate (the top of the grid when none is unstable: the edge is then not located); "
             "the chosen (lambda, lr) cell is the best mean validation accuracy over the tuning seeds among the cells "
             "whose rate lies at least one grid step below their lambda's edge (ties: the larger lambda, then the "
             "smaller lr); no such cell: no choice. The same rule and the same lr grid for plain, scaled and no-L2 "
             "(lambda 0)")


def rate_rule(val_grid, finite) -> dict[str, Any]:
    """The declared rate rule (:data:`RATE_RULE`) for one arm at one width. ``val_grid``: (lambdas, lrs) mean
    validation accuracy over the tuning seeds, the rates in increasing order; ``finite``: (lambdas, lrs) bool, every
    tuning seed of that cell stayed finite. Per lambda: ``edge`` (the index of its stability edge, the largest rate
    below its smallest unstable one; None when its smallest rate is unstable) and ``located`` (some rate is unstable
    at that lambda, so the edge lies inside the grid). ``eligible``: (lambdas, lrs) bool, the rate at least one
    grid step below its lambda's edge (eligible cells are finite on every tuning seed). ``choice``: (lambda index,
    lr index) of the best eligible cell, or None when no cell is eligible."""
    val = np.asarray(val_grid, np.float64)
    fin = np.asarray(finite, bool)
    if val.shape != fin.shape or val.ndim != 2:
        raise ValueError(f"rate_rule: val_grid {val.shape} and finite {fin.shape} must be the same (lambdas, lrs)")
    n_lr = val.shape[1]
    edge, located = [], []
    eligible = np.zeros(val.shape, bool)
    for i, row in enumerate(fin):
        bad = np.flatnonzero(~row)
        e = int(bad[0]) - 1 if len(bad) else n_lr - 1
        edge.append(e if e >= 0 else None)
        located.append(bool(len(bad)))
        eligible[i, :max(e, 0)] = True  # rates 0 .. e - 1
    choice = _choose(np.where(eligible, val, -np.inf)) if eligible.any() else None
    return {"edge": edge, "located": located, "eligible": eligible, "choice": choice}


def _choose(grid: np.ndarray) -> tuple[int, int]:
    """(lambda index, lr index) of the best entry of a (lambdas, lrs) validation grid; ties: the larger lambda (the
    strongest regularization validation cannot tell from the best: the small lambdas of a grid often tie with
    each other and with no L2), then the smaller lr."""
    cand = np.argwhere(grid == grid.max())
    i, j = max(((int(i), int(j)) for i, j in cand), key=lambda ij: (ij[0], -ij[1]))
    return i, j


# ----------------------------------------------------------------------------- the study
ALL_ARMS = ("plain", "scaled", "no_l2")


def x1_study(widths: Sequence[int], lrs: Sequence[float], plain_lambdas: Sequence[float],
             scaled_lambdas: Sequence[float], depth: int = 2, n_train: int = 500, n_val: int = 300,
             n_test: int = 997, steps: int = 800, eval_every: int = 20, batch: int = 50, tuning_seeds: int = 3,
             n_seeds: int = 5, W_std: float = 2 ** 0.5, b_std: float = 0.1, seed: int = 0,
             scaled_penalty: bool = True) -> dict[str, Any]:
    """X1 on sklearn digits (``n_train`` training, ``n_val`` validation, ``n_test`` test points, disjoint; split
    seed ``seed`` + 31). At each width of ``widths``, the FCN of :func:`fcn` (``depth`` hidden ReLU layers,
    standard parameterization) is trained by :func:`train_cells` (minibatch ``batch``, ``steps`` steps, early
    stopping at the best of the validation reads every ``eval_every`` steps) in three arms: plain L2
    (``plain_lambdas``), layer-wise scaled L2 (:func:`l2_penalty`; ``scaled_lambdas``) and, as a reference, no L2
    (lambda 0), every arm over the same increasing rate grid ``lrs``. Each arm's (lambda, lr) cell comes from
    :func:`rate_rule` on the tuning seeds ``seed`` + 0.. ``tuning_seeds`` - 1 (mean early-stopped validation
    accuracy; stability with a one-step margin); it is then run on the verdict seeds ``seed`` + 100.. + 100 +
    ``n_seeds`` - 1, and its test accuracy read at each seed's early-stopped step (``verdict_finite``: whether
    each verdict run stayed finite). An arm without a choice has no verdict runs (its verdict fields null) and
    then, for plain or scaled, the width has no interval. Scaled - plain test correctness per (verdict seed, test
    point): :func:`ntkrepro.stats.paired_bootstrap` (seed ``seed``). Every arm of a width runs in one batched
    program (tuning) and one more (verdict). ``scaled_penalty`` False: a control in which the "scaled" arm uses
    the plain penalty and the plain arm's lambda grid (the two arms then coincide and the interval is 0).
    Per-point 0/1 arrays only under keys starting "_"."""
    from ntkrepro.data import load_split
    from ntkrepro.stats import paired_bootstrap

    lrs = [float(v) for v in lrs]
    if len(lrs) < 3 or any(b <= a for a, b in zip(lrs, lrs[1:])):
        raise ValueError(f"parameter 'lrs'={lrs} must be >= 3 strictly increasing rates (the rule needs an order)")
    s = load_split("digits", n_train + n_val, n_test, seed + 31)
    data = {"x": s.x_train[:n_train], "y": s.y_train[:n_train], "xv": s.x_train[n_train:],
            "lv": s.labels_train[n_train:], "xt": s.x_test, "lt": s.labels_test}
    tune = [seed + i for i in range(tuning_seeds)]
    verdict = [seed + 100 + i for i in range(n_seeds)]
    lam = {"plain": [float(v) for v in plain_lambdas],
           "scaled": [float(v) for v in (scaled_lambdas if scaled_penalty else plain_lambdas)],
           "no_l2": [0.0]}
    is_scaled = {"plain": False, "scaled": scaled_penalty, "no_l2": False}
    out: dict[str, Any] = {}
    for w in widths:
        keys = [(arm, i, j) for arm in ALL_ARMS for i in range(len(lam[arm])) for j in range(len(lrs))]
        cells = [(lrs[j], lam[arm][i], is_scaled[arm], t) for arm, i, j in keys for t in tune]
        best, _, _, ok = train_cells(cells, w, depth, data, steps, eval_every, batch, W_std, b_std, False)
        best, ok = best.reshape(len(keys), len(tune)), ok.reshape(len(keys), len(tune))
        rule, val_grid, n_fin = {}, {}, {}
        for arm in ALL_ARMS:
            idx = [k for k, key in enumerate(keys) if key[0] == arm]
            shape = (len(lam[arm]), len(lrs))
            val_grid[arm] = best[idx].mean(1).reshape(shape)
            n_fin[arm] = ok[idx].sum(1).reshape(shape)
            rule[arm] = rate_rule(val_grid[arm], n_fin[arm] == len(tune))
        chosen = [arm for arm in ALL_ARMS if rule[arm]["choice"] is not None]
        vcells = [(lrs[rule[arm]["choice"][1]], lam[arm][rule[arm]["choice"][0]], is_scaled[arm], t)
                  for arm in chosen for t in verdict]
        if vcells:
            vbest, vat, vcorr, vok = train_cells(vcells, w, depth, data, steps, eval_every, batch, W_std, b_std, True)
        row: dict[str, Any] = {}
        correct = {}
        for arm in ALL_ARMS:
            r = rule[arm]
            ci = r["choice"][0] if r["choice"] is not None else None
            edge_lr = [lrs[e] if e is not None else None for e in r["edge"]]
            rec = {"lambda_grid": lam[arm], "lr_grid": lrs, "val_accuracy_grid": val_grid[arm].tolist(),
                   "finite_tuning_seeds_grid": n_fin[arm].astype(int).tolist(), "edge_lr_per_lambda": edge_lr,
                   "edge_located_per_lambda": r["located"],
                   "edge_lr": edge_lr[ci] if ci is not None else None,
                   "edge_located": bool(ci is not None and r["located"][ci]),
                   "largest_eligible_lr": lrs[r["edge"][ci] - 1] if ci is not None else None,
                   "chosen_lambda": None, "chosen_lr": None, "val_accuracy": None, "accuracy_per_seed": None,
                   "accuracy_mean": None, "stop_steps": None, "verdict_val_accuracy": None, "verdict_finite": None}
            if arm in chosen:
                a_i = chosen.index(arm)
                sl = slice(a_i * n_seeds, (a_i + 1) * n_seeds)
                i, j = r["choice"]
                correct[arm] = vcorr[sl].astype(np.int8)
                acc = correct[arm].mean(1)
                rec.update({"chosen_lambda": lam[arm][i], "chosen_lr": lrs[j],
                            "val_accuracy": float(val_grid[arm][i, j]),
                            "accuracy_per_seed": [float(v) for v in acc], "accuracy_mean": float(acc.mean()),
                            "stop_steps": [int(v) for v in vat[sl]],
                            "verdict_val_accuracy": [float(v) for v in vbest[sl]],
                            "verdict_finite": [bool(v) for v in vok[sl]]})
            row[arm] = rec
        row["advantage"] = None
        if "plain" in correct and "scaled" in correct:
            adv = paired_bootstrap(correct["scaled"], correct["plain"], seed=seed)
            row["advantage"] = {k: adv[k] for k in ("mean_diff", "ci_low", "ci_high", "n", "se", "mde", "n_test",
                                                    "method", "se_seeds", "se_points")}
        row["_correct"] = {arm: c.tolist() for arm, c in correct.items()}
        out[str(w)] = row
    return {"dataset": "digits", "n_train": n_train, "n_val": n_val, "n_test": n_test, "depth": depth,
            "widths": [int(w) for w in widths], "steps": steps, "eval_every": eval_every, "batch": batch,
            "tuning_seeds": tune, "verdict_seeds": verdict, "scaled_penalty": scaled_penalty,
            "architecture": f"[Dense(width) + ReLU] x {depth}, Dense(10); standard parameterization, "
                            f"W_std={W_std:.3g}, b_std={b_std:g}",
            "loss": "MSE 0.5 mean_batch ||f - y||^2 on one-hot centred targets (-0.1 / 0.9), + lambda x penalty",
            "optimizer": f"minibatch SGD (optax.sgd, momentum 0.9), batch {batch}, constant rate; early stopping "
                         f"at the best validation read (every {eval_every} steps)",
            "penalties": {"plain": "sum_l ||W_l||^2 + ||b_l||^2",
                          "scaled": "sum_l (n_l / W_std^2) ||W_l||^2 + ||b_l||^2 / b_std^2 (n_l the fan-in)"},
            "rate_rule": RATE_RULE, "per_width": out}

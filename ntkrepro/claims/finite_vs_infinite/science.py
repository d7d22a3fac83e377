"""Finite versus infinite networks (Lee et al. 2020, arXiv 2007.15801) at CPU scale.

Every experiment returns plain numbers (for ``results.json``) plus the arrays its figure needs.
Kernels and solves run in float64; the finite networks train in float32 (full-batch GD in a
jitted ``lax.scan``, seeds vmapped; the MNIST-1D CNNs run their convolutions as im2col matmuls,
``cnn.cnn_apply``, because XLA:CPU convolutions are slow inside a scan).
"""
from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from ntkrepro.data import DATASET_SHAPES, Split, accuracy, agreement, load_split
from ntkrepro.kernels import (condition_ratio, conv_vec_kernel_fn, fcn as _fcn, fcn_kernel_fn, gd_mean_prediction, kernel_regression,
                              max_learning_rate, relu_fcn_kernels)
from ntkrepro.ntk import nt_fcn_ntk
from ntkrepro.numerics import eps, loglog_fit, loglog_slope, tolerance
from ntkrepro.params import Params
from ntkrepro.claims.finite_vs_infinite.metrics import FiniteVsInfiniteMetrics
from ntkrepro.io import drop_private, to_jsonable
from ntkrepro.compat import float32_scope
from ntkrepro.train import gd_mse_seeds, init_seeds
from ntkrepro.stats import paired_bootstrap

F32 = jnp.float32

# one (init, apply, kernel) per architecture: the jitted training loops take apply as a static argument, so a fresh
# stax closure per call recompiled the loop for every configuration of the breaking study (rates and L2 are traced)
fcn = lru_cache(maxsize=64)(_fcn)


@lru_cache(maxsize=8)
def _empirical_ntk_fn(W_std: float, b_std: float) -> Callable:
    """The jitted empirical NTK of the claim's FCN on (x, params), one per (W_std, b_std) (compiled once per shape)."""
    return jax.jit(lambda x1, params: nt_fcn_ntk(params, x1, None, W_std, b_std))  # checked against nt


@dataclass(frozen=True)
class FCN:
    """The claim's fully connected ReLU network, NTK parameterization: ``depth`` hidden layers (width set per
    use), layer l computes h^{l+1} = (W_std / sqrt(n_l)) W^l relu(h^l) + b_std b^l with W^l, b^l ~ N(0, 1)
    (the first layer reads the input x in place of relu(h)), and a readout of the same form."""

    depth: int
    W_std: float
    b_std: float

    @classmethod
    def of(cls, P: Params) -> "FCN":
        """The network of a parameter set (``depth``, ``W_std``, ``b_std``)."""
        return cls(P.depth, P.W_std, P.b_std)


def kernels(net: FCN, x1: np.ndarray, x2: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(NNGP K(x1, x2), NTK Theta(x1, x2)) of ``net`` at infinite width, each (n1, n2) in float64, through
    neural-tangents' stax (x2 = None: x1 against itself)."""
    k = fcn_kernel_fn(net.depth, net.W_std, net.b_std)(x1, x2, ("nngp", "ntk"))
    return np.asarray(k.nngp), np.asarray(k.ntk)


def kernel_baselines(split: Split, net: FCN, lr_factor: float, steps: int) -> dict[str, Any]:
    """F1/F2 kernel side on ``split``: NNGP and NTK predictors at infinite time, the NTK-GP at the finite
    networks' training time t = ``steps`` at lr = ``lr_factor`` * lr_max (lr_max = 2nk / lambda_max(Theta_train),
    the largest stable full-batch rate) with its posterior variance, and two independent cross-checks: the
    closed-form arc-cosine kernel on <= 100 points, and the eigendecomposition predictor
    Theta_*x Theta^-1 (I - exp(-lr t Theta/(nk))) y. Private ``_`` arrays (for later sections): the train
    NTK (n, n), the test-train NTK (n_test, n) and the NTK mean prediction at t (n_test, k)."""
    import neural_tangents as nt

    kfn = fcn_kernel_fn(net.depth, net.W_std, net.b_std)
    nngp_tr, ntk_tr = kernels(net, split.x_train)
    nngp_te, ntk_te = kernels(net, split.x_test, split.x_train)
    lr_max = max_learning_rate(ntk_tr, split.n_classes)
    lr = lr_factor * lr_max
    predict = nt.predict.gradient_descent_mse_ensemble(kfn, split.x_train, split.y_train,
                                                       learning_rate=lr)
    ntk_t = predict(t=steps, x_test=split.x_test, get="ntk", compute_cov=True)
    ntk_inf = predict(t=None, x_test=split.x_test, get="ntk")
    nngp_inf = predict(t=None, x_test=split.x_test, get="nngp")
    mean_t = np.asarray(ntk_t.mean)
    eig_t = gd_mean_prediction(ntk_tr, ntk_te, split.y_train, steps, lr)
    m = min(100, split.n_train)
    cf_nngp, cf_ntk = relu_fcn_kernels(split.x_train[:m], split.x_test[:m], net.depth, net.W_std, net.b_std)
    nt_nngp, nt_ntk = kernels(net, split.x_train[:m], split.x_test[:m])
    return {
        "lr_max": lr_max, "lr": lr,
        "nngp_accuracy": accuracy(np.asarray(nngp_inf), split.labels_test),
        "ntk_accuracy": accuracy(np.asarray(ntk_inf), split.labels_test),
        "ntk_t_accuracy": accuracy(mean_t, split.labels_test),
        "gp_posterior_variance": float(np.mean(np.diag(np.asarray(ntk_t.covariance)))),
        "kernel_max_abs_err_closed_form": float(max(np.abs(cf_nngp - nt_nngp).max(),
                                                    np.abs(cf_ntk - nt_ntk).max())),
        "kernel_scale": float(np.abs(nt_ntk).max()),
        "prediction_max_abs_err_eig": float(np.abs(mean_t - eig_t).max()),
        "_ntk_train": ntk_tr, "_ntk_test_train": ntk_te, "_ntk_t_mean": mean_t,
    }


def _to32(*arrays: np.ndarray) -> list[jnp.ndarray]:
    return [jnp.asarray(a, F32) for a in arrays]


def width_sweep(split: Split, net: FCN, widths: list[int], n_seeds: int, steps: int, lr: float,
                ntk_t_mean: np.ndarray, seed: int) -> dict[str, Any]:
    """F1/F3: for each of ``widths``, ``n_seeds`` networks (key fold_in(PRNGKey(seed), width), vmapped) trained
    by full-batch GD on 1/2 mean((f - y)^2) for ``steps`` steps at ``lr``, uncentred and centred
    (f(x; theta) - f(x; theta_0), the same initial draws), float32: single, ensembled and centred test
    accuracy, variances over seeds, agreement and RMS distance to the NTK predictor ``ntk_t_mean``
    (n_test, k) at the same time. One row per width (keyed ``str(width)``)."""
    x, y, xt = _to32(split.x_train, split.y_train, split.x_test)
    out: dict[str, Any] = {}
    for w in widths:
        init, apply, _ = fcn(w, net.depth, net.W_std, net.b_std)
        p0 = init_seeds(init, jax.random.fold_in(jax.random.PRNGKey(seed), w), n_seeds, x.shape)
        _, loss_u, f_u = gd_mse_seeds(apply, p0, x, y, xt, lr, steps)
        _, loss_c, f_c = gd_mse_seeds(apply, p0, x, y, xt, lr, steps, center=True)
        f_u, f_c = np.asarray(f_u, np.float64), np.asarray(f_c, np.float64)
        acc_u = accuracy(f_u, split.labels_test)
        out[str(w)] = {
            "accuracy_mean": float(acc_u.mean()), "accuracy_std": float(acc_u.std(ddof=1)),
            "ensemble_accuracy": accuracy(f_u.mean(0), split.labels_test),
            "centered_accuracy": float(accuracy(f_c, split.labels_test).mean()),
            "uncentered_variance": float(f_u.var(axis=0, ddof=1).mean()),
            "centered_variance": float(f_c.var(axis=0, ddof=1).mean()),
            "centered_agreement": float(agreement(f_c, ntk_t_mean[None]).mean()),
            "centered_rmse_to_ntk": float(np.sqrt(np.mean((f_c - ntk_t_mean[None]) ** 2))),
            "final_train_loss": float(np.asarray(loss_u)[:, -1].mean()),
            "final_train_loss_centered": float(np.asarray(loss_c)[:, -1].mean()),
        }
    return out


@dataclass(frozen=True)
class BreakSetup:
    """The breaking study's fixed knobs: centred networks of ``net``, ``seeds`` seeds, ``steps`` GD steps, the
    empirical NTK measured on the first ``n_ntk`` training points; initial draws from PRNGKey(``seed`` + 1)
    at ``width`` (the study's main width), fold_in(PRNGKey(seed + 1), w) at any other width w."""

    net: FCN
    width: int
    seeds: int
    steps: int
    n_ntk: int
    seed: int

    @classmethod
    def of(cls, P: Params) -> "BreakSetup":
        """From a parameter set (``break_width``, ``break_seeds``, ``break_steps``, ``n_ntk``, ``seed``)."""
        return cls(FCN.of(P), P.break_width, P.break_seeds, P.break_steps, P.n_ntk, P.seed)


def _break_run(split: Split, setup: BreakSetup, width: int, lr: float, wd: float, ntk_tr: np.ndarray,
               ntk_te: np.ndarray, decay_to_init: bool = False) -> dict[str, Any]:
    """Centred networks of ``width`` (``setup.seeds`` seeds) trained at ``lr`` with L2 ``wd``: the
    relative change of the empirical NTK on ``setup.n_ntk`` training points, and the agreement with the NTK
    predictor (train NTK ``ntk_tr`` (n, n), test-train ``ntk_te`` (n_test, n)) at the same rate and step count."""
    net = setup.net
    init, apply, _ = fcn(width, net.depth, net.W_std, net.b_std)
    x, y, xt = _to32(split.x_train, split.y_train, split.x_test)
    key = (jax.random.PRNGKey(setup.seed + 1) if width == setup.width
           else jax.random.fold_in(jax.random.PRNGKey(setup.seed + 1), width))
    p0 = init_seeds(init, key, setup.seeds, x.shape)
    ntk_fn = _empirical_ntk_fn(net.W_std, net.b_std)
    x_ntk = x[: setup.n_ntk]
    per_seed = lambda params: [np.asarray(ntk_fn(x_ntk, jax.tree_util.tree_map(lambda a: a[s], params)))  # noqa: E731
                               for s in range(setup.seeds)]
    pT, losses, f_c = gd_mse_seeds(apply, p0, x, y, xt, lr, setup.steps, wd, center=True,
                                   decay_to_init=decay_to_init)
    f_c = np.asarray(f_c, np.float64)
    ref = gd_mean_prediction(ntk_tr, ntk_te, split.y_train, setup.steps, lr)
    k0, kT = per_seed(p0), per_seed(pT)
    delta = [np.linalg.norm(b - a) / np.linalg.norm(a) for a, b in zip(k0, kT)]
    shape = [ntk_shape_change(a, b) for a, b in zip(k0, kT)]
    return {"delta_ntk": float(np.mean(delta)), "delta_ntk_per_seed": [float(d) for d in delta],
            "delta_ntk_shape": float(np.mean(shape)), "delta_ntk_shape_per_seed": [float(d) for d in shape],
            "agreement": float(agreement(f_c, ref[None]).mean()),
            "accuracy": float(accuracy(f_c, split.labels_test).mean()),
            "final_train_loss": float(np.asarray(losses)[:, -1].mean()),
            "_loss_curve": np.asarray(losses, np.float64).mean(0)}


def ntk_shape_change(k0: np.ndarray, k1: np.ndarray) -> float:
    """Rescale-invariant kernel change: the relative Frobenius distance after the best scalar rescale,
    min_c ||c K1 - K0||_F / ||K0||_F = sqrt(1 - <K0, K1>_F^2 / (||K0||_F^2 ||K1||_F^2)), in [0, 1]. A uniform
    rescale of the kernel (which leaves the kernel predictor unchanged, e.g. the s^2 shrinkage of L2 on a
    positively homogeneous network) gives 0; the raw distance ||K1 - K0|| / ||K0|| gives |1 - c|."""
    k0, k1 = np.asarray(k0, np.float64), np.asarray(k1, np.float64)
    cos = np.sum(k0 * k1) / (np.linalg.norm(k0) * np.linalg.norm(k1))
    return float(np.sqrt(max(0.0, 1.0 - cos ** 2)))


def breaking(split: Split, setup: BreakSetup, lr_factors: list[float], weight_decays: list[float], lr_factor: float,
             lr_max: float, ntk_tr: np.ndarray, ntk_te: np.ndarray) -> dict[str, Any]:
    """F4: relative change of the empirical NTK, ||Theta_T - Theta_0||_F / ||Theta_0||_F, for
    centred networks of width ``setup.width`` trained at each rate ``lr_factors`` x ``lr_max`` (no L2; keyed
    ``"lr=<f>"``) and at ``lr_factor`` x lr_max with each L2 coefficient of ``weight_decays`` (``"l2=<wd>"``);
    each compared with the NTK predictor at its own rate and step count."""
    configs = [(f"lr={f:g}", f, 0.0) for f in lr_factors]
    configs += [(f"l2={wd:g}", lr_factor, wd) for wd in weight_decays]
    return {name: {"lr_factor": factor, "weight_decay": wd,
                   **_break_run(split, setup, setup.width, factor * lr_max, wd, ntk_tr, ntk_te)}
            for name, factor, wd in configs}


def delta_ntk_vs_width(split: Split, setup: BreakSetup, widths: list[int], lr_factors: list[float],
                       weight_decays: list[float], lr_factor: float, lr_max: float, ntk_tr: np.ndarray,
                       ntk_te: np.ndarray, brk: dict[str, Any]) -> dict[str, Any]:
    """F4 against width: the NTK change at the stable rate (``lr_factor``), the largest rate of
    ``lr_factors`` and the largest L2 of ``weight_decays``, for every width of ``widths`` (``setup.width``'s
    runs are reused from :func:`breaking`'s ``brk``); the log-log slope at the stable rate (lazy: -1/2); and,
    at ``setup.width``, L2 toward the initial weights (the largest wd), which shrinks nothing."""
    settings = {"stable": (lr_factor, 0.0, f"lr={lr_factor:g}"),
                "large_lr": (max(lr_factors), 0.0, f"lr={max(lr_factors):g}"),
                "l2": (lr_factor, max(weight_decays), f"l2={max(weight_decays):g}")}
    table: dict[str, Any] = {}
    for w in widths:
        row, shape = {}, {}
        for name, (factor, wd, key) in settings.items():
            r = brk[key] if w == setup.width and key in brk else _break_run(split, setup, w, factor * lr_max, wd,
                                                                              ntk_tr, ntk_te)
            row[name], shape[name] = r["delta_ntk"], r["delta_ntk_shape"]
        table[str(w)] = {**row, "delta_ntk_shape": shape}  # the rescale-invariant change beside the raw one
    to_init = _break_run(split, setup, setup.width, lr_factor * lr_max, max(weight_decays), ntk_tr, ntk_te,
                         decay_to_init=True)
    return {"table": table,
            "slope": loglog_slope(widths, [table[str(w)]["stable"] for w in widths]),
            "l2_to_init": {"width": setup.width, "weight_decay": max(weight_decays),
                           "delta_ntk": to_init["delta_ntk"], "delta_ntk_shape": to_init["delta_ntk_shape"],
                           "agreement": to_init["agreement"]}}


def diag_reg_vs_time(split: Split, net: FCN, diag_regs: list[float]) -> dict[str, Any]:
    """F6: for the NNGP and the NTK of ``net``, kernel regression with relative ridge eps (neural-tangents'
    gp_inference, K + eps tr(K)/n I) for each eps of ``diag_regs`` against gradient flow stopped at
    t(eps) = n k / (eps tr K / n) (our eigendecomposition): matching the spectral filters
    1/(lambda + eps trK/n) and (1 - exp(-lambda t/(nk)))/lambda. Control: the time map off by x10 and x0.1."""
    import neural_tangents as nt

    nngp_tr, ntk_tr = kernels(net, split.x_train)
    nngp_te, ntk_te = kernels(net, split.x_test, split.x_train)
    n, k = split.y_train.shape
    out: dict[str, Any] = {"diag_regs": list(diag_regs)}
    gaps, wrong = [], {10.0: [], 0.1: []}
    for name, ktr, kte in (("nngp", nngp_tr, nngp_te), ("ntk", ntk_tr, ntk_te)):
        acc_eps, acc_t, times = [], [], []
        acc_wrong = {f: [] for f in wrong}
        for e in diag_regs:
            pred = nt.predict.gp_inference(ktr, split.y_train, diag_reg=e)(get=name, k_test_train=kte)
            t = n * k / (e * np.trace(ktr) / n)
            acc_eps.append(accuracy(np.asarray(pred), split.labels_test))
            acc_t.append(accuracy(gd_mean_prediction(ktr, kte, split.y_train, t), split.labels_test))
            for f in wrong:  # control: the same comparison with a time map off by x10 / x0.1
                acc_wrong[f].append(accuracy(gd_mean_prediction(ktr, kte, split.y_train, f * t), split.labels_test))
            times.append(t)
        gaps.append(np.max(np.abs(np.subtract(acc_eps, acc_t))))
        for f in wrong:
            wrong[f].append(np.max(np.abs(np.subtract(acc_eps, acc_wrong[f]))))
        out[name] = {"accuracy_vs_diag_reg": acc_eps, "accuracy_vs_time": acc_t, "times": times}
    out["max_gap"] = float(max(gaps))
    out["max_gap_wrong_time_map"] = {f"x{f:g}": float(max(v)) for f, v in wrong.items()}
    return out


def cholesky_solve_lowp(k: np.ndarray, y: np.ndarray, dtype: type = np.float16) -> tuple[np.ndarray | None, int | None]:
    """Emulated low-precision kernel solve K^{-1} y: Cholesky and both triangular solves with every
    array stored in ``dtype`` and every elementwise operation rounded to it; numpy's dot products of
    float16 accumulate in float32 before rounding, so this is mixed precision (float16 storage,
    float32 accumulation, as on most float16 hardware), not pure float16 arithmetic. Returns
    (solution, None), or (None, j) when the factorization meets a non-positive pivot at column j
    (where a float16 solver would have to fall back or fail)."""
    K = np.asarray(k, dtype)
    n = len(K)
    L = np.zeros_like(K)
    for j in range(n):
        s = K[j, j] - np.dot(L[j, :j], L[j, :j])
        if not np.isfinite(s) or s <= 0:
            return None, j
        L[j, j] = np.sqrt(s)
        L[j + 1:, j] = (K[j + 1:, j] - L[j + 1:, :j] @ L[j, :j]) / L[j, j]
    z = np.zeros((n, y.shape[1]), dtype)
    Y = np.asarray(y, dtype)
    for i in range(n):  # L z = y
        z[i] = (Y[i] - L[i, :i] @ z[:i]) / L[i, i]
    a = np.zeros_like(z)
    for i in reversed(range(n)):  # L' a = z
        a[i] = (z[i] - L[i + 1:, i] @ a[i + 1:]) / L[i, i]
    return a, None


def precision(net: FCN, dataset: str, sizes: list[int], lowp_sizes: list[int], n_test: int,
              seed: int) -> dict[str, Any]:
    """F7 mechanism on the first n training points of one split of ``dataset`` (``n_test`` test points,
    ``seed``), n in ``sizes``: r(n) = lambda_min/lambda_max of the NNGP kernel of ``net``, a power law
    log r = intercept + slope log n, extrapolated to n* where r reaches float32's epsilon; float32 and float64
    solves below it. Calibration where the critical size is reachable: an emulated (mixed) float16 solve at
    ``lowp_sizes`` (did the Cholesky factorization break, and its accuracy against float64), beside the size
    the same rule predicts for float16's epsilon."""
    pool = load_split(dataset, max(sizes + lowp_sizes), n_test, seed)
    import scipy.linalg as sla

    ratios, acc32, acc64, chol32 = [], [], [], []
    for n in sizes:
        ktr, _ = kernels(net, pool.x_train[:n])
        kte, _ = kernels(net, pool.x_test, pool.x_train[:n])
        ratios.append(condition_ratio(ktr))
        try:  # did the float32 solve use Cholesky, or would it fall back (kernel_regression's LU path)?
            sla.cho_factor(np.asarray(ktr, np.float32), lower=True)
            chol32.append(True)
        except np.linalg.LinAlgError:
            chol32.append(False)
        for dtype, acc in ((np.float32, acc32), (np.float64, acc64)):
            pred = kernel_regression(ktr, kte, pool.y_train[:n], 0.0, dtype)
            acc.append(accuracy(pred, pool.labels_test))
    slope, intercept = loglog_fit(sizes, ratios)
    resid = np.log(ratios) - (intercept + slope * np.log(sizes))
    r2 = 1 - resid.var() / np.log(ratios).var()
    n_star = lambda e: float(np.exp((np.log(e) - intercept) / slope)) if slope < 0 else float("inf")  # noqa: E731
    lowp = {"sizes": list(lowp_sizes), "cholesky_ok": [], "failed_at_column": [], "float16_accuracy": [],
            "float64_accuracy": [], "cond_ratio": []}
    for n in lowp_sizes:
        ktr, _ = kernels(net, pool.x_train[:n])
        kte, _ = kernels(net, pool.x_test, pool.x_train[:n])
        a16, col = cholesky_solve_lowp(ktr, pool.y_train[:n])
        lowp["cholesky_ok"].append(a16 is not None)
        lowp["failed_at_column"].append(col)
        ok = a16 is not None and np.all(np.isfinite(a16.astype(np.float64)))
        lowp["float16_accuracy"].append(accuracy(kte @ a16.astype(np.float64), pool.labels_test) if ok else None)
        lowp["float64_accuracy"].append(accuracy(kernel_regression(ktr, kte, pool.y_train[:n], 0.0), pool.labels_test))
        lowp["cond_ratio"].append(condition_ratio(ktr))
    broken = [n for n, ok, a16, a64 in zip(lowp_sizes, lowp["cholesky_ok"], lowp["float16_accuracy"],
                                          lowp["float64_accuracy"]) if not ok or a16 is None or a64 - a16 > 0.05]
    lowp["broken_sizes"] = broken
    lowp["first_broken_n"] = broken[0] if broken else None
    lowp["predicted_n_star_float16"] = n_star(eps(np.float16))
    lowp["calibration_factor"] = (broken[0] / lowp["predicted_n_star_float16"]) if broken else None
    return {"sizes": list(sizes), "cond_ratio": ratios, "cond_slope": slope,
            "cond_fit_r2": float(r2), "critical_n_float32": n_star(eps(np.float32)),
            "float32_accuracy": acc32, "float64_accuracy": acc64, "float32_cholesky_ok": chol32,
            "float16_calibration": lowp}


def zca_whiten(x_train: np.ndarray, x_test: np.ndarray, reg: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-image layer-norm, then W = (C + reg tr(C)/d I)^(-1/2) from the training covariance,
    rescaled to norm sqrt(d) (a reconstruction of Lee et al. 2020's preprocessing, see the notes)."""
    def layer_norm(x):
        x = x - x.mean(1, keepdims=True)
        return x / np.linalg.norm(x, axis=1, keepdims=True) * np.sqrt(x.shape[1])

    a, b = layer_norm(x_train), layer_norm(x_test)
    if reg is None:
        return a, b
    d = a.shape[1]
    c = a.T @ a / len(a)
    lam, v = np.linalg.eigh(c + reg * np.trace(c) / d * np.eye(d))
    w = v @ np.diag(lam ** -0.5) @ v.T
    return layer_norm(a @ w), layer_norm(b @ w)


def zca(split: Split, net: FCN, zca_regs: list[float], diag_reg: float = 1e-4) -> dict[str, Any]:
    """F8 (first version, one split): test accuracy of NNGP regression (relative ridge ``diag_reg``) with
    layer-norm only (key ``"none"``) against regularized ZCA at each eps of ``zca_regs`` (key ``f"{eps:g}"``)."""
    out = {}
    for reg in [None, *zca_regs]:
        a, b = zca_whiten(split.x_train, split.x_test, reg)
        ktr, _ = kernels(net, a)
        kte, _ = kernels(net, b, a)
        out["none" if reg is None else f"{reg:g}"] = accuracy(
            kernel_regression(ktr, kte, split.y_train, diag_reg), split.labels_test)
    return out


def nngp_vs_ntk(net: FCN, dataset: str, n_train: int, n_test: int, n_resplits: int, diag_regs: list[float],
                seed: int) -> dict[str, Any]:
    """F2 over ``n_resplits`` random train/test resplits of ``dataset`` (resplit r drawn with seed
    ``seed`` + 1000 + r): NNGP minus NTK test accuracy of ``net``'s infinite-time kernel predictors, paired by
    split, each arm's relative ridge chosen from ``diag_regs`` on a validation split (the last 20 % of the
    resplit's training set; the test prediction refits on the whole training set), with a 90 % corrected
    resampled t interval (the resplits overlap: :func:`ntkrepro.stats.resampled`)."""
    from ntkrepro.stats import resampled

    a_nngp, a_ntk, dr_nngp, dr_ntk = [], [], [], []
    for r in range(n_resplits):
        s = load_split(dataset, n_train, n_test, seed + 1000 + r)
        n_fit = int(0.8 * n_train)
        (knn_tr, ktk_tr), (knn_te, ktk_te) = kernels(net, s.x_train), kernels(net, s.x_test, s.x_train)
        for ktr, kte, accs, drs in ((knn_tr, knn_te, a_nngp, dr_nngp), (ktk_tr, ktk_te, a_ntk, dr_ntk)):
            val = [(accuracy(kernel_regression(ktr[:n_fit, :n_fit], ktr[n_fit:, :n_fit], s.y_train[:n_fit], dr),
                             s.labels_train[n_fit:]), dr) for dr in diag_regs]
            dr = max(val)[1]  # ties: the larger ridge
            drs.append(float(dr))
            accs.append(accuracy(kernel_regression(ktr, kte, s.y_train, dr), s.labels_test))
    iv = resampled(np.subtract(a_nngp, a_ntk), n_train, n_test)
    return {"dataset": dataset, "n_splits": n_resplits, "mean_diff": iv["mean_diff"],
            "ci_low": iv["ci_low"], "ci_high": iv["ci_high"],
            "mde": iv["mde"], "nngp_accuracy": [float(a) for a in a_nngp], "ntk_accuracy": [float(a) for a in a_ntk],
            "nngp_diag_reg": dr_nngp, "ntk_diag_reg": dr_ntk,
            "wins": int(np.sum(np.greater(a_nngp, a_ntk))), "ties": int(np.sum(np.equal(a_nngp, a_ntk)))}


def empirical_ntk_convergence(split: Split, net: FCN, widths: list[int], n_seeds: int, n_ntk: int,
                              seed: int) -> dict[str, Any]:
    """The empirical NTK of ``net`` at initialization against the analytic one on the first ``n_ntk`` training
    points, per width of ``widths`` (mean over ``n_seeds`` seeds, key fold_in(PRNGKey(seed + 7), width), of
    ||Theta_emp - Theta||_F / ||Theta||_F), and its log-log slope against width (-1/2 expected: the
    empirical kernel is an average over width units)."""
    x = jnp.asarray(split.x_train[:n_ntk], F32)
    _, theta = kernels(net, np.asarray(split.x_train[:n_ntk], np.float64))
    ntk_fn = lambda params: _empirical_ntk_fn(net.W_std, net.b_std)(x, params)  # noqa: E731
    err = {}
    for w in widths:
        init, _, _ = fcn(w, net.depth, net.W_std, net.b_std)
        p0 = init_seeds(init, jax.random.fold_in(jax.random.PRNGKey(seed + 7), w), n_seeds, x.shape)
        errs = [np.linalg.norm(np.asarray(ntk_fn(jax.tree_util.tree_map(lambda a: a[s], p0)), np.float64) - theta)
                / np.linalg.norm(theta) for s in range(n_seeds)]
        err[str(w)] = float(np.mean(errs))
    return {"relative_error": err, "slope": loglog_slope(widths, [err[str(w)] for w in widths])}


def zca_kernel(net: FCN, dataset: str, arch: str) -> Callable:
    """``nngp(x1, x2)`` of the F8 comparison: ``"fcn"`` (``net``) or ``"conv"`` (a CNN-VEC of the same depth,
    W_std and b_std on ``dataset``'s spatial layout, :func:`ntkrepro.kernels.conv_vec_kernel_fn`)."""
    if arch == "fcn":
        return lambda x1, x2=None: kernels(net, x1, x2)[0]
    if arch == "conv":
        kfn = conv_vec_kernel_fn(DATASET_SHAPES[dataset], net.depth, net.W_std, net.b_std)
        return lambda x1, x2=None: np.asarray(kfn(x1, x2, "nngp"), np.float64)
    raise ValueError(f"parameter 'arch'={arch!r} is invalid: expected 'fcn' or 'conv'")


def zca_reposed(net: FCN, dataset: str, n_train: int, n_test: int, n_splits: int, zca_regs: list[float],
                diag_regs: list[float], seed: int, arch: str = "fcn") -> dict[str, Any]:
    """F8 re-posed: over ``n_splits`` resplits of ``dataset`` (resplit r drawn with seed ``seed`` + 2000 + r),
    the NNGP kernel (``arch``: :func:`zca_kernel`) on layer-norm-only inputs against regularized ZCA
    (whitening the whole flattened image, as the paper's pipeline does), each arm with its own relative ridge
    from ``diag_regs`` (and ZCA its eps from the interior grid ``zca_regs``) chosen on a validation split
    carved from the training set (the last 20 %); test accuracy of the chosen configuration, paired by split
    (90 % corrected resampled t interval of ZCA minus plain)."""
    from ntkrepro.stats import resampled

    nngp = zca_kernel(net, dataset, arch)
    plain, whitened, chosen = [], [], []
    for r in range(n_splits):
        s = load_split(dataset, n_train, n_test, seed + 2000 + r)
        n_fit = int(0.8 * n_train)
        best = {}
        for reg in [None, *zca_regs]:
            a, v = zca_whiten(s.x_train[:n_fit], s.x_train[n_fit:], reg)  # no validation row in the fit
            ktr, kva = nngp(a), nngp(v, a)
            scores = [(accuracy(kernel_regression(ktr, kva, s.y_train[:n_fit], dr), s.labels_train[n_fit:]), -dr)
                      for dr in diag_regs]
            val, neg_dr = max(scores)
            arm = "plain" if reg is None else "zca"
            if arm not in best or val > best[arm][0]:
                best[arm] = (val, reg, -neg_dr)
        for arm, out in (("plain", plain), ("zca", whitened)):
            _, reg, dr = best[arm]
            a, b = zca_whiten(s.x_train, s.x_test, reg)
            out.append(accuracy(kernel_regression(nngp(a), nngp(b, a), s.y_train, dr), s.labels_test))
        chosen.append({"zca_reg": best["zca"][1], "zca_diag_reg": best["zca"][2], "plain_diag_reg": best["plain"][2]})
    iv = resampled(np.subtract(whitened, plain), n_train, n_test)
    return {"kernel": arch, "n_splits": n_splits, "mean_diff": iv["mean_diff"], "ci_low": iv["ci_low"],
            "ci_high": iv["ci_high"], "mde": iv["mde"], "zca_accuracy": [float(a) for a in whitened],
            "plain_accuracy": [float(a) for a in plain], "chosen": chosen}


def summarize(kernel: dict, finite: dict, widths: list[int]) -> dict[str, Any]:
    """Width-sweep fits over ``widths`` (increasing; ``finite`` keyed by str(width)): log-log slopes of the
    centred and uncentred output variance against width, Var(uncentred) / NTK-GP posterior variance at the
    largest width, and the centred agreement with the NTK predictor there."""
    w = np.array(widths)
    big = finite[str(w[-1])]
    return {
        "centered_variance_slope": loglog_slope(w, [finite[str(v)]["centered_variance"] for v in w]),
        "uncentered_variance_slope": loglog_slope(w, [finite[str(v)]["uncentered_variance"] for v in w]),
        "uncentered_to_gp_variance_ratio": big["uncentered_variance"] / kernel["gp_posterior_variance"],
        "centered_agreement_largest_width": big["centered_agreement"],
    }


def parameterization(split: Split, net: FCN, width: int, lr_factors: list[float], n_seeds: int, steps: int,
                     seed: int) -> dict[str, Any]:
    """F5: finite FCNs (``net``) of ``width`` in the NTK and the standard parameterization (the same
    function at init: both draw from PRNGKey(``seed`` + 3)), uncentred, full-batch GD for ``steps`` steps.
    Each parameterization's rate is ``lr_factors`` x its own largest stable rate (2nk / lambda_max of its
    empirical NTK at init), chosen on a validation split carved from the training set (the last 20 %); test
    accuracy at the chosen rate over ``n_seeds`` seeds, and the paired interval of NTK minus standard."""
    import neural_tangents as nt

    from ntkrepro.stats import paired

    n_fit = int(0.8 * split.n_train)
    x, y = _to32(split.x_train[:n_fit], split.y_train[:n_fit])
    xv, xt = _to32(split.x_train[n_fit:], split.x_test)
    out: dict[str, Any] = {}
    for name in ("ntk", "standard"):
        init, apply, _ = fcn(width, net.depth, net.W_std, net.b_std, parameterization=name)
        p0 = init_seeds(init, jax.random.PRNGKey(seed + 3), n_seeds, x.shape)
        theta = nt.empirical_ntk_fn(apply, trace_axes=(-1,), vmap_axes=0)(x, None,
                                                                          jax.tree_util.tree_map(lambda a: a[0], p0))
        lr_max = max_learning_rate(np.asarray(theta, np.float64), split.n_classes)
        best = None
        for f in lr_factors:  # one run per rate, read on validation and test rows (test read at the best)
            _, _, fvt = gd_mse_seeds(apply, p0, x, y, jnp.concatenate([xv, xt]), f * lr_max, steps)
            fv, ft = np.asarray(fvt[:, : len(xv)], np.float64), np.asarray(fvt[:, len(xv):], np.float64)
            val = float(np.mean(accuracy(fv, split.labels_train[n_fit:])))
            if np.isfinite(fv).all() and (best is None or val > best[0]):
                best = (val, f, ft)
        acc = accuracy(best[2], split.labels_test)
        out[name] = {"lr_max": float(lr_max), "lr_factor": best[1], "val_accuracy": best[0],
                     "test_accuracy_per_seed": [float(a) for a in np.atleast_1d(acc)]}
    # paired by seed: both parameterizations draw the same normals from the same key (the standard one only
    # rescales them), so seed s is the same network at initialization in both
    iv = paired(out["ntk"]["test_accuracy_per_seed"], out["standard"]["test_accuracy_per_seed"])
    return {"ntk_accuracy": float(np.mean(out["ntk"]["test_accuracy_per_seed"])),
            "standard_accuracy": float(np.mean(out["standard"]["test_accuracy_per_seed"])),
            "width": width, **{k: iv[k] for k in ("mean_diff", "ci_low", "ci_high", "mde")}, "runs": out}


def cnn_layers(width: int, W_std: float, b_std: float) -> tuple[Callable, Callable, Callable]:
    """A 1-D CNN-GAP on (n, 40, 1) signals: two Conv(width, 5, SAME padding) + ReLU, global average pooling,
    Dense(10); NTK parameterization, weight and bias standard deviations W_std, b_std."""
    from neural_tangents import stax

    conv = lambda: stax.Conv(width, (5,), padding="SAME", W_std=W_std, b_std=b_std,  # noqa: E731
                             dimension_numbers=("NWC", "WIO", "NWC"))
    return stax.serial(conv(), stax.Relu(), conv(), stax.Relu(), stax.GlobalAvgPool(),
                       stax.Dense(10, W_std=W_std, b_std=b_std))


@lru_cache(maxsize=8)
def _cnn_ntk_apply(W_std: float, b_std: float) -> Callable:
    """:func:`cnn_layers`' forward pass (NTK parameterization, stride 1) on stax's parameters without the
    empty entries of its ReLU and pooling layers, as im2col matmuls; one function object per (W_std, b_std),
    so the jitted training loop compiles once."""
    from ntkrepro.claims.finite_vs_infinite.cnn import cnn_apply

    return lambda params, x: cnn_apply(params, x, W_std, b_std, "ntk", strides=(1, 1))


def cnn_half(net: FCN, fcn_width: int, cnn_width: int, n_train: int, n_test: int, n_seeds: int, steps: int,
             seed: int) -> dict[str, Any]:
    """F1, both halves, on MNIST-1D (generated offline by ``mnist1d``): the FCN and CNN-GAP kernels
    (infinite-time NTK regression, float64, the CNN kernel batched by ``nt.batch``) against finite
    FCN (``net`` at width ``fcn_width``) and CNN (:func:`cnn_layers`, ``cnn_width`` channels) networks trained
    by full-batch GD on the MSE for ``steps`` steps at half their kernel's largest stable rate, ``n_seeds`` seeds
    (PRNGKey(seed + 11)). Sizes are ``n_train`` / ``n_test`` (split seed ``seed``; the CNN-GAP kernel costs
    O(n^2 W^2))."""
    import neural_tangents as nt

    s = load_split("mnist1d", n_train, n_test, seed)
    out: dict[str, Any] = {"dataset": "mnist1d", "n_train": n_train, "n_test": n_test}
    for name in ("fcn", "cnn"):
        if name == "fcn":
            x, xt = s.x_train, s.x_test
            init, apply, kfn = fcn(fcn_width, net.depth, net.W_std, net.b_std)
        else:
            x, xt = s.x_train[:, :, None], s.x_test[:, :, None]
            init, apply, kfn = cnn_layers(cnn_width, net.W_std, net.b_std)
        if name == "fcn":
            kb = nt.batch(kfn, batch_size=50)
            ktr = np.asarray(kb(x, None, "ntk"), np.float64)
            kte = np.asarray(kb(xt, x, "ntk"), np.float64)
        else:  # the same kernel as stax's (tested to 1e-15), written out in jax: ~100x faster than nt.batch here
            from ntkrepro.claims.finite_vs_infinite.cnn import cnn_gap_kernels

            ktr = cnn_gap_kernels(s.x_train, None, (1, 1), net.W_std, net.b_std)[1]
            kte = cnn_gap_kernels(s.x_test, s.x_train, (1, 1), net.W_std, net.b_std)[1]
        out[f"{name}_kernel_accuracy"] = accuracy(kernel_regression(ktr, kte, s.y_train, 0.0), s.labels_test)
        lr = 0.5 * max_learning_rate(ktr, s.n_classes)
        # float32 for both nets, seeds vmapped in one jitted lax.scan; the CNN draws stax's initial parameters and
        # runs as im2col matmuls (cnn.cnn_apply, equal to stax's apply in the tests): XLA:CPU convolutions are
        # slow inside a scan, its matmuls are not
        with float32_scope() if name == "cnn" else nullcontext():
            xj, yj, xtj = _to32(x, s.y_train, xt)
            p0 = init_seeds(init, jax.random.PRNGKey(seed + 11), n_seeds, xj.shape)
            if name == "cnn":
                p0, apply = [q for q in p0 if q != ()], _cnn_ntk_apply(net.W_std, net.b_std)
            _, losses, f = gd_mse_seeds(apply, p0, xj, yj, xtj, lr, steps)
        acc = np.atleast_1d(accuracy(np.asarray(f, np.float64), s.labels_test))
        out[f"{name}_net_final_train_loss"] = float(np.asarray(losses)[:, -1].mean())
        out[f"{name}_net_finite"] = bool(np.all(np.isfinite(np.asarray(losses))))
        out[f"{name}_net_accuracy"] = float(acc.mean())
        out[f"{name}_net_accuracy_per_seed"] = [float(a) for a in acc]
        out[f"{name}_kernel_t_accuracy"] = accuracy(gd_mean_prediction(ktr, kte, s.y_train, steps, lr),
                                                    s.labels_test)
    return out


def l2_shrinkage_prediction(lr: float, weight_decays: list[float], steps: int) -> dict[str, float]:
    """Plain weight decay alone shrinks every parameter by s = (1 - lr wd)^T after T = ``steps`` steps at rate
    ``lr``; at fixed features that changes the NTK (quadratic in the weights) by about 1 - s^2, at any width.
    One value per wd of ``weight_decays``, keyed ``"l2=<wd>"``."""
    return {f"l2={wd:g}": float(1 - (1 - lr * wd) ** (2 * steps)) for wd in weight_decays}


def cnn_with_tuned(cnn: dict[str, Any], tuned: dict[str, Any]) -> dict[str, Any]:
    """The ``cnn`` part of the metrics: :func:`cnn_half`'s lazy reference with :func:`cnn_tuned`'s comparison
    (``tuned_net``, ``tuned_kernel``, ``interval_method``, its ``gap`` as ``tuned_gap`` and its split sizes and
    architecture as ``tuned_split``)."""
    return {**cnn, "tuned_net": tuned["tuned_net"], "tuned_kernel": tuned["tuned_kernel"],
            "interval_method": tuned["interval_method"], "tuned_gap": tuned["gap"],
            "tuned_split": {k: tuned[k] for k in ("n_train", "n_val", "n_test", "architecture")}}


def collect(kern: dict, finite: dict, widths: list[int], brk: dict, shrink: dict, drt: dict, prec: dict, nvn: dict,
            nvn1: dict | None, emp: dict, dvw: dict, par: dict, zca_acc: dict | None = None, cnn: dict | None = None,
            tuned: dict | None = None, zre: dict | None = None, zre_conv: dict | None = None,
            equivariance: dict | None = None, augmentation: dict | None = None,
            x1: dict | None = None) -> FiniteVsInfiniteMetrics:
    """The run's typed metrics record from each section's result: ``kern`` (:func:`kernel_baselines`),
    ``finite`` (:func:`width_sweep` over ``widths``), ``brk`` (:func:`breaking`), ``shrink``
    (:func:`l2_shrinkage_prediction`), ``drt`` (:func:`diag_reg_vs_time`), ``prec`` (:func:`precision`),
    ``nvn`` / ``nvn1`` (:func:`nngp_vs_ntk` on the claim's data set / MNIST-1D, None when that is the
    claim's), ``emp`` (:func:`empirical_ntk_convergence`), ``dvw`` (:func:`delta_ntk_vs_width`), ``par``
    (:func:`parameterization`); those a flag may skip (None): ``zca_acc`` (:func:`zca`), ``cnn`` / ``tuned``
    (:func:`cnn_half` / :func:`cnn_tuned`), ``zre`` / ``zre_conv`` (:func:`zca_reposed`), ``equivariance`` (F10,
    :func:`~ntkrepro.claims.finite_vs_infinite.equivariance.equivariance`), ``augmentation`` (X2,
    :func:`~ntkrepro.claims.finite_vs_infinite.augment.augmentation_ensemble`) and ``x1`` (X1, stored as
    ``layerwise_l2``: :func:`~ntkrepro.claims.finite_vs_infinite.l2scaling.x1_study`). Private ``_`` arrays
    (kept for the figures) are dropped; the mapping is validated against the claim's type where it is built."""
    metrics: dict[str, Any] = {
        "kernel": drop_private(kern), "finite": finite,
        **summarize(kern, finite, widths),
        "breaking": {name: drop_private(v) for name, v in brk.items()},
        "diag_reg_vs_time": drt, "diag_reg_vs_time_max_gap": drt["max_gap"],
        "precision": prec,
    }
    if zca_acc is not None:
        metrics["zca"] = zca_acc
    metrics["l2_shrinkage_prediction"] = shrink
    metrics["nngp_vs_ntk"] = nvn
    if nvn1 is not None:
        metrics["nngp_vs_ntk_mnist1d"] = nvn1
    metrics.update({"empirical_ntk_slope": emp["slope"], "delta_ntk_vs_width": dvw["table"],
                    "delta_ntk_width_slope": dvw["slope"], "l2_to_init": dvw["l2_to_init"],
                    "parameterization": dict(par)})
    if cnn is not None:
        metrics["cnn"] = cnn_with_tuned(cnn, tuned) if tuned is not None else cnn
    metrics["empirical_ntk_relative_error"] = emp["relative_error"]
    if zre is not None:
        metrics.update({"zca_reposed": zre, "zca_reposed_conv": zre_conv})
    for key, part in (("equivariance", equivariance), ("augmentation", augmentation), ("layerwise_l2", x1)):
        if part is not None:
            metrics[key] = drop_private(part)
    return FiniteVsInfiniteMetrics.from_json(to_jsonable(metrics))


def cnn_tuned(W_std: float, b_std: float, n_train: int, n_val: int, n_test: int, width: int, n_seeds: int,
              steps: int, batch: int, eval_every: int, lrs: list[float], l2s: list[float], diag_regs: list[float],
              seed: int) -> dict[str, Any]:
    """F1-CNN as the paper poses it (issue 29): on MNIST-1D, ``n_train`` training points, a
    validation split of ``n_val`` and ``n_test`` test points (all disjoint; split seed ``seed`` + 29), a
    standard-parameterization CNN-GAP (Conv(stride 2) + ReLU, Conv + ReLU, global average pooling, Dense;
    ``width`` channels, ``W_std``, ``b_std``) trained with Adam (``steps`` steps, minibatches of ``batch``) on
    the MSE plus L2, every (rate of ``lrs``, L2 of ``l2s``, seed of ``n_seeds``) of the grid at once
    (:func:`~ntkrepro.claims.finite_vs_infinite.cnn.train_grid`), early-stopped per seed on the validation
    split (every ``eval_every`` steps), the cell chosen by the mean
    validation accuracy over seeds; against the same architecture's infinite-width NNGP and NTK
    (infinite time; the kernel computed and solved in float64), kernel and diag_reg (``diag_regs``) chosen on the same
    validation split. Interval of (net - kernel)
    test accuracy: a paired bootstrap over seeds and test points (test-set sampling error included)."""
    from ntkrepro.claims.finite_vs_infinite import cnn as K

    n_fit, n_val = n_train, n_val
    s = load_split("mnist1d", n_fit + n_val, n_test, seed + 29)
    x, y, lab = s.x_train[:n_fit], s.y_train[:n_fit], s.labels_train[:n_fit]
    xv, labv = s.x_train[n_fit:], s.labels_train[n_fit:]
    strides = (2, 1)
    # kernel arm: one kernel evaluation for train x (train, validation, test), in float64 (block rows of 16 points at a
    # time; a float32 kernel flipped the ridge choice on one validation point in the f580f12 record)
    xe = np.concatenate([xv, s.x_test])
    g_tr, t_tr = K.cnn_gap_kernels(x, None, strides, W_std, b_std, dtype=np.float64)
    g_e, t_e = K.cnn_gap_kernels(xe, x, strides, W_std, b_std, dtype=np.float64)
    val_scores = {}
    for name, ktr, ke in (("nngp", g_tr, g_e), ("ntk", t_tr, t_e)):
        ktr = (ktr + ktr.T) / 2
        for dr in diag_regs:
            pred = kernel_regression(ktr, ke, y, dr)
            val_scores[(name, dr)] = (accuracy(pred[:n_val], labv), pred[n_val:])
    (kname, kdr), (kval, kpred) = max(val_scores.items(), key=lambda kv: (kv[1][0], kv[0][1]))  # ties: larger ridge
    k_correct = np.argmax(kpred, -1) == s.labels_test
    # network arm
    # (validation outputs at every read; the params kept there, so the test set is read once, where each seed stopped)
    outs, kept = K.train_grid(x, y, xv, lrs, l2s, n_seeds, width, strides, W_std,
                              b_std, steps, batch, eval_every, seed + 29)
    pred_lab = outs.argmax(-1)  # (lr, l2, seed, eval, validation point)
    val_acc = (pred_lab == labv).mean(-1)
    best_eval = val_acc.argmax(-1)  # early stopping per seed
    cell_val = val_acc.max(-1).mean(-1)  # (lr, l2)
    i, j = np.unravel_index(np.argmax(cell_val), cell_val.shape)
    stops = best_eval[i, j]
    test_out = K.apply_at(kept, (i, j), stops, s.x_test, strides)  # (seed, test point, class)
    finite = np.isfinite(outs[i, j]).all() and np.isfinite(test_out).all()
    net_correct = test_out.argmax(-1) == s.labels_test[None, :]
    gap = paired_bootstrap(net_correct, k_correct, seed=seed)
    net_iv = paired_bootstrap(net_correct, np.zeros_like(k_correct), seed=seed)
    method = gap["method"]
    return {
        "dataset": "mnist1d", "n_train": n_fit, "n_val": n_val, "n_test": n_test,
        "architecture": f"CNN-GAP: Conv({width}, 5, stride 2, SAME)+ReLU, Conv({width}, 5, "
                        f"SAME)+ReLU, GAP, Dense(10); W_std={W_std:.3g}, b_std={b_std:g}",
        "tuned_net": {"grid": {"lr": list(lrs), "l2": list(l2s),
                               "stop_steps": [eval_every * (e + 1) for e in range(outs.shape[3])]},
                      "chosen": {"lr": float(lrs[i]), "l2": float(l2s[j]),
                                 "stop_steps": [int(eval_every * (e + 1)) for e in stops]},
                      "n_seeds": n_seeds, "accuracy_mean": net_iv["mean_diff"],
                      "ci_low": net_iv["ci_low"], "ci_high": net_iv["ci_high"],
                      "accuracy_per_seed": [float(a) for a in net_correct.mean(1)],
                      "val_accuracy_grid": cell_val.tolist(), "optimizer": "Adam (optax.scale_by_adam), L2 in the loss",
                      "parameterization": "standard", "width": width, "batch": batch,
                      "steps": steps, "finite": bool(finite)},
        "tuned_kernel": {"diag_reg_grid": list(diag_regs), "kernel_grid": ["nngp", "ntk"],
                         "chosen": {"kernel": kname, "diag_reg": float(kdr)}, "val_accuracy": float(kval),
                         "accuracy": float(k_correct.mean()),
                         "val_accuracy_grid": {f"{n}/{d:g}": float(v[0]) for (n, d), v in val_scores.items()}},
        "gap": {k: gap[k] for k in ("mean_diff", "ci_low", "ci_high", "n", "se", "mde", "n_test", "method",
                                    "se_seeds", "se_points")},
        "interval_method": method,
    }

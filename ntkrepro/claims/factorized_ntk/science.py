"""Factorized NTK guarantee (Ailon & Shit 2022, arXiv 2210.04807), reconstruction R1.

Prior analysis (Du, Zhai, Poczos, Singh 2019): f(W, x) = m^-1/2 sum_r a_r relu(w_r . x), a_r = +-1
fixed, W trained by GD on 0.5 sum_i (u_i - y_i)^2; with lambda_0 = lambda_min(H^inf),
||u(t) - y||^2 <= (1 - eta lambda_0 / 2)^t ||u(0) - y||^2 (their Thm 4.1).
R1 (reconstructed; the paper's text was not available): a fixed Johnson-Lindenstrauss map J
(k x d, Gaussian or subsampled randomized Hadamard) and the m x k factor trained, i.e. Du's network
on z = Jx / |Jx|; its guarantee is Du's with lambda_0 -> lambda_0^J = lambda_min(H^inf(Z)).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
from scipy.linalg import hadamard

from ntkrepro.data import lowrank_data, sign_labels, sphere_data, unit_rows
from ntkrepro.dual import kappa_prime_np
from ntkrepro.numerics import loglog_slope, tolerance, tolerance_sqrt
from ntkrepro.optimize import gradient_descent, gradient_descent_restarts
from ntkrepro.io import drop_private, to_jsonable
from ntkrepro.stats import one_sample, welch


from ntkrepro.claims.factorized_ntk.claim import LIN_TOL_LOG10  # noqa: E402  (the declared gate)
from ntkrepro.claims.factorized_ntk.metrics import FactorizedNTKMetrics  # noqa: E402


# ----- kernels --------------------------------------------------------------------------------
def h_inf(X: np.ndarray) -> np.ndarray:
    """Du et al.'s Gram matrix H^inf_ij = x_i.x_j (pi - arccos cos(x_i, x_j)) / (2 pi)."""
    G = X @ X.T
    nrm = np.sqrt(np.diag(G))
    return G * kappa_prime_np(G / np.outer(nrm, nrm))


def h_inf_series(X: np.ndarray, terms: int = 200) -> np.ndarray:
    """Unit-norm rows: H^inf = G/4 + (1/2pi) sum_j (2j)!/(4^j (j!)^2 (2j+1)) G^(o(2j+2)) (the arcsin series)."""
    G = X @ X.T
    out = G / 4
    coef = 1.0
    for j in range(terms):
        if j:
            coef *= (2 * j - 1) * (2 * j) / (4 * j * j)
        out = out + coef / (2 * j + 1) * G ** (2 * j + 2) / (2 * np.pi)
    return out


def h_inf_neural_tangents(X: np.ndarray) -> np.ndarray:
    """H^inf from neural-tangents: NTK minus NNGP of Dense(W_std=sqrt(d)) + Relu + Dense(1)
    (the first layer's contribution; Du trains only the first layer)."""
    from neural_tangents import stax

    kfn = stax.serial(stax.Dense(512, W_std=np.sqrt(X.shape[1]), b_std=None), stax.Relu(),
                      stax.Dense(1, W_std=1.0, b_std=None))[2]
    k = kfn(X, None, ("nngp", "ntk"))
    return np.asarray(k.ntk) - np.asarray(k.nngp)


def empirical_ntk(W: np.ndarray, X: np.ndarray) -> np.ndarray:
    """Finite-width first-layer NTK H(W)_ij = x_i.x_j / m sum_r 1{w_r.x_i >= 0} 1{w_r.x_j >= 0}."""
    M = (X @ W.T >= 0).astype(X.dtype)
    return (X @ X.T) * (M @ M.T) / W.shape[0]


def lambda_min(H: np.ndarray) -> float:
    return float(np.linalg.eigvalsh(H)[0])


# ----- the network and its projections -------------------------------------------------------
def du_net(W: jnp.ndarray, a: jnp.ndarray, X: jnp.ndarray) -> jnp.ndarray:
    """u = m^-1/2 sum_r a_r relu(w_r . x) for each row of X."""
    return jax.nn.relu(X @ W.T) @ a / jnp.sqrt(W.shape[0])


def du_loss(W: jnp.ndarray, a: jnp.ndarray, X: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    """0.5 * sum_i (u_i - y_i)^2 (Du et al.'s convention: a sum, not a mean)."""
    return 0.5 * jnp.sum((du_net(W, a, X) - y) ** 2)


def projection(kind: str, k: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """A k x d JL map: Gaussian N(0, 1/k) entries, or SRHT sqrt(d/k) P H D (H normalized Hadamard)."""
    if kind == "gaussian":
        return rng.normal(scale=1 / np.sqrt(k), size=(k, d))
    rows = rng.choice(d, size=k, replace=False)
    signs = rng.choice([-1.0, 1.0], size=d)
    return np.sqrt(d / k) * (hadamard(d) / np.sqrt(d))[rows] * signs[None, :]


def fwht(x: jnp.ndarray) -> jnp.ndarray:
    """Normalized fast Walsh-Hadamard transform along the last axis, O(d log d): equals
    ``x @ (H / sqrt(d))`` with H = scipy.linalg.hadamard(d) (Sylvester order; H is symmetric)."""
    d = x.shape[-1]
    y, h = x, 1
    while h < d:
        y = y.reshape(*x.shape[:-1], d // (2 * h), 2, h)
        y = jnp.stack([y[..., 0, :] + y[..., 1, :], y[..., 0, :] - y[..., 1, :]], axis=-2).reshape(x.shape)
        h *= 2
    return y / jnp.sqrt(d)


def srht_parts(k: int, d: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The rows and signs of a subsampled randomized Hadamard map, drawn exactly as
    :func:`projection` ("hadamard") draws them."""
    rows = rng.choice(d, size=k, replace=False)
    signs = rng.choice([-1.0, 1.0], size=d)
    return rows, signs


def srht_apply(X: jnp.ndarray, rows: np.ndarray, signs: np.ndarray) -> jnp.ndarray:
    """``X @ J.T`` for the SRHT J = sqrt(d/k) P (H/sqrt(d)) D, by the fast transform."""
    d, k = X.shape[-1], len(rows)
    return jnp.sqrt(d / k) * fwht(X * jnp.asarray(signs, X.dtype))[..., jnp.asarray(rows)]


def project(X: np.ndarray, J: np.ndarray) -> np.ndarray:
    """z = Jx / |Jx| (renormalized so that Du's unit-norm assumption holds)."""
    return unit_rows(X @ J.T)


def make_data(kind: str, n: int, d: int, intrinsic_dim: int, rng: np.random.Generator) -> np.ndarray:
    return sphere_data(n, d, rng) if kind == "sphere" else lowrank_data(n, d, intrinsic_dim, rng)


# ----- experiments ----------------------------------------------------------------------------
def kernel_check(X: np.ndarray) -> dict[str, Any]:
    """E1: H^inf(X) (n, n) of the rows of X (n, d), its least and largest eigenvalues (lambda_0 of the
    dense network), and max |H^inf - (NTK - NNGP) of neural-tangents' stax| over all entries and off the
    diagonal. No random draws. Returns ``{"lambda0_dense", "lambda_max_dense", "kernel_max_abs_err_nt",
    "kernel_max_abs_err_nt_offdiag", "_H"}``."""
    H = h_inf(X)
    diff = np.abs(H - h_inf_neural_tangents(X))
    return {"lambda0_dense": lambda_min(H), "lambda_max_dense": float(np.linalg.eigvalsh(H)[-1]),
            "kernel_max_abs_err_nt": float(diff.max()),
            "kernel_max_abs_err_nt_offdiag": float((diff - np.diag(np.diag(diff))).max()),
            "_H": H}


def empirical_ntk_check(X: np.ndarray, m: int, rng: np.random.Generator) -> float:
    """max |H(W) closed form - neural-tangents' empirical_ntk_fn (structured derivatives)| for the rows of
    X (n, d) at width m, W (m, d) ~ N(0, 1) and a (m,) = +-1 drawn from ``rng`` (in that order)."""
    import neural_tangents as nt

    W = rng.normal(size=(m, X.shape[1]))
    a = rng.choice([-1.0, 1.0], size=m)
    f = lambda W_, x: du_net(W_, jnp.asarray(a), x)[:, None]  # noqa: E731
    ntk_fn = nt.empirical_ntk_fn(f, trace_axes=(-1,), vmap_axes=0,
                                 implementation=nt.NtkImplementation.STRUCTURED_DERIVATIVES)
    emp_nt = np.asarray(ntk_fn(jnp.asarray(X), None, jnp.asarray(W)))
    return float(np.abs(empirical_ntk(W, X) - emp_nt).max())


def jl_expected_ratio(n: int, d: int, k: int, lam0: float, draws: int, rng: np.random.Generator) -> float:
    """The JL expectation for isotropic data: a Gaussian J adds an independent O(1/sqrt(k)) error to
    every cosine, so the projected points look like random points in dimension
    k_eff = d k / (d + k) (cosine variance 1/d + 1/k); the expected lambda_0^J / lambda_0 is the
    mean lambda_0 of n random points on the sphere in k_eff dimensions over lambda_0."""
    k_eff = max(1, int(round(d * k / (d + k))))
    return float(np.mean([lambda_min(h_inf(sphere_data(n, k_eff, rng))) for _ in range(draws)]) / lam0)


def lambda0_study(n: int, d: int, intrinsic_dim: int, k_list: list[int], n_draws: int, seed: int,
                  rng: np.random.Generator) -> dict[str, Any]:
    """E2: lambda_0^J / lambda_0 against k (mean, sd over ``n_draws`` draws of J), for both data sets
    (n points in d dimensions: sphere, and low-rank of ``intrinsic_dim``, drawn from seed + 11) and both
    projections, and the bound-implied cost ratio rho(k) = (k/d) (lambda_0 / lambda_0^J)^4.

    Returns ``{"<data>/<projection>": {"lambda0": float, "by_k": {"<k>": {"mean", "std", "rho"
    [, "jl_expected"]}}}}`` (jl_expected: sphere data, :func:`jl_expected_ratio`)."""
    out: dict[str, Any] = {}
    for data in ("sphere", "lowrank"):
        X = make_data(data, n, d, intrinsic_dim, np.random.default_rng(seed + 11))
        lam0 = lambda_min(h_inf(X))
        for kind in ("gaussian", "hadamard"):
            rows = {}
            for k in k_list:
                lam = [lambda_min(h_inf(project(X, projection(kind, k, d, rng)))) for _ in range(n_draws)]
                ratio = np.array(lam) / lam0
                rows[str(k)] = {"mean": float(ratio.mean()), "std": float(ratio.std(ddof=1)),
                                "rho": float(k / d / np.mean(ratio) ** 4)}
                if data == "sphere":
                    rows[str(k)]["jl_expected"] = jl_expected_ratio(n, d, k, lam0, n_draws, rng)
            out[f"{data}/{kind}"] = {"lambda0": lam0, "by_k": rows}
    return out


def ntk_error_vs_m(X: np.ndarray, H: np.ndarray, m_list: list[int], n_draws: int,
                   rng: np.random.Generator) -> dict[str, float]:
    """E3: ||H(W) - H||_2 against the width m, W (m, dim) with N(0, 1) entries (mean over ``n_draws``
    draws of W), for the rows of X (n, dim) and H = H^inf(X) (n, n); theory: m^(-1/2).
    Returns ``{"<m>": error}``."""
    return {str(m): float(np.mean([np.linalg.norm(empirical_ntk(rng.normal(size=(m, X.shape[1])), X) - H, 2)
                                   for _ in range(n_draws)])) for m in m_list}


def late_slope(loss: np.ndarray, fraction: float = 0.4, floor: float = 1e-9) -> float:
    """Least-squares slope of log L per step over the last ``fraction`` of the steps, above
    ``floor * L(0)`` (float64 round-off); nan with fewer than 10 such steps."""
    t = np.arange(len(loss))
    keep = (t >= int(len(loss) * (1 - fraction))) & (loss > floor * loss[0])
    return float(np.polyfit(t[keep], np.log(loss[keep]), 1)[0]) if keep.sum() >= 10 else float("nan")


def train(X: np.ndarray, y: np.ndarray, m: int, lr: float, steps: int,
          rng: np.random.Generator) -> dict[str, Any]:
    """E4: full-batch GD on Du's network of width m over the rows of X (dense: X; factorized: Z).

    Returns the loss curve, Du's bound (1 - eta lambda_min(H(0))/2)^t L(0), the linearized
    prediction sum_i (1 - eta mu_i)^(2t) (q_i . r0)^2 / 2 from the eigenpairs of H(0), the NTK drift
    ||H(T) - H(0)||_2 against the premise lambda_0 / 4 (lambda_0 of H^inf on these rows), and the
    late rate: the measured slope of log L per step against 2 log(1 - eta lambda_min(H(0))), the
    decay of the slowest linearized mode (the loss is a square, hence the 2)."""
    a = rng.choice([-1.0, 1.0], size=m)
    W0 = rng.normal(size=(m, X.shape[1]))
    Xj, yj, aj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(a)
    loss0 = float(du_loss(jnp.asarray(W0), aj, Xj, yj))
    WT, losses = gradient_descent(du_loss, jnp.asarray(W0), lr, steps, aj, Xj, yj)
    loss = np.concatenate([[loss0], np.asarray(losses)])
    H0 = empirical_ntk(W0, X)
    mu, Q = np.linalg.eigh(H0)
    r0 = np.asarray(du_net(jnp.asarray(W0), aj, Xj)) - y
    t = np.arange(steps + 1)
    lin = ((1 - lr * mu[None, :]) ** (2 * t[:, None]) * (Q.T @ r0)[None, :] ** 2).sum(1) / 2
    bound = (1 - lr * mu[0] / 2) ** t * loss0
    early = slice(0, min(101, steps + 1))
    WT = np.asarray(WT)
    drift = float(np.linalg.norm(empirical_ntk(WT, X) - H0, 2))
    lam0 = lambda_min(h_inf(X))
    return {"m": m, "loss_initial": loss0, "loss_final": float(loss[-1]), "lambda_min_H0": float(mu[0]),
            "lambda0_inf": lam0, "du_bound_held": bool(np.all(loss <= bound * (1 + tolerance(np.float64, 1.0, 1e4)))),
            "max_log10_dev_from_linear": float(np.max(np.abs(np.log10(loss[early] / lin[early])))),
            "ntk_drift": drift, "in_premise": bool(drift < lam0 / 4),
            "late_rate": {"measured": late_slope(loss), "predicted": float(2 * np.log(1 - lr * mu[0]))},
            "max_weight_move": float(np.max(np.linalg.norm(WT - W0, axis=1))),
            "_loss": loss, "_bound": bound, "_linear": lin}


def training(data: str, n: int, d: int, intrinsic_dim: int, kind: str, k_list: list[int], m: int, lr: float,
             steps: int, control_width: int, rate_control_width: int, seed: int,
             rng: np.random.Generator) -> dict[str, Any]:
    """Dense against factorized (one J per k of ``k_list``, a ``kind`` map, Z = JX / |JX| (n, k)) on
    ``data`` (X (n, d), drawn from ``seed``; labels y = +-1 from seed + 1), each trained at width m by
    :func:`train`; the small-width control (the dense network at ``control_width``, where the
    linearization must break down) and the late-rate control (at ``rate_control_width``); and k = 1,
    an implementation check (every z = +-Jx/|Jx| is +-1: lambda_0^J = 0).

    Returns ``{"runs": {"dense" | "<k>": train(...)}, "small_width", "rate_control",
    "negative_control" (with lambda0_J), "_X", "_y", "_Z" ({"dense": X, "<k>": Z})}``."""
    X = make_data(data, n, d, intrinsic_dim, np.random.default_rng(seed))
    y = sign_labels(n, np.random.default_rng(seed + 1))
    out = {"dense": train(X, y, m, lr, steps, rng)}
    Z = {"dense": X}
    for k in k_list:
        Z[str(k)] = project(X, projection(kind, k, d, rng))
        out[str(k)] = train(Z[str(k)], y, m, lr, steps, rng)
    small = train(X, y, control_width, lr, steps, rng)
    rate_small = train(X, y, rate_control_width, lr, steps, rng)
    Z1 = project(X, projection("gaussian", 1, d, rng))
    neg = train(Z1, y, m, lr, steps, rng)
    neg["lambda0_J"] = lambda_min(h_inf(Z1))
    return {"runs": out, "small_width": small, "rate_control": rate_small, "negative_control": neg, "_X": X, "_y": y, "_Z": Z}


def steps_to_eps(losses: np.ndarray, eps: float) -> tuple[int, bool]:
    """First step with L_t <= eps L_0 (``losses`` holds L_0..L_T); T + 1 (a lower bound) when never."""
    hit = np.nonzero(losses <= eps * losses[0])[0]
    return (int(hit[0]), True) if hit.size else (len(losses), False)


def cost_to_eps(Z: dict[str, np.ndarray], y: np.ndarray, m: int, lr: float, steps: int, eps: float,
                seeds: int, rng: np.random.Generator) -> dict[str, Any]:
    """E6: measured cost to reach training loss eps L(0), per model (dense on X, factorized on Z = JX),
    over ``seeds`` initializations of W (vmapped; the signs a and the data fixed): GD steps,
    multiply-adds (forward + backward ~ 3 n m dim per step, plus the one-time projection n k d for a
    factorized model) and seconds (steps x the measured time of one jitted GD step). Seed s of
    every model starts from the same random stream, so ratios are paired by seed."""
    a = jnp.asarray(rng.choice([-1.0, 1.0], size=m))
    yj = jnp.asarray(y)
    d = Z["dense"].shape[1]
    step = jax.jit(lambda W, Zj: W - lr * jax.grad(du_loss)(W, a, Zj, yj))
    base = rng.integers(2**31)
    out: dict[str, Any] = {}
    for name, Zm in Z.items():
        dim = Zm.shape[1]
        W0s = jnp.asarray(np.stack([np.random.default_rng([base, s]).normal(size=(m, dim)) for s in range(seeds)]))
        Zj = jnp.asarray(Zm)
        L0 = jax.vmap(lambda W: du_loss(W, a, Zj, yj))(W0s)
        _, losses = gradient_descent_restarts(du_loss, W0s, lr, steps, a, Zj, yj)
        curves = np.concatenate([np.asarray(L0)[:, None], np.asarray(losses)], axis=1)
        hits = [steps_to_eps(c, eps) for c in curves]
        n_steps = [h[0] for h in hits]
        per_step = _time(step, W0s[0], Zj, repeats=5)
        one_time = 0 if name == "dense" else len(y) * dim * d
        macs = [one_time + 3 * len(y) * m * dim * t for t in n_steps]
        out[name] = {"steps": float(np.mean(n_steps)), "steps_per_seed": n_steps, "reached": all(h[1] for h in hits),
                     "macs": float(np.mean(macs)), "macs_per_seed": macs, "seconds": per_step * float(np.mean(n_steps))}
    for name in Z:
        if name != "dense":
            out[name]["macs_ratio_per_seed"] = [f / dd for f, dd in zip(out[name]["macs_per_seed"],
                                                                        out["dense"]["macs_per_seed"])]
    return out


def _time(fn: Callable, *args: Any, repeats: int = 7) -> float:
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def cost(b: int, d: int, m: int, k_list: list[int], rng: np.random.Generator) -> dict[str, Any]:
    """E5: exact trainable-parameter and multiply-add counts (first layer, per example) and the
    measured speedup of a jitted forward + GD step (float32, median of 7) against the dense net, on a
    batch of b random inputs in d dimensions at width m, for each k <= d of ``k_list`` (Gaussian J, and
    the SRHT by the fast transform against the same map as a matrix). Wall-clock numbers vary from
    machine to machine and run to run. Rows: see :class:`~ntkrepro.claims.factorized_ntk.metrics.CostRow`."""
    X = jnp.asarray(rng.normal(size=(b, d)), jnp.float32)
    y = jnp.asarray(rng.choice([-1.0, 1.0], size=b), jnp.float32)
    a = jnp.asarray(rng.choice([-1.0, 1.0], size=m), jnp.float32)
    step = jax.jit(lambda W, X: W - 1e-3 * jax.grad(du_loss)(W, a, X, y))
    fwd_step = lambda J, W: step(W, X @ J.T) if J is not None else step(W, X)  # noqa: E731
    run = jax.jit(fwd_step)
    t_dense = _time(run, None, jnp.asarray(rng.normal(size=(m, d)), jnp.float32))
    out: dict[str, Any] = {"dense": {"params": m * d, "macs": m * d, "measured_s": t_dense}}
    for k in [k for k in k_list if k <= d]:
        J = jnp.asarray(projection("gaussian", k, d, rng), jnp.float32)
        t_k = _time(run, J, jnp.asarray(rng.normal(size=(m, k)), jnp.float32))
        out[str(k)] = {"params": m * k, "macs": k * d + m * k, "mac_ratio": m * d / (k * d + m * k),
                       "measured_s": t_k, "measured_speedup": t_dense / t_k}
    # the SRHT applied by the fast transform (O(d log d) per example) against the same map as a matrix
    fast = jax.jit(lambda W, rows, signs: step(W, srht_apply(X, rows, signs)))
    for k in [k for k in k_list if k <= d]:
        rows, signs = srht_parts(k, d, rng)
        W = jnp.asarray(rng.normal(size=(m, k)), jnp.float32)
        J = jnp.asarray(np.sqrt(d / k) * (hadamard(d) / np.sqrt(d))[rows] * signs[None, :], jnp.float32)
        t_fast, t_mat = _time(fast, W, jnp.asarray(rows), jnp.asarray(signs, jnp.float32)), _time(run, J, W)
        out[f"hadamard/{k}"] = {"macs_fwht": d * int(np.log2(d)) + m * k, "measured_s_fwht": t_fast,
                                "measured_s_matrix": t_mat, "fwht_speedup_over_matrix": t_mat / t_fast,
                                "measured_speedup": t_dense / t_fast}
    return out


def fwht_check(d: int, rng: np.random.Generator) -> float:
    """max |SRHT by the fast transform - the same SRHT as a dense matrix| on random inputs (float64)."""
    X = rng.normal(size=(8, d))
    rows, signs = srht_parts(max(1, d // 4), d, np.random.default_rng(rng.integers(2**31)))
    J = np.sqrt(d / len(rows)) * (hadamard(d) / np.sqrt(d))[rows] * signs[None, :]
    return float(np.max(np.abs(np.asarray(srht_apply(jnp.asarray(X), rows, signs)) - X @ J.T)))


# ----- metrics and checks ---------------------------------------------------------------------
def collect(kern: dict, emp_err: float, lam: dict, err_dense: dict, err_fact: dict, tr: dict, cst: dict,
            c2e: dict, dns: dict, fwht_err: float, f2: dict, ec: dict, fair_dn: dict, *, data: str, projection: str,
            d: int) -> FactorizedNTKMetrics:
    """The claim's metrics record (results.json's ``metrics``; private ``_`` arrays dropped), from the sections'
    results: ``kern`` (:func:`kernel_check`), ``emp_err`` (:func:`empirical_ntk_check`), ``lam``
    (:func:`lambda0_study`), ``err_dense`` / ``err_fact`` (:func:`ntk_error_vs_m`), ``tr`` (:func:`training`),
    ``cst`` (:func:`cost`), ``c2e`` (:func:`cost_to_eps`), ``dns`` (:func:`dn_legacy`), ``fwht_err``
    (:func:`fwht_check`), ``f2`` (:func:`f2_study`), ``ec`` (:func:`equal_compute` on the selected data) and
    ``fair_dn`` (:func:`dn_sweep_fair`). ``data`` and ``projection`` select the lambda_0 rows reported as
    ``lambda0_ratio`` / ``bound_cost_ratio``; ``d`` is the input dimension (rho_p(k) = (k/d) (lambda_0 /
    lambda_0^J)^p). Validated against :class:`FactorizedNTKMetrics` here, where it is built."""
    sel = lam[f"{data}/{projection}"]["by_k"]
    ms = [int(m) for m in err_dense]
    ratios = {k: v["mean"] for k, v in sel.items()}
    small = tr["small_width"]
    out = {
        "lambda0_dense": kern["lambda0_dense"], "lambda_max_dense": kern["lambda_max_dense"],
        "kernel_max_abs_err_nt": kern["kernel_max_abs_err_nt"],
        "kernel_max_abs_err_nt_offdiag": kern["kernel_max_abs_err_nt_offdiag"],
        "empirical_ntk_max_abs_err_nt": emp_err,
        "fwht_max_abs_err": fwht_err,
        "lambda0_ratio": {k: {"mean": v["mean"], "std": v["std"]} for k, v in sel.items()},
        "bound_cost_ratio": {k: v["rho"] for k, v in sel.items()},
        "bound_cost_ratio_min": min(v["rho"] for v in sel.values()),
        "exponent_sensitivity": {str(p): min((int(k) / d) / r**p for k, r in ratios.items()) for p in (1, 2, 3, 4)},
        "lambda0_study": lam,
        "ntk_error_vs_m": err_dense, "ntk_error_slope": loglog_slope(ms, list(err_dense.values())),
        "ntk_error_vs_m_factorized": err_fact,
        "ntk_error_slope_factorized": loglog_slope(ms, list(err_fact.values())),
        "training": {name: drop_private(r) for name, r in tr["runs"].items()},
        "runs_outside_premise": [name for name, r in tr["runs"].items() if not r["in_premise"]],
        "late_rate": {name: r["late_rate"] for name, r in tr["runs"].items()},
        "small_width_control": {"m": small["m"], "max_log10_dev_from_linear": small["max_log10_dev_from_linear"],
                                "passed_gate": small["max_log10_dev_from_linear"] < LIN_TOL_LOG10},
        "negative_control": drop_private(tr["negative_control"]),
        "rate_control": {"m": tr["rate_control"]["m"], "late_rate": tr["rate_control"]["late_rate"],
                         "max_log10_dev_from_linear": tr["rate_control"]["max_log10_dev_from_linear"],
                         "ntk_drift": tr["rate_control"]["ntk_drift"], "in_premise": tr["rate_control"]["in_premise"]},
        "du_bound_held_runs": {name: r["du_bound_held"] for name, r in tr["runs"].items()},
        "cost": cst,
        "cost_to_eps": c2e,
        "dn_sweep": dns,
        **fair_metrics(f2, ec, fair_dn, data),
    }
    return FactorizedNTKMetrics.from_json(to_jsonable(out))


# ----- issue 27: the factorized network against dense networks of equal compute ---------------
def _gd_to_eps_impl(W0s: jnp.ndarray, As: jnp.ndarray, Xs: jnp.ndarray, y: jnp.ndarray, lr: float, eps: float,
                    budget: int) -> tuple[jnp.ndarray, jnp.ndarray, jnp.ndarray]:
    """Full-batch GD on Du's loss for a batch of seeds (leading axis of ``W0s``, ``As`` and ``Xs``: each
    seed has its own inputs, e.g. its own draw of J), each seed frozen at the first step t with
    L_t <= eps L_0 (so its NTK drift is the drift over training to eps). Returns (W at the stop, steps
    to eps per seed, reached per seed); a seed that never reached eps within ``budget`` steps is
    censored (``reached`` False, its steps = budget)."""
    vg = jax.vmap(jax.value_and_grad(lambda W, a, X: du_loss(W, a, X, y)))
    loss = jax.vmap(lambda W, a, X: du_loss(W, a, X, y))
    L0 = loss(W0s, As, Xs)
    S = W0s.shape[0]

    def cond(c):
        t, _, steps = c
        return (t < budget) & jnp.any(steps < 0)

    def body(c):
        t, W, steps = c
        L, g = vg(W, As, Xs)
        steps = jnp.where((steps < 0) & (L <= eps * L0), t, steps)
        W = jnp.where((steps < 0)[:, None, None], W - lr * g, W)
        return t + 1, W, steps

    t, W, steps = jax.lax.while_loop(cond, body, (0, W0s, -jnp.ones(S, jnp.int32)))
    L = loss(W, As, Xs)
    steps = jnp.where((steps < 0) & (L <= eps * L0), t, steps)
    reached = steps >= 0
    return W, jnp.where(reached, steps, budget), reached


_gd_to_eps = jax.jit(_gd_to_eps_impl, static_argnames=("budget",))


def seed_inits(m: int, dim: int, seeds: int, base: int) -> tuple[np.ndarray, np.ndarray]:
    """(W0 (seeds, m, dim), a (seeds, m)) with seed s drawn from default_rng([base, m, dim, s])."""
    W, A = [], []
    for s in range(seeds):
        r = np.random.default_rng([base, m, dim, s])
        A.append(r.choice([-1.0, 1.0], size=m))
        W.append(r.normal(size=(m, dim)))
    return np.stack(W), np.stack(A)


# The fourth word tags the stream of J: no key of seed_inits ([base, m, dim, s], s < 64) and no
# shorter key (numpy pads them with zeros) can equal [base, s, k, J_STREAM].
J_STREAM = 0x4A4C


def seed_projections(k: int, d: int, seeds: int, base: int, kind: str = "gaussian") -> np.ndarray:
    """One independent k x d JL map per seed, (seeds, k, d): seed s draws J from
    default_rng([base, s, k, J_STREAM]), so a draw depends only on (base, seed, k), never on the order
    of the runs, and the same seed of every width and comparison sees the same J."""
    return np.stack([projection(kind, k, d, np.random.default_rng([base, s, k, J_STREAM])) for s in range(seeds)])


def project_per_seed(X: np.ndarray, k: int, seeds: int, base: int) -> np.ndarray:
    """Z_s = J_s x / |J_s x| for each seed's own Gaussian J_s (:func:`seed_projections`): (seeds, n, k)."""
    return np.stack([project(X, J) for J in seed_projections(k, X.shape[1], seeds, base)])


def per_step_macs(n: int, m: int, dim: int) -> int:
    """Multiply-adds of one full-batch GD step on Du's network (forward + backward ~ 3 n m dim)."""
    return 3 * n * m * dim


def run_to_eps(Z: np.ndarray, y: np.ndarray, m: int, lr: float, eps: float, budget: int, seeds: int, base: int,
               d: int | None = None) -> dict[str, Any]:
    """``seeds`` GD runs of Du's network of width m, each to eps L(0) (or the budget), on the rows of Z:
    Z (n, dim) shared by every seed (the dense network on X), or (seeds, n, dim), seed s on its own Z_s
    (the factorized network on Z_s = J_s X, one draw of J per seed). Per seed: steps, reached, NTK drift
    over the training ||H(W_stop) - H(W0)||_2 against the premise lambda_0(Z_s)/4, and the cost in
    multiply-adds (steps x per-step MACs, plus the one-time projection n k d when ``d`` is given, i.e. a
    factorized network on Z = JX). ``premise`` is a number for a shared Z, a list (per seed) otherwise."""
    shared = Z.ndim == 2
    Zs = np.broadcast_to(Z, (seeds, *Z.shape)) if shared else Z
    assert Zs.shape[0] == seeds, "one Z per seed"
    n, dim = Zs.shape[1:]
    W0, A = seed_inits(m, dim, seeds, base)
    W, steps, reached = _gd_to_eps(jnp.asarray(W0), jnp.asarray(A), jnp.asarray(Zs), jnp.asarray(y), lr, eps, budget)
    W, steps, reached = np.asarray(W), np.asarray(steps), np.asarray(reached)
    lam0 = [lambda_min(h_inf(Z))] * seeds if shared else [lambda_min(h_inf(Zs[s])) for s in range(seeds)]
    drift = [float(np.linalg.norm(empirical_ntk(W[s], Zs[s]) - empirical_ntk(W0[s], Zs[s]), 2)) for s in range(seeds)]
    one_time = n * dim * d if d is not None else 0
    macs = [float(one_time + per_step_macs(n, m, dim) * int(t)) for t in steps]
    return {"m": m, "steps": [int(t) for t in steps], "reached": [bool(r) for r in reached], "drift": drift,
            "premise": lam0[0] / 4 if shared else [v / 4 for v in lam0],
            "in_premise": [bool(x < v / 4) for x, v in zip(drift, lam0)], "macs": macs,
            "budget": budget, "n": seeds, "dim": int(dim), "n_points": int(n)}


def censored(run: Mapping[str, Any]) -> dict[str, Any]:
    """The ledger's censored value for a run where some seed did not reach eps."""
    return {"censored": True, "reached": int(sum(run["reached"])), "n": int(run["n"]), "budget": int(run["budget"])}


def log_ratio_interval(num: Mapping[str, Any], den: Mapping[str, Any], level: float = 0.90) -> dict[str, Any]:
    """Cost ratio num / den over seeds: the geometric mean and the ``level`` t interval of the mean
    of log(num_s / den_s) (seed s of one arm against seed s of the other: independent pairs, so the
    paired t is valid), exponentiated. Censored (the ledger's form) if a seed of either arm did not
    reach eps: its cost is then only a lower bound."""
    if not (all(num["reached"]) and all(den["reached"])):
        return {**censored(num if not all(num["reached"]) else den),
                "arm": "numerator" if not all(num["reached"]) else "denominator"}
    lr_ = np.log(np.asarray(num["macs"])) - np.log(np.asarray(den["macs"]))
    iv = one_sample(lr_, level)
    return {"cost_ratio": float(np.exp(lr_.mean())), "ci_low": float(np.exp(iv["ci_low"])),
            "ci_high": float(np.exp(iv["ci_high"])), "n_seeds": int(len(lr_)),
            "log_ratio": [float(v) for v in lr_], "method": f"t interval over seeds of log cost ratio ({level:.0%})"}


def required_width(Zs: Mapping[str, np.ndarray], y: np.ndarray, widths: list[int], d: int, lr: float, eps: float,
                   budget: int, seeds: int, min_ok: int, base: int) -> dict[str, Any]:
    """For each model (``"dense"``: Z = X; ``"<k>"``: Z = JX), the smallest width m* of ``widths``
    (ascending; the search stops at the first success) at which at least ``min_ok`` of ``seeds``
    runs both stay inside the premise (NTK drift < lambda_0(Z)/4) and reach eps L(0) within
    ``budget`` steps; the cost to eps at m* (mean over the seeds that reached, in multiply-adds).
    A factorized model's Z holds one Z_s = J_s X per seed (seeds, n, k), so m* is decided over the
    draws of J as well as of W. m* is None (censored above the grid) when no width of the grid qualifies."""
    out: dict[str, Any] = {}
    for name, Z in Zs.items():
        tried = {}
        star = None
        for m in widths:
            r = run_to_eps(Z, y, m, lr, eps, budget, seeds, base, None if name == "dense" else d)
            ok = [a and b for a, b in zip(r["reached"], r["in_premise"])]
            tried[str(m)] = {"ok": int(sum(ok)), "reached": int(sum(r["reached"])),
                             "in_premise": int(sum(r["in_premise"])), "max_drift": float(max(r["drift"])),
                             "premise": r["premise"] if np.isscalar(r["premise"]) else min(r["premise"])}
            if sum(ok) >= min_ok:
                star = r
                break
        j = {"j_draws": "none" if Z.ndim == 2 else "one per seed"}
        if star is None:
            out[name] = {"m_star": None, "cost_to_eps": None, "censored": {"above": max(widths), "budget": budget},
                         "tried": tried, **j}
            continue
        hit = [c for c, ok in zip(star["macs"], star["reached"]) if ok]
        out[name] = {"m_star": star["m"], "cost_to_eps": float(np.mean(hit)),
                     "steps_to_eps": float(np.mean([t for t, ok in zip(star["steps"], star["reached"]) if ok])),
                     "per_step_macs": per_step_macs(len(y), star["m"], Z.shape[-1]), "tried": tried, **j,
                     "_run": star}
    return out


def equal_compute(Z: Mapping[str, np.ndarray], y: np.ndarray, m: int, d: int, lr: float, eps: float, budget: int,
                  seeds: int, base: int) -> dict[str, Any]:
    """F2 at equal compute: for each k, the factorized network at width m against the dense network
    of equal per-step multiply-adds (width m k / d), both run to eps L(0) with the same step size,
    budget and seeds; the cost-to-eps ratio factorized / dense with its interval over seeds. ``Z[k]``
    holds one Z_s = J_s X per seed, so the interval covers the draws of J as well as of W."""
    out: dict[str, Any] = {}
    for name, Zk in Z.items():
        if name == "dense":
            continue
        k = int(name)
        mw = max(1, (m * k) // d)
        f = run_to_eps(Zk, y, m, lr, eps, budget, seeds, base, d)
        g = run_to_eps(Z["dense"], y, mw, lr, eps, budget, seeds, base + 1)
        iv = log_ratio_interval(f, g)
        row = {"dense_width": mw, "factorized_width": m,
               "dense_steps_to_eps": float(np.mean(g["steps"])), "factorized_steps_to_eps": float(np.mean(f["steps"])),
               "dense_reached": int(sum(g["reached"])), "factorized_reached": int(sum(f["reached"])),
               "dense_in_premise": int(sum(g["in_premise"])), "factorized_in_premise": int(sum(f["in_premise"])),
               "dense_max_drift": float(max(g["drift"])), "dense_premise": g["premise"], "n_seeds": seeds,
               "budget": budget, "j_draws": "one per seed" if Zk.ndim == 3 else "one for all seeds"}
        if iv.get("censored"):
            row.update(cost_ratio=None, ci_low=None, ci_high=None, censored=iv)
        else:
            row.update(iv)
        out[name] = row
    return out


def at_own_m_star(req: Mapping[str, Any]) -> dict[str, Any]:
    """Each factorized k at its own m* against the dense network at its own m*: cost-to-eps ratio
    with its interval over seeds (None rows where either m* is censored above the grid)."""
    out: dict[str, Any] = {}
    dense = req["dense"].get("_run")
    for name, r in req.items():
        if name == "dense":
            continue
        if dense is None or r.get("_run") is None:
            out[name] = {"cost_ratio": None, "censored": {"m_star_dense": req["dense"]["m_star"],
                                                          "m_star_factorized": r["m_star"]}}
            continue
        iv = log_ratio_interval(r["_run"], dense)
        out[name] = {"m_star": r["m_star"], "dense_m_star": req["dense"]["m_star"],
                     **({"cost_ratio": None, "censored": iv} if iv.get("censored") else iv)}
    return out


def dn_sweep_fair(n: int, dn_ratios: list[float], dn_compression: int, dn_fixed_k: int, width: int, lr: float,
                  eps: float, budget: int, seeds: int, seed: int, rng: np.random.Generator) -> dict[str, Any]:
    """F3 without sentinel: d / n over ``dn_ratios`` at fixed n (sphere data X (n, d) from seed + 7, labels
    from seed + 1, a Gaussian J per seed), two series: fixed k / d (k = d / dn_compression) and fixed k
    (``dn_fixed_k``, capped at d). Each point: the factorized network at ``width`` against the dense
    network of equal per-step multiply-adds (width ``width`` k / d), ``seeds`` seeds each, to eps L(0)
    within ``budget`` steps; per seed the cost in multiply-adds (censored seeds flagged, their cost a
    lower bound), and the cost ratio with its interval (:func:`log_ratio_interval`).

    Returns ``{"fixed_k_over_d" | "fixed_k": {"<d/n>": row}}``, rows as
    :class:`~ntkrepro.claims.factorized_ntk.metrics.DnPoint`."""
    y = sign_labels(n, np.random.default_rng(seed + 1))
    out: dict[str, Any] = {"fixed_k_over_d": {}, "fixed_k": {}}
    base = int(rng.integers(2**31))
    for r in dn_ratios:
        d = max(2, int(round(r * n)))
        X = sphere_data(n, d, np.random.default_rng(seed + 7))
        for series, k in (("fixed_k_over_d", max(2, d // dn_compression)), ("fixed_k", min(dn_fixed_k, d))):
            Z = project_per_seed(X, k, seeds, base + d)  # one J per seed, as in F2 (base + d: its own per d)
            mw = max(1, (width * k) // d)
            f = run_to_eps(Z, y, width, lr, eps, budget, seeds, base, d)
            g = run_to_eps(X, y, mw, lr, eps, budget, seeds, base + 1)
            iv = log_ratio_interval(f, g)
            out[series][f"{r:g}"] = {
                "d": d, "k": k, "dense_width": mw, "factorized_width": width,
                "factorized_macs": f["macs"], "dense_macs": g["macs"],
                "factorized_reached": f["reached"], "dense_reached": g["reached"],
                "dense_in_premise": int(sum(g["in_premise"])), "factorized_in_premise": int(sum(f["in_premise"])),
                "budget": budget,
                **({"cost_ratio": None, "censored": iv} if iv.get("censored") else
                   {k_: iv[k_] for k_ in ("cost_ratio", "ci_low", "ci_high", "n_seeds")})}
    return out


def dn_growth(series: Mapping[str, Any], level: float = 0.90) -> dict[str, Any]:
    """F3's value: the growth of the benefit from the smallest d/n (< 1) at which the factorization
    reduces the dimension (k < d) and the dense arm reached eps on every seed, to d = n: the Welch t
    interval of mean log cost ratio there minus at d = n (positive: the benefit grew). A point with
    k = d (the fixed-k series capped at d) projects nothing away, so it cannot stand for "a small d/n
    where the factorization helps less" (a referee's point: with k = d the square Gaussian J only
    distorts the data). A factorized seed censored at the small d/n enters at its
    budget (a lower bound on its cost, so the growth can only be underestimated: a pass stands, a
    fail or an undecided interval becomes censored). Censored if the d = n point has a censored seed
    or no small d/n has a dense arm that reached."""
    lows = sorted((float(r), v) for r, v in series.items()
                  if float(r) < 1 and v["k"] < v["d"] and all(v["dense_reached"]))
    at_n = series["1"]
    if not lows:
        return {"censored": True, "reached": 0, "n": len(at_n["dense_reached"]), "budget": at_n["budget"],
                "why": "no d/n < 1 with k < d where the dense arm reached eps on every seed"}
    r_lo, lo = lows[0]
    if not (all(at_n["factorized_reached"]) and all(at_n["dense_reached"])):
        return {**censored({"reached": at_n["factorized_reached"], "n": len(at_n["factorized_reached"]),
                            "budget": at_n["budget"]}), "why": "a seed at d = n did not reach eps"}
    lr_lo = np.log(lo["factorized_macs"]) - np.log(lo["dense_macs"])
    lr_n = np.log(at_n["factorized_macs"]) - np.log(at_n["dense_macs"])
    iv = welch(lr_lo, lr_n, level)
    cens = not all(lo["factorized_reached"])
    out = {"mean_diff": iv["mean_diff"], "ci_low": iv["ci_low"], "ci_high": iv["ci_high"], "n": iv["n"],
           "method": f"Welch t over seeds of log cost ratio at d/n={r_lo:g} minus at d/n=1 ({level:.0%})",
           "d_over_n_low": r_lo}
    if cens:  # the censored factorized seeds entered at their budget: only a pass is decided
        c = {**censored({"reached": lo["factorized_reached"], "n": len(lo["factorized_reached"]),
                         "budget": lo["budget"]}), "bound_interval": out}
        return {**c, "value": out} if iv["ci_low"] > 0 else c
    return out


def dn_peak(series: Mapping[str, Any]) -> dict[str, Any]:
    """Where the measured benefit peaks: the d/n with the smallest cost ratio among the uncensored
    points with k < d (at k = d the projection J removes nothing: not a factorized point), and whether
    the ratio still falls past d = n."""
    pts = {float(r): v["cost_ratio"] for r, v in series.items()
           if v.get("cost_ratio") is not None and v["k"] < v["d"]}
    if not pts:
        return {"argmin_d_over_n": None, "ratios": {}}
    best = min(pts, key=pts.get)
    past = [pts[r] for r in sorted(pts) if r > 1]
    return {"argmin_d_over_n": best, "ratios": {f"{r:g}": v for r, v in sorted(pts.items())},
            "keeps_falling_past_d_eq_n": bool(past and 1.0 in pts and min(past) < pts[1.0])}


def f2_study(data: str, n: int, d: int, intrinsic_dim: int, k_list: list[int], width_grid: list[int], lr: float,
             eps: float, budget: int, seeds: int, min_ok: int, seed: int, rng: np.random.Generator) -> dict[str, Any]:
    """Items 1-2 of issue 27 on the selected ``data`` and on the other data set (n points in d dimensions from
    ``seed``, low-rank of ``intrinsic_dim``; labels from seed + 1): the required-width curve
    (:func:`required_width`: dense and each k <= d of ``k_list``, ``seeds`` seeds to eps L(0) within ``budget``
    steps at step size lr, m* where >= ``min_ok`` qualify), the cost at each network's own m*
    (:func:`at_own_m_star`). Returns ``{data: {"required_width", "at_required_width"}}`` (private ``_run`` records
    inside required_width rows); the selected data's entry also keeps the inputs of the equal-compute comparison
    (``_Z``: {"dense": X, "<k>": Z (seeds, n, k)}, ``_y``, ``_base``: pass them to :func:`equal_compute`). Every
    seed draws its own Gaussian J per k (:func:`seed_projections`; a referee's finding: one J per k shared by all
    seeds made the intervals conditional on that draw), the same J_s at every width and in both comparisons. The
    selected data (which decide F2) search the whole ``width_grid``; the other data set (reported apart) searches
    every other width of it (the full profile: the 2x-spaced sub-grid of the sqrt(2)-spaced grid, to keep the run
    within its time budget)."""
    base = int(rng.integers(2**31))
    y = sign_labels(n, np.random.default_rng(seed + 1))
    out: dict[str, Any] = {}
    for which in (data, "lowrank" if data == "sphere" else "sphere"):
        X = make_data(which, n, d, intrinsic_dim, np.random.default_rng(seed))
        Z = {"dense": X}
        for k in [k for k in k_list if k <= d]:
            Z[str(k)] = project_per_seed(X, k, seeds, base)
        widths = list(width_grid) if which == data else list(width_grid)[::2]
        req = required_width(Z, y, widths, d, lr, eps, budget, seeds, min_ok, base)
        out[which] = {"required_width": req, "at_required_width": at_own_m_star(req)}
        if which == data:
            out[which].update(_Z=Z, _y=y, _base=base)
    return out


def dn_legacy(n: int, fair: Mapping[str, Any], n_draws: int, seed: int, rng: np.random.Generator) -> dict[str, Any]:
    """The dn_sweep metric names of the first version, now read from the fixed-k/d series of ``fair``
    (:func:`dn_sweep_fair`) at equal per-step multiply-adds (``cost_to_eps_ratio``: geometric mean over
    seeds, None when censored), with lambda_0^J / lambda_0 (mean over ``n_draws`` Gaussian J, on the sweep's
    sphere data X (n, d) from seed + 7) and the bound-implied rho_4 = (k/d) / (lambda_0^J / lambda_0)^4.
    Rows as :class:`~ntkrepro.claims.factorized_ntk.metrics.DnSweepPoint` (key: d/n)."""
    out = {}
    for r, row in fair["fixed_k_over_d"].items():
        d, k = row["d"], row["k"]
        X = sphere_data(n, d, np.random.default_rng(seed + 7))
        lam0 = lambda_min(h_inf(X))
        ratio = float(np.mean([lambda_min(h_inf(project(X, projection("gaussian", k, d, rng)))) / lam0
                               for _ in range(n_draws)]))
        out[r] = {"d": d, "k": k, "lambda0_ratio": ratio, "rho4": (k / d) / ratio**4,
                  "cost_to_eps_ratio": row.get("cost_ratio"), "reached": bool(all(row["factorized_reached"])),
                  "dense_reached": bool(all(row["dense_reached"])), "comparison": "equal per-step multiply-adds"}
    return out


def fair_metrics(f2: Mapping[str, Any], ec: Mapping[str, Any], fair_dn: Mapping[str, Any], data: str) -> dict[str, Any]:
    """The issue-27 metrics (private run records dropped) of :func:`f2_study` on the selected ``data``
    (the other data set under ``*_<other>``), the equal-compute rows ``ec`` and :func:`dn_sweep_fair`,
    with F3's growth and peak."""
    other = "lowrank" if data == "sphere" else "sphere"
    strip = lambda req: {k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")} for k, v in req.items()}  # noqa: E731
    return {
        "required_width": strip(f2[data]["required_width"]),
        f"required_width_{other}": strip(f2[other]["required_width"]),
        "at_required_width": f2[data]["at_required_width"],
        f"at_required_width_{other}": f2[other]["at_required_width"],
        "equal_compute": ec,
        "dn_sweep_fair": fair_dn,
        "dn_growth": {s: dn_growth(fair_dn[s]) for s in ("fixed_k_over_d", "fixed_k")},
        "dn_peak": {s: dn_peak(fair_dn[s]) for s in ("fixed_k_over_d", "fixed_k")},
    }

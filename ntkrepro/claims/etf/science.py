"""ETF compression conjecture (Amani, Bombari, Mondelli, Pukdee, Rini 2022, arXiv 2205.08199).

Reconstructed setting (the paper's text was not available): a target f(x) = sum_i a_i relu(w_i.x)
with a_i = 1/N and w_i = mu + sigma_w / sqrt(d) z_i (z_i Gaussian or Rademacher), compressed into
g(x) = sum_j b_j relu(v_j.x) by minimizing the population loss E_x (f - g)^2, x ~ N(0, I_d).
All losses are exact closed forms in the arc-cosine kernel (float64); only the Monte Carlo
validation samples inputs.
"""
from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy import optimize as sopt
from scipy.special import gammaln

from ntkrepro.dual import cosines, kappa, kappa_np, norms, quadratic_kernel, relu_kernel
from ntkrepro.optimize import gradient_descent_restarts
from ntkrepro.params import Params
from ntkrepro.io import drop_private

TWO_PI = 2 * np.pi


# ----- closed forms -------------------------------------------------------------------------
def target_scalars(mu_norm: float, sigma_w: float) -> tuple[float, float]:
    """(alpha, c) = (sqrt(|mu|^2 + sigma_w^2), |mu| / alpha) for output weights a_i = 1/N."""
    alpha = float(np.hypot(mu_norm, sigma_w))
    return alpha, mu_norm / alpha


def etf_centred(M: int, alpha: float = 1.0) -> dict[str, float]:
    """Simplex ETF optimum of L_sim with c = 0: C_M = M/2 + M(M-1) kappa(-1/(M-1)),
    r* = alpha M / (2 pi C_M), L* = alpha^2/(2 pi) - alpha^2 M^2 / (4 pi^2 C_M)."""
    C_M = M / 2 + M * (M - 1) * float(kappa_np(-1 / (M - 1))) if M > 1 else 0.5
    C0 = alpha**2 / TWO_PI
    return {"C_M": C_M, "C0": C0, "r_star": alpha * M / (TWO_PI * C_M),
            "L_star": C0 - alpha**2 * M**2 / (TWO_PI**2 * C_M)}


def tilted_etf(M: int, alpha: float, c: float) -> dict[str, float]:
    """Tilted ETF v_j = r (t mu_hat + sqrt(1-t^2) e_j): t* = argmax kappa(ct)^2 / C(t) with
    C(t) = M/2 + M(M-1) kappa(t^2 - (1-t^2)/(M-1)) (1-D search), r* = alpha M kappa(ct*)/C(t*),
    L* = alpha^2 kappa(c^2) - alpha^2 M^2 kappa(ct*)^2 / C(t*)."""
    C = lambda t: M / 2 + M * (M - 1) * kappa_np(t**2 - (1 - t**2) / (M - 1))  # noqa: E731
    obj = lambda t: -kappa_np(c * t) ** 2 / C(t)  # noqa: E731
    grid = np.linspace(-1, 1, 2001)
    t0 = grid[np.argmin(obj(grid))]
    res = sopt.minimize_scalar(obj, bounds=(max(-1, t0 - 1e-3), min(1, t0 + 1e-3)), method="bounded",
                               options={"xatol": 1e-13})
    t = float(res.x)
    rho = t**2 - (1 - t**2) / (M - 1)
    return {"t_star": t, "rho_star": rho, "r_star": alpha * M * float(kappa_np(c * t)) / C(t),
            "L_star": alpha**2 * float(kappa_np(c**2)) - alpha**2 * M**2 * float(kappa_np(c * t)) ** 2 / C(t)}


def beta_d(d: int) -> float:
    """E_x[f_inf(x) relu(v.x)] / |v| for centred Gaussian targets (sigma_w = 1):
    sqrt(d) Gamma(d/2) / (2 sqrt(2) pi Gamma((d+1)/2)) -> 1/(2 pi) as d -> infinity."""
    return float(np.sqrt(d) * np.exp(gammaln(d / 2) - gammaln((d + 1) / 2)) / (2 * np.sqrt(2) * np.pi))


def quadratic_orthogonal(M: int, d: int) -> dict[str, float]:
    """Quadratic activation, centred Gaussian target: orthogonal frame with
    |v|^2 = (d+2)/(d(M+2)) and L* = 1 + 2/d - M(d+2)^2/(d^2(M+2))."""
    return {"norm_sq": (d + 2) / (d * (M + 2)), "L_star": 1 + 2 / d - M * (d + 2) ** 2 / (d**2 * (M + 2))}


def etf_frame(M: int, d: int, r: float, rng: np.random.Generator) -> np.ndarray:
    """A randomly oriented simplex ETF of M vectors of norm r in R^d (needs M - 1 <= d): the rows
    of sqrt(M/(M-1)) (I - 11'/M) in a basis of the sum-zero subspace, embedded by a random frame."""
    if M - 1 > d:
        raise ValueError(f"no simplex ETF of M={M} vectors in dimension d={d} (needs M <= d + 1)")
    centering = np.eye(M) - 1 / M
    U = np.linalg.svd(centering)[0][:, : M - 1]
    Q, _ = np.linalg.qr(rng.normal(size=(d, M - 1)))
    return r * np.sqrt(M / (M - 1)) * centering @ U @ Q.T


# ----- objectives (jnp, differentiable) ----------------------------------------------------
def sim_loss(V: jnp.ndarray, b: jnp.ndarray, alpha: float, c: float, mu_hat: jnp.ndarray) -> jnp.ndarray:
    """Simplified (N, d -> infinity) objective:
    alpha^2 kappa(c^2) - 2 alpha sum_j b_j |v_j| kappa(c <v_j^, mu^>) + b' K_VV b."""
    n = norms(V)
    cross = alpha * jnp.sum(b * n * kappa(c * (V @ mu_hat) / n))
    return alpha**2 * kappa(c**2) - 2 * cross + b @ relu_kernel(V, V) @ b


def exact_loss(V: jnp.ndarray, b: jnp.ndarray, W: jnp.ndarray, a: jnp.ndarray, const: float) -> jnp.ndarray:
    """Exact finite-N population loss a'K_WW a - 2 b'K_VW a + b'K_VV b (const = a'K_WW a)."""
    return const - 2 * b @ relu_kernel(V, W) @ a + b @ relu_kernel(V, V) @ b


def target_energy(W: np.ndarray, a: np.ndarray, chunk: int = 1000) -> float:
    """a' K_WW a = E_x f(x)^2, built in row chunks to bound memory."""
    W = jnp.asarray(W)
    return float(sum(a[i:i + chunk] @ np.asarray(relu_kernel(W[i:i + chunk], W)) @ a
                     for i in range(0, len(W), chunk)))


def quad_loss(V: jnp.ndarray, d: int) -> jnp.ndarray:
    """Quadratic activation, centred Gaussian target in the N -> infinity limit
    (f(x) = |x|^2/d): 1 + 2/d - 2 (d+2)/d sum_j |v_j|^2 + sum_jl K_quad(v_j, v_l)."""
    return 1 + 2 / d - 2 * (d + 2) / d * jnp.sum(V**2) + jnp.sum(quadratic_kernel(V, V))


def sample_target(N: int, d: int, mu_norm: float, sigma_w: float, weights: str,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(W, a, mu_hat): w_i = mu + sigma_w/sqrt(d) z_i, a_i = 1/N, mu along e_1."""
    z = rng.normal(size=(N, d)) if weights == "gaussian" else rng.choice([-1.0, 1.0], size=(N, d))
    mu_hat = np.eye(d)[0]
    return mu_norm * mu_hat + sigma_w / np.sqrt(d) * z, np.full(N, 1.0 / N), mu_hat


# ----- invariants ---------------------------------------------------------------------------
def frame_invariants(V: np.ndarray) -> dict[str, float]:
    """Gram invariants: max |cos_jl + 1/(M-1)|, mean off-diagonal cos, norm spread."""
    V = np.asarray(V)
    M = len(V)
    G = np.asarray(cosines(jnp.asarray(V), jnp.asarray(V)))
    off = G[~np.eye(M, dtype=bool)]
    n = np.linalg.norm(V, axis=1)
    return {"gram_offdiag_max_dev": float(np.max(np.abs(off + 1 / (M - 1)))) if M > 1 else 0.0,
            "mean_cos": float(off.mean()) if M > 1 else 1.0,
            "norm_mean": float(n.mean()), "norm_rel_spread": float((n.max() - n.min()) / n.mean())}


# ----- experiments --------------------------------------------------------------------------
def _init(rng: np.random.Generator, restarts: int, M: int, d: int) -> jnp.ndarray:
    return jnp.asarray(rng.normal(scale=np.sqrt(0.01 / d), size=(restarts, M, d)))


def _sim_fixed_b(V, alpha, c, mu_hat):
    return sim_loss(V, jnp.ones(V.shape[0]), alpha, c, mu_hat)


def _sim_free_b(x, alpha, c, mu_hat):
    return sim_loss(x["V"], x["b"], alpha, c, mu_hat)


def kernel_check(P: Params, n_mc: int = 1_000_000) -> dict[str, Any]:
    """E1: closed form against neural-tangents' NNGP (Dense(W_std=sqrt d) + Relu) and Monte Carlo
    at several angles, |u| = 1, |v| = 2."""
    from neural_tangents import stax

    d = P.d
    angles = np.deg2rad([0, 45, 60, 90, 109.47, 120, 180])
    u = np.eye(d)[0]
    V = np.stack([2 * (np.cos(t) * u + np.sin(t) * np.eye(d)[1]) for t in angles])
    closed = np.asarray(relu_kernel(jnp.asarray(u[None]), jnp.asarray(V)))[0]
    kfn = stax.serial(stax.Dense(1, W_std=np.sqrt(d)), stax.Relu())[2]
    nt_vals = np.asarray(kfn(u[None], V, "nngp"))[0]
    x = np.random.default_rng(P.seed).normal(size=(n_mc, 2))  # only the span of u, v matters
    fu = np.maximum(x[:, 0], 0)
    prods = fu[:, None] * np.maximum(x @ V[:, :2].T, 0)
    mc, se = prods.mean(0), prods.std(0, ddof=1) / np.sqrt(n_mc)
    z = np.where(se > 0, (mc - closed) / np.where(se > 0, se, 1), 0.0)
    return {"angles_deg": np.rad2deg(angles), "closed_form": closed, "nt": nt_vals, "mc": mc, "mc_se": se,
            "kernel_max_abs_err_nt": float(np.abs(closed - nt_vals).max()),
            "kernel_mc_max_abs_z": float(np.abs(z).max())}


def centred(P: Params, rng: np.random.Generator) -> dict[str, Any]:
    """E2: GD on L_sim (c = 0, alpha = sigma_w) from random starts for each M; b = +1, and the
    free-sign variant (b trained) with its hit rate."""
    alpha = P.sigma_w
    mu_hat = jnp.eye(P.d)[0]
    out: dict[str, Any] = {}
    grams = {}
    for M in P.M_list:
        ref = etf_centred(M, alpha)
        V, losses = gradient_descent_restarts(_sim_fixed_b, _init(rng, P.n_restarts, M, P.d),
                                              P.lr / M, P.steps, alpha, 0.0, mu_hat)
        final = np.asarray(losses[:, -1])
        best = int(np.argmin(final))
        inv = frame_invariants(np.asarray(V[best]))
        hits = np.abs(final - ref["L_star"]) <= 1e-8 * ref["L_star"]
        row = {"etf_loss": ref["L_star"], "etf_norm": ref["r_star"], "gd_loss": float(final[best]),
               "gd_loss_min_all": float(final.min()), "gd_loss_worst": float(final.max()),
               "gram_offdiag_max_dev": inv["gram_offdiag_max_dev"],
               "norm_rel_err": float(abs(inv["norm_mean"] - ref["r_star"]) / ref["r_star"]),
               "norm_rel_spread": inv["norm_rel_spread"], "etf_hit_rate": float(hits.mean()),
               "loss_over_C0": ref["L_star"] / ref["C0"]}
        if P.train_b:
            x0 = {"V": _init(rng, P.n_restarts, M, P.d),
                  "b": jnp.asarray(rng.choice([-1.0, 1.0], size=(P.n_restarts, M)))}
            _, fl = gradient_descent_restarts(_sim_free_b, x0, P.lr / M, P.steps, alpha, 0.0, mu_hat)
            ff = np.asarray(fl[:, -1])
            row.update({"free_b_gd_loss_min": float(ff.min()),
                        "free_b_etf_hit_rate": float((np.abs(ff - ref["L_star"]) <= 1e-6 * ref["L_star"]).mean())})
        out[str(M)] = row
        grams[M] = np.asarray(cosines(V[best], V[best]))
    return {"table": out, "_grams": grams}


def tilted(P: Params, rng: np.random.Generator) -> dict[str, Any]:
    """E3: non-centred target (mu_norm > 0): GD on L_sim against the 1-D tilted-ETF search; the
    frame's axis sum_j v_j against mu_hat; t*(c), rho*(c) over ``c_sweep``."""
    alpha, c = target_scalars(P.mu_norm, P.sigma_w)
    mu_hat = jnp.eye(P.d)[0]
    out = {}
    for M in [m for m in P.M_list if m <= P.d]:
        ref = tilted_etf(M, alpha, c)
        V, losses = gradient_descent_restarts(_sim_fixed_b, _init(rng, P.n_restarts, M, P.d),
                                              P.lr / M, P.steps, alpha, c, mu_hat)
        best = int(np.argmin(np.asarray(losses[:, -1])))
        Vb = np.asarray(V[best])
        inv = frame_invariants(Vb)
        axis = Vb.sum(0)
        angle = float(np.arccos(np.clip(abs(axis[0]) / np.linalg.norm(axis), -1, 1)))
        out[str(M)] = {**ref, "gd_loss": float(losses[best, -1]), "gd_rho": inv["mean_cos"],
                       "gd_norm": inv["norm_mean"], "gd_t": float(np.mean(Vb[:, 0] / np.linalg.norm(Vb, axis=1))),
                       "norm_rel_spread": inv["norm_rel_spread"], "axis_angle_rad": angle}
    M_sweep = min(m for m in P.M_list if m >= 3) if any(m >= 3 for m in P.M_list) else 3
    sweep = [tilted_etf(M_sweep, 1.0, cc) for cc in P.c_sweep]
    return {"table": out, "c_sweep": {"M": M_sweep, "c": list(P.c_sweep),
                                      "t_star": [s["t_star"] for s in sweep],
                                      "rho_star": [s["rho_star"] for s in sweep]},
            "alpha": alpha, "c": c}


def finite_n(P: Params, rng: np.random.Generator) -> dict[str, Any]:
    """E4: GD on the exact finite-N loss (centred target, b = +1, M = M_finite) for each N and d:
    the learned frame approaches the ETF as N grows. Also returns the optimum for the MC check."""
    M = P.M_finite
    out: dict[str, Any] = {}
    keep = None
    for d in P.finite_d_list:
        for N in P.N_list:
            W, a, _ = sample_target(N, d, 0.0, P.sigma_w, P.weights, rng)
            const = target_energy(W, a)
            V, losses = gradient_descent_restarts(
                lambda V, W, a, k: exact_loss(V, jnp.ones(V.shape[0]), W, a, k),
                _init(rng, P.finite_restarts, M, d), P.lr / M, P.steps, jnp.asarray(W), jnp.asarray(a), const)
            best = int(np.argmin(np.asarray(losses[:, -1])))
            inv = frame_invariants(np.asarray(V[best]))
            ref = etf_centred(M, P.sigma_w)
            C_M = ref["C_M"]
            b = P.sigma_w * beta_d(d)
            L_mf = P.sigma_w**2 / TWO_PI - b**2 * M**2 / C_M
            out[f"N={N},d={d}"] = {"N": N, "d": d, "gram_offdiag_max_dev": inv["gram_offdiag_max_dev"],
                                   "norm_rel_spread": inv["norm_rel_spread"], "norm_mean": inv["norm_mean"],
                                   "loss_min": float(losses[best, -1]), "L_star_mf_d": L_mf,
                                   "r_star_mf_d": b * M / C_M}
            if keep is None:
                keep = (W, a, np.asarray(V[best]), float(losses[best, -1]))
    return {"table": out, "_optimum": keep}


def monte_carlo_loss(W: np.ndarray, a: np.ndarray, V: np.ndarray, n: int, seed: int,
                     chunk: int = 100_000) -> tuple[float, float]:
    """E5: E_x (f(x) - g(x))^2 from ``n`` fresh Gaussian inputs (b = +1): (mean, standard error)."""
    rng = np.random.default_rng(seed)
    s = s2 = 0.0
    for i in range(0, n, chunk):
        x = rng.normal(size=(min(chunk, n - i), W.shape[1]))
        r2 = (np.maximum(x @ W.T, 0) @ a - np.maximum(x @ V.T, 0).sum(1)) ** 2
        s, s2 = s + r2.sum(), s2 + (r2**2).sum()
    mean = s / n
    return float(mean), float(np.sqrt((s2 / n - mean**2) / (n - 1)))


def approximation_error(P: Params, rng: np.random.Generator) -> dict[str, Any]:
    """E6: L_exact(V*) - L_sim(V*) at the d -> infinity ETF optimum, against N and d, for Gaussian
    and Rademacher target weights; and the identity E L_exact(V) = L_MF,d(V) + (1/2 - 1/(2 pi))
    sigma_w^2 / N (Gaussian weights), checked against the draws."""
    M = P.M_finite
    ref = etf_centred(M, P.sigma_w)
    out: dict[str, Any] = {}
    for weights in ("gaussian", "rademacher"):
        for d in P.error_d_list:
            V = etf_frame(M, d, ref["r_star"], rng)
            sV = float(np.sum(np.asarray(relu_kernel(jnp.asarray(V), jnp.asarray(V)))))
            for N in P.N_list:
                errs = []
                for _ in range(P.n_draws):
                    W, a, _ = sample_target(N, d, 0.0, P.sigma_w, weights, rng)
                    L = float(exact_loss(jnp.asarray(V), jnp.ones(M), jnp.asarray(W), jnp.asarray(a),
                                         target_energy(W, a)))
                    errs.append(L - ref["L_star"])
                L_mf = P.sigma_w**2 / TWO_PI - 2 * P.sigma_w * beta_d(d) * M * ref["r_star"] + sV
                predicted = L_mf + (0.5 - 1 / TWO_PI) * P.sigma_w**2 / N - ref["L_star"]
                out[f"{weights},d={d},N={N}"] = {
                    "weights": weights, "d": d, "N": N, "mean": float(np.mean(errs)),
                    "sd": float(np.std(errs, ddof=1)) if len(errs) > 1 else 0.0,
                    "predicted_mean": predicted}
    return out


def negative_controls(P: Params, rng: np.random.Generator) -> dict[str, Any]:
    """E7: M > d + 1 (d = 2, M = 5: no ETF exists) and the quadratic activation (optimum is an
    orthogonal frame). The equiangularity statistic must come out far from 0 on both."""
    mu_hat = jnp.eye(2)[0]
    V, losses = gradient_descent_restarts(_sim_fixed_b, _init(rng, P.n_restarts, 5, 2), P.lr / 5,
                                          P.steps, P.sigma_w, 0.0, mu_hat)
    best = int(np.argmin(np.asarray(losses[:, -1])))
    inv_m = frame_invariants(np.asarray(V[best]))
    dq, Mq = 10, 3
    Vq, lq = gradient_descent_restarts(quad_loss, _init(rng, P.n_restarts, Mq, dq), 0.02, P.steps, dq)
    bq = int(np.argmin(np.asarray(lq[:, -1])))
    inv_q = frame_invariants(np.asarray(Vq[bq]))
    ref_q = quadratic_orthogonal(Mq, dq)
    Gq = np.asarray(Vq[bq]) @ np.asarray(Vq[bq]).T
    return {
        "m_gt_d_plus_1": {"d": 2, "M": 5, "gram_offdiag_max_dev": inv_m["gram_offdiag_max_dev"],
                          "gd_loss": float(losses[best, -1]),
                          "etf_formula_loss": etf_centred(5, P.sigma_w)["L_star"],
                          "cosines": sorted(set(np.round(np.asarray(cosines(V[best], V[best]))[np.triu_indices(5, 1)], 3)))},
        "quadratic": {"d": dq, "M": Mq, "gram_offdiag_max_dev": inv_q["gram_offdiag_max_dev"],
                      "gd_loss": float(lq[bq, -1]), "orthogonal_L_star": ref_q["L_star"],
                      "gram_max_abs_err_orthogonal": float(np.abs(Gq - ref_q["norm_sq"] * np.eye(Mq)).max())},
        "_grams": {"M>d+1": np.asarray(cosines(V[best], V[best])),
                   "quadratic": np.asarray(cosines(Vq[bq], Vq[bq]))},
    }


# ----- metrics ------------------------------------------------------------------------------


def collect(kern: dict, cen: dict, til: dict, fin: dict, mc: tuple[float, float, float],
            err: dict, neg: dict) -> dict[str, Any]:
    """Assemble the results.json metrics (private ``_`` arrays dropped)."""
    return {
        **{k: kern[k] for k in ("kernel_max_abs_err_nt", "kernel_mc_max_abs_z")},
        "kernel": drop_private(kern),
        "centred": cen["table"],
        "centred_gram_max_dev": max(r["gram_offdiag_max_dev"] for r in cen["table"].values()),
        "tilted": til["table"], "tilted_alpha_c": [til["alpha"], til["c"]], "c_sweep": til["c_sweep"],
        "finite_n": fin["table"],
        "mc_loss": mc[0], "mc_se": mc[1], "closed_form_loss": mc[2],
        "approximation_error": err,
        "negative_controls": drop_private(neg),
    }


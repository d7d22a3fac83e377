"""Registry entry: ETF compression conjecture (Amani, Bombari, Mondelli, Pukdee, Rini 2022)."""
from __future__ import annotations

from ntkrepro.params import (Params, ParamSet, boolean, choice, int_list, integer, real,
                             real_list, require)
from ntkrepro.registry import CheckSpec, Claim, Paper


def _rules(p: Params) -> None:
    require(max(p.M_list) <= p.d + 1, "M_list",
            f"every M must be <= d + 1 = {p.d + 1} (no ETF exists beyond; the M > d+1 case is a "
            "built-in negative control)")
    require(any(m <= p.d for m in p.M_list), "M_list", "needs at least one M <= d for the tilted ETF")
    require(p.M_finite - 1 <= min(p.finite_d_list + p.error_d_list), "M_finite",
            "must be <= 1 + every d in finite_d_list and error_d_list")
    require(p.mu_norm > 0, "mu_norm", "must be > 0 (the tilted experiment needs a non-centred target)")
    require(sorted(set(p.N_list)) == list(p.N_list), "N_list", "must be strictly increasing")
    require(len(p.error_d_list) >= 2, "error_d_list", "needs at least two dimensions for a slope")


PARAMS = ParamSet(
    params=(
        integer("d", 2, 200, "input dimension of the simplified and tilted experiments"),
        int_list("M_list", 2, 201, "compressed widths M (each <= d + 1)"),
        int_list("N_list", 10, 20_000, "target widths N of the finite-N experiments (increasing)"),
        integer("n_restarts", 1, 200, "random starts per M"),
        integer("steps", 10, 200_000, "gradient-descent steps"),
        real("lr", 1e-4, 4.0, "step size times M (the step is lr / M)"),
        real("mu_norm", 0.0, 10.0, "|E w| of the target's first-layer weights (tilted experiments)"),
        real("sigma_w", 1e-3, 10.0, "spread of the target's first-layer weights"),
        choice("weights", ("gaussian", "rademacher"), "law of the target weights' fluctuations"),
        boolean("train_b", "also run the free-sign variant (output weights trained)"),
        integer("M_finite", 2, 50, "compressed width of the finite-N and error experiments"),
        int_list("finite_d_list", 2, 500, "input dimensions of the finite-N experiment"),
        integer("finite_restarts", 1, 50, "random starts per (N, d) in the finite-N experiment"),
        int_list("error_d_list", 2, 1000, "input dimensions of the approximation-error study", min_len=2),
        integer("n_draws", 3, 100, "target draws per (N, d) in the approximation-error study"),
        integer("mc_samples", 1000, 20_000_000, "fresh Gaussian inputs for the Monte Carlo check"),
        real_list("c_sweep", 0.0, 0.99, "values of c for the t*(c), rho*(c) sweep", min_len=2),
    ),
    profiles={
        "smoke": dict(d=10, M_list=[2, 3, 4, 6, 11], N_list=[100, 400], n_restarts=4, steps=3000, lr=1.0,
                      mu_norm=0.6, sigma_w=0.8, weights="gaussian", train_b=True, M_finite=4,
                      finite_d_list=[10], finite_restarts=2, error_d_list=[10, 40], n_draws=4,
                      mc_samples=200_000, c_sweep=[0.0, 0.3, 0.6, 0.9]),
        "full": dict(d=20, M_list=[2, 3, 4, 5, 8, 10, 16, 21], N_list=[250, 1000, 4000], n_restarts=20,
                     steps=6000, lr=1.0, mu_norm=0.6, sigma_w=0.8, weights="gaussian", train_b=True,
                     M_finite=4, finite_d_list=[20, 80], finite_restarts=2, error_d_list=[10, 40, 160],
                     n_draws=10, mc_samples=2_000_000,
                     c_sweep=[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]),
    },
    rules=_rules,
)

CHECKS = (
    CheckSpec("kernel_matches_neural_tangents", "closed-form arc-cosine kernel = neural-tangents NNGP"),
    CheckSpec("kernel_matches_monte_carlo", "closed-form arc-cosine kernel = Monte Carlo (|z| < 4)"),
    CheckSpec("centred_gd_reaches_etf_loss", "GD on L_sim reaches the ETF closed-form loss L*(M)"),
    CheckSpec("no_restart_below_etf", "no random start finds a loss below the ETF (b = +1 and free sign)"),
    CheckSpec("centred_gram_is_simplex", "learned cosines equal -1/(M-1)"),
    CheckSpec("centred_norms_equal_r_star", "learned norms equal r*(M)"),
    CheckSpec("tilted_matches_1d_search", "non-centred: GD equals the tilted-ETF 1-D search (L*, rho*, r*)"),
    CheckSpec("tilted_axis_parallel_to_mean", "non-centred: the frame's axis is parallel to the target mean"),
    CheckSpec("finite_n_approaches_etf", "exact finite-N optimum approaches the ETF as N grows",
              smoke_must_pass=False),
    CheckSpec("monte_carlo_matches_closed_form_loss", "fresh-sample loss at the optimum = closed form"),
    CheckSpec("expected_loss_identity", "mean over target draws = L_MF,d + (1/2 - 1/(2 pi)) sigma_w^2 / N"),
    CheckSpec("approx_error_shrinks_with_d", "simplification error at the largest N falls with d"),
    CheckSpec("negative_control_m_gt_d_plus_1", "M > d+1: the optimum is NOT equiangular"),
    CheckSpec("negative_control_quadratic", "quadratic activation: the optimum is orthogonal, NOT an ETF"),
)

CLAIM = Claim(
    id="etf",
    number=2,
    title="ETF compression conjecture",
    paper=Paper("Amani et al.", "Sharp asymptotics on the compression of two-layer neural networks", 2022,
                "2205.08199", "IEEE ITW 2022"),
    notebook="02_etf_compression.ipynb",
    figures=("centred_etf", "tilted_etf", "finite_n", "approximation_error", "negative_controls"),
    params=PARAMS,
    checks=CHECKS,
    key_metric=("max |cos + 1/(M-1)| over M (centred)", "centred_gram_max_dev"),
    reconstructed=("The paper's full text was not available: the setting (Gaussian inputs, a_i = 1/N, "
                   "w_i = mu + sigma_w z_i/sqrt(d), the simplified objective in alpha and c) is a "
                   "reconstruction consistent with the abstract; no paper number is claimed."),
)

"""Registry entry: factorized NTK guarantee (Ailon & Shit 2022)."""
from __future__ import annotations

from ntkrepro.params import Params, ParamSet, choice, int_list, integer, real, require
from ntkrepro.registry import CheckSpec, Claim, Paper


def _rules(p: Params) -> None:
    require(max(p.k_list) <= p.d, "k_list", f"every k must be <= d = {p.d}")
    require(min(p.k_list) >= 2, "k_list", "every k must be >= 2 (k = 1 is the built-in negative control)")
    require(sorted(set(p.k_list)) == list(p.k_list), "k_list", "must be strictly increasing")
    require(sorted(set(p.m_list)) == list(p.m_list), "m_list", "must be strictly increasing")
    for name in ("d", "bench_d"):
        require(p[name] & (p[name] - 1) == 0, name, "must be a power of 2 (Hadamard projection)")
    require(p.intrinsic_dim <= p.d, "intrinsic_dim", f"must be <= d = {p.d}")
    require(p.lr < 1.0, "lr", "must be < 1 (Du's step size is O(lambda_0 / n^2); the sum loss has "
            "lambda_max(H) up to ~n/4)")


PARAMS = ParamSet(
    params=(
        integer("n", 4, 2048, "training points (unit norm)"),
        integer("d", 2, 4096, "input dimension (a power of 2)"),
        integer("m", 16, 65_536, "width of the trained networks"),
        int_list("m_list", 16, 262_144, "widths of the NTK-convergence study", min_len=2),
        int_list("k_list", 2, 4096, "projected dimensions k (each <= d)", min_len=2),
        choice("projection", ("gaussian", "hadamard"), "the fixed JL map J of the trained networks"),
        choice("data", ("sphere", "lowrank"), "isotropic sphere data or low-intrinsic-dimension data"),
        integer("intrinsic_dim", 1, 4096, "dimension of the low-rank data's subspace"),
        real("lr", 1e-5, 0.99, "gradient-descent step size (sum loss)"),
        integer("steps", 10, 100_000, "gradient-descent steps"),
        integer("n_draws", 2, 200, "draws of J (and of W in the convergence study)"),
        integer("bench_batch", 1, 65_536, "batch size of the timing benchmark"),
        integer("bench_d", 2, 16_384, "input dimension of the timing benchmark (a power of 2)"),
        integer("bench_m", 16, 65_536, "width of the timing benchmark"),
    ),
    profiles={
        "smoke": dict(n=32, d=64, m=1024, m_list=[64, 256, 1024, 4096], k_list=[8, 16, 32, 64],
                      projection="gaussian", data="sphere", intrinsic_dim=8, lr=0.1, steps=200,
                      n_draws=4, bench_batch=256, bench_d=256, bench_m=1024),
        "full": dict(n=64, d=128, m=4096, m_list=[64, 256, 1024, 4096, 16384],
                     k_list=[4, 8, 16, 32, 64, 128], projection="gaussian", data="sphere",
                     intrinsic_dim=8, lr=0.1, steps=500, n_draws=10, bench_batch=512,
                     bench_d=1024, bench_m=8192),
    },
    rules=_rules,
)

CHECKS = (
    CheckSpec("h_inf_matches_neural_tangents", "H^inf closed form = neural-tangents NTK - NNGP"),
    CheckSpec("empirical_ntk_matches_neural_tangents", "closed-form H(W) = nt.empirical_ntk_fn"),
    CheckSpec("ntk_error_slope", "||H(0) - H^inf||_2 falls like m^(-1/2), dense"),
    CheckSpec("ntk_error_slope_factorized", "||H(0) - H^inf||_2 falls like m^(-1/2), factorized"),
    CheckSpec("du_bound_held", "Du's linear-rate bound holds at every step, dense and factorized"),
    CheckSpec("linear_prediction_tracks_loss", "the linearized (kernel) prediction tracks the loss"),
    CheckSpec("lambda0_ratio_grows_with_k", "lambda_0^J approaches lambda_0 as k grows"),
    CheckSpec("bound_cost_reduced_lowrank", "low-intrinsic-dimension data: the bound-implied cost drops"),
    CheckSpec("bound_cost_reduced_sphere", "isotropic data with d ~ n: the bound-implied cost drops",
              smoke_must_pass=False),
    CheckSpec("negative_control_k1_fails", "k = 1: lambda_0^J = 0 and training does not converge"),
)

CLAIM = Claim(
    id="factorized_ntk",
    number=1,
    title="Factorized NTK guarantee",
    paper=Paper("Ailon & Shit", "Efficient NTK using Dimensionality Reduction", 2022, "2210.04807"),
    notebook="01_factorized_ntk.ipynb",
    figures=("training", "lambda0_vs_k", "ntk_convergence", "cost"),
    params=PARAMS,
    checks=CHECKS,
    key_metric=("min over k of rho(k)", "bound_cost_ratio_min"),
    reconstructed=("The paper's text was not available: the factorized model R1 (a fixed JL map J, the "
                   "m x k factor trained, Du et al. 2019's network on Jx/|Jx|) is a reconstruction; no "
                   "paper number is claimed."),
)

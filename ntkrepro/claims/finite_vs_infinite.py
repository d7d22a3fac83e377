"""Registry entry: finite- versus infinite-width networks (Lee et al. 2020)."""
from __future__ import annotations

from ntkrepro.data import DATASET_SIZES, DATASETS
from ntkrepro.params import (Params, ParamSet, boolean, choice, int_list, integer, real,
                             real_list, require)
from ntkrepro.registry import CheckSpec, Claim, Paper


def _rules(p: Params) -> None:
    size = DATASET_SIZES[p.dataset]
    require(p.n_train + p.n_test <= size, "n_train",
            f"n_train + n_test = {p.n_train + p.n_test} exceeds the {size} examples of {p.dataset!r}")
    require(max(p.precision_sizes) + p.n_test <= size, "precision_sizes",
            f"max(precision_sizes) + n_test must be <= {size} for {p.dataset!r}")
    require(p.n_ntk <= p.n_train, "n_ntk", f"must be <= n_train = {p.n_train}")
    require(sorted(set(p.widths)) == list(p.widths), "widths", "must be strictly increasing")
    require(sorted(set(p.precision_sizes)) == list(p.precision_sizes), "precision_sizes",
            "must be strictly increasing")
    require(any(f > 1 for f in p.lr_factors_break), "lr_factors_break",
            "needs at least one factor > 1 (beyond the maximum stable rate)")
    require(any(f < 1 for f in p.lr_factors_break), "lr_factors_break",
            "needs at least one factor < 1 (the lazy negative control)")


PARAMS = ParamSet(
    params=(
        choice("dataset", DATASETS, "offline data set"),
        integer("n_train", 20, 4000, "training points"),
        integer("n_test", 20, 4000, "test points"),
        integer("depth", 1, 10, "hidden layers of the fully connected ReLU network"),
        int_list("widths", 8, 8192, "hidden widths of the finite networks (increasing)", min_len=2),
        integer("n_seeds", 2, 64, "independent initializations per width (vmapped)"),
        integer("steps", 1, 100_000, "full-batch gradient-descent steps"),
        real("lr_factor", 1e-4, 0.99, "learning rate in units of the maximum stable rate 2nk/lambda_max"),
        real_list("lr_factors_break", 1e-4, 1.99, "learning-rate factors of the breaking sweep", min_len=2),
        real_list("weight_decays", 0.0, 1e-2, "L2 coefficients (wd/2 ||theta||^2) of the breaking sweep"),
        integer("break_width", 8, 8192, "width of the networks in the breaking sweep"),
        integer("break_steps", 1, 100_000, "gradient-descent steps of each breaking configuration"),
        integer("break_seeds", 1, 64, "seeds in the breaking sweep"),
        integer("n_ntk", 10, 1000, "training points on which the empirical NTK change is measured"),
        real_list("diag_regs", 1e-9, 1e3, "relative diagonal regularizers eps (K + eps tr(K)/n I)", min_len=3),
        int_list("precision_sizes", 20, 4000, "training-set sizes of the precision study", min_len=3),
        real("W_std", 1e-3, 10.0, "weight standard deviation (NTK parameterization)"),
        real("b_std", 0.0, 10.0, "bias standard deviation"),
        boolean("run_zca", "run the regularized-ZCA kernel comparison (full profile)"),
        real_list("zca_regs", 1e-6, 1e3, "ZCA regularizers eps in (C + eps tr(C)/d I)^(-1/2)"),
    ),
    profiles={
        "smoke": dict(dataset="digits", n_train=200, n_test=500, depth=1, widths=[64, 512],
                      n_seeds=3, steps=50, lr_factor=0.5, lr_factors_break=[0.5, 0.9, 1.5],
                      weight_decays=[3e-4], break_width=512, break_steps=200, break_seeds=2, n_ntk=50,
                      diag_regs=[1e-4, 1e-2, 1e-1, 1.0, 10.0], precision_sizes=[100, 200, 400, 800],
                      W_std=2**0.5, b_std=0.1, run_zca=False, zca_regs=[1e-2, 1.0]),
        "full": dict(dataset="digits", n_train=500, n_test=797, depth=1,
                     widths=[128, 256, 512, 1024, 2048], n_seeds=8, steps=300, lr_factor=0.5,
                     lr_factors_break=[0.5, 0.9, 1.2, 1.5], weight_decays=[1e-5, 1e-4],
                     break_width=512, break_steps=600, break_seeds=4, n_ntk=100,
                     diag_regs=[1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
                     precision_sizes=[125, 250, 500, 1000], W_std=2**0.5, b_std=0.1,
                     run_zca=True, zca_regs=[1e-4, 1e-2, 1e-1, 1.0, 10.0]),
    },
    rules=_rules,
)

CHECKS = (
    CheckSpec("kernel_matches_closed_form",
              "neural-tangents' NNGP/NTK equal the arc-cosine recursion (independent implementation)"),
    CheckSpec("kernel_prediction_matches_eigendecomposition",
              "nt.predict's NTK mean at time t equals our eigendecomposition formula"),
    CheckSpec("finite_net_below_kernel", "F1: single finite FCNs underperform the NTK predictor",
              smoke_must_pass=False),
    CheckSpec("uncentered_variance_reaches_gp",
              "F1: the uncentered output variance approaches the NTK-GP posterior variance",
              smoke_must_pass=False),
    CheckSpec("centered_variance_falls_with_width", "F3: centred variance falls as a power of width"),
    CheckSpec("centered_agreement_approaches_one",
              "F3: centred nets' disagreement with the NTK predictor shrinks with width"),
    CheckSpec("ensemble_recovers_gap", "F3: an ensemble recovers most of the accuracy gap",
              smoke_must_pass=False),
    CheckSpec("large_lr_breaks_ntk", "F4: a learning rate above 2/lambda_max moves the NTK by O(1)"),
    CheckSpec("l2_breaks_ntk", "F4: L2 regularization moves the NTK by O(1)"),
    CheckSpec("stable_lr_stays_lazy",
              "F4 negative control: stable learning rates move the NTK by O(1/sqrt(width)) only"),
    CheckSpec("nngp_at_least_ntk", "F2: NNGP accuracy >= NTK accuracy (data-dependent)",
              smoke_must_pass=False),
    CheckSpec("diag_reg_matches_early_stopping", "F6: diag_reg and early stopping trace one curve"),
    CheckSpec("condition_number_power_law", "F7: lambda_min/lambda_max falls as a power of n"),
    CheckSpec("float32_matches_float64_below_critical_n",
              "F7: below the extrapolated critical n a float32 solve equals float64"),
    CheckSpec("zca_improves_kernel", "F8: regularized ZCA improves the kernel's accuracy",
              smoke=False),
)

CLAIM = Claim(
    id="finite_vs_infinite",
    number=4,
    title="Finite- versus infinite-width networks",
    paper=Paper("Lee et al.", "Finite Versus Infinite Neural Networks: an Empirical Study", 2020,
                "2007.15801", "NeurIPS 2020"),
    notebook="04_finite_vs_infinite.ipynb",
    figures=("width_sweep", "breaking", "diag_reg_vs_time", "precision"),
    params=PARAMS,
    checks=CHECKS,
    key_metric=("centred agreement with NTK at largest width", "centered_agreement_largest_width"),
    reconstructed=("The paper's body (tables, hyper-parameters) was not available: the experiments "
                   "follow its abstract's findings on offline data at CPU scale; no paper number "
                   "is used as a target."),
)

"""Registry entry: bottleneck acceleration (Littwin et al. 2021)."""
from __future__ import annotations

from ntkrepro.params import (Params, ParamSet, boolean, choice, int_list, integer, real, real_list,
                             require)
from ntkrepro.registry import CheckSpec, Claim, Paper


def _rules(p: Params) -> None:
    require(1.0 in p.linear_amplitudes, "linear_amplitudes", "must include 1 (the negative control)")
    require(len(p.linear_amplitudes) >= 2, "linear_amplitudes", "needs at least two amplitudes")
    require(sorted(set(p.bottleneck_widths)) == list(p.bottleneck_widths), "bottleneck_widths",
            "must be strictly increasing")
    require(sorted(set(p.linear_widths)) == list(p.linear_widths), "linear_widths", "must be strictly increasing")
    require(p.n_align <= p.n_train, "n_align", f"must be <= n_train = {p.n_train}")


PARAMS = ParamSet(
    params=(
        integer("n_train", 16, 4096, "training points"),
        integer("n_test", 16, 4096, "test points"),
        integer("input_dim", 1, 1024, "input dimension m"),
        choice("target", ("quadratic", "linear", "tanh"), "single-index target of x_1"),
        real("amplitude", 1e-3, 100.0, "target scale (in units of the initial output scale)"),
        int_list("bottleneck_widths", 1, 4096, "bottleneck widths d"),
        integer("rf_width", 16, 65_536, "random-feature width M simulating the infinite f"),
        real("lr", 1e-5, 100.0, "learning rate shared by every model (the paper's framing)"),
        integer("steps", 10, 100_000, "gradient-descent steps"),
        integer("seeds", 1, 32, "seeds per bottleneck width"),
        real_list("lr_factors", 1e-3, 1.99, "learning rates of the best-rate sweep, x 2n/lambda_max(NTK)", min_len=2),
        real_list("linear_amplitudes", 0.1, 100.0, "target amplitudes of the deep-linear experiment"),
        int_list("linear_widths", 1, 65_536, "bottleneck widths of the deep-linear experiment", min_len=2),
        integer("n_align", 8, 1024, "training points for the effective-NTK trace and alignment"),
        integer("n_finite", 16, 2048, "training points of the finite-network checks"),
        integer("finite_width", 16, 8192, "width of the finite stax networks"),
        integer("finite_d", 1, 1024, "bottleneck of the finite-network check"),
        integer("wide_width", 16, 8192, "width of the finite network without bottleneck (laziness check)"),
        integer("wide_steps", 10, 100_000, "GD steps of the laziness check"),
        boolean("run_digits", "run the real-data panel (scikit-learn digits)"),
    ),
    profiles={
        "smoke": dict(n_train=256, n_test=200, input_dim=32, target="quadratic", amplitude=5.0,
                      bottleneck_widths=[2, 8, 32], rf_width=512, lr=0.2, steps=400, seeds=1,
                      lr_factors=[0.2, 0.8], linear_amplitudes=[1.0, 8.0], linear_widths=[4, 16, 256],
                      n_align=64, n_finite=128, finite_width=256, finite_d=8, wide_width=512, wide_steps=300,
                      run_digits=False),
        "full": dict(n_train=512, n_test=500, input_dim=32, target="quadratic", amplitude=5.0,
                     bottleneck_widths=[2, 8, 32, 128], rf_width=1024, lr=0.2, steps=1200, seeds=2,
                     lr_factors=[0.1, 0.4, 0.9], linear_amplitudes=[1.0, 2.0, 4.0, 8.0, 16.0],
                     linear_widths=[1, 4, 16, 64, 256, 4096], n_align=128, n_finite=256, finite_width=2048,
                     finite_d=8, wide_width=1024, wide_steps=500, run_digits=True),
    },
    rules=_rules,
)

CHECKS = (
    CheckSpec("ntk_closed_form_matches_neural_tangents", "NTK loss curve (eigendecomposition) = nt.predict"),
    CheckSpec("bottleneck_accelerates", "every bottleneck reaches 10% of the base loss >= 2x sooner (same lr)"),
    CheckSpec("bottleneck_better_test_error", "every bottleneck has a lower test error than the NTK",
              smoke_must_pass=False),
    CheckSpec("acceleration_weakens_with_width", "steps to 10% grow with the bottleneck width"),
    CheckSpec("hybrid_matches_finite_network", "hybrid = fully finite network with the same bottleneck",
              smoke_must_pass=False),
    CheckSpec("ntk_matches_wide_network_at_unit_amplitude", "a wide finite net tracks the NTK at amplitude 1",
              smoke_must_pass=False),
    CheckSpec("effective_kernel_learns_target", "the bottleneck's effective NTK aligns with the target"),
    CheckSpec("deep_linear_infinite_matches_closed_form", "infinite deep linear dynamics = closed form"),
    CheckSpec("deep_linear_speedup_grows_with_amplitude", "deep linear: speedup grows with the target amplitude"),
    CheckSpec("negative_control_unit_amplitude", "deep linear at amplitude 1: no real acceleration"),
    CheckSpec("negative_control_wide_bottleneck_approaches_ntk", "wide bottlenecks approach the infinite net"),
    CheckSpec("bottleneck_faster_early_at_best_lr", "each model at its best lr: the bottleneck is still faster early",
              smoke_must_pass=False),
)

CLAIM = Claim(
    id="bottleneck",
    number=3,
    title="Bottleneck acceleration in infinitely wide networks",
    paper=Paper("Littwin et al.", "Implicit Acceleration and Feature Learning in Infinitely Wide Neural "
                "Networks with Bottlenecks", 2021, "2107.00364"),
    notebook="03_bottleneck_acceleration.ipynb",
    figures=("headline", "mechanism", "deep_linear", "best_lr"),
    params=PARAMS,
    checks=CHECKS,
    key_metric=("min speedup to 10% over d (same lr)", "min_speedup_to_10pct"),
    reconstructed=("The paper's text was not available: the model F = f o g (g, f infinitely wide, NTK "
                   "parameterization, bottleneck width d) and its hybrid simulation are a reconstruction; no "
                   "paper number is claimed."),
)

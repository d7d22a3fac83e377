"""Registry entry: bottleneck acceleration (Littwin et al. 2021)."""
from __future__ import annotations

from ntkrepro.params import (Params, ParamSet, boolean, choice, int_list, integer, real, real_list,
                             require)
from ntkrepro.spec import CheckSpec, Claim, FigureSpec, Finding, Paper, above, below, is_true, no_cases

import numpy as np

from ntkrepro.claims.bottleneck.science import _speedup
from ntkrepro.numerics import tolerance, tolerance_sqrt


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

FINDINGS = (
    Finding("F1", "An infinitely wide network with a finite bottleneck layer trains faster than the NTK "
            "(no bottleneck): at the same learning rate and at each model's best stable rate, per width.",
            "abstract"),
    Finding("F2", "The bottleneck improves overall performance (final training loss and test error).",
            "abstract"),
    Finding("F3", "The bottleneck network learns features: its effective kernel aligns with the target while "
            "the NTK cannot move.", "abstract"),
    Finding("F4", "Deep-linear mechanism: the speedup grows with the target amplitude and falls toward 1 as "
            "the bottleneck widens.", "reconstruction", "the deep-linear preconditioner analysis in the notes"),
)


def _speeds(m, P):
    ntk, bn = m["ntk"], m["bottleneck"]
    return {d: _speedup(ntk["steps_to_10pct_extended"], bn[str(d)]["steps_to_10pct"], 1000 * P["steps"])
            for d in P["bottleneck_widths"]}


def _monotone_violations(m, P):
    t10 = [m["bottleneck"][str(d)]["steps_to_10pct"] for d in P["bottleneck_widths"]]
    if any(t is None for t in t10):
        return ["a width never reached 10 %"]
    return [f"d={a}->{b}" for a, b, ta, tb in zip(P["bottleneck_widths"], P["bottleneck_widths"][1:], t10, t10[1:])
            if tb < ta]


def _test_ratio(m, P):
    return max((m["bottleneck"][str(d)]["test_rel_mse"] or np.inf) / m["ntk"]["test_rel_mse"]
               for d in P["bottleneck_widths"])


def _finite_ratio(m, P):
    fc = m["finite_check"]["bottleneck"]
    return max((abs(np.log(fc["finite"][k] / fc["reference"][k])) if fc["finite"][k] and fc["reference"][k]
                else np.inf) for k in ("steps_to_10pct", "steps_to_1pct"))


def _dl(m, P):
    amps = sorted(P["linear_amplitudes"])
    return m["deep_linear"], amps, [str(d) for d in P["linear_widths"]]


def _grows_violations(m, P):
    dl, amps, lw = _dl(m, P)
    stable = [d for d in lw if all(dl[f"amp={a:g}"][d]["speedup"] is not None for a in amps)]
    if not stable:
        return ["no width converged at every amplitude"]
    return [d for d in stable if not dl[f"amp={amps[-1]:g}"][d]["speedup"] > dl[f"amp={amps[0]:g}"][d]["speedup"]]


def _wide_closer(m, P):
    dl, amps, lw = _dl(m, P)
    top = dl[f"amp={amps[-1]:g}"]
    st = [d for d in lw if top[d]["speedup"] is not None]
    return len(st) > 1 and abs(top[st[-1]]["speedup"] - 1) < abs(top[st[0]]["speedup"] - 1)


def _best_lr_min_speedup(m, P):
    bl = m["best_lr"]
    return min(_speedup(bl["ntk"]["steps_to_10pct"], bl[str(d)]["steps_to_10pct"], P["steps"])
               for d in P["bottleneck_widths"])


CHECKS = (
    CheckSpec("ntk_closed_form_matches_neural_tangents", "implementation",
              "max relative error of the eigendecomposition loss curve against nt.predict (mean + covariance)",
              below(tolerance_sqrt(np.float64, 1.0)), lambda m, P: m["ntk"]["closed_form_max_abs_err"],
              passes_with={"ntk.closed_form_max_abs_err": 1e-12}, fails_with={"ntk.closed_form_max_abs_err": 1e-3}),
    CheckSpec("deep_linear_infinite_matches_closed_form", "implementation",
              "max |simulated - closed form| / L(0) of the infinite deep linear loss curve",
              below(tolerance(np.float64, 1.0, 1e6)),
              lambda m, P: max(v["infinite"]["closed_form_max_rel_err"] for v in m["deep_linear"].values()),
              passes_with={"deep_linear.*.infinite.closed_form_max_rel_err": 1e-15},
              fails_with={"deep_linear.amp=1.infinite.closed_form_max_rel_err": 1e-3}),
    CheckSpec("hybrid_matches_finite_network", "implementation",
              "max |log ratio| of steps to 10% and to 1%, finite stax net (finite_width, finite_d) against the "
              "hybrid simulation (within a factor 1.5); the final-loss ratio is reported, not gated",
              below(float(np.log(1.5))), _finite_ratio,
              passes_with={"finite_check.bottleneck.finite.steps_to_10pct": 170,
                           "finite_check.bottleneck.reference.steps_to_10pct": 170},
              fails_with={"finite_check.bottleneck.finite.steps_to_10pct": 400}, smoke_must_pass=False),
    CheckSpec("ntk_matches_wide_network_at_unit_amplitude", "implementation",
              "|log| final-loss ratio, finite net without bottleneck (wide_width, wide_steps) against the NTK at "
              "amplitude 1 (within a factor 1.25): the lazy limit the NTK baseline stands for",
              below(float(np.log(1.25))),
              lambda m, P: abs(np.log(m["finite_check"]["no_bottleneck_unit_amp"]["final_loss_ratio"])),
              passes_with={"finite_check.no_bottleneck_unit_amp.final_loss_ratio": 1.05},
              fails_with={"finite_check.no_bottleneck_unit_amp.final_loss_ratio": 2.0}, smoke_must_pass=False),
    CheckSpec("bottleneck_accelerates", "finding",
              "min over d of steps-to-10% (NTK, closed form beyond the run) / steps-to-10% (bottleneck), same lr",
              above(2.0), lambda m, P: min(_speeds(m, P).values()),
              passes_with={"bottleneck.*.steps_to_10pct": 100.0}, fails_with={"bottleneck.*.steps_to_10pct": 1000.0},
              finding="F1"),
    CheckSpec("bottleneck_faster_early_at_best_lr", "finding",
              "MIN over d of steps-to-10% (NTK at its best lr) / steps-to-10% (bottleneck at its best lr): every "
              "width must be faster (the first version took the max over widths, which hid a slower width)",
              above(1.0), _best_lr_min_speedup,
              passes_with={"best_lr.*.steps_to_10pct": 100, "best_lr.ntk.steps_to_10pct": 122},
              fails_with={"best_lr.*.steps_to_10pct": 150, "best_lr.ntk.steps_to_10pct": 122}, finding="F1", smoke_must_pass=False),
    CheckSpec("acceleration_weakens_with_width", "control",
              "mean steps to 10% against the bottleneck width d: cases where a wider bottleneck is faster (the "
              "premise, a narrow bottleneck, is removed as d grows)", no_cases(), _monotone_violations,
              passes_with={"bottleneck.2.steps_to_10pct": 50.0, "bottleneck.8.steps_to_10pct": 60.0,
                           "bottleneck.32.steps_to_10pct": 70.0, "bottleneck.128.steps_to_10pct": 80.0},
              fails_with={"bottleneck.2.steps_to_10pct": 90.0, "bottleneck.8.steps_to_10pct": 60.0},
              finding="F1"),
    CheckSpec("bottleneck_better_test_error", "finding",
              "max over d of test relative MSE (bottleneck, seed mean) / test relative MSE (NTK mean predictor)",
              below(1.0), _test_ratio,
              passes_with={"bottleneck.*.test_rel_mse": 0.3}, fails_with={"bottleneck.2.test_rel_mse": 0.9},
              finding="F2", smoke_must_pass=False),
    CheckSpec("effective_kernel_learns_target", "finding",
              "min over d of the kernel-target alignment gain (end - start) of the effective NTK", above(0.0),
              lambda m, P: min(v["end"]["alignment"] - v["start"]["alignment"] for v in m["alignment"].values()),
              passes_with={"alignment.*.end.alignment": 0.2},
              fails_with={"alignment.*.end.alignment": 0.0}, finding="F3"),
    CheckSpec("deep_linear_speedup_grows_with_amplitude", "finding",
              "widths (converged at every amplitude) whose deep-linear speedup at the largest amplitude does not "
              "exceed that at the smallest", no_cases(), _grows_violations,
              passes_with={"deep_linear.amp=16.*.speedup": 5.0, "deep_linear.amp=1.*.speedup": 1.0},
              fails_with={"deep_linear.amp=16.*.speedup": 0.5, "deep_linear.amp=1.*.speedup": 1.0},
              finding="F4"),
    CheckSpec("negative_control_unit_amplitude", "control",
              "max over d of the deep-linear speedup at amplitude 1 (premise, a large target, removed: modest "
              "or absent)", below(1.5),
              lambda m, P: max((m["deep_linear"]["amp=1"][str(d)]["speedup"] or 0.0) for d in P["linear_widths"]),
              passes_with={"deep_linear.amp=1.*.speedup": 1.0}, fails_with={"deep_linear.amp=1.*.speedup": 3.0},
              finding="F4"),
    CheckSpec("negative_control_wide_bottleneck_approaches_ntk", "control",
              "at the largest amplitude, |speedup - 1| is smaller at the widest converged width than at the "
              "narrowest converged one (premise, a narrow bottleneck, removed)", is_true(), _wide_closer,
              passes_with={"deep_linear.amp=16.*.speedup": 1.1, "deep_linear.amp=16.1.speedup": 8.0},
              fails_with={"deep_linear.amp=16.*.speedup": 8.0, "deep_linear.amp=16.1.speedup": 1.0},
              finding="F4"),
)

FIGURES = (
    FigureSpec("headline", "Training loss (relative to the zero predictor) against steps for the NTK (closed form) "
               "and bottlenecks of several widths at the same learning rate; right, test error against d."),
    FigureSpec("mechanism", "Trace and kernel-target alignment of the bottleneck model's effective NTK over "
               "training."),
    FigureSpec("deep_linear", "Speedup of a deep linear bottleneck network over the infinite one against the "
               "target amplitude, per width (the preconditioner mechanism; 1 = no acceleration)."),
    FigureSpec("best_lr", "Steps to 10% and 1% under both protocols: the same learning rate for every model, and "
               "each model at its own best stable rate."),
)

CLAIM = Claim(
    id="bottleneck",
    number=3,
    title="Bottleneck acceleration in infinitely wide networks",
    paper=Paper("Littwin et al.", "Implicit Acceleration and Feature Learning in Infinitely Wide Neural "
                "Networks with Bottlenecks", 2021, "2107.00364"),
    notebook="03_bottleneck_acceleration.ipynb",
    figures=FIGURES,
    params=PARAMS,
    findings=FINDINGS,
    checks=CHECKS,
    key_metric=("min speedup to 10% over d (same lr)", "min_speedup_to_10pct"),
    reconstructed=("The paper's text was not available: the model F = f o g (g, f infinitely wide, NTK "
                   "parameterization, bottleneck width d) and its hybrid simulation are a reconstruction; no "
                   "paper number is claimed."),
    sweep_map={"axes": {"amplitude": [1.0, 2.0, 5.0, 10.0]}, "fixed": {}},  # the target amplitude
)

"""Registry entry: bottleneck acceleration (Littwin et al. 2021)."""
from __future__ import annotations

from ntkrepro.params import (Params, ParamSet, boolean, choice, int_list, integer, real, real_list,
                             require)
from ntkrepro.spec import (CheckSpec, Claim, FigureSpec, Finding, Paper, above, below, interval_above,
                           no_cases)
from ntkrepro.stats import one_sample, welch, worst_interval

import numpy as np



def _speedup(*args):  # the science's own, imported when a check runs: the registry stays jax-free
    from ntkrepro.claims.bottleneck.science import _speedup as speedup
    return speedup(*args)


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
        real("linear_lr", 1e-3, 4.0, "learning rate shared by every deep-linear model"),
        integer("linear_steps", 10, 100_000, "GD steps of the deep-linear experiment"),
        int_list("rf_widths", 16, 65_536, "random-feature widths M of f in the sweep at d = 128", min_len=2),
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
                      bottleneck_widths=[2, 8, 32], rf_width=512, lr=0.2, steps=400, seeds=2,
                      lr_factors=[0.2, 0.8], linear_amplitudes=[1.0, 8.0], linear_widths=[4, 16, 256],
                      linear_lr=0.25, linear_steps=3000, rf_widths=[256, 1024],
                      n_align=64, n_finite=128, finite_width=256, finite_d=8, wide_width=512, wide_steps=300,
                      run_digits=False),
        "full": dict(n_train=512, n_test=500, input_dim=32, target="quadratic", amplitude=5.0,
                     bottleneck_widths=[2, 8, 32, 128], rf_width=1024, lr=0.2, steps=1200, seeds=5,
                     lr_factors=[0.1, 0.4, 0.9], linear_amplitudes=[1.0, 2.0, 4.0, 8.0, 16.0],
                     linear_widths=[1, 4, 16, 64, 256, 4096], linear_lr=0.25, linear_steps=3000,
                     rf_widths=[256, 1024, 4096], n_align=128, n_finite=256, finite_width=2048,
                     finite_d=8, wide_width=1024, wide_steps=500, run_digits=True),
    },
    rules=_rules,
)

FINDINGS = (
    Finding("F1", "An infinitely wide network with a finite bottleneck layer trains faster than the NTK "
            "(no bottleneck): at the same learning rate and at each model's best stable rate, per width.",
            "abstract"),
    Finding("F2", "The bottleneck improves overall performance (final training loss and test error, synthetic "
            "and digits).", "abstract"),
    Finding("F3", "The bottleneck network learns features: its effective kernel aligns with the target while "
            "the NTK cannot move.", "abstract"),
    Finding("F4", "Deep-linear mechanism: the speedup grows with the target amplitude and falls toward 1 as "
            "the bottleneck widens.", "reconstruction", "the deep-linear preconditioner analysis in the notes"),
)


def _speeds(m, P):
    ntk, bn = m["ntk"], m["bottleneck"]
    return {d: _speedup(ntk["steps_to_10pct_extended"], bn[str(d)]["steps_to_10pct"], 1000 * P["steps"])
            for d in P["bottleneck_widths"]}


def _seed_steps(m, d, key="steps_to_10pct", never=None):
    return [p[key] if p[key] is not None else never for p in m["bottleneck"][str(d)]["per_seed"]]


def _weakens_interval(m, P):
    """Worst adjacent pair of widths (d < d'): Welch interval of mean log steps-to-10% (d') - (d) over
    seeds (positive: the wider bottleneck is slower, i.e. the acceleration weakens). A seed that never
    got there counts as 2 x steps."""
    ws = P["bottleneck_widths"]
    rows = [welch(np.log(_seed_steps(m, b, never=2 * P["steps"])), np.log(_seed_steps(m, a, never=2 * P["steps"])))
            | {"pair": f"d={a}->{b}"} for a, b in zip(ws, ws[1:])]
    return worst_interval(rows, 0.0)


def _test_interval(m, P):
    """Worst width: interval over seeds of the NTK network's expected test rel. MSE over initialization
    (mean predictor's error plus the NTK-GP test variance: a single NTK network carries its initial
    function as a single bottleneck network does) minus the bottleneck's; positive means the bottleneck
    generalizes better."""
    ntk = m["ntk"]["test_rel_mse_expected"]
    rows = [one_sample([ntk - p["test_rel_mse"] for p in m["bottleneck"][str(d)]["per_seed"]]) | {"d": d}
            for d in P["bottleneck_widths"]]
    return worst_interval(rows, 0.0)


def _final_ratio(m, P):
    return max((m["bottleneck"][str(d)]["final_train_rel"] or np.inf) / m["ntk"]["final_train_rel"]
               for d in P["bottleneck_widths"])


def _finite_ratio(m, P):
    """max |log ratio| of steps to 10 % and 1 % (finite net vs hybrid); a level neither run reached is
    skipped, one reached by only one of them is infinite; with no level reached by either, the
    |log ratio| of the final losses."""
    fc = m["finite_check"]["bottleneck"]
    out = []
    for k in ("steps_to_10pct", "steps_to_1pct"):
        a, b = fc["finite"][k], fc["reference"][k]
        if a is None and b is None:
            continue
        out.append(abs(np.log(a / b)) if a and b else np.inf)
    return max(out) if out else abs(np.log(fc["final_loss_ratio"]))


def _dl(m, P):
    amps = sorted(P["linear_amplitudes"])
    return m["deep_linear"], amps, [str(d) for d in P["linear_widths"]]


def _stable_at(row, d):
    return row[d]["stable"] and row[d]["speedup"] is not None


def _grows_violations(m, P):
    dl, amps, lw = _dl(m, P)
    stable = [d for d in lw if all(_stable_at(dl[f"amp={a:g}"], d) for a in amps)]
    if len(stable) < 2:
        return [f"only {len(stable)} width(s) stable at every amplitude"]
    return [d for d in stable if not dl[f"amp={amps[-1]:g}"][d]["speedup"] > dl[f"amp={amps[0]:g}"][d]["speedup"]]


def _wide_violations(m, P):
    """Cases against 'the speedup falls toward 1 as the bottleneck widens', on stable runs only: at the
    largest amplitude, adjacent stable widths whose |speedup - 1| grows; at every amplitude <= 2, a widest
    stable width with |speedup - 1| >= 5 %."""
    dl, amps, lw = _dl(m, P)
    top = dl[f"amp={amps[-1]:g}"]
    st = [d for d in lw if _stable_at(top, d)]
    if len(st) < 3:
        return [f"only {len(st)} stable width(s) at amplitude {amps[-1]:g}"]
    bad = [f"amp={amps[-1]:g}: d={a}->{b}" for a, b in zip(st, st[1:])
           if abs(top[b]["speedup"] - 1) > abs(top[a]["speedup"] - 1)]
    for a in (x for x in amps if x <= 2):
        row = dl[f"amp={a:g}"]
        sa = [d for d in lw if _stable_at(row, d)]
        if not sa or abs(row[sa[-1]]["speedup"] - 1) >= 0.05:
            bad.append(f"amp={a:g}: widest stable width " + (f"d={sa[-1]} speedup {row[sa[-1]]['speedup']:.3g}"
                                                             if sa else "none"))
    return bad


def _unit_amp_max(m, P):
    row = m["deep_linear"]["amp=1"]
    stable = [row[str(d)]["speedup"] for d in P["linear_widths"] if _stable_at(row, str(d))]
    if not stable:
        raise ValueError("no stable width at amplitude 1")
    return max(stable)


def _rf_ratio(m, P):
    rf = m["rf_width_sweep"]
    Ms = sorted(rf, key=int)
    a, b = rf[Ms[0]]["steps_to_10pct"], rf[Ms[-1]]["steps_to_10pct"]
    return abs(np.log(a / b)) if a and b else np.inf


def _align_vs_ntk(m, P):
    return min(v["end"]["alignment"] for v in m["alignment"].values()) - m["ntk"]["alignment"]


def _align_unit_amp(m, P):
    """Alignment gain at amplitude 1 minus the gain at the headline amplitude, same width (negative: the
    feature learning needs the large target)."""
    u = m["alignment_unit_amplitude"]
    h = m["alignment"][str(u["d"])]
    return (u["end"] - u["start"]) - (h["end"]["alignment"] - h["start"]["alignment"])


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
              "hybrid simulation (within a factor 1.5; levels neither reached are skipped, and with none reached "
              "the final-loss ratio is compared)", below(float(np.log(1.5))), _finite_ratio,
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
              "min over d of steps-to-10% (NTK, closed form beyond the run) / mean steps-to-10% (bottleneck), same lr",
              above(2.0), lambda m, P: min(_speeds(m, P).values()),
              passes_with={"bottleneck.*.steps_to_10pct": 100.0}, fails_with={"bottleneck.*.steps_to_10pct": 1000.0},
              finding="F1"),
    CheckSpec("bottleneck_faster_early_at_best_lr", "finding",
              "worst width, each model at its own best stable rate (chosen on steps to 10 % with one seed): 90 % "
              "one-sample interval over seeds of log(steps-to-10% NTK at its best rate / steps-to-10% of the "
              "bottleneck); above 0 (pass), below 0 (fail), else inconclusive. Per-width rows in best_lr_per_width",
              interval_above(0.0, 0.0),
              lambda m, P: worst_interval([r["log_speedup"] | {"d": d} for d, r in m["best_lr_per_width"].items()], 0.0),
              passes_with={"best_lr_per_width.*.log_speedup.ci_low": 0.1, "best_lr_per_width.*.log_speedup.ci_high": 0.5},
              fails_with={"best_lr_per_width.*.log_speedup.ci_low": -0.5,
                          "best_lr_per_width.*.log_speedup.ci_high": -0.1}, finding="F1", smoke_must_pass=False),
    CheckSpec("acceleration_weakens_with_width", "control",
              "worst adjacent pair of bottleneck widths: 90% Welch interval over seeds of mean log steps-to-10% "
              "(wider) - (narrower); the premise (a narrow bottleneck) is removed as d grows, so the wider must be "
              "slower", interval_above(0.0, 0.0), _weakens_interval,
              passes_with={"bottleneck.2.per_seed.*.steps_to_10pct": 50, "bottleneck.8.per_seed.*.steps_to_10pct": 60,
                           "bottleneck.32.per_seed.*.steps_to_10pct": 70,
                           "bottleneck.128.per_seed.*.steps_to_10pct": 80,
                           ("bottleneck", "2", "per_seed", 0, "steps_to_10pct"): 49,
                           ("bottleneck", "8", "per_seed", 0, "steps_to_10pct"): 61,
                           ("bottleneck", "32", "per_seed", 0, "steps_to_10pct"): 71,
                           ("bottleneck", "128", "per_seed", 0, "steps_to_10pct"): 81},
              fails_with={"bottleneck.2.per_seed.*.steps_to_10pct": 90, "bottleneck.8.per_seed.*.steps_to_10pct": 60,
                          ("bottleneck", "2", "per_seed", 0, "steps_to_10pct"): 91,
                          ("bottleneck", "8", "per_seed", 0, "steps_to_10pct"): 61},
              finding="F1", smoke_must_pass=False),
    CheckSpec("speedup_not_set_by_rf_width", "control",
              "|log| ratio of steps-to-10% at the smallest and largest random-feature width M of f (d = 128): the "
              "hybrid's f stands for an infinitely wide one, so the speedup must not hinge on M (within 1.5x)",
              below(float(np.log(1.5))), _rf_ratio,
              passes_with={"rf_width_sweep.*.steps_to_10pct": 60}, fails_with={"rf_width_sweep.256.steps_to_10pct": 200},
              finding="F1", smoke_must_pass=False),
    CheckSpec("bottleneck_better_test_error", "finding",
              "worst width: 90% interval over seeds of test rel. MSE (NTK mean predictor) - test rel. MSE (bottleneck); "
              "pass when above 0, fail when below 0, else inconclusive", interval_above(0.0, 0.0), _test_interval,
              passes_with={"bottleneck.*.per_seed.*.test_rel_mse": 0.3,
                           ("bottleneck", "2", "per_seed", 0, "test_rel_mse"): 0.31},
              fails_with={"bottleneck.*.per_seed.*.test_rel_mse": 0.99,
                          ("bottleneck", "2", "per_seed", 0, "test_rel_mse"): 0.98},
              finding="F2", smoke_must_pass=False),
    CheckSpec("bottleneck_lower_final_train_loss", "finding",
              "max over d of final training loss (bottleneck, seed mean) / that of the NTK, same lr and steps",
              below(1.0), _final_ratio,
              passes_with={"bottleneck.*.final_train_rel": 1e-9}, fails_with={"bottleneck.*.final_train_rel": 1.0},
              finding="F2", smoke_must_pass=False),
    CheckSpec("digits_bottleneck_more_accurate", "finding",
              "digits test accuracy, d = 8 bottleneck minus NTK mean predictor (same lr and steps); a tie is not a "
              "pass", above(0.0),
              lambda m, P: m["digits"]["bottleneck_d8_accuracy"] - m["digits"]["ntk_mean_predictor_accuracy"],
              passes_with={"digits.bottleneck_d8_accuracy": 0.99}, fails_with={"digits.bottleneck_d8_accuracy": 0.5},
              finding="F2", profiles=("full",)),
    CheckSpec("effective_kernel_learns_target", "finding",
              "min over d of the kernel-target alignment gain (end - start) of the effective NTK", above(0.0),
              lambda m, P: min(v["end"]["alignment"] - v["start"]["alignment"] for v in m["alignment"].values()),
              passes_with={"alignment.*.end.alignment": 0.2},
              fails_with={"alignment.*.end.alignment": 0.0}, finding="F3"),
    CheckSpec("effective_kernel_beats_ntk_alignment", "finding",
              "min over d of the end alignment of the effective NTK minus the (fixed) NTK's alignment on the same "
              "points", above(0.0), _align_vs_ntk,
              passes_with={"alignment.*.end.alignment": 0.9}, fails_with={"alignment.*.end.alignment": 0.0},
              finding="F3"),
    CheckSpec("alignment_gain_needs_large_target", "control",
              "alignment gain at amplitude 1 minus the gain at the headline amplitude (narrowest width, one seed): "
              "with the premise (a large target) removed, the kernel must move less", below(0.0), _align_unit_amp,
              passes_with={"alignment_unit_amplitude.end": lambda v: v * 0 + 0.0,
                           "alignment_unit_amplitude.start": 0.0},
              fails_with={"alignment_unit_amplitude.end": 1.0, "alignment_unit_amplitude.start": 0.0},
              finding="F3"),
    CheckSpec("deep_linear_speedup_grows_with_amplitude", "finding",
              "widths stable (declared criterion) at every amplitude whose deep-linear speedup at the largest "
              "amplitude does not exceed that at the smallest", no_cases(), _grows_violations,
              passes_with={"deep_linear.amp=16.*.speedup": 5.0, "deep_linear.amp=1.*.speedup": 1.0},
              fails_with={"deep_linear.amp=16.*.speedup": 0.5, "deep_linear.amp=1.*.speedup": 1.0},
              finding="F4"),
    CheckSpec("negative_control_unit_amplitude", "control",
              "max over stable widths of the deep-linear speedup at amplitude 1 (premise, a large target, removed: "
              "modest or absent); no stable width at all fails", below(1.5), _unit_amp_max,
              passes_with={"deep_linear.amp=1.*.speedup": 1.0}, fails_with={"deep_linear.amp=1.*.speedup": 3.0},
              finding="F4"),
    CheckSpec("negative_control_wide_bottleneck_approaches_ntk", "control",
              "on stable runs only: adjacent widths whose |speedup - 1| grows at the largest amplitude, and "
              "amplitudes <= 2 whose widest stable width is not within 5% of the NTK (premise, a narrow bottleneck, "
              "removed)", no_cases(), _wide_violations,
              passes_with={"deep_linear.*.*.speedup": 1.0},
              fails_with={"deep_linear.amp=16.*.speedup": 8.0, "deep_linear.amp=16.1.speedup": 1.0},
              finding="F4"),
)

FIGURES = (
    FigureSpec("headline", "Training loss (relative to the zero predictor) against steps for the NTK (closed form) "
               "and bottlenecks of several widths at the same learning rate; right, test error against d."),
    FigureSpec("mechanism", "Trace and kernel-target alignment of the bottleneck model's effective NTK over "
               "training, with the fixed NTK's alignment and the same measurement at amplitude 1 (control)."),
    FigureSpec("deep_linear", "Speedup of a deep linear bottleneck network over the infinite one (d → ∞) against the "
               "target amplitude, per width, at one shared rate (the preconditioner mechanism; 1 = no acceleration; "
               "open markers: runs failing the declared stability criterion, not compared)."),
    FigureSpec("where_from", "Steps to 10 % of the hybrid at d = 128 against the random-feature width of f, with "
               "the NTK and a finite network without a bottleneck at the same amplitude and rate."),
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

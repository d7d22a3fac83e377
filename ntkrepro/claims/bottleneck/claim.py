"""Registry entry: bottleneck acceleration (Littwin et al. 2021)."""
from __future__ import annotations

from ntkrepro.claims.bottleneck.metrics import BottleneckMetrics
from ntkrepro.params import (Params, ParamSet, boolean, choice, int_list, integer, real, real_list,
                             require)
from ntkrepro.spec import (CheckSpec, ChoiceSpec, Claim, FigureSpec, Finding, Paper, above, below,
                           interval_above, no_cases)
from ntkrepro.stats import one_sample, welch, worst_interval

import numpy as np

from ntkrepro.numerics import tolerance, tolerance_sqrt


def lattice(ratio: float, k0: int, k1: int) -> list[float]:
    """The shared rate lattice in units of the NTK's lr_max: ratio^(k + 1/2) for k = k0..k1, rounded to 6 digits."""
    return [round(float(ratio ** (k + 0.5)), 6) for k in range(k0, k1 + 1)]


def on_lattice(factors, ratio: float, rtol: float = 1e-4) -> bool:
    """Consecutive points of :func:`lattice` (up to the rounding)."""
    k = np.log(np.asarray(factors, np.float64)) / np.log(ratio) - 0.5
    kr = np.round(k)
    return bool(len(k) >= 2 and np.all(np.abs(k - kr) * np.log(ratio) < rtol * 10) and np.all(np.diff(kr) == 1))


def _rules(p: Params) -> None:
    require(1.0 in p.linear_amplitudes, "linear_amplitudes", "must include 1 (the negative control)")
    require(len(p.linear_amplitudes) >= 2, "linear_amplitudes", "needs at least two amplitudes")
    require(sorted(set(p.bottleneck_widths)) == list(p.bottleneck_widths), "bottleneck_widths",
            "must be strictly increasing")
    require(sorted(set(p.linear_widths)) == list(p.linear_widths), "linear_widths", "must be strictly increasing")
    require(p.n_align <= p.n_train, "n_align", f"must be <= n_train = {p.n_train}")
    for name in ("lr_factors", "bottleneck_lr_factors"):  # every model's grid on one lattice (the same ratio)
        require(on_lattice(p[name], p.lr_ratio), name, f"must be consecutive rates lr_ratio^(k + 1/2) (lr_ratio = "
                f"{p.lr_ratio:g}, k integer, rounded to 6 digits): every model's grid has the same ratio, and the "
                "NTK's bound lr_max falls half a step between two of them")
    r = p.lr_ratio
    require(max(p.lr_factors) > 1.0, "lr_factors", "the NTK's grid must reach past its stability bound lr_max (a "
            "factor > 1), so its edge is found by the same criterion as a bottleneck's")
    require(min(p.lr_factors) <= r ** -2.5 * (1 + 1e-4), "lr_factors", "must reach lr_ratio^-2.5 (one step below "
            "the rate the rule lands on, lr_ratio^-1.5), so the NTK's choice is not at its grid's edge")
    require(len(p.lr_factors) >= 4 and len(p.bottleneck_lr_factors) >= 3, "lr_factors",
            "the rule needs room: >= 4 NTK rates and >= 3 per bottleneck width")
    require(p.tune_steps <= p.steps, "tune_steps", f"must be <= steps = {p.steps}")
    require(1.0 in p.digits_amplitudes, "digits_amplitudes", "must include 1 (unit-scale one-hot targets)")


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
        real("lr_ratio", 1.05, 4.0, "ratio between adjacent rates of every model's grid; the chosen rate is the "
             "fastest at least one step below the largest stable rate (the same margin for every model)"),
        real_list("lr_factors", 1e-3, 16.0, "the NTK's rate grid, x its stability bound 2nk/lambda_max "
                  "(lr_ratio^(k + 1/2), reaching past 1)", min_len=2),
        real_list("bottleneck_lr_factors", 1e-3, 64.0, "each bottleneck width's rate grid, x the NTK's 2nk/lambda_max "
                  "(the same lattice)", min_len=2),
        integer("tune_seeds", 1, 16, "tuning seeds per rate (seed + 1000 + i, never used for a verdict)"),
        integer("tune_steps", 10, 100_000, "GD steps of each tuning run (the choice is made on steps to 10 %)"),
        int_list("rf_check_widths", 1, 4096, "bottleneck widths at which the random-feature width M is swept"),
        int_list("digits_widths", 1, 4096, "bottleneck widths of the digits panel"),
        integer("digits_seeds", 1, 32, "seeds per width on digits"),
        integer("digits_draws", 2, 1000, "single NTK networks drawn from the GD ensemble on digits"),
        real_list("digits_amplitudes", 0.1, 100.0, "target amplitudes of the digits training-speed panel"),
        real_list("linear_amplitudes", 0.1, 100.0, "target amplitudes of the deep-linear experiment"),
        real("linear_lr", 1e-3, 4.0, "learning rate shared by every deep-linear model"),
        integer("linear_steps", 10, 100_000, "GD steps of the deep-linear experiment"),
        int_list("rf_widths", 16, 65_536, "random-feature widths M of f in the instrument sweep", min_len=2),
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
                      lr_ratio=1.886, lr_factors=lattice(1.886, -3, 0), bottleneck_lr_factors=lattice(1.886, -4, 0),
                      tune_seeds=2,
                      tune_steps=150, rf_check_widths=[32], digits_widths=[8], digits_seeds=2, digits_draws=10,
                      digits_amplitudes=[1.0, 5.0], linear_amplitudes=[1.0, 8.0], linear_widths=[4, 16, 256],
                      linear_lr=0.25, linear_steps=3000, rf_widths=[256, 1024],
                      n_align=64, n_finite=128, finite_width=256, finite_d=8, wide_width=512, wide_steps=300,
                      run_digits=False),
        "full": dict(n_train=512, n_test=500, input_dim=32, target="quadratic", amplitude=5.0,
                     bottleneck_widths=[2, 8, 32, 128], rf_width=1024, lr=0.2, steps=1200, seeds=5,
                     lr_ratio=1.886, lr_factors=lattice(1.886, -7, 0), bottleneck_lr_factors=lattice(1.886, -6, 1),
                     tune_seeds=3,
                     tune_steps=300, rf_check_widths=[128], digits_widths=[8, 32], digits_seeds=5, digits_draws=30,
                     digits_amplitudes=[1.0, 5.0], linear_amplitudes=[1.0, 2.0, 4.0, 8.0, 16.0],
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


# Every check below reads the typed record (metrics.BottleneckMetrics) by attribute; P stays a mapping.
def _seed_steps(m, d, never=None):
    return [p.steps_to_10pct if p.steps_to_10pct is not None else never for p in m.bottleneck[str(d)].per_seed]


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
    ntk = m.ntk.test_rel_mse_expected
    rows = [one_sample([ntk - p.test_rel_mse for p in m.bottleneck[str(d)].per_seed]) | {"d": d}
            for d in P["bottleneck_widths"]]
    return worst_interval(rows, 0.0)


def _final_ratio(m, P):
    return max((m.bottleneck[str(d)].final_train_rel or np.inf) / m.ntk.final_train_rel
               for d in P["bottleneck_widths"])


def _finite_ratio(m, P):
    """max |log ratio| of steps to 10 % and 1 % (finite net vs hybrid); a level neither run reached is
    skipped, one reached by only one of them is infinite. With no level reached by either run the check
    has nothing to compare and is not run (a ValueError, with the reason): the final-loss ratio is not a
    ratio of steps (the full record at amplitude 5 has steps agreeing within 3 % and final losses 4.4x
    apart), and early in training, where both runs still are, one seed per arm cannot resolve 1.5x (at
    amplitude 1 the hybrid's steps to 40 % of the base loss range 204-377 over six seeds, the finite
    net's 274-377 over four; their geometric means are 1.2x apart)."""
    fc = m.finite_check.bottleneck
    out = []
    for a, b in ((fc.finite.steps_to_10pct, fc.reference.steps_to_10pct),
                 (fc.finite.steps_to_1pct, fc.reference.steps_to_1pct)):
        if a is None and b is None:
            continue
        out.append(abs(np.log(a / b)) if a and b else np.inf)
    if not out:
        raise ValueError(
            f"neither the finite network nor the hybrid reached 10 % of the base loss in {fc.steps} steps "
            f"(final losses {fc.finite.final_train_rel:.3g} and {fc.reference.final_train_rel:.3g} "
            f"of it, amplitude {fc.amplitude:g}): no level to compare steps at, so the check is not applicable "
            "on this run (the final-loss ratio is not a ratio of steps, and one seed per arm cannot resolve 1.5x "
            "this early in training)")
    return max(out)


def _dl(m, P):
    amps = sorted(P["linear_amplitudes"])
    return m.deep_linear, amps, [str(d) for d in P["linear_widths"]]


def _stable_at(row, d):
    return row[d].stable and row[d].speedup is not None


def _grows_violations(m, P):
    dl, amps, lw = _dl(m, P)
    stable = [d for d in lw if all(_stable_at(dl[f"amp={a:g}"], d) for a in amps)]
    if len(stable) < 2:
        return [f"only {len(stable)} width(s) stable at every amplitude"]
    return [d for d in stable if not dl[f"amp={amps[-1]:g}"][d].speedup > dl[f"amp={amps[0]:g}"][d].speedup]


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
           if abs(top[b].speedup - 1) > abs(top[a].speedup - 1)]
    for a in (x for x in amps if x <= 2):
        row = dl[f"amp={a:g}"]
        sa = [d for d in lw if _stable_at(row, d)]
        if not sa or abs(row[sa[-1]].speedup - 1) >= 0.05:
            bad.append(f"amp={a:g}: widest stable width " + (f"d={sa[-1]} speedup {row[sa[-1]].speedup:.3g}"
                                                             if sa else "none"))
    return bad


def _unit_amp_max(m, P):
    row = m.deep_linear["amp=1"]
    stable = [row[str(d)].speedup for d in P["linear_widths"] if _stable_at(row, str(d))]
    if not stable:
        raise ValueError("no stable width at amplitude 1")
    return max(stable)


def _align_unit_amp(m, P):
    """Alignment gain at amplitude 1 minus the gain at the headline amplitude, same width (negative: the
    feature learning needs the large target)."""
    u = m.alignment_unit_amplitude
    h = m.alignment[str(u.d)]
    return u.gain - (h.end.alignment - h.start.alignment)


# ----- issue 28: every model tuned alike, per width --------------------------------------------------
def _iv(lo, hi, n=5):
    return {"mean": (lo + hi) / 2, "ci_low": lo, "ci_high": hi, "n": n}


def _set_rows(key, value):
    """Override builder: every row of ``best_lr_per_width`` (or ``alignment``) gets ``key`` = value (a
    callable of the row's width may give one per width)."""
    return lambda rows: {d: {**r, key: (value(d) if callable(value) else value)} for d, r in rows.items()}


def _worst(rows):
    """The row an interval gate judges over widths: a clear failure first; else a censored width makes
    the value censored (inconclusive); else the weakest interval."""
    rows = list(rows)
    done = [r for r in rows if not r.get("censored")]
    fin = lambda x: isinstance(x, (int, float)) and np.isfinite(x)  # noqa: E731  (None after JSON: not finite)
    failing = [r for r in done if fin(r.get("ci_high")) and r["ci_high"] < 0]
    if failing:
        return min(failing, key=lambda r: r["ci_high"])
    cens = [r for r in rows if r.get("censored")]
    if cens:
        return cens[0]
    return worst_interval(done, 0.0)


def _tuned(key):
    return lambda m, P: _worst([getattr(r, key).row(d=d) for d, r in m.best_lr_per_width.items()])


def _digits(m):
    if m.digits is None:  # run_digits off (the digits checks run in the full profile only)
        raise KeyError("digits")
    return m.digits


def _digits_vs_single(m, P):
    return _worst([r.vs_ntk_single.row(d=d) for d, r in _digits(m).per_width.items()])


def _digits_speed_top(m, P):
    """The largest amplitude of the digits training-speed panel, worst width."""
    sp = _digits(m).train_speed
    row = sp[max(sp, key=lambda a: float(a.split("=")[1]))]
    return _worst([v.log_speedup_final.row(d=d) for d, v in row.items() if d != "ntk"])


def _digits_unit_max(m, P):
    row = _digits(m).train_speed["amp=1"]
    return max(v.log_speedup_final.mean if v.log_speedup_final.mean is not None else v.log_speedup_final.mean_diff
               for d, v in row.items() if d != "ntk")


def _rf_used_vs_widest(m, P):
    """|log| ratio of steps to 10 % with f at the verdict's random-feature width (rf_width) and at the
    widest swept one, at the widest swept bottleneck width and its tuned rate."""
    rf = m.rf_width_sweep
    if not rf:  # no width of rf_check_widths had a tuned rate to sweep at: not run, with the reason
        why = [v.not_run for v in m.rf_width_tuned.values() if v.not_run]
        raise ValueError("the random-feature sweep was not run: " + ("; ".join(why) or
                                                                      "no width of rf_check_widths is a bottleneck width"))
    a, b = rf[str(P["rf_width"])].steps_to_10pct, rf[max(rf, key=int)].steps_to_10pct
    return abs(np.log(a / b)) if a and b else np.inf


def _align_iv(key):
    return lambda m, P: _worst([getattr(v, key).row(d=d) for d, v in m.alignment.items()])


def _DIG(*path_and_value):
    """Override builder for the digits panel: ``_DIG("per_width", "8", "vs_ntk_single", iv)`` keeps, of the
    table ``per_width``, only the branch down to row "8" (the others dropped), and sets that row's
    ``vs_ntk_single`` to ``iv``; the row's other fields stay, so the record still parses."""
    *path, value = path_and_value

    def branch(node, keys):
        return {**node, keys[0]: value} if len(keys) == 1 else {keys[0]: branch(node[keys[0]], keys[1:])}

    return lambda dg: {**dg, path[0]: branch(dg[path[0]], path[1:])}
_TUNED_MATCH = ("same grid ratio and the same one-step stability margin for every arm (one lattice "
                "lr_max x lr_ratio^(k + 1/2), >= 8 rates per model, each grid reaching past its stability edge)",
                "tuning rule: the stability edge is the largest rate stable on every tuning seed; the chosen rate is "
                "the fastest (median steps to 10 %) at least one grid step below the edge; the NTK judged by the same "
                "stability criterion on its closed form under discrete GD",
                "tuning seeds disjoint from verdict seeds", "training steps", "loss (0.5 mean squared error)",
                "task and training set")
_TUNED_ARMS = ("bottleneck d at its tuned rate (hybrid, each verdict seed)", "NTK at its tuned rate (closed form)")
# the comparisons at the one shared rate (its fraction of each model's lr_max is reported in shared_rate)
_SHARED_ARMS = ("bottleneck d (hybrid, seed mean)", "NTK (closed form)")
_SHARED_MATCH = ("learning rate (shared; its fraction of each model's lr_max in shared_rate)", "training steps",
                 "loss", "task")


def _tuned_check(name: str, finding: str, metric: str, description: str) -> CheckSpec:
    """A comparison at each model's own tuned rate: the worst width's 90 % interval over verdict seeds of
    ``metric`` (best_lr_per_width rows); above 0 passes, below 0 fails (the four such checks differ only
    in the metric)."""
    return CheckSpec(name, "finding", description, interval_above(0.0, 0.0), _tuned(metric),
                     passes_with={"best_lr_per_width": _set_rows(metric, _iv(0.1, 0.5))},
                     fails_with={"best_lr_per_width": _set_rows(metric, _iv(-0.5, -0.1))},
                     finding=finding, smoke_must_pass=False, arms=_TUNED_ARMS, matched=_TUNED_MATCH,
                     seeds_param="seeds")


CHECKS = (
    CheckSpec("ntk_closed_form_matches_neural_tangents", "implementation",
              "max relative error of the eigendecomposition loss curve against nt.predict (mean + covariance)",
              below(tolerance_sqrt(np.float64, 1.0)), lambda m, P: m.ntk.closed_form_max_abs_err,
              passes_with={"ntk.closed_form_max_abs_err": 1e-12}, fails_with={"ntk.closed_form_max_abs_err": 1e-3}),
    CheckSpec("deep_linear_infinite_matches_closed_form", "implementation",
              "max |simulated - closed form| / L(0) of the infinite deep linear loss curve",
              below(tolerance(np.float64, 1.0, 1e6)),
              lambda m, P: max(v["infinite"].closed_form_max_rel_err for v in m.deep_linear.values()),
              passes_with={"deep_linear.*.infinite.closed_form_max_rel_err": 1e-15},
              fails_with={"deep_linear.amp=1.infinite.closed_form_max_rel_err": 1e-3}),
    CheckSpec("hybrid_matches_finite_network", "implementation",
              "max |log ratio| of steps to 10% and to 1%, finite stax net (finite_width, finite_d) against the "
              "hybrid simulation (within a factor 1.5; levels neither reached are skipped, and with none reached "
              "the check is not run: the final-loss ratio is not a ratio of steps)", below(float(np.log(1.5))),
              _finite_ratio,
              passes_with={"finite_check.bottleneck.finite.steps_to_10pct": 170,
                           "finite_check.bottleneck.reference.steps_to_10pct": 170},
              fails_with={"finite_check.bottleneck.finite.steps_to_10pct": 400}, smoke_must_pass=False),
    CheckSpec("ntk_matches_wide_network_at_unit_amplitude", "implementation",
              "|log| final-loss ratio, finite net without bottleneck (wide_width, wide_steps) against the NTK at "
              "amplitude 1 (within a factor 1.25): the lazy limit the NTK baseline stands for",
              below(float(np.log(1.25))),
              lambda m, P: abs(np.log(m.finite_check.no_bottleneck_unit_amp.final_loss_ratio)),
              passes_with={"finite_check.no_bottleneck_unit_amp.final_loss_ratio": 1.05},
              fails_with={"finite_check.no_bottleneck_unit_amp.final_loss_ratio": 2.0}, smoke_must_pass=False),
    CheckSpec("bottleneck_accelerates", "finding",
              "min over d of steps-to-10% (NTK, closed form beyond the run) / mean steps-to-10% (bottleneck), same lr",
              above(2.0), lambda m, P: min(m.speedups_to_10pct(P["bottleneck_widths"], P["steps"]).values()),
              passes_with={"bottleneck.*.steps_to_10pct": 100.0}, fails_with={"bottleneck.*.steps_to_10pct": 1000.0},
              finding="F1", arms=_SHARED_ARMS, matched=_SHARED_MATCH),
    _tuned_check("bottleneck_faster_early_at_best_lr", "F1", "early_log_speedup",
                 "worst width, each model at its own tuned rate (the fastest at least one grid step below its largest "
                 "stable rate, chosen on tuning seeds, the same rule and margin for the NTK): 90 % "
                 "one-sample interval over the verdict seeds of log(steps to 10 % NTK / steps to 10 % bottleneck); above "
                 "0 (pass), below 0 (fail), else inconclusive; a width with a seed that never got there is censored "
                 "(inconclusive). Per-width rows in best_lr_per_width"),
    _tuned_check("bottleneck_faster_late_at_best_lr", "F1", "late_log_speedup",
                 "as bottleneck_faster_early_at_best_lr at 1 % of the base loss (late speed): worst width's 90 % interval "
                 "over verdict seeds of log(steps to 1 % NTK / bottleneck), tuned rates"),
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
              "|log| ratio of steps to 10 % with f at the verdict's random-feature width (rf_width) and at the widest "
              "swept M (4x), at the widest swept bottleneck width and its tuned rate: the hybrid's f stands for an "
              "infinitely wide one, so the verdict's instrument must be within 1.25x of a 4x wider one",
              below(float(np.log(1.25))), _rf_used_vs_widest,
              passes_with={"rf_width_sweep.*.steps_to_10pct": 60}, fails_with={"rf_width_sweep.1024.steps_to_10pct": 200},
              finding="F1", smoke_must_pass=False),
    CheckSpec("bottleneck_better_test_error", "finding",
              "worst width: 90% interval over seeds of test rel. MSE (NTK mean predictor) - test rel. MSE (bottleneck); "
              "pass when above 0, fail when below 0, else inconclusive", interval_above(0.0, 0.0), _test_interval,
              passes_with={"bottleneck.*.per_seed.*.test_rel_mse": 0.3,
                           ("bottleneck", "2", "per_seed", 0, "test_rel_mse"): 0.31},
              fails_with={"bottleneck.*.per_seed.*.test_rel_mse": 0.99,
                          ("bottleneck", "2", "per_seed", 0, "test_rel_mse"): 0.98},
              finding="F2", smoke_must_pass=False, arms=("bottleneck d (hybrid, each seed)", "NTK mean predictor (closed form)"),
              matched=_SHARED_MATCH),
    CheckSpec("bottleneck_lower_final_train_loss", "finding",
              "max over d of final training loss (bottleneck, seed mean) / that of the NTK, same lr and steps",
              below(1.0), _final_ratio,
              passes_with={"bottleneck.*.final_train_rel": 1e-9}, fails_with={"bottleneck.*.final_train_rel": 1.0},
              finding="F2", smoke_must_pass=False, arms=_SHARED_ARMS, matched=_SHARED_MATCH),
    _tuned_check("bottleneck_lower_final_train_loss_at_best_lr", "F2", "final_train_log_ratio",
                 "worst width, tuned rates, same steps: 90 % interval over verdict seeds of log(NTK final training loss / "
                 "bottleneck's); above 0 passes"),
    _tuned_check("bottleneck_better_test_error_at_best_lr", "F2", "test_gain",
                 "worst width, tuned rates, same steps: 90 % interval over verdict seeds of test rel. MSE (a single NTK "
                 "network, expectation over init) minus the bottleneck's; above 0 passes"),
    CheckSpec("digits_bottleneck_more_accurate", "finding",
              "digits, worst width: 90 % paired bootstrap interval (over seeds and test points) of test accuracy, "
              "bottleneck minus a single NTK network (draws from the GD ensemble's mean and covariance), same rate "
              "and steps; above 0 passes, below 0 fails", interval_above(0.0, 0.0), _digits_vs_single,
              passes_with={"digits": _DIG("per_width", "8", "vs_ntk_single", _iv(0.01, 0.03))},
              fails_with={"digits": _DIG("per_width", "8", "vs_ntk_single", _iv(-0.03, -0.01))},
              finding="F2", profiles=("full",), arms=("bottleneck d, each seed", "single NTK network (GD-ensemble draws)"),
              matched=("learning rate (0.5 x NTK lr_max)", "training steps", "targets (one-hot - 0.1)",
                       "test points (paired)"), seeds_param="digits_seeds"),
    CheckSpec("digits_faster_at_large_amplitude", "finding",
              "digits at the largest amplitude (targets x amp), worst width: 90 % interval over seeds of log(NTK final "
              "training loss / bottleneck's) after the same steps at the same rate; above 0 passes",
              interval_above(0.0, 0.0), _digits_speed_top,
              passes_with={"digits": _DIG("train_speed", "amp=5", "8", "log_speedup_final", _iv(.2, .6))},
              fails_with={"digits": _DIG("train_speed", "amp=5", "8", "log_speedup_final", _iv(-.6, -.2))},
              finding="F1", profiles=("full",), arms=("bottleneck d, each seed", "NTK (closed form)"),
              matched=("learning rate (0.5 x NTK lr_max)", "training steps", "targets"), seeds_param="digits_seeds"),
    CheckSpec("digits_unit_amplitude_not_faster", "control",
              "digits at amplitude 1 (the premise, a large target, removed): max over widths of the seed-mean log(NTK "
              "final loss / bottleneck's) must stay below log 1.5 (no marked acceleration at unit scale)",
              below(float(np.log(1.5))), _digits_unit_max,
              passes_with={"digits": _DIG("train_speed", "amp=1", "8", "log_speedup_final", _iv(-.3, .1))},
              fails_with={"digits": _DIG("train_speed", "amp=1", "8", "log_speedup_final", _iv(.9, 1.1))},
              finding="F4", profiles=("full",), arms=("bottleneck d, each seed", "NTK (closed form)"),
              matched=("learning rate (0.5 x NTK lr_max)", "training steps", "targets (amplitude 1)")),
    CheckSpec("effective_kernel_learns_target", "finding",
              "worst width: 90 % interval over the verdict seeds of the effective NTK's kernel-target alignment gain "
              "(end - start), shared rate; above 0 passes", interval_above(0.0, 0.0), _align_iv("gain"),
              passes_with={"alignment": _set_rows("gain", _iv(0.01, 0.05))},
              fails_with={"alignment": _set_rows("gain", _iv(-0.05, -0.01))}, finding="F3", seeds_param="seeds",
              smoke_must_pass=False),
    CheckSpec("effective_kernel_beats_ntk_alignment", "finding",
              "worst width: 90 % interval over the verdict seeds of the effective NTK's end alignment minus the fixed "
              "NTK's on the same points; above 0 passes", interval_above(0.0, 0.0), _align_iv("end_minus_ntk"),
              passes_with={"alignment": _set_rows("end_minus_ntk", _iv(0.01, 0.05))},
              fails_with={"alignment": _set_rows("end_minus_ntk", _iv(-0.05, -0.01))}, finding="F3",
              seeds_param="seeds", smoke_must_pass=False, arms=("bottleneck's effective NTK", "NTK"),
              matched=("points (first n_align training points)", "targets")),
    CheckSpec("alignment_gain_needs_large_target", "control",
              "alignment gain at amplitude 1 minus the gain at the headline amplitude (narrowest width, one seed): "
              "with the premise (a large target) removed, the kernel must move less", below(0.0), _align_unit_amp,
              passes_with={"alignment_unit_amplitude.end": 0.0,
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
    FigureSpec("lr_tuning", "Left: median steps to 10 % over the tuning seeds against the learning rate, per model "
               "(NTK: its closed form under discrete GD; open markers: a rate not stable on every tuning seed; triangle: "
               "the fastest stable rate; star: the chosen rate, the fastest at least one grid step below the largest stable). Right: per width, the "
               "90 % interval over verdict seeds of log(NTK steps / bottleneck steps) to 10 % and to 1 % at tuned rates."),
    FigureSpec("digits", "Digits: test accuracy per width (intervals over seeds and test points) against a single NTK "
               "network (draws from the GD ensemble) and the NTK mean predictor (reference); right, training loss at "
               "the end relative to the zero predictor at target amplitudes 1 and 5.", when="run_digits"),
    FigureSpec("best_lr", "Steps to 10% and 1% under both protocols: the same learning rate for every model, and "
               "each model at its own best stable rate."),
)

CHOICES = (
    # the grid of a choice is the rates the rule can land on (the grid less its top step): a choice at its top
    # (the largest stable rate at the grid's top) or at its bottom is at the edge, and F1 and F2 are inconclusive
    ChoiceSpec("lr (NTK)", "NTK", lambda m, P: m.lr_tuning["ntk"].candidates,
               lambda m, P: m.lr_tuning["ntk"].chosen_or_bottom,
               "closed-form expected loss under discrete GD (no seeds), the same stability criterion as a bottleneck's; "
               "the fastest rate at least one grid step below the largest stable rate (same grid ratio and the same "
               "one-step stability margin for every arm)", ("F1", "F2")),
    ChoiceSpec("lr (bottleneck, one per width)", "bottleneck",
               lambda m, P: m.lr_tuning[str(P["bottleneck_widths"][0])].candidates,
               lambda m, P: [m.lr_tuning[str(d)].chosen_or_bottom  # no choice: counted as the bottom edge
                             for d in P["bottleneck_widths"]],
               "tuning seeds seed+1000.., not used for the verdict; the fastest rate at least one grid step below the "
               "largest rate stable on every tuning seed (same grid ratio and the same one-step stability margin for "
               "every arm)",
               ("F1", "F2")),
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
    choices=CHOICES,
    metrics_type=BottleneckMetrics,
    key_metric=("min speedup to 10% over d (same lr)", "min_speedup_to_10pct"),
    reconstructed=("The paper's text was not available: the model F = f o g (g, f infinitely wide, NTK "
                   "parameterization, bottleneck width d) and its hybrid simulation are a reconstruction; no "
                   "paper number is claimed."),
    sweep_map={"axes": {"amplitude": [1.0, 2.0, 5.0, 10.0]}, "fixed": {}},  # the target amplitude
)

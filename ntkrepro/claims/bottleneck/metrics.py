"""Typed metrics of the bottleneck-acceleration claim (see :mod:`ntkrepro.metrics`): the tree that
``science.collect`` builds, that every check and choice in ``claim.py`` reads by attribute, and whose
JSON form is ``results.json``'s ``metrics`` (a field's name is its JSON key).

Conventions of every record below. Losses are relative to the zero predictor's,
``L_rel(t) = L(t) / L_0`` with ``L = 0.5 mean((F - y)^2)`` and ``L_0 = 0.5 mean(y^2)``; "steps to 10 %"
(1 %) is the first GD step ``t`` with ``L(t) <= 0.1 L_0`` (0.01 L_0), null when never within the run.
Tables keyed by data are ``dict[str, Row]``: bottleneck widths ``d`` ("2", "8", ...), random-feature
widths ``M``, target amplitudes ("amp=5"). A few tables carry one row of another layout beside the
per-width rows (the NTK's, "ntk"; the infinite deep linear net's, "infinite"): their row type has the
union of both layouts' fields, the ones of only one layout :func:`optional`, and writes back exactly
its own layout (:class:`_Layouts`). Any leaf may be null (a run that diverged or produced no number).

Imports neither jax nor the science: the registry loads ``claim.py`` (and this) without jax.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping

from ntkrepro.metrics import Metrics, optional

record = dataclass(frozen=True, kw_only=True)  # kw_only: fields in JSON order, optional ones among them


def speedup_lower_bound(t_ref: int | None, t: int | None, steps: int) -> float:
    """Speedup ``t_ref / max(t, 1)`` of a model reaching a level at step ``t`` over a reference reaching
    it at ``t_ref``; a lower bound when the reference never gets there (counted as ``steps + 1``); 0 when
    the model never does."""
    if t is None:
        return 0.0
    return (t_ref if t_ref is not None else steps + 1) / max(t, 1)


def _json(v: Any) -> Any:
    if isinstance(v, Metrics):
        return v.to_json()
    if isinstance(v, Mapping):
        return {str(k): _json(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json(x) for x in v]
    return v


@record
class _Layouts(Metrics):
    """A row type shared by rows of several layouts (``LAYOUTS``: each a tuple of JSON keys in order). A
    row is written in the first layout that holds every one of its non-null fields, with a null field
    of that layout kept as null (the base class would drop a null optional field)."""

    LAYOUTS = ()  # set per class (a class attribute, not a field: no annotation)

    def to_json(self) -> dict[str, Any]:
        have = {f.name for f in dataclasses.fields(self) if getattr(self, f.name) is not None}
        for keys in type(self).LAYOUTS:
            if have <= set(keys):
                return {k: _json(getattr(self, k)) for k in keys}
        return super().to_json()



# ----- shared small records ---------------------------------------------------------------------
@record
class CurveSummary(Metrics):
    """One loss curve summarised: ``steps_to_10pct`` / ``steps_to_1pct`` (first step with
    L <= 0.1 L_0 / 0.01 L_0, null if never) and ``final_train_rel`` = L(T) / L_0 (null if diverged)."""

    steps_to_10pct: int
    steps_to_1pct: int
    final_train_rel: float


@record
class Interval(_Layouts):
    """A 90 % interval over seeds (``stats.one_sample``: ``mean_diff``, ``ci_low``, ``ci_high``, ``n``
    seeds, ``level``, minimum detectable effect ``mde``, optional ``method``; a paired bootstrap has
    ``method`` and no ``mde``), or a censored marker: ``censored`` true with ``reached`` of ``n`` seeds
    reaching the level within ``budget`` steps (and ``reference_reached``: whether the NTK did; or
    ``diverged``: seeds whose loss was not finite). ``mean`` appears only in hand-made intervals (the
    checks' pass/fail overrides)."""

    LAYOUTS = (("mean", "ci_low", "ci_high", "n"),
               ("mean_diff", "ci_low", "ci_high", "n", "level", "mde"),
               ("mean_diff", "ci_low", "ci_high", "n", "level", "method"),
               ("mean_diff", "ci_low", "ci_high", "n", "level", "mde", "method"),
               ("censored", "reached", "n", "budget", "reference_reached"),
               ("censored", "reached", "n", "budget", "diverged"))

    mean: float | None = optional()
    mean_diff: float | None = optional()
    censored: bool | None = optional()
    reached: int | None = optional()
    ci_low: float | None = optional()
    ci_high: float | None = optional()
    n: int
    level: float | None = optional()
    mde: float | None = optional()
    method: str | None = optional()
    budget: int | None = optional()
    reference_reached: bool | None = optional()
    diverged: int | None = optional()

    def row(self, **extra: Any) -> dict[str, Any]:
        """The interval as the plain mapping an interval gate judges (its JSON), with ``extra`` keys
        (e.g. the width ``d``) appended."""
        return self.to_json() | extra


@record
class KernelPoint(Metrics):
    """The bottleneck model's effective NTK Theta_F = J_p J_p' + (J_z J_z') o Theta_g on the first
    ``n_align`` training points at GD step ``step``: ``trace_over_n`` = tr Theta_F / n and the
    kernel-target ``alignment`` = y' Theta_F y / (|Theta_F|_F |y|^2)."""

    step: int
    trace_over_n: float
    alignment: float


# ----- the shared rate (the headline) ----------------------------------------------------------
@record
class NtkAtSharedRate(Metrics):
    """The NTK (d = infinity) at the shared rate ``lr``, in closed form (expectation over
    initialization): :class:`CurveSummary` fields of its expected loss over ``steps`` steps;
    ``test_rel_mse`` of the mean predictor and ``test_rel_mse_expected`` of a single network
    (mean predictor's error plus the NTK-GP test variance), both / mean(y_test^2);
    ``closed_form_max_abs_err``: max relative error of the eigendecomposition curve against
    ``nt.predict.gradient_descent_mse_ensemble``; ``steps_to_{10,1}pct_extended``: the level's first
    step however long it takes (up to 1000 x steps); ``alignment``: the fixed NTK's kernel-target
    alignment on the first ``n_align`` points."""

    steps_to_10pct: int
    steps_to_1pct: int
    final_train_rel: float
    test_rel_mse: float
    test_rel_mse_expected: float
    closed_form_max_abs_err: float
    steps_to_10pct_extended: int
    steps_to_1pct_extended: int
    alignment: float


@record
class SeedRun(Metrics):
    """One verdict seed of the hybrid at the shared rate: :class:`CurveSummary` fields, its test
    relative MSE and whether its loss left the finite numbers (``diverged``)."""

    steps_to_10pct: int
    steps_to_1pct: int
    final_train_rel: float
    test_rel_mse: float
    diverged: bool


@record
class BottleneckAtSharedRate(Metrics):
    """One bottleneck width d at the shared rate: the seed means of ``steps_to_10pct``,
    ``steps_to_1pct``, ``final_train_rel`` and ``test_rel_mse`` (null when any seed has none),
    ``per_seed`` (one :class:`SeedRun` per verdict seed) and ``kernel``: the effective NTK at the
    start and the end, averaged over seeds ([start, end])."""

    steps_to_10pct: float
    steps_to_1pct: float
    final_train_rel: float
    test_rel_mse: float
    per_seed: list[SeedRun]
    kernel: list[KernelPoint]


@record
class SharedRate(Metrics):
    """The shared rate ``lr``, the NTK's exact stability bound ``ntk_lr_max`` = 2nk/lambda_max, and
    ``fraction_of_lr_max``: lr over each model's largest stable rate (keys "ntk" and each width; null
    for a width with no stable rate)."""

    lr: float
    ntk_lr_max: float
    fraction_of_lr_max: dict[str, float]


@record
class TraceScaledNtk(Metrics):
    """The NTK at the shared rate scaled by one width's effective-kernel trace growth g = mean over
    seeds of tr Theta_F(T) / tr Theta_F(0): ``lr`` = g lr_shared (``fraction_of_lr_max`` of the NTK's
    bound, ``stable`` when below it), its steps to 10 % / 1 % (closed form; null when unstable), the
    bottleneck's seed-mean steps to 10 % and ``speedup_over_scaled_ntk`` = NTK steps / bottleneck
    steps: the part of the speedup a larger effective step explains."""

    trace_growth: float
    lr: float
    fraction_of_lr_max: float
    stable: bool
    steps_to_10pct: int
    steps_to_1pct: int
    bottleneck_steps_to_10pct: float
    speedup_over_scaled_ntk: float


# ----- finite-network validation ---------------------------------------------------------------
@record
class FiniteComparison(Metrics):
    """A fully finite stax network (``width``, bottleneck ``d``; for the no-bottleneck arm d = width)
    against its reference (the hybrid, or the NTK's closed form) on a task of target ``amplitude``,
    both trained ``steps`` GD steps at the shared rate: each one's :class:`CurveSummary`, and
    ``final_loss_ratio`` = L_finite(T) / L_reference(T)."""

    amplitude: float
    d: int
    width: int
    steps: int
    finite: CurveSummary
    reference: CurveSummary
    final_loss_ratio: float


@record
class FiniteCheck(Metrics):
    """``bottleneck``: the hybrid against a finite network with the same bottleneck (finite_width,
    finite_d) at the headline amplitude; ``no_bottleneck_unit_amp``: the NTK against a wide finite
    network without bottleneck (wide_width, wide_steps) at amplitude 1 (the lazy limit)."""

    bottleneck: FiniteComparison
    no_bottleneck_unit_amp: FiniteComparison


@record
class NoBottleneckFinite(Metrics):
    """A finite network without a bottleneck (``width`` = wide_width) at the headline amplitude and
    rate: steps to 10 % / 1 % and ``delta_ntk`` = |K_T - K_0|_F / |K_0|_F of its empirical NTK on the
    first n_align training points (large: not lazy)."""

    width: int
    steps_to_10pct: int
    steps_to_1pct: int
    delta_ntk: float


# ----- the deep linear mechanism ---------------------------------------------------------------
@record
class DeepLinearRun(_Layouts):
    """One deep linear run at one amplitude (``deep_linear["amp=a"][key]``): ``steps_to_tol``, the first
    step with L <= 1e-3 x 0.5 a^2, and ``stable`` (``science.is_stable``: no loss rise over any 10-step
    window before the tolerance). Key "infinite" (W <- W - lr (2/m) grad_W) adds
    ``closed_form_max_rel_err`` (max |simulated - closed form| / L(0)); a width key d (W = U V) adds
    ``speedup`` = t_infinite / t_d (null unless stable and both reached), ``diverged`` and
    ``invariant_drift`` = |C_T - C_0|_F / |C_0|_F of the balance C = d U'U - m V V'."""

    LAYOUTS = (("steps_to_tol", "closed_form_max_rel_err", "stable"),
               ("steps_to_tol", "speedup", "stable", "diverged", "invariant_drift"))

    steps_to_tol: int
    closed_form_max_rel_err: float | None = optional()
    speedup: float | None = optional()
    stable: bool
    diverged: bool | None = optional()
    invariant_drift: float | None = optional()


# ----- F3: the effective kernel ----------------------------------------------------------------
@record
class Alignment(Metrics):
    """The effective NTK of one width over its verdict seeds at the shared rate: ``start`` and ``end``
    (seed means; ``trajectory`` = [start, end]), and intervals over seeds of the alignment ``gain``
    (end - start), of ``end_minus_ntk`` (end alignment - the fixed NTK's) and of ``trace_growth``
    (tr Theta_F(T) / tr Theta_F(0))."""

    start: KernelPoint
    end: KernelPoint
    trajectory: list[KernelPoint]
    gain: Interval
    end_minus_ntk: Interval
    trace_growth: Interval


@record
class AlignmentUnitAmplitude(Metrics):
    """Control of F3: the narrowest width ``d``, one seed, at target ``amplitude`` 1: the effective
    NTK's alignment at the ``start`` and the ``end``, and the fixed NTK's (``ntk_alignment``)."""

    amplitude: float
    d: int
    start: float
    end: float
    ntk_alignment: float

    @property
    def gain(self) -> float:
        """end - start."""
        return self.end - self.start


# ----- each model at its tuned rate ------------------------------------------------------------
@record
class RateTuning(_Layouts):
    """One model's rate tuning (key "ntk" or a width): the rate ``grid`` (lr_max x lr_ratio^(k + 1/2)),
    ``candidates`` (the grid less its top ``margin_steps``: the rates the rule can land on), the
    ``chosen`` rate (the fastest at least ``margin_steps`` grid steps below the largest rate stable on
    every tuning seed, ``largest_stable``; null when none) and its ``chosen_index``, the fastest stable
    rate (``fastest_stable``, ``fastest_index``), ``smallest_unstable_above`` the edge, ``margin`` =
    largest_stable / chosen, ``at_edge``, per rate ``stable_seeds`` and ``median_steps_to_10pct``, and
    ``selected_on``. The NTK's row adds its steps to 10 % (closed form) at its fastest stable rate (when
    there is one) and at the chosen rate, and at the chosen rate under discrete GD."""

    LAYOUTS = tuple(("grid", "candidates", "margin_steps", "chosen", "chosen_index", "fastest_stable",
                     "fastest_index", "largest_stable", "smallest_unstable_above", "margin", "at_edge",
                     "stable_seeds", "median_steps_to_10pct", "selected_on") + extra
                    for extra in ((), ("steps_to_10pct_at_chosen", "steps_to_10pct_at_chosen_discrete_gd"),
                                  ("steps_to_10pct_at_fastest_stable", "steps_to_10pct_at_chosen",
                                   "steps_to_10pct_at_chosen_discrete_gd")))

    grid: list[float]
    candidates: list[float]
    margin_steps: int
    chosen: float
    chosen_index: int
    fastest_stable: float
    fastest_index: int
    largest_stable: float
    smallest_unstable_above: float
    margin: float
    at_edge: bool
    stable_seeds: list[int]
    median_steps_to_10pct: list[float]
    selected_on: str
    steps_to_10pct_at_fastest_stable: int | None = optional()
    steps_to_10pct_at_chosen: int | None = optional()
    steps_to_10pct_at_chosen_discrete_gd: int | None = optional()

    @property
    def chosen_or_bottom(self) -> float:
        """The chosen rate; with no choice, the bottom of the candidates (counted as the bottom edge)."""
        return self.chosen if self.chosen is not None else self.candidates[0]


@record
class TunedRun(_Layouts):
    """One model at its tuned rate ``lr`` (``best_lr`` key "ntk" or a width), ``steps`` GD steps:
    :class:`CurveSummary` fields (for a width, of its first verdict seed), ``test_rel_mse`` and
    ``stable``. The NTK's row (closed form) adds ``test_rel_mse_expected`` and its steps to 10 % / 1 %
    however long they take (``*_extended``); a width's row adds its tuning (``fastest_stable``,
    ``smallest_unstable_above``, ``margin``) and per verdict seed the steps to 10 % / 1 %, the final
    loss and the test error (``*_per_seed``)."""

    LAYOUTS = (("lr", "steps_to_10pct", "steps_to_1pct", "final_train_rel", "test_rel_mse", "test_rel_mse_expected",
                "stable", "steps_to_10pct_extended", "steps_to_1pct_extended"),
               ("lr", "fastest_stable", "smallest_unstable_above", "margin", "steps_to_10pct", "steps_to_1pct",
                "final_train_rel", "test_rel_mse", "stable", "steps_to_10pct_per_seed", "steps_to_1pct_per_seed",
                "final_train_rel_per_seed", "test_rel_mse_per_seed"))

    lr: float
    fastest_stable: float | None = optional()
    smallest_unstable_above: float | None = optional()
    margin: float | None = optional()
    steps_to_10pct: int
    steps_to_1pct: int
    final_train_rel: float
    test_rel_mse: float
    test_rel_mse_expected: float | None = optional()
    stable: bool
    steps_to_10pct_extended: int | None = optional()
    steps_to_1pct_extended: int | None = optional()
    steps_to_10pct_per_seed: list[int] | None = optional()
    steps_to_1pct_per_seed: list[int] | None = optional()
    final_train_rel_per_seed: list[float] | None = optional()
    test_rel_mse_per_seed: list[float] | None = optional()


@record
class TunedComparison(Metrics):
    """One width against the NTK, each at its own tuned rate (``lr``, ``ntk_lr``; the width's tuning
    ``fastest_stable``, ``smallest_unstable_above``, ``margin``), over the verdict seeds: first-seed
    steps and test error, per-seed steps to 10 % / 1 %, ``faster_than_ntk`` (mean steps to 10 % below
    the NTK's), and intervals over seeds: ``log_speedup`` (log t_NTK / t_d at 10 %, a seed that never
    got there counted as 2 x steps), ``early_log_speedup`` / ``late_log_speedup`` (log t_NTK / t_d at
    10 % / 1 %; censored when a seed never got there), ``final_train_log_ratio`` (log L_NTK(T) / L_d(T))
    and ``test_gain`` (the NTK single network's expected test rel. MSE minus the width's); the last two
    censored when a seed diverged."""

    lr: float
    ntk_lr: float
    fastest_stable: float
    smallest_unstable_above: float
    margin: float
    steps_to_10pct: int
    steps_to_1pct: int
    test_rel_mse: float
    steps_to_10pct_per_seed: list[int]
    steps_to_1pct_per_seed: list[int]
    faster_than_ntk: bool
    log_speedup: Interval
    early_log_speedup: Interval
    late_log_speedup: Interval
    final_train_log_ratio: Interval
    test_gain: Interval


# ----- the random-feature instrument -----------------------------------------------------------
@record
class RfSweepPoint(Metrics):
    """The hybrid at the widest swept width ``d`` and its tuned rate ``lr`` with f of one random-feature
    width M (the key): :class:`CurveSummary` fields."""

    d: int
    lr: float
    steps_to_10pct: int
    steps_to_1pct: int
    final_train_rel: float


@record
class RfWidthTuned(Metrics):
    """One width of rf_check_widths at its tuned rate ``lr``: ``by_M`` (random-feature width M ->
    :class:`CurveSummary`), ``ratio_used_to_widest`` = |log t(M = rf_width) / t(widest M)| at 10 %;
    with no tuned rate, ``lr`` null, ``by_M`` empty and ``not_run`` says why."""

    lr: float
    by_M: dict[str, CurveSummary]
    ratio_used_to_widest: float
    not_run: str | None = optional()


# ----- real data (digits) ----------------------------------------------------------------------
@record
class NtkSingleNet(Metrics):
    """Test accuracy of single NTK networks drawn from the GD ensemble: ``mean``, ``sd`` over
    ``n_draws`` draws."""

    mean: float
    sd: float
    n_draws: int


@record
class DigitsAccuracy(Metrics):
    """One width's digits test accuracy over its seeds: ``mean`` with a ``level`` bootstrap interval over
    seeds and test points (``ci_low``, ``ci_high``, ``method``), ``n_seeds``, ``per_seed`` accuracies,
    and ``vs_ntk_single``: the paired-bootstrap interval of accuracy minus a single NTK network's."""

    mean: float
    ci_low: float
    ci_high: float
    level: float
    method: str
    n_seeds: int
    per_seed: list[float]
    vs_ntk_single: Interval


@record
class DigitsSpeed(_Layouts):
    """Digits training speed at one amplitude (``train_speed["amp=a"][key]``): ``final_train_rel`` =
    L(T) / L_0. Key "ntk" (closed form) adds ``steps_to_10pct``; a width adds ``final_train_rel_per_seed``,
    ``steps_to_10pct_per_seed`` and ``log_speedup_final``: the interval over seeds of
    log L_NTK(T) / L_d(T)."""

    LAYOUTS = (("final_train_rel", "steps_to_10pct"),
               ("final_train_rel", "final_train_rel_per_seed", "steps_to_10pct_per_seed", "log_speedup_final"))

    final_train_rel: float
    steps_to_10pct: int | None = optional()
    final_train_rel_per_seed: list[float] | None = optional()
    steps_to_10pct_per_seed: list[int] | None = optional()
    log_speedup_final: Interval | None = optional()


@record
class Digits(Metrics):
    """The digits panel (run_digits): every model at the same rate ``lr`` (0.5 x the NTK's lr_max);
    the NTK mean predictor's accuracy (a reference), the first d = 8 seed's (null without d = 8),
    ``bottleneck_final_train_loss`` (always null: kept for the record's layout), single NTK networks
    (``ntk_single_net``), accuracy per width (``per_width``, at amplitude 1) and ``train_speed``
    (amplitude "amp=a" -> "ntk" or width -> :class:`DigitsSpeed`)."""

    lr: float
    ntk_mean_predictor_accuracy: float
    bottleneck_d8_accuracy: float
    bottleneck_final_train_loss: float
    ntk_single_net: NtkSingleNet
    per_width: dict[str, DigitsAccuracy]
    train_speed: dict[str, dict[str, DigitsSpeed]]


# ----- the root ------------------------------------------------------------------------------------
@record
class BottleneckMetrics(Metrics):
    """Everything claim 3 measures. ``ntk`` and ``bottleneck`` (width -> row): the shared rate;
    ``finite_check``; ``deep_linear`` ("amp=a" -> "infinite" or width -> run); ``alignment`` (width ->
    F3 row); ``best_lr`` ("ntk" or width -> tuned run), ``best_lr_per_width`` (width -> tuned
    comparison), ``lr_tuning`` ("ntk" or width -> tuning); ``shared_rate``; ``trace_scaled_ntk`` (width
    -> row); ``min_speedup_to_10pct`` = min over d of t_NTK / t_d at 10 % at the shared rate (the key
    metric); ``rf_width_sweep`` (M -> point at the widest swept width; empty when none was swept) and
    ``rf_width_tuned`` (width -> sweep); ``digits`` (only with run_digits); ``alignment_unit_amplitude``
    and ``no_bottleneck_finite``."""

    ntk: NtkAtSharedRate
    bottleneck: dict[str, BottleneckAtSharedRate]
    finite_check: FiniteCheck
    deep_linear: dict[str, dict[str, DeepLinearRun]]
    alignment: dict[str, Alignment]
    best_lr: dict[str, TunedRun]
    best_lr_per_width: dict[str, TunedComparison]
    lr_tuning: dict[str, RateTuning]
    shared_rate: SharedRate
    trace_scaled_ntk: dict[str, TraceScaledNtk]
    min_speedup_to_10pct: float
    rf_width_sweep: dict[str, RfSweepPoint]
    rf_width_tuned: dict[str, RfWidthTuned]
    digits: Digits | None = optional()
    alignment_unit_amplitude: AlignmentUnitAmplitude
    no_bottleneck_finite: NoBottleneckFinite

    def speedups_to_10pct(self, widths, steps: int) -> dict[int, float]:
        """Per width d, :func:`speedup_lower_bound` of the bottleneck's seed-mean steps to 10 % over the
        NTK's (closed form, up to ``1000 * steps``) at the shared rate."""
        return {d: speedup_lower_bound(self.ntk.steps_to_10pct_extended, self.bottleneck[str(d)].steps_to_10pct,
                                       1000 * steps) for d in widths}

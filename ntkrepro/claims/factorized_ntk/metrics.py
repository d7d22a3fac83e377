"""Typed metrics of claim 1, factorized NTK guarantee (see ntkrepro/metrics.py): the record that
``science.collect`` builds and the checks of ``claim.py`` read. Field names are results.json's keys.

Notation: n training points, d input dimension, m width, k projected dimension (Z = JX / |JX| row-wise),
H^inf Du et al.'s infinite-width Gram matrix, H(W) the finite-width first-layer NTK,
lambda_0 = lambda_min(H^inf(X)), lambda_0^J = lambda_min(H^inf(Z)). Tables keyed by data are
``dict[str, Row]``: k (``"16"``), width (``"256"``), d/n (``"0.5"``), p (``"1"``), data/projection.
Imports neither jax nor the science (the registry loads claim.py without jax).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ntkrepro.metrics import Metrics, optional


# ----- lambda_0 of the projected data ---------------------------------------------------------
@dataclass(frozen=True)
class Lambda0Ratio(Metrics):
    """lambda_0^J / lambda_0 over n_draws draws of J: mean and sample sd (ddof 1)."""

    mean: float
    std: float


@dataclass(frozen=True)
class Lambda0Row(Metrics):
    """One k of the lambda_0 study: lambda_0^J / lambda_0 (mean, sd over draws of J), the bound-implied
    cost ratio rho(k) = (k/d) (lambda_0 / mean lambda_0^J)^4, and (sphere data only) the JL expectation
    of the ratio (random points in k_eff = d k / (d + k) dimensions)."""

    mean: float
    std: float
    rho: float
    jl_expected: float | None = optional()  # sphere data only


@dataclass(frozen=True)
class Lambda0Study(Metrics):
    """One data set / projection (key ``"sphere/gaussian"``...): lambda_0 of the unprojected data and
    its rows by k (key: k)."""

    lambda0: float
    by_k: dict[str, Lambda0Row]


# ----- full-batch gradient descent (F1) -------------------------------------------------------
@dataclass(frozen=True)
class LateRate(Metrics):
    """Late decay of log L per step: ``measured`` (least-squares slope over the last 40 % of the steps)
    against ``predicted`` = 2 log(1 - eta lambda_min(H(0))), the slowest linearized mode."""

    measured: float
    predicted: float

    @property
    def deviation(self) -> float:
        """|measured / predicted - 1| (the late-rate checks' value)."""
        return abs(self.measured / self.predicted - 1)


@dataclass(frozen=True)
class TrainingRun(Metrics):
    """One GD run of Du's network of width m (dense on X, or factorized on Z = JX): L(0), L(T),
    lambda_min(H(0)), lambda_0 of H^inf on these rows, whether L_t <= (1 - eta lambda_min(H(0))/2)^t L(0)
    held at every t, max over t <= 100 of |log10 L_t / L_lin,t| (linearized prediction
    L_lin,t = sum_i (1 - eta mu_i)^(2t) (q_i . r_0)^2 / 2), the NTK drift ||H(T) - H(0)||_2, whether it
    stays below lambda_0 / 4 (the premise), the late rate and max_r |w_r(T) - w_r(0)|."""

    m: int
    loss_initial: float
    loss_final: float
    lambda_min_H0: float
    lambda0_inf: float
    du_bound_held: bool
    max_log10_dev_from_linear: float
    ntk_drift: float
    in_premise: bool
    late_rate: LateRate
    max_weight_move: float


@dataclass(frozen=True)
class NegativeControl(TrainingRun):
    """The k = 1 run (every z = +-Jx/|Jx|), with lambda_0^J = lambda_min(H^inf(Z)), 0 by construction."""

    lambda0_J: float


@dataclass(frozen=True)
class SmallWidthControl(Metrics):
    """The dense network at control_width: max |log10 L / L_lin| over the first 100 steps, and whether it
    stayed under the gate LIN_TOL_LOG10 (it must not: the linearization breaks at a small width)."""

    m: int
    max_log10_dev_from_linear: float
    passed_gate: bool


@dataclass(frozen=True)
class RateControl(Metrics):
    """The dense network at rate_control_width: its late rate, linearization error and NTK drift."""

    m: int
    late_rate: LateRate
    max_log10_dev_from_linear: float
    ntk_drift: float
    in_premise: bool


# ----- cost ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CostRow(Metrics):
    """One row of the timing benchmark (bench_batch x bench_d inputs, width bench_m). Key ``"dense"``:
    params = macs = m d, measured_s; key ``"<k>"`` (Gaussian J): params m k, macs k d + m k, mac_ratio
    m d / (k d + m k), measured_s, measured_speedup; key ``"hadamard/<k>"`` (SRHT by the fast transform):
    macs_fwht = d log2 d + m k, measured_s_fwht, measured_s_matrix, fwht_speedup_over_matrix,
    measured_speedup. Timings are seconds of one jitted forward + GD step (median of 7)."""

    params: int | None = optional()
    macs: int | None = optional()
    mac_ratio: float | None = optional()
    measured_s: float | None = optional()
    macs_fwht: int | None = optional()
    measured_s_fwht: float | None = optional()
    measured_s_matrix: float | None = optional()
    fwht_speedup_over_matrix: float | None = optional()
    measured_speedup: float | None = optional()


@dataclass(frozen=True)
class CostToEps(Metrics):
    """One model at equal width m (key ``"dense"`` or k), over train_seeds initializations: steps to
    L_t <= eps L(0) (mean and per seed), whether every seed reached it, multiply-adds
    (3 n m dim per step, plus n k d once for a factorized model; mean and per seed), seconds (steps x one
    measured GD step) and, factorized only, the per-seed ratio of multiply-adds to the dense model's."""

    steps: float
    steps_per_seed: list[int]
    reached: bool
    macs: float
    macs_per_seed: list[float]
    seconds: float
    macs_ratio_per_seed: list[float] | None = optional()  # factorized models only


@dataclass(frozen=True)
class DnSweepPoint(Metrics):
    """The first version's dn_sweep names at one d/n (fixed k/d series): d, k, mean lambda_0^J / lambda_0
    over n_draws Gaussian J, rho4 = (k/d) / ratio^4, the equal-compute cost ratio (None when censored),
    whether every factorized and every dense seed reached eps, and the comparison's name."""

    d: int
    k: int
    lambda0_ratio: float
    rho4: float
    cost_to_eps_ratio: float
    reached: bool
    dense_reached: bool
    comparison: str


# ----- F2: required width and equal compute ----------------------------------------------------
@dataclass(frozen=True)
class RunCensoring(Metrics):
    """The ledger's censored form: ``reached`` of ``n`` seeds reached eps within ``budget`` steps; ``arm``
    names the arm short of eps in a ratio (numerator = factorized, denominator = dense)."""

    censored: bool
    reached: int
    n: int
    budget: int
    arm: str | None = optional()


@dataclass(frozen=True)
class WidthTried(Metrics):
    """One width of the required-width search: seeds both in the premise and at eps (``ok``), seeds that
    reached eps, seeds in the premise, the largest NTK drift and the premise lambda_0 / 4 (the smallest
    over seeds when each seed has its own J)."""

    ok: int
    reached: int
    in_premise: int
    max_drift: float
    premise: float


@dataclass(frozen=True)
class GridCensoring(Metrics):
    """m* censored above the grid: no width up to ``above`` qualified within ``budget`` steps."""

    above: int
    budget: int


@dataclass(frozen=True, kw_only=True)  # keyword-only: fields in results.json's order
class RequiredWidth(Metrics):
    """One model (key ``"dense"`` or k): m*, the smallest width of the grid where >= width_min_ok seeds
    stay in the premise and reach eps (None: censored above the grid, see ``censored``), the mean cost to
    eps in multiply-adds at m* over the seeds that reached, mean steps, per-step multiply-adds 3 n m* dim,
    every width tried (key: width) and how J was drawn (``"none"`` or ``"one per seed"``)."""

    m_star: int
    cost_to_eps: float
    steps_to_eps: float | None = optional()  # m* found
    per_step_macs: int | None = optional()  # m* found
    censored: GridCensoring | None = optional()  # m* not found
    tried: dict[str, WidthTried]
    j_draws: str


@dataclass(frozen=True, kw_only=True)  # keyword-only: fields in results.json's order
class AtRequiredWidth(Metrics):
    """One k, each network at its own m*: the cost ratio factorized / dense (geometric mean over seeds,
    None when censored), its t interval (exp of the interval of mean log ratio), the seeds, the per-seed
    log ratios and the method. ``censored``: free-form, in one of two shapes, ``{m_star_dense,
    m_star_factorized}`` (an m* censored above the grid; either may be null) or the ledger's censored
    form (a seed at m* short of eps; see :class:`RunCensoring`)."""

    m_star: int | None = optional()
    dense_m_star: int | None = optional()
    cost_ratio: float
    ci_low: float | None = optional()
    ci_high: float | None = optional()
    n_seeds: int | None = optional()
    log_ratio: list[float] | None = optional()
    method: str | None = optional()
    censored: dict[str, Any] | None = optional()  # two shapes (see the docstring): kept as parsed JSON


@dataclass(frozen=True)
class EqualCompute(Metrics):
    """One k: the factorized network at width m against the dense network of equal per-step multiply-adds
    (width m k / d), both to eps L(0): widths, mean steps, seeds that reached eps and stayed in the premise,
    the dense arm's largest drift and premise, seeds, budget, how J was drawn, and the cost ratio
    factorized / dense with its t interval over seeds (None when censored, see ``censored``)."""

    dense_width: int
    factorized_width: int
    dense_steps_to_eps: float
    factorized_steps_to_eps: float
    dense_reached: int
    factorized_reached: int
    dense_in_premise: int
    factorized_in_premise: int
    dense_max_drift: float
    dense_premise: float
    n_seeds: int
    budget: int
    j_draws: str
    cost_ratio: float
    ci_low: float
    ci_high: float
    log_ratio: list[float] | None = optional()  # uncensored
    method: str | None = optional()  # uncensored
    censored: RunCensoring | None = optional()


# ----- F3: the d/n sweep -----------------------------------------------------------------------
@dataclass(frozen=True)
class DnPoint(Metrics):
    """One d/n (key: d/n, ``"0.5"``) of a series: d, k, the widths of both arms (dense: dn_width k / d),
    per-seed multiply-adds to eps and reached flags of both arms, seeds in the premise, the budget, and the
    cost ratio factorized / dense with its t interval over seeds (None when censored, see ``censored``)."""

    d: int
    k: int
    dense_width: int
    factorized_width: int
    factorized_macs: list[float]
    dense_macs: list[float]
    factorized_reached: list[bool]
    dense_reached: list[bool]
    dense_in_premise: int
    factorized_in_premise: int
    budget: int
    cost_ratio: float
    ci_low: float | None = optional()  # uncensored
    ci_high: float | None = optional()  # uncensored
    n_seeds: int | None = optional()  # uncensored
    censored: RunCensoring | None = optional()


@dataclass(frozen=True)
class DnSweepFair(Metrics):
    """The d/n sweep at equal per-step multiply-adds, two series keyed by d/n: fixed k / d
    (k = d / dn_compression) and fixed k (dn_fixed_k, capped at d)."""

    fixed_k_over_d: dict[str, DnPoint]
    fixed_k: dict[str, DnPoint]


@dataclass(frozen=True)
class GrowthInterval(Metrics):
    """Welch t interval (90 %) of mean log cost ratio at d/n = d_over_n_low minus at d/n = 1 (positive:
    the benefit grew toward d = n), n seeds."""

    mean_diff: float
    ci_low: float
    ci_high: float
    n: int
    method: str
    d_over_n_low: float


@dataclass(frozen=True, kw_only=True)  # keyword-only: fields in results.json's order (both forms)
class Growth(Metrics):
    """F3's value for one series: either the interval (:class:`GrowthInterval`'s fields) or the ledger's
    censored form (censored, reached, n, budget) with ``why``, or with the interval computed with the
    censored seeds at their budget (``bound_interval``; ``value`` too when that bound decides a pass)."""

    censored: bool | None = optional()
    reached: int | None = optional()
    mean_diff: float | None = optional()
    ci_low: float | None = optional()
    ci_high: float | None = optional()
    n: int
    budget: int | None = optional()
    method: str | None = optional()
    d_over_n_low: float | None = optional()
    why: str | None = optional()
    bound_interval: GrowthInterval | None = optional()
    value: GrowthInterval | None = optional()


@dataclass(frozen=True)
class DnGrowth(Metrics):
    """F3's growth of the benefit, per series."""

    fixed_k_over_d: Growth
    fixed_k: Growth


@dataclass(frozen=True)
class Peak(Metrics):
    """Where the benefit peaks: the d/n of the smallest uncensored cost ratio (None if none), the ratios
    by d/n, and whether the ratio still falls past d = n (absent when no point is uncensored)."""

    argmin_d_over_n: float
    ratios: dict[str, float]
    keeps_falling_past_d_eq_n: bool | None = optional()


@dataclass(frozen=True)
class DnPeak(Metrics):
    """The peak of the benefit, per series."""

    fixed_k_over_d: Peak
    fixed_k: Peak


# ----- the record ------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)  # keyword-only: fields in results.json's order
class FactorizedNTKMetrics(Metrics):
    """Claim 1's metrics. Kernel cross-checks (max abs errors against neural-tangents and of the FWHT),
    lambda_0 and lambda_max of H^inf(X); lambda_0^J / lambda_0 and rho(k) of the selected data and
    projection (key: k) with min over k of rho(k) and of rho_p(k) = (k/d) (lambda_0 / lambda_0^J)^p
    (``exponent_sensitivity``, key: p); the whole lambda_0 study (key: ``"<data>/<projection>"``);
    ||H(0) - H^inf||_2 by width (key: m) and its log-log slopes; the GD runs (key: ``"dense"`` or k) and
    their controls; the costs; F2's required width, costs at own m* and at equal compute (key: k; the
    other data set, reported apart, under ``*_lowrank`` or ``*_sphere``: whichever ``data`` did not
    select); F3's d/n sweep, growth and peak."""

    lambda0_dense: float
    lambda_max_dense: float
    kernel_max_abs_err_nt: float
    kernel_max_abs_err_nt_offdiag: float
    empirical_ntk_max_abs_err_nt: float
    fwht_max_abs_err: float
    lambda0_ratio: dict[str, Lambda0Ratio]
    bound_cost_ratio: dict[str, float]
    bound_cost_ratio_min: float
    exponent_sensitivity: dict[str, float]
    lambda0_study: dict[str, Lambda0Study]
    ntk_error_vs_m: dict[str, float]
    ntk_error_slope: float
    ntk_error_vs_m_factorized: dict[str, float]
    ntk_error_slope_factorized: float
    training: dict[str, TrainingRun]
    runs_outside_premise: list[str]
    late_rate: dict[str, LateRate]
    small_width_control: SmallWidthControl
    negative_control: NegativeControl
    rate_control: RateControl
    du_bound_held_runs: dict[str, bool]
    cost: dict[str, CostRow]
    cost_to_eps: dict[str, CostToEps]
    dn_sweep: dict[str, DnSweepPoint]
    # F2 on the selected data; the data set that ``data`` did not select is reported apart (searched on
    # every other width of the grid) under *_lowrank (data = "sphere") or *_sphere (data = "lowrank")
    required_width: dict[str, RequiredWidth]
    required_width_lowrank: dict[str, RequiredWidth] | None = optional()
    required_width_sphere: dict[str, RequiredWidth] | None = optional()
    at_required_width: dict[str, AtRequiredWidth]
    at_required_width_lowrank: dict[str, AtRequiredWidth] | None = optional()
    at_required_width_sphere: dict[str, AtRequiredWidth] | None = optional()
    equal_compute: dict[str, EqualCompute]
    dn_sweep_fair: DnSweepFair
    dn_growth: DnGrowth
    dn_peak: DnPeak

    # derived quantities the checks read (pure; no jax)
    def in_premise(self) -> dict[str, TrainingRun]:
        """The GD runs whose NTK drift stayed below lambda_0 / 4 (key: ``"dense"`` or k)."""
        return {k: r for k, r in self.training.items() if r.in_premise}

    def premise_violations(self) -> list[str]:
        """Of the dense run and the largest k, those outside the premise."""
        largest = max((k for k in self.training if k != "dense"), key=int)
        return [k for k in ("dense", largest) if not self.training[k].in_premise]

    def max_log10_dev_in_premise(self) -> float:
        """max over runs in the premise of max_log10_dev_from_linear (nan if none)."""
        return max((r.max_log10_dev_from_linear for r in self.in_premise().values()), default=math.nan)

    def late_rate_dev_in_premise(self) -> float:
        """max over runs in the premise of |measured / predicted late rate - 1| (nan if none)."""
        devs = [r.late_rate.deviation for r in self.in_premise().values()]
        return max(devs) if devs else math.nan

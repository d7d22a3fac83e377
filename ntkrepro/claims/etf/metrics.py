"""Typed metrics of claim 2, the ETF compression conjecture (see ntkrepro/metrics.py): the record that
``science.collect`` builds and the checks in ``claim.py`` read through attributes; ``results.json``'s
``metrics`` is its serialization (a field's name is its JSON key).

Notation (as in science.py): the simplified objective L_sim(V, b) on compressed weights V (M x d) and output
weights b (M,), the target scalars alpha = sqrt(|mu|^2 + sigma_w^2) and c = |mu| / alpha; the simplex ETF
(pairwise cosines -1/(M-1), norms r*, loss L*(M)); the tilted frame v_j = r* (t* mu_hat + sqrt(1 - t*^2) e_j)
(pairwise cosine rho*). Tables keyed by data (M, c, p, cells such as "N=400,d=10") are ``dict[str, Row]``.
Imports neither jax nor the science (the registry loads claim.py without jax).
"""
from __future__ import annotations

from dataclasses import dataclass

from ntkrepro.metrics import Metrics, optional


# ----- E1: the dual activation ------------------------------------------------------------------
@dataclass(frozen=True)
class Kernel(Metrics):
    """E1, the closed form E_x[relu(u.x) relu(v.x)] = |u||v| kappa(rho) at 7 angles (|u| = 1, |v| = 2): each
    list has one entry per angle (``angles_deg``): ``closed_form``, ``nt`` (neural-tangents' NNGP of
    Dense(W_std=sqrt d) + Relu), ``mc`` and its standard error ``mc_se`` (Monte Carlo, ``mc_samples`` inputs);
    ``kernel_max_abs_err_nt`` = max |closed_form - nt|, ``kernel_mc_max_abs_z`` = max |mc - closed_form| / mc_se."""

    angles_deg: list[float]
    closed_form: list[float]
    nt: list[float]
    mc: list[float]
    mc_se: list[float]
    kernel_max_abs_err_nt: float
    kernel_mc_max_abs_z: float


# ----- E2: centred target -------------------------------------------------------------------------
@dataclass(frozen=True)
class CentredRow(Metrics):
    """E2, one M (c = 0, alpha = sigma_w, b = +1): the ETF closed form ``etf_loss`` = L*(M) = alpha^2/(2 pi) -
    alpha^2 M^2 / (4 pi^2 C_M) and ``etf_norm`` = r* = alpha M / (2 pi C_M); the final GD loss of the best start
    (``gd_loss``), of every start (``gd_loss_min_all``, ``gd_loss_worst``); the best start's max |cos_jl + 1/(M-1)|
    (``gram_offdiag_max_dev``), |mean |v_j| - r*| / r* (``norm_rel_err``), (max - min) / mean of the norms
    (``norm_rel_spread``); the fraction of starts within 1e-8 of L* (``etf_hit_rate``); L* / C0 with C0 =
    alpha^2/(2 pi) (``loss_over_C0``). With ``train_b`` only: the free-sign variant's best loss and hit rate
    (within 1e-6 of L*)."""

    etf_loss: float
    etf_norm: float
    gd_loss: float
    gd_loss_min_all: float
    gd_loss_worst: float
    gram_offdiag_max_dev: float
    norm_rel_err: float
    norm_rel_spread: float
    etf_hit_rate: float
    loss_over_C0: float
    free_b_gd_loss_min: float | None = optional()  # train_b = false: not run
    free_b_etf_hit_rate: float | None = optional()  # train_b = false: not run


# ----- E3: non-centred target, the tilted frame ----------------------------------------------------
@dataclass(frozen=True)
class TiltedRow(Metrics):
    """E3, one M <= d at the target's (alpha, c): the 1-D search's t*, rho* = t*^2 - (1 - t*^2)/(M-1), r*, L*
    (``t_star``, ``rho_star``, ``r_star``, ``L_star``); GD finished by L-BFGS (``gd_loss``) and its frame's max
    deviations (every entry, not a mean): |cos_jl - rho*| (``gram_max_dev``), |cos(v_j, mu) - t*|
    (``t_max_dev``), ||v_j| - r*| / r* (``norm_max_dev``), the angle between sum_j v_j and mu (``axis_angle_rad``);
    its means (``gd_rho``, ``gd_norm``, ``gd_t``) and norm spread; the two readings' losses at this (M, alpha, c)
    (``simplex_etf_loss``, ``tight_frame_loss``, ``optimum_loss``, as in :class:`Readings`)."""

    t_star: float
    rho_star: float
    r_star: float
    L_star: float
    gd_loss: float
    gram_max_dev: float
    t_max_dev: float
    norm_max_dev: float
    axis_angle_rad: float
    gd_rho: float
    gd_norm: float
    gd_t: float
    norm_rel_spread: float
    simplex_etf_loss: float
    tight_frame_loss: float
    optimum_loss: float


@dataclass(frozen=True)
class CSweep(Metrics):
    """t*(c) and rho*(c) of the tilted frame at M = ``M`` (the smallest M >= 3 of M_list; alpha = 1), one entry per
    c of ``c``."""

    M: int
    c: list[float]
    t_star: list[float]
    rho_star: list[float]


@dataclass(frozen=True)
class TiltedCRow(Metrics):
    """E3 at the largest M <= d for one c of ``tilted_c_list`` (alpha = 1): GD (finished by L-BFGS) against the
    tilted closed form L* (fields as in :class:`TiltedRow`)."""

    M: int
    gd_loss: float
    L_star: float
    gram_max_dev: float
    t_max_dev: float
    norm_max_dev: float
    axis_angle_rad: float


@dataclass(frozen=True)
class Readings(Metrics):
    """The two readings of the non-centred conjecture at one (M, c), alpha = 1: L_sim of the simplex ETF in mu-perp
    (t = 0) and of the tight tilted frame (t^2 = 1/M, rho = 0), each at its best scale, and of the tilted optimum
    (the 1-D search)."""

    simplex_etf_loss: float
    tight_frame_loss: float
    optimum_loss: float


# ----- E3b: mixed signs ------------------------------------------------------------------------------
@dataclass(frozen=True)
class SignPatternRow(Metrics):
    """One (M, c, p): the best loss with p of the M output weights fixed at -1 (GD from ``sign_restarts`` starts,
    the best finished by L-BFGS) and the ETF loss of the M - p positive neurons (simplex at c = 0, tilted frame at
    c > 0)."""

    gd_loss: float
    etf_loss_M_minus_p: float

    @property
    def rel_gap(self) -> float:
        """(gd_loss - etf_loss_M_minus_p) / etf_loss_M_minus_p: below 0 beyond round-off falsifies F2."""
        return (self.gd_loss - self.etf_loss_M_minus_p) / self.etf_loss_M_minus_p


# ----- E4, E5, E6: finite N, Monte Carlo, approximation error ---------------------------------------
@dataclass(frozen=True)
class IdentityCell(Metrics):
    """E6b, one (d, N) cell: mean and sd of L_exact(V) over ``n_draws`` Gaussian targets at a fixed ETF frame V, and
    the closed form ``predicted`` = L_MF,d(V) + (1/2 - 1/(2 pi)) sigma_w^2 / N."""

    d: int
    N: int
    n_draws: int
    mean: float
    sd: float
    predicted: float


@dataclass(frozen=True)
class FiniteNRow(Metrics):
    """E4, one (N, d): L-BFGS on the exact finite-N loss (M = M_finite, b = +1), over ``n_draws`` target draws: mean
    and sd of max |cos_jl + 1/(M-1)| (``gram_offdiag_max_dev``, per draw in ``..._draws``) and of the norm spread;
    the mean norm and minimum loss; the relative gap |L_exact,min - L_MF,d| / L_MF,d (mean, and per draw); the
    mean-field optimum at this d, L_MF,d and r_MF,d."""

    N: int
    d: int
    n_draws: int
    gram_offdiag_max_dev: float
    gram_offdiag_max_dev_sd: float
    gram_offdiag_max_dev_draws: list[float]
    norm_rel_spread: float
    norm_rel_spread_sd: float
    norm_mean: float
    loss_min: float
    loss_gap_rel: float
    loss_gap_rel_draws: list[float]
    L_star_mf_d: float
    r_star_mf_d: float


@dataclass(frozen=True)
class ApproximationErrorRow(Metrics):
    """E6, one (family, d, N): over ``n_draws`` targets of family ``weights`` ("gaussian", "rademacher",
    "random_a"), ``mean`` and ``sd`` of L_exact(V*) - L_sim(V*) at the d -> infinity ETF V*, and the rms of
    L_exact - L_MF,d (``rms_vs_mf_d``); Gaussian family only: the closed-form mean ``predicted_mean`` =
    L_MF,d(V*) + (1/2 - 1/(2 pi)) sigma_w^2 / N - L*."""

    weights: str
    d: int
    N: int
    mean: float
    sd: float
    rms_vs_mf_d: float
    predicted_mean: float | None = optional()  # only the Gaussian family has a closed form


# ----- E7: negative controls -------------------------------------------------------------------------
@dataclass(frozen=True)
class MGtDPlus1(Metrics):
    """d = 2, M = 5 > d + 1 (no simplex ETF): the optimum's max |cos + 1/(M-1)|, its loss, the infeasible ETF
    formula's loss L*(5), and its distinct pairwise cosines (rounded to 3 digits, sorted)."""

    d: int
    M: int
    gram_offdiag_max_dev: float
    gd_loss: float
    etf_formula_loss: float
    cosines: list[float]


@dataclass(frozen=True)
class Pentagon(Metrics):
    """The same optimum against the regular pentagon: max error of its sorted cosines against (cos 4pi/5, cos 4pi/5,
    cos 2pi/5, cos 2pi/5) (``gram_max_abs_err``), its loss and the pentagon's closed form, the infeasible ETF loss,
    and max ||v_j| - r*| / r*."""

    gram_max_abs_err: float
    gd_loss: float
    closed_form_loss: float
    infeasible_etf_loss: float
    norm_max_dev: float


@dataclass(frozen=True)
class Quadratic(Metrics):
    """Quadratic activation, d = 10, M = 3: the optimum's max |cos + 1/(M-1)| (large: not the ETF), its loss, the
    orthogonal frame's L* = 1 + 2/d - M(d+2)^2/(d^2(M+2)), and max |V V' - (d+2)/(d(M+2)) I|."""

    d: int
    M: int
    gram_offdiag_max_dev: float
    gd_loss: float
    orthogonal_L_star: float
    gram_max_abs_err_orthogonal: float


@dataclass(frozen=True)
class NegativeControls(Metrics):
    """E7: the premise M <= d + 1 removed (``m_gt_d_plus_1``, ``pentagon``) and the ReLU removed (``quadratic``)."""

    m_gt_d_plus_1: MGtDPlus1
    pentagon: Pentagon
    quadratic: Quadratic


# ----- the hard search of the open cases -----------------------------------------------------------
@dataclass(frozen=True)
class MixedStarts(Metrics):
    """The free-sign search's mixed-sign family (the premise reads it): ``starts`` per M, V_ij ~ N(0, V_scale^2)
    (``V_scale`` a formula, e.g. "2 / sqrt(d)"), b_j ~ N(0, b_scale^2), the optimizer, and what it counts for."""

    starts: int
    V_scale: str
    b_scale: float
    optimizer: str
    counts_for: str


@dataclass(frozen=True)
class SpreadStarts(Metrics):
    """The free-sign search's spread family: ``starts`` per M, V_ij ~ N(0, V_scale^2) (a number), b_j ~ N(0,
    b_scale^2), the optimizer, and what it counts for."""

    starts: int
    V_scale: float
    b_scale: float
    optimizer: str
    counts_for: str


@dataclass(frozen=True)
class StartFamilies(Metrics):
    """The free-sign search's two families of starts."""

    mixed: MixedStarts
    spread: SpreadStarts


@dataclass(frozen=True)
class SearchCase(Metrics):
    """One open case of the hard search, lists with one entry per M of ``M``: how many of ``starts`` starts end
    within ``rtol`` (relative) of the conjectured loss L_conj (``reached_conjectured``), best and median loss /
    L_conj (``best_loss_ratio`` below 1 - LOSS_RTOL would falsify), at (``alpha``, ``c``), output weights trained
    or not (``b_trained``)."""

    M: list[int]
    starts: int
    reached_conjectured: list[int]
    best_loss_ratio: list[float]
    median_loss_ratio: list[float]
    rtol: float
    alpha: float
    c: float
    b_trained: bool

    def best_below(self) -> float:
        """min over M of best_loss_ratio - 1 (below -LOSS_RTOL: a start beat the conjecture)."""
        return min(self.best_loss_ratio) - 1

    def reach_fraction(self) -> float:
        """min over M of reached_conjectured / starts (the premise: more than half)."""
        return min(self.reached_conjectured) / self.starts


@dataclass(frozen=True)
class NonCentredSearch(SearchCase):
    """The non-centred case (target's c, b = +1, GD starts); ``non_finite``: starts that blew up, per M."""

    non_finite: list[int]


@dataclass(frozen=True)
class FreeSignSearch(SearchCase):
    """The free-sign case (centred, b trained with either sign): the start families, ``reached_spread`` (the
    spread family's count within rtol), ``mixed_sign_starts`` (mixed starts drawn with b of both signs) and
    ``non_finite`` (mixed starts that blew up), per M."""

    start_families: StartFamilies
    reached_spread: list[int]
    mixed_sign_starts: list[int]
    non_finite: list[int]


@dataclass(frozen=True)
class OpenCaseSearch(Metrics):
    """The hard search of the two open cases."""

    free_sign: FreeSignSearch
    non_centred: NonCentredSearch


# ----- the record ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EtfMetrics(Metrics):
    """Claim 2's metrics. Keys of the tables: ``centred``, ``tilted``, ``tilted_readings``: M; ``tilted_c_sweep_gd``
    and the inner key of ``tilted_readings``: c (``f"{c:g}"``); ``sign_patterns``: "M=<M>,c=<c>", then p;
    ``expected_loss_identity``: "d=<d>,N=<N>"; ``finite_n``: "N=<N>,d=<d>"; ``approximation_error``:
    "<family>,d=<d>,N=<N>". ``centred_gram_max_dev`` = max over M of centred[M].gram_offdiag_max_dev;
    ``tilted_alpha_c`` = (alpha, c) of the target; ``mc_loss`` +- ``mc_se``: the Monte Carlo loss at the first
    finite-N optimum, whose closed form is ``closed_form_loss``."""

    kernel_max_abs_err_nt: float
    kernel_mc_max_abs_z: float
    kernel: Kernel
    centred: dict[str, CentredRow]
    centred_gram_max_dev: float
    tilted: dict[str, TiltedRow]
    tilted_alpha_c: tuple[float, float]
    c_sweep: CSweep
    tilted_c_sweep_gd: dict[str, TiltedCRow]
    tilted_readings: dict[str, dict[str, Readings]]
    sign_patterns: dict[str, dict[str, SignPatternRow]]
    expected_loss_identity: dict[str, IdentityCell]
    finite_n: dict[str, FiniteNRow]
    mc_loss: float
    mc_se: float
    closed_form_loss: float
    approximation_error: dict[str, ApproximationErrorRow]
    negative_controls: NegativeControls
    open_case_search: OpenCaseSearch

    def sign_rel_gaps(self) -> list[float]:
        """:attr:`SignPatternRow.rel_gap` of every (M, c, p)."""
        return [r.rel_gap for cell in self.sign_patterns.values() for r in cell.values()]

    def approximation_family(self, weights: str) -> list[ApproximationErrorRow]:
        """The rows of one target family of the approximation-error study."""
        return [r for r in self.approximation_error.values() if r.weights == weights]

"""Typed metrics of claim 4, finite- versus infinite-width networks (see :mod:`ntkrepro.metrics`): the
record :func:`~ntkrepro.claims.finite_vs_infinite.science.collect` builds and the checks of ``claim.py``
read through attributes. ``results.json``'s ``metrics`` is its serialization (field names are the JSON
keys). Imports neither jax nor the science.

Notation: n training points, k classes (one-hot targets y, centred), Theta the NTK, K the NNGP kernel,
lambda_max the largest eigenvalue of the training NTK, lr_max = 2 n k / lambda_max the largest stable
full-batch GD rate on the loss 1/2 mean((f - y)^2). Accuracies are fractions of the test set in [0, 1].
"""
from __future__ import annotations

from dataclasses import dataclass

from ntkrepro.metrics import Metrics, optional


# ----------------------------------------------------------------------------- F1 / F2 kernel side
@dataclass(frozen=True)
class KernelBaselines(Metrics):
    """The NNGP / NTK predictors on the claim's split (float64). ``lr = lr_factor * lr_max`` is the rate the
    finite networks train at; ``ntk_t_accuracy`` is the NTK predictor at the networks' training time
    (``steps`` at ``lr``); ``nngp_accuracy`` / ``ntk_accuracy`` at infinite time. ``gp_posterior_variance``:
    the mean diagonal of the NTK-GP posterior covariance at time t (the variance an infinitely wide uncentred
    network keeps). ``kernel_max_abs_err_closed_form``: max |stax - arc-cosine recursion| over NNGP and NTK
    entries on <= 100 points, beside ``kernel_scale`` = max |NTK entry|. ``prediction_max_abs_err_eig``:
    max |nt.predict mean(t) - K_*x K^-1 (I - exp(-lr t K/(nk))) y|."""

    lr_max: float
    lr: float
    nngp_accuracy: float
    ntk_accuracy: float
    ntk_t_accuracy: float
    gp_posterior_variance: float
    kernel_max_abs_err_closed_form: float
    kernel_scale: float
    prediction_max_abs_err_eig: float


# ----------------------------------------------------------------------------- F1 / F3 width sweep
@dataclass(frozen=True)
class WidthRow(Metrics):
    """One width of the sweep (``n_seeds`` seeds, ``steps`` GD steps at ``kernel.lr``). ``accuracy_mean`` /
    ``accuracy_std`` (ddof=1): single uncentred nets over seeds; ``ensemble_accuracy``: argmax of the mean
    output over seeds; ``centered_*``: nets trained as f(x; theta) - f(x; theta_0). Variances: over seeds
    (ddof=1), mean over test points and classes. ``centered_agreement``: argmax agreement with the NTK
    predictor at time t (mean over seeds); ``centered_rmse_to_ntk``: RMS distance of the outputs to it.
    ``final_train_loss*``: the last step's loss, mean over seeds."""

    accuracy_mean: float
    accuracy_std: float
    ensemble_accuracy: float
    centered_accuracy: float
    uncentered_variance: float
    centered_variance: float
    centered_agreement: float
    centered_rmse_to_ntk: float
    final_train_loss: float
    final_train_loss_centered: float


# ----------------------------------------------------------------------------- F4 breaking
@dataclass(frozen=True)
class BreakRun(Metrics):
    """Centred nets of width ``break_width`` (``break_seeds`` seeds, ``break_steps`` steps) at rate
    ``lr_factor * lr_max`` with L2 ``weight_decay`` (wd/2 ||theta||^2). ``delta_ntk`` = ||Theta_T - Theta_0||_F /
    ||Theta_0||_F of the empirical NTK on ``n_ntk`` training points (mean over seeds; per seed in
    ``delta_ntk_per_seed``); ``delta_ntk_shape`` = min_c ||c Theta_T - Theta_0||_F / ||Theta_0||_F (rescale
    invariant). ``agreement``: argmax agreement with the NTK predictor at the same rate and step count."""

    lr_factor: float
    weight_decay: float
    delta_ntk: float
    delta_ntk_per_seed: list[float]
    delta_ntk_shape: float
    delta_ntk_shape_per_seed: list[float]
    agreement: float
    accuracy: float
    final_train_loss: float


@dataclass(frozen=True)
class NtkChangeSettings(Metrics):
    """One relative NTK change per setting: the stable rate (``lr_factor``, no L2), the largest rate of
    ``lr_factors_break`` and the largest weight decay."""

    stable: float
    large_lr: float
    l2: float


@dataclass(frozen=True)
class NtkChangeAtWidth(Metrics):
    """One width of ``break_widths``: the raw change ||Theta_T - Theta_0|| / ||Theta_0|| per setting (the
    fields of :class:`NtkChangeSettings`) and the rescale-invariant change beside it."""

    stable: float
    large_lr: float
    l2: float
    delta_ntk_shape: NtkChangeSettings


@dataclass(frozen=True)
class L2ToInit(Metrics):
    """At ``width`` = ``break_width``: L2 toward the initial weights (wd/2 ||theta - theta_0||^2, the largest wd),
    which shrinks nothing: its raw and rescale-invariant NTK change and agreement with the NTK predictor."""

    width: int
    weight_decay: float
    delta_ntk: float
    delta_ntk_shape: float
    agreement: float


# ----------------------------------------------------------------------------- F6
@dataclass(frozen=True)
class RidgeVsTime(Metrics):
    """One kernel over the eps grid (``diag_regs``): accuracy of kernel ridge K + eps tr(K)/n I, of gradient
    flow stopped at t(eps) = n k / (eps tr K / n), and those times."""

    accuracy_vs_diag_reg: list[float]
    accuracy_vs_time: list[float]
    times: list[float]


@dataclass(frozen=True)
class DiagRegVsTime(Metrics):
    """F6: ``max_gap`` = max |acc(eps) - acc(t(eps))| over the eps grid and both kernels;
    ``max_gap_wrong_time_map``: the same with the time map off by a factor, keyed ``"x10"`` / ``"x0.1"``."""

    diag_regs: list[float]
    nngp: RidgeVsTime
    ntk: RidgeVsTime
    max_gap: float
    max_gap_wrong_time_map: dict[str, float]


# ----------------------------------------------------------------------------- F7
@dataclass(frozen=True)
class Float16Calibration(Metrics):
    """Emulated float16 Cholesky solves at ``sizes`` (= ``lowp_sizes``), one entry per size:
    ``cholesky_ok``, the column where it met a non-positive pivot (``failed_at_column``, null when it
    succeeded), float16 (null when it failed) and float64 accuracy, lambda_min/lambda_max. ``broken_sizes``:
    sizes where the factorization failed or accuracy fell > 0.05 below float64; ``first_broken_n`` and
    ``calibration_factor`` = first_broken_n / predicted_n_star_float16 (null when none broke)."""

    sizes: list[int]
    cholesky_ok: list[bool]
    failed_at_column: list[int]
    float16_accuracy: list[float]
    float64_accuracy: list[float]
    cond_ratio: list[float]
    broken_sizes: list[int]
    first_broken_n: int
    predicted_n_star_float16: float
    calibration_factor: float


@dataclass(frozen=True)
class Precision(Metrics):
    """F7 at ``sizes`` (= ``precision_sizes``): lambda_min/lambda_max of the NNGP kernel (``cond_ratio``), its
    log-log fit log r = intercept + cond_slope log n (R^2 ``cond_fit_r2``), the extrapolated size where r
    reaches float32's epsilon (``critical_n_float32``), float32/float64 solve accuracies and whether the
    float32 Cholesky succeeded, one entry per size."""

    sizes: list[int]
    cond_ratio: list[float]
    cond_slope: float
    cond_fit_r2: float
    critical_n_float32: float
    float32_accuracy: list[float]
    float64_accuracy: list[float]
    float32_cholesky_ok: list[bool]
    float16_calibration: Float16Calibration


# ----------------------------------------------------------------------------- F2
@dataclass(frozen=True)
class NngpVsNtk(Metrics):
    """F2 over ``n_splits`` resplits of ``dataset``: per split, test accuracy of each arm at infinite time and
    its ridge chosen on validation (lists of length n_splits); NNGP - NTK mean difference with its 90 %
    corrected resampled t interval [ci_low, ci_high] and minimum detectable effect ``mde``; ``wins`` / ``ties``
    count splits where NNGP is above / equal."""

    dataset: str
    n_splits: int
    mean_diff: float
    ci_low: float
    ci_high: float
    mde: float
    nngp_accuracy: list[float]
    ntk_accuracy: list[float]
    nngp_diag_reg: list[float]
    ntk_diag_reg: list[float]
    wins: int
    ties: int


# ----------------------------------------------------------------------------- F5
@dataclass(frozen=True)
class ParameterizationRun(Metrics):
    """One parameterization: its largest stable rate ``lr_max`` (2nk / lambda_max of its empirical NTK at
    init), the rate factor chosen on validation, that validation accuracy, and test accuracy per seed."""

    lr_max: float
    lr_factor: float
    val_accuracy: float
    test_accuracy_per_seed: list[float]


@dataclass(frozen=True)
class ParameterizationRuns(Metrics):
    """The two arms of F5."""

    ntk: ParameterizationRun
    standard: ParameterizationRun


@dataclass(frozen=True)
class Parameterization(Metrics):
    """F5 at ``width`` (= ``break_width``): mean test accuracies, and NTK - standard with its 90 % paired t
    interval over seeds (``mde``: minimum detectable effect)."""

    ntk_accuracy: float
    standard_accuracy: float
    width: int
    mean_diff: float
    ci_low: float
    ci_high: float
    mde: float
    runs: ParameterizationRuns


# ----------------------------------------------------------------------------- F1-CNN (full profile)
@dataclass(frozen=True)
class CnnGrid(Metrics):
    """The searched grid of the tuned CNN: Adam rates, L2 coefficients, early-stopping reads (steps)."""

    lr: list[float]
    l2: list[float]
    stop_steps: list[int]


@dataclass(frozen=True)
class CnnChoice(Metrics):
    """The (lr, l2) cell chosen on validation and each seed's early-stopping step."""

    lr: float
    l2: float
    stop_steps: list[int]


@dataclass(frozen=True)
class TunedNet(Metrics):
    """The tuned standard-parameterization CNN-GAP: test accuracy mean over seeds with its paired bootstrap
    interval, per seed, and the validation accuracy per (lr, l2) cell (``val_accuracy_grid[i][j]``, mean over
    seeds of the early-stopped accuracy); ``finite``: no NaN/inf output at the chosen cell."""

    grid: CnnGrid
    chosen: CnnChoice
    n_seeds: int
    accuracy_mean: float
    ci_low: float
    ci_high: float
    accuracy_per_seed: list[float]
    val_accuracy_grid: list[list[float]]
    optimizer: str
    parameterization: str
    width: int
    batch: int
    steps: int
    finite: bool


@dataclass(frozen=True)
class KernelChoice(Metrics):
    """The kernel (``"nngp"`` or ``"ntk"``) and ridge chosen on validation."""

    kernel: str
    diag_reg: float


@dataclass(frozen=True)
class TunedKernel(Metrics):
    """The tuned CNN-GAP kernel arm: grids, the choice, its validation and test accuracy, and the validation
    accuracy per ``"<kernel>/<diag_reg>"``."""

    diag_reg_grid: list[float]
    kernel_grid: list[str]
    chosen: KernelChoice
    val_accuracy: float
    accuracy: float
    val_accuracy_grid: dict[str, float]


@dataclass(frozen=True)
class Interval(Metrics):
    """A paired bootstrap interval of a test-accuracy difference over seeds and test points (F1-CNN's net - kernel,
    F10's (CNN - LCN narrow) - (CNN - LCN wide)): mean, 90 % [ci_low, ci_high], ``n`` seeds, standard error ``se``,
    minimum detectable effect ``mde``, test points; ``se_seeds`` / ``se_points``: the parts of the standard error
    that more seeds / more test points shrink (:func:`ntkrepro.stats.paired_bootstrap`; absent in records that
    predate them)."""

    mean_diff: float
    ci_low: float
    ci_high: float
    n: int
    se: float
    mde: float
    n_test: int
    method: str
    se_seeds: float | None = optional()
    se_points: float | None = optional()


@dataclass(frozen=True)
class TunedSplit(Metrics):
    """Sizes of the tuned comparison's disjoint MNIST-1D splits and the architecture in words."""

    n_train: int
    n_val: int
    n_test: int
    architecture: str


@dataclass(frozen=True)
class CnnComparison(Metrics):
    """F1 on MNIST-1D (``n_train`` / ``n_test`` = ``cnn_n_train`` / ``cnn_n_test``). Lazy reference, for the FCN
    and the CNN: infinite-time NTK regression accuracy (``*_kernel_accuracy``), the finite net trained at half
    its kernel's largest stable rate (mean and per-seed accuracy, final loss, finite), and the kernel at the
    same step count (``*_kernel_t_accuracy``). Then the tuned comparison (issue 29)."""

    dataset: str
    n_train: int
    n_test: int
    fcn_kernel_accuracy: float
    fcn_net_final_train_loss: float
    fcn_net_finite: bool
    fcn_net_accuracy: float
    fcn_net_accuracy_per_seed: list[float]
    fcn_kernel_t_accuracy: float
    cnn_kernel_accuracy: float
    cnn_net_final_train_loss: float
    cnn_net_finite: bool
    cnn_net_accuracy: float
    cnn_net_accuracy_per_seed: list[float]
    cnn_kernel_t_accuracy: float
    tuned_net: TunedNet
    tuned_kernel: TunedKernel
    interval_method: str
    tuned_gap: Interval
    tuned_split: TunedSplit


# ----------------------------------------------------------------------------- F8 (full profile)
@dataclass(frozen=True)
class ZcaChoice(Metrics):
    """One resplit's choices on validation: ZCA's eps and ridge, the layer-norm-only arm's ridge."""

    zca_reg: float
    zca_diag_reg: float
    plain_diag_reg: float


@dataclass(frozen=True)
class ZcaReposed(Metrics):
    """F8 with the NNGP of ``kernel`` (``"fcn"`` or ``"conv"``) over ``n_splits`` resplits: per-split test
    accuracies of both arms and their choices; ZCA - plain mean with its 90 % corrected resampled t interval."""

    kernel: str
    n_splits: int
    mean_diff: float
    ci_low: float
    ci_high: float
    mde: float
    zca_accuracy: list[float]
    plain_accuracy: list[float]
    chosen: list[ZcaChoice]


# ----------------------------------------------------------------------------- the record
@dataclass(frozen=True, kw_only=True)  # kw_only: optional fields keep their place in the JSON order
class FiniteVsInfiniteMetrics(Metrics):
    """Everything a run of claim 4 measures. Tables keyed by data: ``finite`` and ``delta_ntk_vs_width`` by
    width (``"512"``), ``breaking`` by configuration (``"lr=1.5"``, ``"l2=0.0001"``), ``l2_shrinkage_prediction``
    by weight decay (1 - s^2 with s = (1 - lr wd)^T), ``zca`` by eps (``"none"`` for layer-norm only),
    ``empirical_ntk_relative_error`` by width (||Theta_emp - Theta|| / ||Theta||, mean over seeds).
    Slopes are log-log slopes against width. Optional: ``zca``, ``zca_reposed*`` (run_zca), ``cnn`` (run_cnn),
    ``nngp_vs_ntk_mnist1d`` (absent when the claim's data set is MNIST-1D itself)."""

    kernel: KernelBaselines
    finite: dict[str, WidthRow]
    centered_variance_slope: float
    uncentered_variance_slope: float
    uncentered_to_gp_variance_ratio: float  # Var_seeds(uncentred outputs) / gp_posterior_variance, largest width
    centered_agreement_largest_width: float
    breaking: dict[str, BreakRun]
    diag_reg_vs_time: DiagRegVsTime
    diag_reg_vs_time_max_gap: float
    precision: Precision
    zca: dict[str, float] | None = optional()
    l2_shrinkage_prediction: dict[str, float]
    nngp_vs_ntk: NngpVsNtk
    nngp_vs_ntk_mnist1d: NngpVsNtk | None = optional()
    empirical_ntk_slope: float
    delta_ntk_vs_width: dict[str, NtkChangeAtWidth]
    delta_ntk_width_slope: float
    l2_to_init: L2ToInit
    parameterization: Parameterization
    cnn: CnnComparison | None = optional()
    empirical_ntk_relative_error: dict[str, float]
    zca_reposed: ZcaReposed | None = optional()
    zca_reposed_conv: ZcaReposed | None = optional()
    equivariance: Equivariance | None = optional()  # F10 (issue 29)
    augmentation: AugmentationEnsemble | None = optional()  # X2 (issue 29)
    layerwise_l2: LayerwiseL2 | None = optional()  # X1 (issue 29 item 7; absent in records that predate it)

    def largest_width(self, widths: list[int]) -> WidthRow:
        """The width-sweep row of the largest of ``widths`` (the claim's increasing ``widths`` parameter)."""
        return self.finite[str(widths[-1])]

    def nngp_vs_ntk_rows(self) -> list[NngpVsNtk]:
        """The F2 comparisons this run made (the claim's data set, then MNIST-1D when it ran)."""
        return [self.nngp_vs_ntk] + ([self.nngp_vs_ntk_mnist1d] if self.nngp_vs_ntk_mnist1d is not None else [])


# ----------------------------------------------------------------------------- F10 (issue 29)
@dataclass(frozen=True)
class EquivarianceKernelArm(Metrics):
    """One architecture's infinite-width NTK predictor (infinite time): ridge chosen on validation, its
    validation and test accuracy."""

    diag_reg: float
    val_accuracy: float
    accuracy: float


@dataclass(frozen=True, kw_only=True)  # kw_only: the old records' fields keep their place (record.compare's order)
class EquivarianceNetArm(Metrics):
    """One architecture at one width: the Adam rate ``lr`` chosen on validation (mean over seeds of the
    early-stopped validation accuracy), that validation accuracy, test accuracy mean and per seed (each seed at
    its early-stopping read ``stop_steps``), the full-batch training loss after the last step
    (``final_train_loss``) and at the stop (``train_loss_at_stop``), both mean over seeds, whether every chosen
    run stayed finite, and the validation accuracy per rate of the grid (-1: a diverged run). Records that
    predate the Adam protocol (GD in the NTK parameterization) have ``lr_max`` (the network's own largest stable
    rate) and ``lr_factor`` (the chosen rate in its units) instead of ``lr``, ``stop_steps`` and
    ``train_loss_at_stop``."""

    lr_max: float | None = optional()
    lr_factor: float | None = optional()
    lr: float | None = optional()
    val_accuracy: float
    accuracy_mean: float
    accuracy_per_seed: list[float]
    final_train_loss: float
    train_loss_at_stop: float | None = optional()
    stop_steps: list[int] | None = optional()
    finite: bool
    val_accuracy_per_lr: list[float]


@dataclass(frozen=True)
class BootInterval(Metrics):
    """A paired bootstrap interval over seeds and test points: mean, 90 % [ci_low, ci_high], ``n`` seeds,
    bootstrap standard error ``se``, minimum detectable effect ``mde``; ``se_seeds`` / ``se_points``: its seed and
    test-point parts (absent in records that predate them)."""

    mean_diff: float
    ci_low: float
    ci_high: float
    n: int
    se: float
    mde: float
    se_seeds: float | None = optional()
    se_points: float | None = optional()


@dataclass(frozen=True)
class EquivarianceWidth(Metrics):
    """One width: the CNN and LCN arms and the CNN - LCN test accuracy advantage."""

    cnn: EquivarianceNetArm
    lcn: EquivarianceNetArm
    advantage: BootInterval


@dataclass(frozen=True)
class DidInterval(Metrics):
    """(CNN - LCN at the narrow width) - (CNN - LCN at the wide width): paired bootstrap over seeds and test
    points."""

    mean_diff: float
    ci_low: float
    ci_high: float
    n: int
    se: float
    mde: float
    n_test: int
    method: str
    se_seeds: float | None = optional()
    se_points: float | None = optional()


@dataclass(frozen=True, kw_only=True)  # kw_only: the old records' fields keep their place (record.compare's order)
class Equivariance(Metrics):
    """F10 on MNIST-1D: CNN-VEC (``stax.Conv``) against LCN-VEC (``stax.ConvLocal``), Flatten readout, NTK
    parameterization. Kernel half: each NTK predictor with its ridge chosen on validation
    (``kernel_cnn`` / ``kernel_lcn``), their accuracy difference ``kernel_advantage`` and the largest
    relative entry difference of the two kernel matrices (0 in exact arithmetic). Finite half: ``nets`` keyed
    by width (narrow, wide), and the narrow-minus-wide advantage interval. Since issue 29's re-run the nets are
    standard-parameterization networks trained with Adam (``optimizer``, ``parameterization``, ``loss``,
    ``lr_grid``, ``batch``, ``eval_every``: early stopping on validation), and ``zero_predictor_train_loss`` is
    the training loss of the constant 0 (what a net that learnt nothing keeps); older records have ``lr_max``
    and ``lr_factor_grid`` (GD in the NTK parameterization) instead."""

    dataset: str
    n_train: int
    n_val: int
    n_test: int
    depth: int
    readout: str
    kernel: str
    widths: list[int]
    n_seeds: int
    steps: int
    eval_every: int | None = optional()
    batch: int | None = optional()
    lr_grid: list[float] | None = optional()
    optimizer: str | None = optional()
    parameterization: str | None = optional()
    loss: str | None = optional()
    zero_predictor_train_loss: float | None = optional()
    lr_max: float | None = optional()
    lr_factor_grid: list[float] | None = optional()
    diag_reg_grid: list[float]
    kernel_relative_difference: float
    kernel_cnn: EquivarianceKernelArm
    kernel_lcn: EquivarianceKernelArm
    kernel_advantage: float
    nets: dict[str, EquivarianceWidth]
    advantage_narrow_minus_wide: Interval  # (CNN - LCN narrow) - (CNN - LCN wide)
    architecture: str


# ----------------------------------------------------------------------------- X2 (issue 29)
@dataclass(frozen=True)
class AugmentationEnsemble(Metrics):
    """X2 over ``n_splits`` resplits of ``dataset``: the single kernel predictor against the mean of the
    predictors fitted on ``members`` random augmented draws of the training set (each image shifted by one of
    ``shifts``, (dy, dx) pixels, drawn uniformly and independently), per-split test
    accuracies and ridges chosen on validation; ensemble - single mean with its 90 % corrected resampled t
    interval."""

    dataset: str
    n_splits: int
    n_train: int
    n_test: int
    kernel: str
    shifts: list[list[int]]
    members: int
    form: str
    mean_diff: float
    ci_low: float
    ci_high: float
    mde: float
    single_accuracy: list[float]
    ensemble_accuracy: list[float]
    single_diag_reg: list[float]
    ensemble_diag_reg: list[float]
    diag_reg_grid: list[float]
    wins: int
    ties: int


# ----------------------------------------------------------------------------- X1 (issue 29 item 7)
@dataclass(frozen=True)
class LayerwiseL2Arm(Metrics):
    """One arm of X1 (plain L2, layer-wise scaled L2, or the no-L2 reference) at one width. Tuning (mean over the
    tuning seeds, per (lambda, lr) cell of ``lambda_grid`` x ``lr_grid``): the early-stopped validation accuracy
    ``val_accuracy_grid[i][j]`` and the number of tuning seeds that stayed finite ``finite_tuning_seeds_grid``.
    The rate rule (``rate_rule`` of the section), per lambda: the stability edge ``edge_lr_per_lambda`` (the
    largest rate below that lambda's smallest unstable rate; null when its smallest rate is unstable) and whether
    some rate was unstable there (``edge_located_per_lambda``: the edge lies inside the grid). The chosen cell
    (``chosen_lambda``, ``chosen_lr``: the best on validation among the rates at least one grid step below their
    lambda's edge; null without a choice), and at the chosen lambda ``edge_lr``, ``edge_located`` (False without
    a choice) and ``largest_eligible_lr`` (one grid step below the edge); the chosen cell's validation accuracy,
    and the verdict seeds at it: test accuracy per seed and mean, each seed's early-stopping step, validation
    accuracy there, and whether each verdict run stayed finite (``verdict_finite``)."""

    lambda_grid: list[float]
    lr_grid: list[float]
    val_accuracy_grid: list[list[float]]
    finite_tuning_seeds_grid: list[list[int]]
    edge_lr_per_lambda: list[float | None]
    edge_located_per_lambda: list[bool]
    edge_lr: float | None
    edge_located: bool
    largest_eligible_lr: float | None
    chosen_lambda: float | None
    chosen_lr: float | None
    val_accuracy: float | None
    accuracy_per_seed: list[float] | None
    accuracy_mean: float | None
    stop_steps: list[int] | None
    verdict_val_accuracy: list[float] | None
    verdict_finite: list[bool] | None


@dataclass(frozen=True)
class LayerwiseL2Width(Metrics):
    """One width of X1: the three arms and the scaled - plain test accuracy interval (paired bootstrap over the
    verdict seeds and test points; null when plain or scaled had no choice)."""

    plain: LayerwiseL2Arm
    scaled: LayerwiseL2Arm
    no_l2: LayerwiseL2Arm
    advantage: Interval | None


@dataclass(frozen=True)
class LayerwiseL2(Metrics):
    """X1 on digits (:func:`~ntkrepro.claims.finite_vs_infinite.l2scaling.x1_study`): standard-parameterization
    FCNs at ``widths`` ([narrow, wide]) trained with plain L2 (``penalties["plain"]``) and the layer-wise scaled L2
    (``penalties["scaled"]``, the NTK-parameterization L2 of the same function; reconstructed), each arm's
    (lambda, lr) cell chosen on validation over ``tuning_seeds`` by ``rate_rule`` (a stability margin of one
    grid step), then run on ``verdict_seeds``; ``per_width`` keyed by width."""

    dataset: str
    n_train: int
    n_val: int
    n_test: int
    depth: int
    widths: list[int]
    steps: int
    eval_every: int
    batch: int
    tuning_seeds: list[int]
    verdict_seeds: list[int]
    scaled_penalty: bool
    architecture: str
    loss: str
    optimizer: str
    penalties: dict[str, str]
    rate_rule: str
    per_width: dict[str, LayerwiseL2Width]

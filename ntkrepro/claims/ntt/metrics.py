"""Typed metrics of claim 5, neural tangent transfer (see :mod:`ntkrepro.metrics`): the record the
science builds (:func:`ntkrepro.claims.ntt.science.collect`), ``results.json``'s ``metrics`` is its
serialization, and the checks in ``claim.py`` read it through attributes.

Keys that are data: ``"<method>@<density>"`` (e.g. ``"ntt@0.02"``: :class:`SummaryRow`, NTT runs),
``"<density>"`` (``"0.02"``), method names (``"snip_global"``) and comparison keys
``"ntt_vs_<method>_<allocation>"`` (the pairs depend on the ``methods`` parameter). Imports neither
jax nor the science.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ntkrepro.metrics import Metrics, optional


@dataclass(frozen=True)
class RunRecord(Metrics):
    """One (method, density, seed) run, from the same dense initialization per seed.

    ``rel_ntk_error`` = ||Theta_s - Theta_t||_F / ||Theta_t||_F on the held-out cross-kernel of the two
    halves of ``n_ntk_eval`` test inputs (full K x K), Theta_s over the dense Jacobian at m * theta;
    ``rel_ntk_error_masked`` the same for the kernel the sparse net trains with, J_m J_m^T;
    ``rel_output_error`` = ||f_s - f_t|| / ||f_t||, all at the start of supervised training.
    Accuracies at ``chosen_epoch`` (1-based, the stopping rule's epoch); ``epochs_to_plateau`` None when
    the run never plateaued. ``early_train_loss``: mean training loss over the first 30 % of the epoch
    budget. ``ntt_steps``/``ntt_steps_run``: NTT's plateau step (None = not reached) and steps run, None
    for the non-NTT methods. ``achieved_density_per_layer``/``layer_count_errors``: one entry per weight
    matrix (one total entry in ``layer_count_errors`` for a global mask). ``disconnected_classes`` /
    ``units_reaching_output``: mask connectivity (output classes no input reaches; hidden units on an
    input-to-output path)."""

    method: str
    allocation: str
    density: float
    seed: int
    lr: float
    rel_ntk_error: float
    rel_ntk_error_masked: float
    rel_output_error: float
    test_accuracy: float
    val_accuracy: float
    epochs_to_plateau: int
    chosen_epoch: int
    early_train_loss: float
    final_train_loss: float
    epochs_run: int
    ntt_steps: int
    ntt_steps_run: int
    achieved_density_per_layer: list[float]
    layer_count_errors: list[int]
    pruned_weights_nonzero_after_training: int
    disconnected_classes: int
    units_reaching_output: int


@dataclass(frozen=True)
class MeanSd(Metrics):
    """Mean and sample sd (ddof 1; 0 for one seed) over seeds."""

    mean: float
    std: float


@dataclass(frozen=True)
class SummaryRow(Metrics):
    """Per ``method@density``: mean and sd over seeds of the run quantities of :class:`RunRecord`."""

    rel_ntk_error: MeanSd
    rel_ntk_error_masked: MeanSd
    rel_output_error: MeanSd
    test_accuracy: MeanSd
    early_train_loss: MeanSd


@dataclass(frozen=True)
class Training(Metrics):
    """The supervised phase, the same for every method: optimizer, rate, batch, stopping rule
    (``patience`` epochs without a ``plateau_rtol`` relative improvement of the validation loss)."""

    optimizer: str
    lr: float
    batch: int
    stop_rule: str
    patience: int
    plateau_rtol: float
    max_epochs: int
    same_for_every_method: bool


@dataclass(frozen=True)
class Data(Metrics):
    """The split: ``n_fit`` training + ``n_validation`` validation examples (= n_train), ``n_test`` test
    examples of ``input_dim`` inputs."""

    dataset: str
    n_fit: int
    n_validation: int
    n_test: int
    input_dim: int


@dataclass(frozen=True)
class PairedInterval(Metrics):
    """Test accuracy of ``arms[0]`` (NTT) minus ``arms[1]`` at ``density``: ``mean_diff`` and the
    ``level`` (0.90) percentile interval [ci_low, ci_high] of the paired bootstrap over seeds and test
    points (``n`` = ``n_seeds`` seeds, ``n_test`` points, standard error ``se``, minimum detectable
    effect ``mde``, split into its seed part ``se_seeds`` and its test-set part ``se_points``, the floor
    no number of seeds removes); ``sd_diff`` and ``p_one_sided_t``: the paired t over seeds (H1: NTT
    larger; None when undefined)."""

    mean_diff: float
    ci_low: float
    ci_high: float
    n: int
    n_test: int
    level: float
    se: float
    mde: float
    method: str
    density: float
    n_seeds: int
    arms: list[str]
    allocation: str
    sd_diff: float
    p_one_sided_t: float
    se_seeds: float | None = optional()
    se_points: float | None = optional()


@dataclass(frozen=True)
class NttSteps(Metrics):
    """One NTT variant at one density: steps run, the plateau step per seed (None = not reached within
    ``budget`` = ntt_steps), how many of the ``n`` seeds reached it."""

    steps_run: int
    plateau_step_per_seed: list[int]
    reached: int
    n: int
    budget: int


@dataclass(frozen=True)
class PlateauCount(Metrics):
    """Mean epochs to the plateau over seeds (a run that never plateaued counts as ``epochs``) and the
    number of such runs."""

    mean: float
    not_plateaued: int


@dataclass(frozen=True)
class MaskDiagnostics(Metrics):
    """Mean over seeds of a method's mask connectivity (see :class:`RunRecord`)."""

    disconnected_classes: float
    units_reaching_output: float


@dataclass(frozen=True)
class Power(Metrics):
    """The power calculation (claim.POWER) and, from this run's NTT - SNIP (layerwise) paired sd at the
    highest sparsity, the seeds a one-sided test of ``effect`` at ``alpha_one_sided`` needs for
    ``power``: n = ((z_{1-alpha} + z_power) sd / effect)^2 (absent when SNIP-layerwise was not run or
    the sd is 0)."""

    effect: float
    alpha_one_sided: float
    power: float
    seeds_run: int
    pilot: str
    sd_diff_this_run: float | None = optional()
    seeds_needed_from_this_run: int | None = optional()


@dataclass(frozen=True)
class TunedRateDiff(Metrics):
    """Sensitivity analysis: the two arms' best rates on validation and NTT's mean test-accuracy lead."""

    lr: list[float]
    mean_diff: float


@dataclass(frozen=True)
class SensitivityTunedRates(Metrics):
    """Every method at its own best rate from ``lr_grid`` (only with ``lr_grid`` set); ``by_density``:
    density -> comparison key -> :class:`TunedRateDiff`. Never the verdict's basis."""

    label: str
    lr_grid: list[float]
    by_density: dict[str, dict[str, TunedRateDiff]]


@dataclass(frozen=True)
class NttMetrics(Metrics):
    """Claim 5's record. ``per_run``: every (method, density, seed) run. ``summary``: method@density ->
    :class:`SummaryRow`. ``paired_accuracy_by_density``: density -> comparison key -> interval;
    ``paired_accuracy`` and ``paired_accuracy_at_highest_sparsity`` are its row at the lowest density;
    ``fresh_value_ablation``: density -> NTT vs NTT's mask with fresh values (when that method ran).
    ``ntt_steps`` / ``ntt_val_curves``: ``<ntt variant>@<density>`` -> steps and the seed-mean held-out
    NTT objective every ``mask_every`` steps. ``epochs_to_plateau``: method -> density -> count;
    ``mask_diagnostics``: method -> connectivity at the highest sparsity (``_by_density``: density ->
    method -> ...). ``label_permutation_masks_identical``: NTT's masks from the split and from the
    split with permuted labels are bitwise equal (None when NTT did not run)."""

    per_run: list[RunRecord]
    summary: dict[str, SummaryRow]
    dense_test_accuracy: float
    dense_test_accuracy_per_seed: list[float]
    dense_lr: float
    training: Training
    data: Data
    interval_method: str
    paired_accuracy_at_highest_sparsity: dict[str, PairedInterval]
    paired_accuracy: dict[str, PairedInterval]
    paired_accuracy_by_density: dict[str, dict[str, PairedInterval]]
    fresh_value_ablation: dict[str, PairedInterval]
    ntt_steps: dict[str, NttSteps]
    ntt_val_curves: dict[str, list[float]]
    epochs_to_plateau: dict[str, dict[str, PlateauCount]]
    mask_diagnostics: dict[str, MaskDiagnostics]
    mask_diagnostics_by_density: dict[str, dict[str, MaskDiagnostics]]
    label_permutation_masks_identical: bool
    highest_sparsity_density: float
    ntt_rel_ntk_error_highest_sparsity: float
    ntt_rel_ntk_error_masked_highest_sparsity: float
    power: Power | None = optional()  # absent when collect() is given no power calculation
    sensitivity_tuned_rates: SensitivityTunedRates | None = optional()  # only with lr_grid set

    def cell(self, method: str, density: float, key: str) -> np.ndarray:
        """One method's values of the :class:`RunRecord` field ``key`` at ``density``, ordered by seed."""
        return cell(self.per_run, method, density, key)


def cell(runs: list[RunRecord], method: str, density: float, key: str) -> np.ndarray:
    """The values of the :class:`RunRecord` field ``key`` for ``method`` at ``density``, ordered by seed."""
    return np.array([getattr(r, key) for r in sorted(runs, key=lambda r: r.seed)
                     if r.method == method and r.density == density])

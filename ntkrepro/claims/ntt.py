"""Registry entry: neural tangent transfer (Liu & Zenke 2020)."""
from __future__ import annotations

from ntkrepro.params import (Params, ParamSet, choice_list, int_list, integer, real, real_list,
                             require)
from ntkrepro.registry import CheckSpec, Claim, Paper

METHODS = ("ntt", "ntt_no_kernel", "magnitude", "random", "scaled_random", "snip", "logit_snip",
           "ntt_mask_fresh_init")
REQUIRED = ("ntt", "ntt_no_kernel", "magnitude", "random", "snip")


def _rules(p: Params) -> None:
    missing = [m for m in REQUIRED if m not in p.methods]
    require(not missing, "methods", f"must include {list(REQUIRED)} (the checks compare them); missing {missing}")
    require(len(set(p.methods)) == len(p.methods), "methods", "must not repeat a method")
    require(p.batch_size % 2 == 0, "batch_size", "must be even (the batch is split in two halves)")
    require(p.mask_every < p.ntt_steps, "mask_every", f"must be < ntt_steps = {p.ntt_steps}")
    require(p.n_ntk_eval % 2 == 0 and p.n_ntk_eval <= 594, "n_ntk_eval", "must be even and <= 594 test points")
    require(p.profile != "full" or p.seeds >= 3, "seeds", "the full profile's paired tests need >= 3 seeds")


PARAMS = ParamSet(
    params=(
        real_list("densities", 1e-3, 1.0, "fractions of weights kept per layer"),
        integer("seeds", 1, 64, "number of seeds (dense initializations), vmapped"),
        choice_list("methods", METHODS, "pruning methods to compare"),
        integer("ntt_steps", 2, 100_000, "NTT optimization steps"),
        real("lambda_ker", 0.0, 1e3, "weight of the NTK distance (the authors: 1e-3)"),
        real("lambda_l2", 0.0, 1.0, "L2 weight on masked weights, divided by the density (authors: 1e-4)"),
        real("lr_ntt", 1e-6, 1.0, "Adam step size of NTT (authors: 5e-4)"),
        integer("batch_size", 2, 1024, "unlabeled batch size of NTT, split into two halves (authors: 64)"),
        integer("mask_every", 1, 100_000, "steps between magnitude-mask updates (authors: 100)"),
        integer("epochs", 1, 10_000, "supervised training epochs (mask held fixed)"),
        real("lr_train", 1e-6, 1.0, "Adam step size of supervised training"),
        int_list("hidden", 1, 4096, "hidden layer widths of the MLP"),
        integer("n_ntk_eval", 2, 594, "held-out test inputs for the NTK error (split in two halves)"),
        integer("snip_examples", 1, 1203, "labeled examples used by SNIP (and inputs for logit-SNIP)"),
    ),
    profiles={
        "smoke": dict(densities=[0.02], seeds=2,
                      methods=["ntt", "ntt_no_kernel", "magnitude", "random", "snip"], ntt_steps=500,
                      lambda_ker=1e-3, lambda_l2=1e-4, lr_ntt=5e-4, batch_size=64, mask_every=100,
                      epochs=10, lr_train=1e-3, hidden=[300, 100], n_ntk_eval=128, snip_examples=100),
        "full": dict(densities=[0.1, 0.05, 0.02], seeds=5, methods=list(METHODS), ntt_steps=600,
                     lambda_ker=1e-3, lambda_l2=1e-4, lr_ntt=5e-4, batch_size=64, mask_every=100,
                     epochs=60, lr_train=1e-3, hidden=[300, 100], n_ntk_eval=128, snip_examples=100),
    },
    rules=_rules,
)

CHECKS = (
    CheckSpec("exact_density_per_layer", "every mask keeps round(density * size) weights per layer (+-1)"),
    CheckSpec("pruned_weights_stay_zero", "pruned weights are exactly zero after supervised training"),
    CheckSpec("ntt_ntk_error_below_every_baseline", "NTT's held-out NTK error is the lowest, every seed"),
    CheckSpec("ablation_clearly_worse_on_ntk", "without the NTK term (lambda_K = 0) the kernel match is lost"),
    CheckSpec("ntt_accuracy_above_random", "highest sparsity: NTT more accurate than random (paired)",
              smoke=False),
    CheckSpec("ntt_accuracy_above_magnitude", "highest sparsity: NTT more accurate than magnitude (paired)",
              smoke=False),
    CheckSpec("ntt_accuracy_above_snip", "highest sparsity: NTT more accurate than SNIP (paired)", smoke=False),
    CheckSpec("ntt_trains_faster_than_random", "lower early training loss than random at every density",
              smoke=False),
)

CLAIM = Claim(
    id="ntt",
    number=5,
    title="Neural tangent transfer: label-free sparse networks",
    paper=Paper("Liu & Zenke", "Finding trainable sparse networks through Neural Tangent Transfer", 2020,
                "2006.08228", "ICML 2020"),
    notebook="05_neural_tangent_transfer.ipynb",
    figures=("ntk_error", "learning_curves", "accuracy_vs_density"),
    params=PARAMS,
    checks=CHECKS,
    key_metric=("NTT rel. NTK error at the highest sparsity", "ntt_rel_ntk_error_highest_sparsity"),
    reconstructed=("The paper's tables and figures were not available: the objective and hyper-parameters "
                   "follow the authors' released code (reimplemented, not copied); the data are "
                   "scikit-learn's 8x8 digits with a 64-300-100-10 MLP, not MNIST/CIFAR; no paper number "
                   "is used as a target."),
)

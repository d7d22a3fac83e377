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
# # Claim 4 — Finite versus infinite neural networks (Lee et al. 2020)
#
# **Paper.** J. Lee, S. S. Schoenholz, J. Pennington, B. Adlam, L. Xiao, R. Novak, J. Sohl-Dickstein,
# *Finite Versus Infinite Neural Networks: an Empirical Study*, NeurIPS 2020, [arXiv 2007.15801](https://arxiv.org/abs/2007.15801).
#
# **Claim (the parts that fit a 2-core CPU).** Single finite fully connected networks trained by gradient descent
# (MSE) underperform their NNGP/NTK kernel predictors, because the random initial function persists (F1);
# centering and ensembling remove that variance and make finite nets behave like the kernel (F3); a large learning
# rate and L2 regularization break the correspondence (F4); NNGP often beats NTK (F2); diagonal regularization acts
# like early stopping (F6); floating-point precision limits kernels beyond a critical data-set size (F7);
# regularized ZCA whitening helps (F8).
#
# **What is reconstructed.** The paper's body (its tables, hyper-parameters, figure numbers) was not available;
# only the abstract's findings were verified. Everything here is a CPU-scale reconstruction on offline data
# (scikit-learn's 8×8 digits by default), with fully connected ReLU networks in the NTK parameterization; no
# number from the paper is used as a target. The paper's CIFAR-10 numbers are not re-derived. The float32 part of F7 is
# a *mechanism check* (the critical size is extrapolated, not reached; an emulated float16 solve tests the finding
# where it is reachable), F8 is tested with an FCN and a convolutional (CNN-VEC) kernel on the 8×8 digits, and the CNN
# half of F1 runs on MNIST-1D at a small $n$.

# %% tags=["parameters"]
# Parameters. None = take the value from the profile ("smoke": seconds, "full": the paper-scale figure).
profile = "smoke"
seed = None
output_dir = None
stage_dir = None  # set by `python -m ntkrepro run` (its staging folder); None: write to output_dir
dataset = None            # "digits" | "mnist5k" | "mnist1d"
n_train = None
n_test = None
depth = None              # hidden layers
widths = None             # finite widths, increasing
n_seeds = None            # initializations per width
steps = None              # gradient-descent steps
lr_factor = None          # learning rate / (2 n k / lambda_max)
lr_factors_break = None   # learning-rate factors of the breaking sweep
weight_decays = None      # L2 coefficients of the breaking sweep
break_width = None
break_steps = None
break_seeds = None
n_ntk = None              # points for the empirical NTK change
diag_regs = None          # relative ridge eps for the diag_reg / early-stopping study
precision_sizes = None    # training sizes for the float-precision study
lowp_sizes = None         # training sizes of the emulated float16 calibration
W_std = None
b_std = None
run_zca = None
zca_regs = None
break_widths = None       # widths of the NTK-change-against-width study
param_lr_factors = None   # rates of the NTK-vs-standard parameterization comparison
run_cnn = None            # MNIST-1D FCN/CNN comparison (both halves of F1)
cnn_n_train = None
cnn_n_test = None
cnn_width = None          # channels of the finite CNN
cnn_seeds = None
cnn_steps = None
n_resplits = None         # train/test resplits of the NNGP-versus-NTK comparison (F2)
zca_splits = None         # resplits of the re-posed ZCA comparison (F8)
zca_diag_regs = None      # diag_reg grid tuned on validation in both ZCA arms
cnn_tuned_n_train = None  # tuned F1-CNN comparison (issue 29): MNIST-1D training points
cnn_tuned_n_val = None    # validation points (every choice of both arms)
cnn_tuned_n_test = None
cnn_tuned_width = None    # channels of the standard-parameterization CNN-GAP
cnn_tuned_seeds = None
cnn_tuned_steps = None    # Adam steps
cnn_tuned_batch = None
cnn_tuned_eval_every = None
cnn_lrs = None            # Adam learning rates (chosen on validation)
cnn_l2s = None            # L2 coefficients (chosen on validation)
cnn_diag_regs = None      # kernel ridges (chosen on validation)
param_seeds = None        # seeds of the NTK-vs-standard parameterization comparison (F5)
f2_diag_regs = None       # ridges chosen on validation in both arms of the NNGP-vs-NTK comparison (F2)
f10_depth = None          # F10 (issue 29): conv layers of the CNN-VEC / LCN-VEC
f10_widths = None         # [narrow, wide] channels
f10_n_train = None
f10_n_val = None
f10_n_test = None
f10_seeds = None
f10_steps = None          # Adam steps (standard parameterization)
f10_eval_every = None     # steps between validation reads (early stopping)
f10_batch = None          # minibatch size
f10_lrs = None            # Adam rates (chosen on validation per architecture and width)
f10_diag_regs = None      # kernel ridges (chosen on validation)
x2_n_train = None         # X2 (issue 29): digits training points
x2_n_test = None
x2_splits = None          # resplits
x2_members = None         # randomly augmented draws of the training set in the ensemble
x2_diag_regs = None       # ridges chosen on validation in both arms
x1_widths = None          # X1 (issue 29 item 7): [narrow, wide] FCN widths (standard parameterization; wide gated)
x1_depth = None
x1_n_train = None         # digits training points
x1_n_val = None           # validation points (every choice of every arm)
x1_n_test = None
x1_steps = None           # minibatch SGD (momentum 0.9) steps
x1_eval_every = None      # steps between validation reads (early stopping)
x1_batch = None
x1_tuning_seeds = None    # seeds of the (lambda, lr) choice and the stability edge
x1_seeds = None           # verdict seeds (disjoint from the tuning seeds)
x1_lrs = None             # rates, increasing, one grid for every arm and width
x1_plain_lambdas = None   # lambda grid of plain L2
x1_scaled_lambdas = None  # lambda grid of the layer-wise scaled L2

# %%
from ntkrepro.data import load_split
from ntkrepro.claims.finite_vs_infinite import claim as C, figures as F, science as E
from ntkrepro.notebook import start

P, run = start("finite_vs_infinite", globals())  # validates every knob before any compute
split = load_split(P.dataset, P.n_train, P.n_test, P.seed)
net = E.FCN(depth=P.depth, W_std=P.W_std, b_std=P.b_std)  # the FCN (NTK parameterization) every section uses
dict(P)

# %% [markdown]
# ## 1. Kernel predictors (F1 kernel side, F2)
#
# The NNGP and NTK of the network come from neural-tangents' `stax`, in float64, and are cross-checked against an
# independent closed form (the arc-cosine recursion). The NTK predictor at the finite training time uses
# `nt.predict.gradient_descent_mse_ensemble` with the *same* learning rate and step count as the finite networks
# (time = steps at `lr`), and is cross-checked against the eigendecomposition formula
# $K_{*x}K^{-1}(I-e^{-\eta t K/(nk)})y$. `compute_cov=True` gives the NTK-GP posterior variance: the variance over
# initializations that an infinitely wide, *uncentered* network keeps.

# %%
kern = E.kernel_baselines(split, net, lr_factor=P.lr_factor, steps=P.steps)
{k: v for k, v in kern.items() if not k.startswith("_")}

# %% [markdown]
# One split decides nothing about F2 ("NNGP frequently outperforms NT"): on the default split the two differ by one
# test point. So the comparison is repeated over `n_resplits` random train/test resplits, of this data set and of
# MNIST-1D, and decided by a 90 %
# corrected resampled $t$ interval of NNGP − NTK accuracy (paired by split; corrected because the resplits share most
# of their data). Each arm's ridge is chosen from `f2_diag_regs` on a validation split of each resplit (the order of
# the two kernels flips with the ridge on some splits, so a fixed ridge of 0 favoured neither fairly). Effect of
# interest: half an accuracy point. Above 0 reproduces; an interval wholly below +0.005 does not (NNGP is then not
# better by a margin that matters); a straddle is inconclusive.
#
# gate changed after a run: nngp_at_least_ntk: the first versions gated interval_above(0, 0) on ridge-0
# predictors, which could never fail on a tie; issue 29 asked for an effect of interest and tuned ridges in both arms.

# %%
f2 = dict(n_train=P.n_train, n_test=P.n_test, n_resplits=P.n_resplits, diag_regs=P.f2_diag_regs, seed=P.seed)
nvn = E.nngp_vs_ntk(net, P.dataset, **f2)
nvn1 = E.nngp_vs_ntk(net, "mnist1d", **f2) if P.dataset != "mnist1d" else None  # the same on a second data set
{name: {k: v[k] for k in ("dataset", "n_splits", "mean_diff", "ci_low", "ci_high", "wins", "ties")}
 for name, v in (("nngp_vs_ntk", nvn), ("nngp_vs_ntk_mnist1d", nvn1)) if v is not None}

# %% [markdown]
# ### Both halves of F1 on MNIST-1D (`full` profile)
#
# MNIST-1D (generated offline by `mnist1d`'s `make_dataset`, 40-sample signals) has spatial structure, so a
# convolutional network makes sense there.
#
# **Lazy reference (not gated for F1-CNN).** FCN and CNN-GAP NTK regressions against finite FCN and CNN networks in
# the NTK parameterization trained by plain full-batch GD on the MSE at half their kernel's largest stable rate,
# compared with the kernel at the same step count. This is the regime where a network cannot beat its kernel by
# construction (it *is* its linearization): it shows the F1-FCN mechanism and still decides the FCN half
# (`fcn_kernel_beats_fcn_net_mnist1d`), but it is not how the paper poses the CNN half.
#
# **F1-CNN as the paper poses it.** A *standard-parameterization* CNN-GAP (Conv(stride 2) + ReLU, Conv + ReLU,
# global average pooling, Dense) trained with Adam on minibatches of the MSE plus L2, over a declared learning-rate
# × L2 grid, early-stopped on a validation split, `cnn_tuned_seeds` seeds, $n$ = `cnn_tuned_n_train` ≥ 1000;
# against the same architecture's NNGP and NTK at infinite time, the kernel and its `diag_reg` chosen on the same
# validation split. Every (rate, L2, seed) network trains at once (one vmapped, jitted `lax.scan`: each
# convolution is written as shifted matmuls, which XLA:CPU runs fast inside a loop); the kernel is the per-pair
# position-covariance recursion written out in jax (equal to neural-tangents' `stax` to 1e-15 in the tests, about
# 100× faster here), computed and solved in float64 (16 evaluation points at a time). The verdict reads a paired
# bootstrap interval over seeds *and* test points (test-set sampling error included); a tie is inconclusive, with its
# power (`mde`).
#
# **Test set and kernel precision changed after seeing results (no gate changed).** The record at f580f12 tested on
# 500 MNIST-1D points and gave net − kernel +0.0004 [−0.014, +0.015]: inconclusive, and with 500 test points the
# test-set sampling floor (a standard error of about 0.006 on the difference) keeps the interval wider than the
# effect whatever the number of seeds. The full profile used 1000 train + 250 validation + 500 test of MNIST-1D's
# 5000 points, so 3250 were never used; an independent referee evaluated the same comparison on those 3750 unused
# points and got +0.0078 [+0.0023, +0.0134]. The kernel was also computed in float32 then, and its ridge choice
# flipped on a single validation point between the float32 and a float64 kernel. So the full profile now tests on
# every MNIST-1D point not in train or validation (`cnn_tuned_n_test` = 3750; the first 500 are the old test set)
# and the CNN-GAP kernel is built in float64 (the networks still train in float32). This change was made after those
# results were seen; the gate (`tuned_cnn_beats_tuned_kernel`: interval above 0 reproduces, below 0 fails), the
# effect of interest (0) and the interval method (paired bootstrap over seeds and test points) are unchanged.

# %%
cnn = E.cnn_half(net, fcn_width=P.break_width, cnn_width=P.cnn_width, n_train=P.cnn_n_train, n_test=P.cnn_n_test,
                 n_seeds=P.cnn_seeds, steps=P.cnn_steps, seed=P.seed) if P.run_cnn else None
tuned = E.cnn_tuned(P.W_std, P.b_std, n_train=P.cnn_tuned_n_train, n_val=P.cnn_tuned_n_val, n_test=P.cnn_tuned_n_test,
                    width=P.cnn_tuned_width, n_seeds=P.cnn_tuned_seeds, steps=P.cnn_tuned_steps, batch=P.cnn_tuned_batch,
                    eval_every=P.cnn_tuned_eval_every, lrs=P.cnn_lrs, l2s=P.cnn_l2s, diag_regs=P.cnn_diag_regs,
                    seed=P.seed) if P.run_cnn else None
{k: tuned[k] for k in ("tuned_net", "tuned_kernel", "gap")} if tuned is not None else None

# %% [markdown]
# ## 2. Width sweep: single, ensembled and centred finite networks (F1, F3)
#
# Full-batch gradient descent on $\tfrac12\,\mathrm{mean}((f-y)^2)$ at $\eta$ = `lr_factor` × $2nk/\lambda_{max}$,
# in a jitted `lax.scan` with the seeds vmapped. The *centred* network trains $f(x;\theta)-f(x;\theta_0)$.
# Expectation: uncentred single nets stay below the kernel and their variance over seeds rises to the NTK-GP
# variance; centred nets' variance falls like a power of the width (−1 asymptotically, shallower at long times)
# and their argmax agreement with the NTK predictor approaches 1; an ensemble recovers most of the gap.

# %%
finite = E.width_sweep(split, net, P.widths, P.n_seeds, P.steps, kern["lr"], kern["_ntk_t_mean"], seed=P.seed)
run.save(F.width_sweep(kern, finite, P), "width_sweep")
# the empirical NTK at init against the analytic one, per width
emp = E.empirical_ntk_convergence(split, net, P.widths, P.n_seeds, P.n_ntk, seed=P.seed)
emp

# %% [markdown]
# ## 3. Large learning rate and L2 break the correspondence (F4)
#
# Centred networks of width `break_width` at several learning rates (in units of the maximum stable rate
# $2nk/\lambda_{max}$) and with weight decay. We measure the relative change of the empirical NTK
# (neural-tangents' `empirical_ntk_fn`, structured-derivatives implementation) on `n_ntk` training points.
# Lazy training moves it by $O(1/\sqrt{\text{width}})$; a rate beyond $2/\lambda_{max}$ (catapult) or L2 moves it
# by $O(1)$. Stable rates below the edge are the **negative control**. Whether accuracy improves is reported as
# measured (the paper finds gains for tuned CNNs; here we claim only the *break*). Next to the L2 measurement, the
# change that plain weight decay alone predicts: every parameter shrinks by $s=(1-\eta\,\mathrm{wd})^T$, which moves
# the NTK by about $1-s^2$ at any width. If the two agree, the L2 "break" is mostly uniform shrinkage, not feature
# learning; L2 toward the initial weights (which shrinks nothing) is reported beside it. `l2_breaks_ntk` gates the
# relative change, which uniform shrinkage alone satisfies: read it as "L2 moves the kernel away from the NTK",
# with the mechanism given by the shrinkage comparison, not as evidence of feature learning. The agreement with the NTK
# predictor must drop where the kernel breaks (gated). Then the NTK change against width (`break_widths`) at the
# stable rate, the largest rate and the largest L2: lazy training bounds the change by $O(1/\sqrt{\text{width}})$ at
# the stable rate, so its slope must be at most −1/2 up to a slack of 0.25 (gated); a break stays flat. This gate was
# first written as a band $[-0.75, -0.25]$ and changed to the one-sided bound after the smoke run showed −0.85
# (faster than $1/\sqrt{\text{width}}$, which the bound allows): recorded here because it changed after a run.
#
# **Shape against scale (issue 29).** A Frobenius distance cannot tell a uniform rescale of the kernel (which leaves
# the kernel predictor unchanged) from a change of its shape. Beside the raw change we report the rescale-invariant
# one, $\min_c\|c\,\Theta_T-\Theta_0\|_F/\|\Theta_0\|_F=\sqrt{1-\cos^2(\Theta_0,\Theta_T)}$ (`delta_ntk_shape`), and
# gate it at the same threshold (0.2): `large_lr_changes_ntk_shape` and `l2_changes_ntk_shape`. The raw checks stay
# (their names and gates unchanged) so that the two readings sit side by side; if L2's raw change is mostly
# shrinkage, its invariant change stays small and `l2_changes_ntk_shape` fails: that is the finding's honest reading
# at this scale, not an instrument failure. (Not done in this round: the function-space gate as an interval over
# seeds, and the L2 arm against a linearized network trained with the same L2.)

# %%
setup = E.BreakSetup(net, width=P.break_width, seeds=P.break_seeds, steps=P.break_steps, n_ntk=P.n_ntk, seed=P.seed)
rates = dict(lr_factors=P.lr_factors_break, weight_decays=P.weight_decays, lr_factor=P.lr_factor, lr_max=kern["lr_max"],
             ntk_tr=kern["_ntk_train"], ntk_te=kern["_ntk_test_train"])
brk = E.breaking(split, setup, **rates)
dvw = E.delta_ntk_vs_width(split, setup, P.break_widths, **rates, brk=brk)
shrink = E.l2_shrinkage_prediction(kern["lr"], P.weight_decays, P.break_steps)
run.save(F.breaking(brk, P, dvw, shrink), "breaking")
{name: {k: v[k] for k in ("delta_ntk", "agreement", "accuracy")} for name, v in brk.items()}, shrink, dvw

# %% [markdown]
# ### NTK against standard parameterization (F5)
#
# The same finite network in both parameterizations (the same function at initialization; different per-layer
# effective rates). Each gets its rate from `param_lr_factors` × its own largest stable rate, chosen on a validation
# split; the verdict comes from the interval of the test-accuracy difference over `param_seeds` seeds. The first
# version chose the top of its grid (1.5) for both parameterizations with 4 seeds. A run with the grid extended to 1.9
# and 8 seeds chose 1.9 for both (the edge again): ReLU networks can train through a catapult beyond factor 2, so the
# grid now extends to 5 (diverged runs are never chosen), and a choice at the grid's edge makes the finding
# inconclusive (ledger rule).
#
# gate changed after a run: none; the grids of F1-CNN (L2 to 1e-3, 3000 steps, ridge down to 1e-7), F2 (ridge to 10)
# and F5 (rates to 5x) were extended after a full run put their choices at the edge (issue 29 asks for exactly that).
# F1-CNN's early-stopping grid was then extended again, from 100..3000 to 100..6000 steps (`cnn_tuned_steps`): the
# 3000-step record stopped four of its five seeds at or near the last read ([3000, 3000, 2500, 2800, 1700], validation
# accuracy still rising), an edge choice that made the finding inconclusive for the protocol, not for the science. The
# learning-rate x L2 grid, the gate and the interval are unchanged.

# %%
par = E.parameterization(split, net, P.break_width, P.param_lr_factors, P.param_seeds, P.steps, seed=P.seed)
{k: par[k] for k in ("ntk_accuracy", "standard_accuracy", "mean_diff", "ci_low", "ci_high")}

# %% [markdown]
# ## 4. Diagonal regularization ≈ early stopping (F6)
#
# Kernel regression with the relative ridge $K+\varepsilon\,\mathrm{tr}(K)/n\,I$ (neural-tangents' `gp_inference`)
# against gradient flow stopped at the matched time $t(\varepsilon)=nk/(\varepsilon\,\mathrm{tr}K/n)$ (our
# eigendecomposition). The mapping matches the spectral filters $1/(\lambda+\varepsilon\,\mathrm{tr}K/n)$ and
# $(1-e^{-\lambda t/(nk)})/\lambda$; it is derived in the companion's notes, not taken from the paper. Control: the same
# comparison with the time map off by $\times10$ and $\times0.1$ must disagree more (else the check cannot tell).

# %%
drt = E.diag_reg_vs_time(split, net, P.diag_regs)
run.save(F.diag_reg_vs_time(drt), "diag_reg_vs_time")

# %% [markdown]
# ## 5. Floating-point precision (F7): a mechanism check
#
# We measure how $\lambda_{min}/\lambda_{max}$ of the NNGP kernel falls with $n$, fit a power law, extrapolate the
# size $n^*$ where it reaches float32's machine epsilon (where a float32 Cholesky solve must fail), and show that
# below $n^*$ a float32 solve gives the same accuracy as float64. For float32 this is **not** a reproduction of the
# failure: $n^*$ lies beyond what fits this machine, and we never fake ill-conditioning. Where the critical size
# *is* reachable, the finding is tested directly: an emulated float16 solve (Cholesky and triangular solves with
# every operation rounded to float16) at `lowp_sizes`, against float64, beside the size the same rule predicts for
# float16. Their ratio calibrates the rule; unless it is close to 1, the float32 $n^*$ is a heuristic.

# %%
prec = E.precision(net, P.dataset, P.precision_sizes, P.lowp_sizes, P.n_test, seed=P.seed)
run.save(F.precision(prec), "precision")
{k: prec[k] for k in ("cond_slope", "cond_fit_r2", "critical_n_float32", "float16_calibration")}

# %% [markdown]
# ## 6. Regularized ZCA whitening (F8; `full` profile)
#
# Per-image layer-norm, then $W=(C+\varepsilon\,\mathrm{tr}(C)/d\,I)^{-1/2}$ from the training covariance
# (reconstructed from later code by the same group), applied to the whole flattened image. The paper's gains are for
# CIFAR-10 with convolutional kernels; here the images are 8×8 grey digits, so the outcome is reported as measured,
# for two kernels: the claim's FCN and a convolutional one (CNN-VEC: a 3×3 convolution and ReLU per layer, a Flatten
# readout, on the 8×8 layout; its cost is $O(n^2HW)$, where a CNN-GAP kernel would cost $O(n^2(HW)^2)$). The first
# version gated one
# split at a fixed ridge, where $\varepsilon=10$ makes the whitening almost the identity and one test point decided.
# Re-posed: over `zca_splits` resplits, each arm (layer-norm only; ZCA with $\varepsilon$ from the grid) gets its
# ridge — and ZCA its $\varepsilon$ — chosen on a validation split carved from the training set, and the verdict
# comes from the paired interval of ZCA − plain test accuracy.

# %%
f8 = dict(n_train=P.n_train, n_test=P.n_test, n_splits=P.zca_splits, zca_regs=P.zca_regs, diag_regs=P.zca_diag_regs,
          seed=P.seed)
zca_acc = E.zca(split, net, P.zca_regs) if P.run_zca else None
zre = E.zca_reposed(net, P.dataset, **f8, arch="fcn") if P.run_zca else None
zre_conv = E.zca_reposed(net, P.dataset, **f8, arch="conv") if P.run_zca else None  # a convolutional (CNN-VEC) kernel
zca_acc, zre, zre_conv

# %% [markdown]
# ## 7. Equivariance against the kernel regime (F10; issue 29)
#
# A 1-D CNN (`stax.Conv`: one filter bank shared by every position) against a locally connected network of the
# same shape (`stax.ConvLocal`: its own filters at every position, no weight sharing) on MNIST-1D, both with a
# **Flatten** readout (CNN-VEC / LCN-VEC): `f10_depth` conv layers (filter 5, SAME) + ReLU, Flatten, Dense(10) (the
# kernels in the NTK parameterization; the finite networks, since the re-run below, in the standard one). The readout is chosen per the notes: with Flatten, the two infinite-width kernels coincide
# (Novak et al. 2019; checked here to float64 rounding, `lcn_kernel_equals_cnn_kernel`), so equivariance can only
# matter away from the kernel regime — the finding's point; a pooling (GAP) readout would make the kernels differ
# and mix pooling into the comparison.
#
# *Kernel half:* each architecture's NTK predictor at infinite time, its ridge chosen from `f10_diag_regs` on a
# validation split. *Finite half:* at a narrow and a wide width (`f10_widths`), CNN and LCN networks trained alike to
# convergence: standard parameterization, Adam on the MSE on centred one-hot targets (the kernel arm's loss and the
# claim's elsewhere; cross-entropy was not used so that net and kernel minimise the same loss, as in F1-CNN),
# minibatches of `f10_batch`, `f10_steps` steps, `f10_seeds` seeds and the rates `f10_lrs` (vmapped); the validation
# split is read every `f10_eval_every` steps, each seed stops at its best read, and the rate is chosen per
# architecture and width by the mean over seeds of the early-stopped validation accuracy (diverged runs never
# chosen). The test set is every MNIST-1D point the split does not use for training or validation (4550 in the full
# profile), as for F1-CNN, so the test-set sampling error is small. **Declared gate (before the run):** F10 reproduces when (CNN − LCN accuracy at the narrow width) − (CNN −
# LCN at the wide width) has a 90 % paired bootstrap interval (seeds and test points) above 0
# (`equivariance_helps_narrow_more`) **and** the kernel-limit advantage lies within one accuracy point of 0
# (`equivariance_kernel_advantage_nil`); an interval below 0 or a kernel advantage outside the band fails it; a
# straddle, fewer than 5 seeds, or a rate or a stop step chosen at the edge of its grid is inconclusive.
#
# gate added after a run: f10_every_arm_learns (premise): the first full run's narrow CNN (width 4) stayed at chance
# (0.105 test accuracy, training loss at the constant predictor's) at every rate that did not diverge, so the
# difference of differences (−0.17, interval wholly below 0) measured a network that did not train, not
# equivariance. Every finite arm must now beat chance (0.1) by 5 points, else F10 is inconclusive.
# Grids extended after that run (a choice at the edge): `f10_lr_factors` to 4 (the narrow LCN chose 2.0, the top) and
# `x2_diag_regs` down to 1e-7 (the single predictor chose 1e-5, the bottom, on one resplit); not rerun since.
#
# Narrow width changed after the premise failed (the gate unchanged): the record at f580f12 (width 4, rate grid up to
# 4) still had the narrow CNN at chance (0.104 test accuracy; its validation accuracy 0.105 / 0.115 at rates 0.1 / 0.3,
# every larger rate diverged), so `f10_every_arm_learns` failed and F10 was inconclusive. With the same rate grid,
# seeds, split and steps, the F10 networks alone at full size gave, at width 8: CNN 0.124 (chance + 0.024, premise still
# fails), LCN 0.243; at width 16: CNN 0.193, LCN 0.259 (both beat chance by more than 5 points, each at rate 1.0, inside
# the grid; the wide arms at 64 gave 0.247 / 0.241 in that record). `f10_widths` is now [16, 64], the smallest narrow
# width of {8, 16} at which every arm learns; the wide width and everything else are unchanged. The cost: a narrow width
# 4× (not 16×) below the wide one, a weaker contrast of "narrow" and "wide". The width was picked by the premise alone;
# the difference of differences at [16, 64] was computed afterwards (F10's function alone, full size, not a record):
# −0.072 [−0.114, −0.028] (narrow: CNN − LCN −0.066; wide: +0.006), kernel advantage 0.0.
#
# **Finite half re-posed after the record at 53aef4b (changed after seeing its numbers and a referee's; the gate — the
# difference-of-differences interval above 0 — is unchanged).** That record (NTK parameterization, full-batch GD, 200
# steps, rate in units of each net's own largest stable rate, 400 test points) gave CNN 0.193 / LCN 0.259 at width 16,
# 0.247 / 0.241 at 64, kernel 0.378, and a difference of differences of −0.072 [−0.114, −0.028] (F10 not
# reproduced), with `f10_every_arm_learns` passing at 0.093. An independent referee showed the nets were barely
# trained: final training MSE 0.024–0.041 against 0.045 for predicting 0, the chosen rate at the stability edge (the
# run ran out of steps); with GD run longer the sign flipped (width 16, step 2000: CNN − LCN +0.023); with Adam
# (standard parameterization, rates 3e-3 / 1e-2 chosen on validation, early stopping every 100 of 1500 steps) every
# arm reached 0.29–0.32 and the difference of differences was −0.007 [−0.016, +0.003] on 4550 test points
# (inconclusive). So the comparison measured how far each net had got, not equivariance. Changed: the finite half
# (above: standard parameterization, Adam, early stopping, rate grid `f10_lrs`, the stop step and the rate recorded
# as choices, an edge inconclusive), the test set (every unused point, 4550, was 400), and the premise:
#
# gate changed after a run: f10_every_arm_learns: retired (beating chance by 5 points does not show a net is
# trained: it passed at 0.093 with nets that had not left the constant predictor's loss by much). Replaced, declared
# before the Adam protocol's first full run, by two premises, each failing making F10 inconclusive:
# `f10_nets_fit_training_set` — every finite arm's final training loss (after `f10_steps`, chosen rate, mean over
# seeds) below 0.1 × the loss of predicting 0; and `f10_nets_reach_kernel` — every finite arm's test accuracy at
# least 0.7 × the better NTK predictor's.
#
# gate changed after a run: equivariance_helps_narrow_more: its gate (90 % interval above 0 reproduces, below 0 fails)
# and effect are unchanged; only its declared `matched` list changed, to the new training protocol (standard
# parameterization, Adam, minibatch, early stopping).
#
# One pilot of this section alone at full size (not a record; seed 0, rate grid then [3e-3, 1e-2, 3e-2, 1e-1], 1200
# Adam steps of minibatch 100, reads every 100; 119 s on 2 shared cores): kernel (both) 0.362 on the 4550 test points;
# width 16: CNN 0.417 (rate 3e-2, stops 400–1000), LCN 0.376 (rate 1e-1, the top of that grid, stops 500–900); width
# 64: CNN 0.411 (3e-2), LCN 0.401 (3e-2); CNN − LCN +0.041 [+0.023, +0.057] at 16 and +0.011 [−0.006, +0.028] at 64;
# difference of differences +0.030 [+0.008, +0.049] (se_seeds 0.012, se_points 0.005). But the narrow LCN's rate sat
# at the grid's top (an edge: inconclusive) and its final training loss was 0.0051, 0.114 × the loss of predicting 0,
# so `f10_nets_fit_training_set` (declared before the pilot, unchanged) would fail and F10 be inconclusive;
# `f10_nets_reach_kernel` would pass (0.376 / 0.362 = 1.04). Changed after the pilot, on the edge rule alone (a
# validation choice, not the test numbers): `f10_lrs` moved up one step to [1e-2, 3e-2, 1e-1, 3e-1] (3e-3 was never
# chosen and had the lowest validation accuracy in every arm; four rates keep the section within its 150 s budget).
#
# Then, before any run of that grid (declared in the next session, premises and gate unchanged): a constant Adam rate
# on minibatches does not settle, which is what the premise caught, so the rate now **decays by a cosine to 0 at
# `f10_steps`** (every run ends settled, at whatever rate validation picks), and the grid spans both sides of the
# pilot's choices, `f10_lrs` = [3e-3, 1e-2, 3e-2, 1e-1, 3e-1] (five rates; 3e-3 is back because a decayed rate is
# on average half the peak).
#
# Two pilots of this protocol before the record (F10's function alone at full size, seed 0, not records; 2 shared
# cores with another job running):
# - **1200 steps** (200 s): every arm chose 3e-2 (interior); both CNNs failed `f10_nets_fit_training_set` (final
#   loss 0.154 and 0.169 × predicting 0's: the decayed rate leaves the CNN short of fitting), the LCNs passed (0.060,
#   0.089). Difference of differences +0.039 [+0.013, +0.063], but F10 would have been inconclusive (premise).
# - So `f10_steps` 1200 → **2400** (the premise and the gate unchanged; both pilots so far had put F10's interval
#   above 0, so the change was not made toward a pass). **2400 steps** (328 s): every arm at 3e-2 (interior), stops
#   400–1900, final losses 0.004–0.039 × predicting 0's (premise passes), accuracies CNN 0.415 / LCN 0.380 at width
#   16 and 0.412 / 0.395 at 64 against the NTK's 0.362 (`f10_nets_reach_kernel` passes); CNN − LCN +0.035 [+0.017,
#   +0.052] at 16 and +0.017 [+0.001, +0.034] at 64; difference of differences **+0.018 [−0.005, +0.041]**
#   (inconclusive; se over seeds 0.014 dominates the test-set floor 0.004).
#
# The record below is the next run of this exact protocol.

# %%
from ntkrepro.claims.finite_vs_infinite import augment as A, equivariance as Q

f10 = Q.equivariance(P.f10_depth, tuple(P.f10_widths), P.f10_n_train, P.f10_n_val, P.f10_n_test, P.f10_seeds,
                     P.f10_steps, P.f10_eval_every, P.f10_batch, P.f10_lrs, P.f10_diag_regs, P.W_std, P.b_std,
                     seed=P.seed)
({k: f10[k] for k in ("kernel_cnn", "kernel_lcn", "kernel_advantage", "kernel_relative_difference",
                      "zero_predictor_train_loss", "advantage_narrow_minus_wide")},
 {w: {a: {k: r[a][k] for k in ("lr", "stop_steps", "final_train_loss", "accuracy_mean")} for a in ("cnn", "lcn")}
  | {"advantage": r["advantage"]} for w, r in f10["nets"].items()})

# %% [markdown]
# ## 8. Ensembling kernel predictors over data augmentation (X2; issue 29)
#
# On the 8×8 digits: the claim's FCN NNGP predictor fitted on the original training images, against the mean of the
# predictors fitted on `x2_members` randomly augmented draws of the training set (each image independently shifted by
# one of: none, ±1 pixel in $x$, ±1 pixel in $y$, uniformly — as a random flip draws a flipped or unflipped copy; the
# uncovered border takes the background value; test images are not shifted). Shifting the whole training set the
# same way per member was tried first and hurt in the smoke run (0.90 → 0.78): each such member is fitted on a
# shifted distribution and tested on an unshifted one. The form is the abstract's "ensembling kernel
# predictors over data augmentation" (the notes: it costs $k$ kernel solves; the paper's Table 2 "+DA ensemble"
# column is recalled, unverified); averaging the kernel over the augmentation group would be the other form, not
# used here. Each arm's ridge is chosen from `x2_diag_regs` on a validation split of each resplit. **Declared
# gate:** over `x2_splits` resplits, the 90 % corrected resampled $t$ interval of ensemble − single test accuracy
# above 0 reproduces, below 0 does not, a straddle is inconclusive.

# %%
x2 = A.augmentation_ensemble(lambda a, b: E.kernels(net, a, b)[0], "digits", (8, 8), P.x2_n_train, P.x2_n_test,
                             P.x2_splits, P.x2_diag_regs, seed=P.seed, members=P.x2_members,
                             kernel=f"FCN NNGP (depth {P.depth}, W_std={P.W_std:.3g}, b_std={P.b_std:g})")
{k: x2[k] for k in ("mean_diff", "ci_low", "ci_high", "single_accuracy", "ensemble_accuracy", "wins", "ties")}

# %% [markdown]
# ## 9. Layer-wise L2 scaling in the standard parameterization (X1; issue 29 item 7)
#
# The abstract lists "an improved layer-wise scaling for weight decay which improves generalization in finite-width
# networks" in the standard parameterization. The paper's body was not available, so the penalty below is
# **reconstructed** (derived, not quoted; the derivation is in the docstring of
# `ntkrepro/claims/finite_vs_infinite/l2scaling.py`): the NTK parameterization's plain L2,
# $\lambda\sum_l\|\omega_l\|^2+\|\beta_l\|^2$ with $W_l=\sigma_w\omega_l/\sqrt{n_l}$ and $b_l=\sigma_b\beta_l$,
# written in the standard network's own variables, is the **layer-wise scaled L2**
# $\lambda\sum_l (n_l/\sigma_w^2)\|W_l\|^2+\|b_l\|^2/\sigma_b^2$ ($n_l$ the layer's fan-in), against plain weight decay
# $\lambda\sum_l\|W_l\|^2+\|b_l\|^2$. Same function, same initial network (the tests check the penalty against
# neural-tangents' two parameterizations); the training stays that of the standard network (gradients in $(W, b)$).
#
# On the digits (`x1_n_train` / `x1_n_val` / `x1_n_test` disjoint points; the full profile tests on every digit not in
# train or validation), an FCN `[Dense(width) + ReLU] × x1_depth, Dense(10)` in the standard parameterization is
# trained by minibatch SGD with momentum 0.9 (`x1_batch`, `x1_steps` steps) on the MSE on centred one-hot targets plus
# the penalty, each seed early-stopped at its best validation read (every `x1_eval_every` steps). At a narrow and a
# wide width (`x1_widths`), three arms: plain L2 (`x1_plain_lambdas`), the scaled L2 (`x1_scaled_lambdas`, about
# $\sigma_w^2/n_l$ lower) and, as a reference, no L2; all over the same rate grid `x1_lrs`. Each arm's (lambda, rate)
# cell is chosen on the validation split over `x1_tuning_seeds` tuning seeds, then the arm runs at it on `x1_seeds`
# fresh verdict seeds; the verdict reads scaled − plain test accuracy with a paired bootstrap over verdict seeds
# and test points.
#
# **The rate rule (declared before the first run of it).** The one pilot of this study before the rule (widths
# [128, 512], not a record) chose its rates next to divergence, and one verdict seed diverged in every arm. So, per
# arm and width, on the tuning seeds and at each lambda of that arm's grid: a rate is *stable* at that lambda when
# every tuning seed stays finite there (every validation read's outputs finite; the last read is at the last step);
# that lambda's *stability edge* is the largest rate below its smallest unstable rate; the chosen cell is the best
# mean validation accuracy among the cells whose rate lies **at least one grid step below their lambda's edge**
# (ties: the larger lambda, then the smaller rate). Stability is judged at each lambda (so at the chosen one), not
# jointly over every lambda of the grid: in a smoke-sized run the largest plain lambda diverged at rates where every
# smaller lambda was stable, so one lambda validation would never pick could otherwise set every lambda's rates. The
# same rule and the same grid for plain, scaled and no-L2. The rate grid reaches past the edge at both widths: the
# pilot's no-L2 networks diverged near 0.036 at width 128 and 0.018 at width 512, so `x1_lrs` = [0.003 … 0.048] (the
# pilot's 0.006 … 0.024, widened by one rate at each end: 0.048 so that width 128 has an unstable rate, 0.003 because
# the margin moves width 512's eligible rates down to 0.006).
#
# **Declared gate (before the first record; unchanged by the pilot below).** `layerwise_l2_improves_wide`: at the wide
# width, the 90 % paired bootstrap interval of scaled − plain test accuracy above 0 reproduces X1; wholly below the
# effect of interest +0.01 (one accuracy point) it is not reproduced; otherwise inconclusive (fewer than 5 verdict
# seeds: inconclusive). The narrow width's interval is reported (on the intervals figure too), not gated. Premises,
# each failing making X1 inconclusive: `x1_lr_grid_spans_stability_edge` (every arm at both widths has a choice, and
# at its chosen lambda some rate of the grid is unstable, so the margin is measured, not set by the grid's top) and
# `x1_verdict_runs_finite` (every verdict run of every arm, the no-L2 reference included, stays finite). Each arm's
# chosen lambda and rate per width are declared choices: one at the edge of its grid makes X1 inconclusive.
#
# One pilot of this section alone at full size (not a record; seed 0, the profile as declared above; 280 s wall and
# 398 s of CPU on the 2 cores, shared with another job, load average 2.4–2.7). The rule worked as meant: at every
# chosen lambda the edge lay inside the grid and the choice one step or more below it — width 128: edge 0.024, every
# arm at 0.012 (plain λ = 1e-3, scaled λ = 1e-4); width 512: edge 0.012 (plain λ = 1e-2, no L2) or 0.024 (scaled
# λ = 1e-4), every arm at 0.006. No lambda or rate at the edge of its grid, and every verdict run finite (the pilot
# before the rule had a diverged verdict seed in every arm). Test accuracy, width 128: plain 0.958, scaled 0.963, no
# L2 0.951, scaled − plain +0.006 [−0.000, +0.012] (not gated); width 512: plain 0.966, scaled 0.964, no L2 0.964,
# scaled − plain −0.002 [−0.007, +0.002] (se_seeds 0.002, se_points 0.0015), wholly below the effect of interest
# +0.01: `layerwise_l2_improves_wide` would fail, X1 not reproduced at this scale. Nothing was changed after the
# pilot. At width 128 one seed of the scaled arm and one of the no-L2 arm stopped at the last read (step 800); the
# stop steps are reported, not declared choices.

# %%
from ntkrepro.claims.finite_vs_infinite import l2scaling as L2

x1 = L2.x1_study(P.x1_widths, P.x1_lrs, P.x1_plain_lambdas, P.x1_scaled_lambdas, depth=P.x1_depth,
                 n_train=P.x1_n_train, n_val=P.x1_n_val, n_test=P.x1_n_test, steps=P.x1_steps,
                 eval_every=P.x1_eval_every, batch=P.x1_batch, tuning_seeds=P.x1_tuning_seeds, n_seeds=P.x1_seeds,
                 W_std=P.W_std, b_std=P.b_std, seed=P.seed)
import pandas as pd

pd.DataFrame([{"width": w, "arm": arm, "lambda": r[arm]["chosen_lambda"], "lr": r[arm]["chosen_lr"],
               "edge lr": r[arm]["edge_lr"], "edge located": r[arm]["edge_located"],
               "val acc": r[arm]["val_accuracy"], "test acc": r[arm]["accuracy_mean"],
               "verdict runs finite": r[arm]["verdict_finite"] and all(r[arm]["verdict_finite"]),
               "scaled − plain [90 % CI]": (f"{r['advantage']['mean_diff']:+.3f} [{r['advantage']['ci_low']:+.3f}, "
                                            f"{r['advantage']['ci_high']:+.3f}]"
                                            if arm == "scaled" and r["advantage"] else "")}
              for w, r in x1["per_width"].items() for arm in L2.ALL_ARMS])

# %% [markdown]
# ## Checks and verdict
#
# Each row compares against a closed form, an independent implementation, a threshold stated in advance, or a
# negative control; any of them can fail. Each finding's verdict (reproduced, not reproduced, inconclusive, not
# run) follows the ledger's rules; the claim's verdict counts the findings.
#
# Three checks are declared `smoke_decides=False`: in the smoke profile they are inconclusive whatever their
# outcome, because the smoke sizes cannot decide them (in the f580f12 records `ensemble_recovers_gap` and
# `low_precision_breaks_beyond_a_size` failed at smoke size and passed at full size, and `large_lr_changes_ntk_shape`
# passed at smoke size and failed at full size). Their full-profile gates are unchanged.

# %%
metrics = E.collect(kern, finite, P.widths, brk, shrink, drt, prec, nvn, nvn1, emp, dvw, par, zca_acc=zca_acc, cnn=cnn,
                    tuned=tuned, zre=zre, zre_conv=zre_conv, equivariance=f10,
                    augmentation=x2, x1=x1)  # the typed record (claims/finite_vs_infinite/metrics.py)
run.save(F.intervals(C.interval_rows(metrics)), "intervals")
run.conclude(metrics);

# %% [markdown]
# ## Reading the result
#
# The verdict, the findings table and the reading above are generated from this run's numbers; every gate is
# declared in `ntkrepro/claims/finite_vs_infinite/claim.py`. The findings are the notes' F1-F10 (the abstract's
# order); those this notebook does not test (F9; F1-CNN, F10 and X2 outside the full profile) are listed as `not run`. What
# would falsify each tested finding:
#
# - **F1** (FCN half): single finite networks not below the NTK predictor by more than 2 s.e.m.
# - **F2**: the 90 % interval of NNGP − NTK accuracy over resplits (digits and MNIST-1D; corrected resampled $t$,
#   since the resplits share most of their data) lying below 0 (a straddle is inconclusive; the first version gated
#   one split, where NNGP won by one test point).
# - **F3**: centred variance not falling with width, centred disagreement not shrinking, ensembles not recovering
#   the gap, or uncentred variance outside the band [0.90, 1.05] of the NTK-GP variance. That band is the one the
#   notes pre-registered; the first version used ±0.2 — the gate now returns to the pre-registered one.
# - **F4**: a large rate or L2 leaving the NTK within the lazy scale, or the agreement with the NTK predictor not
#   dropping where it breaks; control: stable rates must stay lazy. The L2 break is reported next to the shrinkage
#   prediction $1-s^2$.
# - **F6**: ridge and early stopping disagreeing by more than 2 accuracy points on the matched grid; control: a
#   wrong time map must disagree more.
# - **F7**: no power law in $\lambda_{min}/\lambda_{max}$ against $n$, or an emulated float16 solve that does not break
#   between the smallest and the largest of `lowp_sizes`. The float32 check is an implementation check (every size
#   is far below the extrapolated $n^*$); the float16 calibration factor says how far to trust that $n^*$.
# - **F5**: the 90 % interval of NTK − standard parameterization test accuracy (each at its validated rate) lying
#   below 0.
# - **F8**: the 90 % interval of ZCA − plain accuracy over resplits (both arms tuned on validation) lying below 0,
#   for the FCN or the convolutional kernel.
# - The empirical NTK at initialization must approach the analytic one as width$^{-1/2}$ (log-log slope gated in
#   [−0.75, −0.25]): the basis of every comparison of finite and infinite networks here.
#
# - **F1-CNN**: the paired bootstrap interval (seeds and test points) of tuned standard-parameterization CNN-GAP
#   minus tuned CNN-GAP kernel accuracy on MNIST-1D ($n \ge 1000$) lying below 0 (full profile); a straddle is a
#   tie and inconclusive, with its power.
#
# gate changed after a run: cnn_net_beats_cnn_kernel: retired. It compared a lazy NTK-parameterized CNN trained by
# plain GD with the kernel at the same step count, where a network cannot beat its kernel by construction; its
# numbers stay in `cnn` (the `cnn_net_*` and `cnn_kernel_*` keys) and on the intervals figure as a labelled,
# ungated reference. `tuned_cnn_beats_tuned_kernel` poses the comparison as the paper does (issue 29).
#
# **Not tested in this version (declared `not run`, with the reason in the findings table):** F9 (non-monotonic width
# dependence: exploratory, the width sweep's accuracies are reported and plotted) and one of the abstract's further
# contributions, state-of-the-art CIFAR-10 kernels (X3: CIFAR-10 is not installable offline). Layer-wise L2 scaling
# (X1) is tested in section 9.
#
# The `intervals` figure puts every interval-gated comparison of the run side by side.

# %% [markdown]
# **F10 and X2 (issue 29).** F10 (CNN against a locally connected network, section 7) and X2 (kernel ensembling over
# ±1-pixel shifts, section 8) are gated in the full profile. What would falsify them:
#
# - **F10**: the interval of (CNN − LCN at the narrow width) − (CNN − LCN at the wide width) lying below 0, or the
#   kernel-limit advantage (CNN-VEC NTK − LCN-VEC NTK, ridges tuned on validation) outside ±1 accuracy point.
#   Control: the two infinite-width kernels must coincide (Flatten readout), an implementation check. Premises (each
#   failing makes F10 inconclusive): every finite arm fits its training set (final loss below 0.1 × predicting 0's)
#   and reaches at least 0.7 × the NTK predictor's test accuracy.
# - **X2**: the 90 % corrected resampled interval of shift-ensemble − single FCN NNGP accuracy on digits lying below 0.

# %% [markdown]
# **X1 (issue 29 item 7).** The layer-wise scaled L2 (section 9; reconstructed) is gated at the wide width of
# `x1_widths`. What would falsify it: the 90 % paired bootstrap interval of scaled − plain test accuracy lying wholly
# below +0.01 (the scaled penalty not better by one accuracy point). Premises (each failing makes X1 inconclusive):
# every arm's rate chosen at least one grid step below a stability edge located inside the rate grid, and every
# verdict run finite; a lambda or rate chosen at the edge of its grid is inconclusive too.

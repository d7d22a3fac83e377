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
# # Claim 3 — Bottlenecks accelerate infinitely wide networks (Littwin et al. 2021)
#
# **Paper.** E. Littwin, O. Saremi, S. Zhai, V. Thilak, H. Goh, J. M. Susskind, G. Yang, *Implicit Acceleration and
# Feature Learning in Infinitely Wide Neural Networks with Bottlenecks*, [arXiv 2107.00364](https://arxiv.org/abs/2107.00364) (2021).
#
# **Claim.** A single finite-width bottleneck inside an otherwise infinitely wide network lets the bottleneck
# representation learn data-dependent features (the NTK limit cannot), and this dramatically accelerates training
# compared with the purely infinite (NTK) network, with better final performance. The acceleration is understood
# through infinitely wide deep linear networks, where a bottleneck acts as a growing preconditioner.
#
# **What is reconstructed.** The paper's text was not available (only its abstract and a third-party summary). The
# model $F=f\circ g$ ($g:\mathbb R^m\to\mathbb R^d$ and $f:\mathbb R^d\to\mathbb R$ infinitely wide ReLU networks,
# NTK parameterization, bottleneck width $d$ finite) and its simulation are our reconstruction: $g$ is exact through
# its neural-tangents kernels (the bottleneck $Z$ moves by kernel gradient descent with $\Theta_g$) and $f$ is a wide
# random-feature network. The tasks, widths and learning rates are ours; **no paper number is claimed**. Which
# learning-rate protocol the paper used is unknown, so both are shown.

# %% tags=["parameters"]
# Parameters. None = take the value from the profile ("smoke": seconds, "full": the paper-scale figure).
profile = "smoke"
seed = None
output_dir = None
stage_dir = None  # set by `python -m ntkrepro run` (its staging folder); None: write to output_dir
n_train = None
n_test = None
input_dim = None
target = None             # "quadratic" | "linear" | "tanh"
amplitude = None          # target scale
bottleneck_widths = None
rf_width = None           # random-feature width simulating the infinite f
lr = None                 # shared learning rate
steps = None
seeds = None
lr_ratio = None           # ratio between adjacent rates of every model's grid (the one-step stability margin)
lr_factors = None         # the NTK's rate grid, in units of its stability bound lr_max (lr_ratio^(k+1/2), past 1)
bottleneck_lr_factors = None  # each bottleneck width's rate grid, same units and lattice (reaches past lr_max)
tune_seeds = None         # tuning seeds per rate (seed + 1000 + i; never used for a verdict)
tune_steps = None         # steps of each tuning run
rf_check_widths = None    # bottleneck widths at which the random-feature width is swept
digits_widths = None      # digits panel
digits_seeds = None
digits_draws = None       # single NTK networks drawn from the GD ensemble
digits_amplitudes = None  # target scales of the digits training-speed panel
linear_amplitudes = None  # deep-linear experiment
linear_widths = None
linear_lr = None          # shared deep-linear learning rate (every width stable there)
linear_steps = None
rf_widths = None          # random-feature widths of f swept at rf_check_widths
n_align = None            # points for the effective-NTK trace and alignment
n_finite = None           # finite-network checks
finite_width = None
finite_d = None
wide_width = None         # finite network without bottleneck (laziness check)
wide_steps = None
run_digits = None         # real-data panel

# %%
import numpy as np

from ntkrepro.claims.bottleneck import figures as F, science as E
from ntkrepro.io import drop_private
from ntkrepro.notebook import start

P, run = start("bottleneck", globals())  # validates every knob before any compute
# every random input of the notebook, drawn here in one order (the record's): the headline task, the deep-linear
# inputs (section 2), the two tasks of the finite-network checks (section 3) and the amplitude-1 task of the
# alignment control (section 2); every training run seeds its own initialization
rng = np.random.default_rng(P.seed)
task = E.make_task(P.target, P.amplitude, P.n_train, P.n_test, P.input_dim, rng)
linear = E.linear_inputs(P.input_dim, P.linear_widths, rng)
finite_tasks = E.finite_tasks(P.target, P.amplitude, P.n_finite, P.n_test, P.input_dim, rng)
unit_task = E.make_task(P.target, 1.0, P.n_train, P.n_test, P.input_dim, rng)
dict(P)

# %% [markdown]
# ## 1. Every model tuned alike, and the headline at the shared rate
#
# **Rate tuning (issue 28), every model the same way.** Every model's grid lies on one log-spaced lattice,
# $\mathrm{lr_{max}}\,r^{k+1/2}$ with $r$ = `lr_ratio` and $\mathrm{lr_{max}}=2nk/\lambda_{\max}$ the NTK's exact
# stability bound under discrete GD (half a step between two grid rates, where an unknown edge falls on average): the
# NTK's `lr_factors`, each bottleneck width's `bottleneck_lr_factors`; both reach past their model's stability edge.
# Each bottleneck rate runs `tune_seeds` tuning seeds (seed + 1000 + i, never used for a verdict) for `tune_steps`
# steps, every (rate, seed) pair of a width in one batched (vmapped) call; the NTK's rates are judged on its
# closed-form expected loss under discrete GD (an expectation over initialization). A rate counts when it is stable on
# every tuning seed (finite, the last loss within 2x of the run's minimum or below 10 % of the base loss, and
# below the first; a transient rise it recovers from is allowed). **The rule, the same for every model:** the
# stability edge is the largest rate stable on every tuning seed; among the stable rates at least **one grid step
# below the edge** (a declared stability margin of $r$, the same for every arm) choose the fastest (median steps to
# 10 %). A choice at the edge of the rates the rule can land on (the largest stable rate at the grid's top, or the
# choice at the grid's bottom) makes F1 and F2 inconclusive (the ledger's rule).
#
# **Protocol changed after a run (the referee's finding); the gates were not.** The first version chose, per model,
# the fastest rate stable on 3 tuning seeds, with the NTK's grid topped at 0.99 $\mathrm{lr_{max}}$ and the bottlenecks'
# grids stepping by about 1.89x. That lands on the stability edge by construction: at the chosen rate some *verdict*
# seeds diverged, so d = 8 and d = 32 were censored (inconclusive) in the full run, although at d = 8 the referee
# measured +0.72 [0.53, 0.92] log-speedup at the same rate on other seeds and +0.15 [0.00, 0.30] one grid step lower.
# It was also one-sided: the NTK sat at 0.99 of its exact bound while a bottleneck's choice could sit up to 1.89x below
# its own edge. Now every arm has the same grid ratio and the same one-step stability margin, and the NTK's edge is
# found by the same criterion. The margin costs the NTK a factor of about $r^{1.5}$ in rate against its bound (its
# steps scale as 1/rate); `lr_tuning.ntk` reports its steps to 10 % at its fastest stable rate and at the chosen one.
# The gates of the four `*_at_best_lr` checks are unchanged (interval above 0); their declared `matched` changed.
#
# **Changed again after the first full run of this rule (gates unchanged).** (1) The rule first stepped one grid step
# below the *fastest* stable rate; where speed is not monotone in the rate (d = 2: fastest 0.24, yet 0.453 stable) that
# put a model two steps under its edge, so the margin is now measured from the largest stable rate. (2) The stability
# criterion was one-sided: d = 128 was "stable" on only 2 of 3 tuning seeds at 0.855, 1.61 and 3.04. A first guess
# (float32 noise at a trained-out loss; a last loss below $10^{-4}$ of the base loss counted as stable) was wrong and
# changed nothing. A referee found the cause: tuning seed 1002 falls to 0.0048 (0.0010) of the base loss near step
# 256, bumps to 0.0121 (0.0025) at step 300, where the criterion reads it (last/min 2.5 > 2), and then falls to
# $7\cdot10^{-5}$ ($5\cdot10^{-7}$) by step 1200; all five verdict seeds are stable there and beat the NTK. Only a
# model whose kernel grows in training bumps like this; the NTK never does. A last loss below 10 % of the base loss
# now counts as stable (a bump at low loss is not a blow-up; a run back above 10 % still fails). The first run of the
# rule read early speed −0.14 [−0.18, −0.10] at d = 128 (chosen 0.24) and final training loss −0.80 [−1.16, −0.43]
# at d = 2. Still open (the referee's point, not changed here): the one-step margin costs the NTK, whose edge is
# exact, the full factor 1.89 in steps and buys it no safety, while it buys the bottlenecks real reliability (at
# their 3-seed edges 2 of 5 verdict seeds diverge at d = 8 and d = 32); with the NTK at its edge, late speed at
# d = 2 fails and early speed passes only by a hair. F2 fails under every protocol the referee tried.
#
# **The headline.** Then each width runs its `seeds` verdict seeds at the shared rate `lr` and at its tuned rate, in
# one batched call. The NTK ($d=\infty$) is exact in closed form: its expected training loss over initialization by
# eigendecomposition, checked against `nt.predict.gradient_descent_mse_ensemble`. Losses are relative to the zero
# predictor's, $\frac12\mathrm{mean}(y^2)$. The shared rate is reported as a fraction of each model's largest stable
# rate, and the NTK is also run at the shared rate scaled by each width's growth of its effective-kernel trace: the
# part of the speedup a larger effective step explains.

# %%
spec, lr_max = E.ntk_problem(task)  # the NTK's spectrum and its stability bound lr_max (the grids' unit)
tuning = E.tune_rates(task, spec, lr_max, widths=P.bottleneck_widths, lr_factors=P.lr_factors,
                      bottleneck_lr_factors=P.bottleneck_lr_factors, rf_width=P.rf_width,
                      tune_seeds=P.tune_seeds, tune_steps=P.tune_steps, seed=P.seed)
exp = E.experiment(task, spec, lr_max, tuning, widths=P.bottleneck_widths, rf_width=P.rf_width, lr=P.lr,
                   steps=P.steps, seeds=P.seeds, seed=P.seed, n_align=P.n_align)
head = exp["head"]
run.save(F.headline(head, P), "headline")
{"shared_rate": exp["shared_rate"], "trace_scaled_ntk": exp["trace_scaled_ntk"],
 "lr_tuning": {k: {q: v[q] for q in ("fastest_stable", "chosen", "margin", "smallest_unstable_above", "at_edge")}
               for k, v in exp["lr_tuning"].items()}}

# %% [markdown]
# ## 2. The mechanism: the effective kernel learns the target
#
# $\Theta_F=J_pJ_p^\top+(J_zJ_z^\top)\circ\Theta_g$ on `n_align` training points at the start and the end of every
# verdict seed at the shared rate: its trace and its kernel–target alignment $y^\top\Theta y/(\|\Theta\|_F\|y\|^2)$
# (F3 is an interval over those seeds). The NTK's kernel is fixed by construction: its alignment on the same points is
# the reference line. The control repeats the measurement at amplitude 1. Then the deep linear model, where the
# mechanism is exact: with $W=UV$ and a width-$d$ bottleneck, the end-to-end dynamics carry the preconditioners
# $V^\top V$ and $UU^\top$, which grow with the target; the infinite net is linear regression with a fixed
# preconditioner (checked against its closed form). Every width runs at the shared rate `linear_lr`, and each run is
# flagged `stable` by a criterion declared before the run (`is_stable`: no loss increase over any 10-step window
# before the tolerance is reached); speedups are compared on stable runs only.

# %%
align = E.alignment_rows(head)  # F3 over the verdict seeds, per width
align1 = E.alignment_unit_amplitude(unit_task, d=P.bottleneck_widths[0], rf_width=P.rf_width, lr=P.lr,
                                    steps=P.steps, seed=P.seed, n_align=P.n_align)
dl = E.deep_linear(linear, amplitudes=P.linear_amplitudes, lr=P.linear_lr, steps=P.linear_steps)
run.save(F.mechanism(align, head["ntk"]["alignment"], align1), "mechanism")
run.save(F.deep_linear(dl, P), "deep_linear")
{"alignment": align,
 "deep_linear": {a: {d: v["speedup"] for d, v in row.items() if d != "infinite"} for a, row in dl.items()}}

# %% [markdown]
# ## 3. Validation against finite networks
#
# The hybrid simulation against a fully finite NTK-parameterized `stax` network with the same bottleneck, and the NTK
# against a wide finite network *without* a bottleneck at unit amplitude (where it should be lazy).

# %%
fin = E.finite_check(finite_tasks, amplitude=P.amplitude, finite_d=P.finite_d, finite_width=P.finite_width,
                     wide_width=P.wide_width, wide_steps=P.wide_steps, lr=P.lr, steps=P.steps, seed=P.seed,
                     rf_width=P.rf_width, n_align=P.n_align)
drop_private(fin)

# %% [markdown]
# ## 4. Each model at its tuned rate, per width
#
# Both protocols, labelled: the same rate for every model (the paper's framing, as far as the abstract tells) and
# each model at its own tuned rate (section 1). At tuned rates, per width, the interval over the verdict seeds of
# log(NTK steps / bottleneck steps) to 10 % (early) and to 1 % (late), of log(NTK final loss / bottleneck's) and of
# the test error gain (the NTK side: a single NTK network's expected test error over initialization). The NTK side is
# its closed form (an expectation: it has no seed spread). A width with a seed that never reached a level is
# censored, so its check is inconclusive.

# %%
rows = E.tuned_rows(exp["best"], P.steps)
run.save(F.lr_tuning(exp["lr_tuning"], rows, exp["shared_rate"]["ntk_lr_max"], P), "lr_tuning")
run.save(F.best_lr(exp["best"], head, P), "best_lr")
{d: {k: r[k] for k in ("lr", "early_log_speedup", "late_log_speedup", "final_train_log_ratio", "test_gain")}
 for d, r in rows.items()}

# %% [markdown]
# ## 5. Where does the speedup come from?
#
# Two probes. The random-feature width $M$ of $f$ at the widest width in `rf_check_widths`, at its tuned rate: $f$
# stands for an infinitely wide network, so the verdict's $M$ (`rf_width`) must give steps to 10 % within 1.25x of
# the widest swept $M$ (a control of F1). And a finite network *without* a bottleneck (width `wide_width`) at the
# headline amplitude and rate: its steps to 10 % and the relative change of its empirical NTK (reported, not gated).

# %%
rf = E.rf_width_tuned(task, exp["lr_tuning"], head["_base"], check_widths=P.rf_check_widths,
                      widths=P.bottleneck_widths, rf_widths=P.rf_widths, rf_width=P.rf_width,
                      tune_steps=P.tune_steps, steps=P.steps, seed=P.seed)
nob = E.no_bottleneck_finite(task, head["_base"], width=P.wide_width, lr=P.lr, steps=P.steps, seed=P.seed,
                             n_align=P.n_align)
sweep = E.rf_width_sweep(rf)
run.save(F.where_from(sweep, nob, head), "where_from")
sweep, nob

# %% [markdown]
# ## 6. Real data (scikit-learn digits)
#
# Every model at the same rate (0.5 x the NTK's largest stable rate) for `steps` steps. The NTK baseline is a *single
# network*: `digits_draws` draws from the GD ensemble's mean and covariance at the same time (the mean predictor,
# which no single network is, stays as a reference). Accuracy per width over `digits_seeds` seeds, the interval
# carrying the test-set error (a bootstrap over seeds and test points, paired on the points against the NTK). Training
# speed at target amplitudes 1 and 5: the deep-linear mechanism predicts no acceleration at unit scale.

# %%
digits = (E.digits_panel(P.n_train, P.steps, P.seed, P.rf_width, widths=P.digits_widths, seeds=P.digits_seeds,
                         draws=P.digits_draws, amplitudes=P.digits_amplitudes) if P.run_digits else None)
if digits is not None:
    run.save(F.digits(digits), "digits")
digits

# %% [markdown]
# ## Checks and verdict

# %%
metrics = E.collect(exp, dl, fin, digits, align1, rf, nob)  # the claim's typed record (metrics.BottleneckMetrics)
run.conclude(metrics);

# %% [markdown]
# ## Reading the result
#
# The verdict, the findings table and the reading above are generated from this run's numbers; every gate is
# declared in `ntkrepro/claims/bottleneck/claim.py`. What would falsify each finding:
#
# - **F1** (acceleration): at the same rate, a width slower than 2x the NTK; at each model's tuned rate (one lattice
#   of >= 8 rates per model, the fastest rate at least one grid step below the largest rate stable on every tuning
#   seed, the same for the NTK),
#   a width whose interval over the verdict seeds of log(NTK steps / bottleneck steps) to 10 % (early) or to 1 %
#   (late) lies below 0 (reproduced only when every width's interval lies above 0; a straddle or a censored width is inconclusive; per-width rows in `best_lr_per_width`, the verdict's
#   width dependence there). On digits, at amplitude 5, a width whose final loss is not below the NTK's. Controls: the
#   acceleration must weaken as the bottleneck widens, and the verdict's random-feature width must give the speed of
#   a 4x wider $f$ within 1.25x.
# - **F2** (performance): a width whose test error is significantly above the NTK's (interval over seeds; reproduced
#   only when every width is significantly below; the NTK side is a single NTK network's expected test error over
#   initialization, mean predictor plus GP variance, so both sides carry their initial function), a final training
#   loss not below the NTK's (at the shared and at tuned rates), or a digits accuracy whose paired interval against a
#   single NTK network lies below 0.
# - **F3** (features): an effective kernel whose alignment does not grow, or ends below the NTK's (intervals over the
#   verdict seeds); control: at amplitude 1 the gain must be smaller.
# - **F4** (deep-linear mechanism): a speedup that does not grow with the amplitude on stable runs; controls: unit
#   amplitude (no acceleration expected) and wide bottlenecks approaching the NTK. Gates changed after a run:
#   the first version compared the widest width with the narrowest one that reached the tolerance at lr = 1, a
#   chaotic run (d = 4, invariant drift 0.31); the control is now posed on runs that meet a declared stability
#   criterion, at a shared rate (0.25, the rate where the referee found every width's loss falling monotonically).
#
# Gates re-posed by issue 28 (the referee's reimplementation), recorded as the ledger asks:
#
# - gate changed after a run: bottleneck_faster_early_at_best_lr (second time, after the referee's run): the gate
#   (interval above 0) is unchanged; the tuning rule and its `matched` declaration changed to the same grid ratio and
#   the same one-step stability margin for every arm (section 1): the fastest-stable rule had censored d = 8 and
#   d = 32 on verdict seeds that diverged at the edge, with the NTK at 0.99 of its exact bound.
# - gate changed after a run: bottleneck_faster_late_at_best_lr: likewise (gate unchanged, tuning rule re-posed).
# - gate changed after a run: bottleneck_lower_final_train_loss_at_best_lr: likewise.
# - gate changed after a run: bottleneck_better_test_error_at_best_lr: likewise.
# - gate changed after a run: bottleneck_faster_early_at_best_lr: the rate grid {0.1, 0.4, 0.9} x lr_max chosen on
#   seed 0 made d = 8 fall back to 0.221 when seed 0 diverged at 0.886; each model now has its own grid of >= 8 rates
#   chosen on tuning seeds apart from the verdict seeds, and the interval is of the early speedup at those rates.
# - gate changed after a run: speedup_not_set_by_rf_width: it compared M = 256 with M = 4096 at the shared rate; what
#   a verdict relies on is the M it used (rf_width) against a 4x wider f, at the tuned rate (within 1.25x).
# - gate changed after a run: digits_bottleneck_more_accurate: it compared one d = 8 seed with the NTK mean predictor,
#   which no single network is; it is now a paired bootstrap interval (seeds and test points) against single NTK
#   networks drawn from the GD ensemble, worst width.
# - gate changed after a run: effective_kernel_learns_target: one seed per width; now an interval over the verdict
#   seeds, worst width.
# - gate changed after a run: effective_kernel_beats_ntk_alignment: one seed per width; now an interval over the
#   verdict seeds, worst width.
# - gate changed after a run: bottleneck_accelerates: the gate (> 2x) is unchanged; the check now declares its arms
#   and what is matched (the shared rate, whose fraction of each model's largest stable rate is in `shared_rate`).
# - gate changed after a run: bottleneck_lower_final_train_loss: the gate is unchanged; this shared-rate comparison
#   now declares its arms and what is matched, as bottleneck_accelerates does (found by an audit of comparisons
#   without `matched` after the record at ae7e68c was made).
# - gate changed after a run: bottleneck_better_test_error: likewise (gate unchanged; arms and matched declared).
# - check changed after a run: hybrid_matches_finite_network (gate unchanged, log 1.5 on steps): with neither run
#   reaching 10 % it compared the final-loss ratio, which is not a ratio of steps (the full record has steps within
#   3 % and final losses 4.4x apart); it is now not run there, with the reason (claim map, amplitude 1, where one
#   seed per arm cannot resolve 1.5x this early: the hybrid's steps to 40 % range 204-377 over six seeds).

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
lr_factors = None         # best-lr sweep, in units of the NTK's maximum stable rate
linear_amplitudes = None  # deep-linear experiment
linear_widths = None
linear_lr = None          # shared deep-linear learning rate (every width stable there)
linear_steps = None
rf_widths = None          # random-feature widths of f swept at d = 128
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
from ntkrepro.notebook import start

P, run = start("bottleneck", globals())  # validates every knob before any compute
rng = np.random.default_rng(P.seed)
task = E.make_task(P.target, P.amplitude, P.n_train, P.n_test, P.input_dim, rng)
dict(P)

# %% [markdown]
# ## 1. The headline: NTK against bottlenecks at the same learning rate
#
# The NTK ($d=\infty$) is exact in closed form: its expected training loss over initialization by eigendecomposition,
# checked against `nt.predict.gradient_descent_mse_ensemble` (mean and covariance). Each bottleneck is simulated for
# `seeds` seeds (intervals over seeds decide the width and test-error comparisons). Losses are relative to the zero
# predictor's, $\frac12\mathrm{mean}(y^2)$.

# %%
head = E.headline(task, P)
run.save(F.headline(head, P), "headline")
{"ntk": head["ntk"], **{d: {k: v[k] for k in ("steps_to_10pct", "steps_to_1pct", "final_train_rel", "test_rel_mse")}
                      for d, v in head["bottleneck"].items()}}

# %% [markdown]
# ## 2. The mechanism: the effective kernel learns the target
#
# $\Theta_F=J_pJ_p^\top+(J_zJ_z^\top)\circ\Theta_g$ on `n_align` training points, at the start, a third of the way
# and the end of training: its trace and its kernel–target alignment $y^\top\Theta y/(\|\Theta\|_F\|y\|^2)$. The
# NTK's kernel is fixed by construction: its alignment on the same points is the reference line. The control repeats
# the measurement at amplitude 1 (a small target should move the kernel less). Then the deep linear model, where the
# mechanism is exact: with $W=UV$ and a width-$d$ bottleneck, the end-to-end dynamics carry the preconditioners
# $V^\top V$ and $UU^\top$, which grow with the target; the infinite net is linear regression with a fixed
# preconditioner (checked against its closed form). Every width runs at the shared rate `linear_lr`, and each run is
# flagged `stable` by a criterion declared before the run (`is_stable`: no loss increase over any 10-step window
# before the tolerance is reached); speedups are compared on stable runs only.

# %%
dl = E.deep_linear(P, rng)
fin = E.finite_check(P, rng)
best = E.best_lr(task, P, head["_lr_max"])
digits = E.digits_panel(P) if P.run_digits else None
align1 = E.alignment_unit_amplitude(P, rng)
rf = E.rf_width_sweep(task, P, head["_base"])
nob = E.no_bottleneck_finite(task, P, head["_base"])
metrics = E.collect(head, dl, best, fin, digits, align1, rf, nob)
run.save(F.mechanism(metrics["alignment"], metrics["ntk"]["alignment"], align1), "mechanism")
run.save(F.deep_linear(dl, P), "deep_linear")
{a: {d: v["speedup"] for d, v in row.items() if d != "infinite"} for a, row in dl.items()}

# %% [markdown]
# ## 3. Validation against finite networks
#
# The hybrid simulation against a fully finite NTK-parameterized `stax` network with the same bottleneck, and the NTK
# against a wide finite network *without* a bottleneck at unit amplitude (where it should be lazy).

# %%
metrics["finite_check"]

# %% [markdown]
# ## 4. The learning-rate control
#
# Part of the equal-rate "acceleration" can be the bottleneck's effective kernel growing, which may move its largest
# stable rate. Both protocols, labelled: the same rate for every model (the paper's framing, as far as the abstract
# tells) and each model at its own best stable rate from a small sweep (chosen with one seed on steps to 10 %, the
# verdict's level; then every seed is run at the chosen rate and the verdict comes from the interval over seeds).

# %%
run.save(F.best_lr(best, head, P), "best_lr")
best

# %% [markdown]
# ## 5. Where does the speedup come from?
#
# Two probes. The random-feature width $M$ of $f$ at $d=128$: $f$ stands for an infinitely wide network, so the
# speed must not hinge on $M$ (a control of F1). And a finite network *without* a bottleneck (width `wide_width`) at
# the headline amplitude and rate: its steps to 10 % and the relative change of its empirical NTK. If that kernel
# moves a lot, the finite net is not lazy at this amplitude, and part of what the bottleneck buys over the NTK is
# what any finite network buys there (reported, not gated: it says what the NTK baseline stands for).

# %%
run.save(F.where_from(rf, nob, head), "where_from")
rf, nob

# %% [markdown]
# ## 6. Real data (scikit-learn digits), gated as part of F2

# %%
digits

# %% [markdown]
# ## Checks and verdict

# %%
run.conclude(metrics);

# %% [markdown]
# ## Reading the result
#
# The verdict, the findings table and the reading above are generated from this run's numbers; every gate is
# declared in `ntkrepro/claims/bottleneck/claim.py`. What would falsify each finding:
#
# - **F1** (acceleration): at the same rate, a width slower than 2x the NTK; at each model's best stable rate, a
#   width whose interval over seeds of log(NTK steps / bottleneck steps) to 10 % lies below 0 (reproduced only when
#   every width's interval lies above 0; a straddle is inconclusive; per-width rows in `best_lr_per_width`). The
#   first version took the maximum over widths, which hid a width slower than the NTK. Controls: the acceleration
#   must weaken as the bottleneck widens (a Welch interval over seeds, so two lucky seeds no longer decide it), and
#   must not depend on the random-feature width of $f$.
# - **F2** (performance): a width whose test error is significantly above the NTK's (interval over seeds; reproduced
#   only when every width is significantly below; the NTK side is a single NTK network's expected test error over
#   initialization, mean predictor plus GP variance, so both sides carry their initial function), a final training
#   loss not below the NTK's, or a digits accuracy not above the NTK mean predictor's (that one compares a single
#   bottleneck network with the NTK's mean, which favours the NTK).
# - **F3** (features): an effective kernel whose alignment does not grow, or ends below the NTK's; control: at
#   amplitude 1 the gain must be smaller.
# - **F4** (deep-linear mechanism): a speedup that does not grow with the amplitude on stable runs; controls: unit
#   amplitude (no acceleration expected) and wide bottlenecks approaching the NTK. Gates changed after a run:
#   the first version compared the widest width with the narrowest one that reached the tolerance at lr = 1, a
#   chaotic run (d = 4, invariant drift 0.31); the control is now posed on runs that meet a declared stability
#   criterion, at a shared rate (0.25, the rate where the referee found every width's loss falling monotonically).

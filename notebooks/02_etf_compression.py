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
# # Claim 2 — The ETF compression conjecture (Amani, Bombari, Mondelli, Pukdee, Rini 2022)
#
# **Paper.** M. Amani, S. Bombari, M. Mondelli, R. Pukdee, S. Rini, *Sharp asymptotics on the compression of
# two-layer neural networks*, IEEE ITW 2022, [arXiv 2205.08199](https://arxiv.org/abs/2205.08199).
#
# **Claim.** A wide two-layer ReLU target $f(x)=\sum_{i=1}^N a_i\,\mathrm{relu}(w_i\cdot x)$ with i.i.d.
# sub-Gaussian weights is compressed into $M<N$ nodes by minimizing the population $L_2$ loss under Gaussian inputs.
# For an over-parameterized target the problem simplifies to one that depends only on scalars of the target; the
# *conjecture*: the optimum of the simplified problem puts the compressed weights on an **equiangular tight frame**
# (ETF), whose scale and orientation depend on the target.
#
# **What is reconstructed.** The paper's full text was not available; only its abstract (and its Fig. 1, an ETF
# illustration) was read. The setting below is a *reconstruction consistent with the abstract*: $x\sim N(0,I_d)$,
# $a_i=1/N$, $w_i=\mu+\sigma_w z_i/\sqrt d$ with Gaussian or Rademacher $z_i$; the simplified objective
# $\mathcal L_{sim}$ depends on $\alpha=\sqrt{|\mu|^2+\sigma_w^2}$ and $c=|\mu|/\alpha$. The ETF closed forms
# (simplex and tilted), the error identity and the controls are derived in the companion's notes. **No paper
# number is claimed or used as a target.**

# %% tags=["parameters"]
# Parameters. None = take the value from the profile ("smoke": seconds, "full": the paper-scale figure).
profile = "smoke"
seed = None
output_dir = None
stage_dir = None  # set by `python -m ntkrepro run` (its staging folder); None: write to output_dir
d = None                # input dimension (simplified and tilted problems)
M_list = None           # compressed widths, each at most d + 1
N_list = None           # target widths for the finite-N experiments
n_restarts = None       # random starts per M
steps = None            # gradient-descent steps
lr = None               # step size times M
mu_norm = None          # |E w| (tilted experiments)
sigma_w = None          # spread of the target weights
weights = None          # "gaussian" | "rademacher" (finite-N experiment)
train_b = None          # also train the output weights (free-sign variant)
M_finite = None         # compressed width of the finite-N and error experiments
finite_d_list = None
finite_restarts = None
error_d_list = None
n_draws = None          # target draws per (N, d) in the error study
mc_samples = None       # fresh inputs for the Monte Carlo checks
c_sweep = None          # values of c for t*(c), rho*(c)
tilted_c_list = None    # values of c where gradient descent runs on the tilted problem
sign_p_per_M = None     # numbers p of output weights at -1 tested per M
sign_restarts = None    # random starts per sign pattern
sign_steps = None       # gradient-descent steps per sign pattern
finite_draws = None     # target draws per (N, d), finite-N experiment
a_spread = None         # relative spread of random output weights a_i (third target family)
identity_d_list = None  # cells of the expected-loss identity check
identity_N_list = None
identity_draws = None   # target draws per identity cell
search_M_list = None    # M of the hard search of the open cases
search_starts = None    # random starts per M of the hard search
search_steps = None     # GD steps per start of the hard search
search_rtol = None      # a start reaches the conjectured optimum within this relative loss
search_lbfgs_starts = None  # free-sign search: mixed-sign starts per M, each minimised by L-BFGS
search_v_scale = None   # free-sign search, mixed-sign starts: sd of each input weight, times sqrt(d)
search_b_scale = None   # free-sign search, mixed-sign starts: sd of each output weight

# %%
import numpy as np

from ntkrepro.claims.etf import figures as F, science as E
from ntkrepro.notebook import start

P, run = start("etf", globals())  # validates every knob before any compute
rng = np.random.default_rng(P.seed)
alpha, c = E.target_scalars(P.mu_norm, P.sigma_w)
dict(P, alpha=alpha, c=c)

# %% [markdown]
# ## 1. The dual activation
#
# $\mathbb E_x[\mathrm{relu}(u\cdot x)\,\mathrm{relu}(v\cdot x)]=|u||v|\,\kappa(\rho)$ with
# $\kappa(\rho)=\big(\sqrt{1-\rho^2}+(\pi-\arccos\rho)\rho\big)/(2\pi)$ (Cho & Saul 2009). Every loss below is exact
# in this kernel. It is checked against neural-tangents (`Dense(1, W_std=√d) + Relu`, NNGP) and Monte Carlo. Its
# derivative is hand-written, $\kappa'=(\pi-\arccos\rho)/(2\pi)$: autodiff through `arccos` is NaN at $\rho=-1$,
# which is exactly the $M=2$ optimum.

# %%
kern = E.kernel_check(P.d, P.seed, n_mc=P.mc_samples)
{k: kern[k] for k in ("kernel_max_abs_err_nt", "kernel_mc_max_abs_z")}

# %% [markdown]
# ## 2. Centred target: gradient descent finds the simplex ETF
#
# With $\mu=0$, $\mathcal L_{sim}(V)=\frac{\alpha^2}{2\pi}-\frac{2\alpha}{2\pi}\sum_j|v_j|+\sum_{jl}k(v_j,v_l)$. The
# ETF prediction: equal norms $r^*=\alpha M/(2\pi C_M)$, cosines $-1/(M-1)$ and
# $L^*=\frac{\alpha^2}{2\pi}-\frac{\alpha^2M^2}{4\pi^2C_M}$ with $C_M=\frac M2+M(M-1)\kappa(-\frac1{M-1})$. Plain
# gradient descent (jitted `lax.scan`, restarts vmapped) from small random starts, output weights $b=+1$, for each
# $M\le d+1$. The free-sign variant trains $b$ too: local minima exist there, and its hit rate is reported as
# measured. The conjecture would be **falsified** by any start that ends below $L^*$.

# %%
cen = E.centred(rng, M_list=P.M_list, d=P.d, sigma_w=P.sigma_w, n_restarts=P.n_restarts, steps=P.steps, lr=P.lr,
               train_b=P.train_b)
run.save(F.centred(cen, P.sigma_w), "centred_etf")
{M: {k: row[k] for k in ("gd_loss", "etf_loss", "gram_offdiag_max_dev", "etf_hit_rate", "free_b_etf_hit_rate") if k in row}
 for M, row in cen["table"].items()}

# %% [markdown]
# ## 3. Non-centred target: the tilted frame
#
# With $|\mu|>0$ the conjectured optimum is a simplex in $\mu^\perp$ plus a common component along $\mu$:
# $v_j=r^*(t^*\hat\mu+\sqrt{1-t^{*2}}\,e_j)$, with $t^*=\arg\max_t\kappa(ct)^2/C(t)$ from a 1-D search. It is
# equiangular (every pairwise cosine is $\rho^*$) but not tight. Gradient descent on $\mathcal L_{sim}$ (best start,
# finished by L-BFGS) is compared with it entry by entry (every cosine and norm, not their means), per $M$ at the
# target's $c$, and at the largest $M\le d$ for every $c$ in `tilted_c_list`; the frame's axis $\sum_jv_j$ must be
# parallel to $\hat\mu$ (angle below $10^{-6}$).

# %%
til = E.tilted(rng, M_list=P.M_list, d=P.d, mu_norm=P.mu_norm, sigma_w=P.sigma_w, n_restarts=P.n_restarts,
               steps=P.steps, lr=P.lr, tilted_c_list=P.tilted_c_list, c_sweep=P.c_sweep)
run.save(F.tilted(til), "tilted_etf")
{M: {k: row[k] for k in ("t_star", "gd_t", "gram_max_dev", "norm_max_dev", "axis_angle_rad")}
 for M, row in til["table"].items()}, til["c_gd"]

# %% [markdown]
# ### Two readings of "weights on the ETF" for a non-centred target
#
# The abstract says the optimum takes "weights on the Equiangular Tight Frame", with a scaling and an orientation that
# depend on the target. **Literal reading (F5):** the optimum is an equiangular *tight* frame: the simplex ETF in
# $\mu^\perp$ ($t=0$) or the tight tilted frame ($t^2=1/M$, $\rho=0$: an orthonormal $M$-frame with its axis on
# $\mu$), each at its best scale. **Tilted reading (F3, the notes'):** a simplex in $\mu^\perp$ plus a common
# component along $\mu$, equiangular but not tight. The losses of both readings' frames against the optimum, for
# every $M\le d$ and every $c$ of `c_sweep` (`tilted_readings`); which reading the paper means needs its text, which
# we do not have.

# %%
readings = E.readings_sweep(P.M_list, P.d, P.c_sweep)
{M: {c: {k: round(v, 6) for k, v in r.items()} for c, r in by_c.items() if c in ("0", "0.3", "0.6", "0.9")}
 for M, by_c in readings.items() if M in ("3", "8")}

# %% [markdown]
# ### A hard search of the open cases
#
# Free-sign output weights (centred target, $b$ trained with either sign; conjectured optimum: the simplex ETF with
# every $b_j>0$) and the non-centred target ($b=+1$; conjectured optimum: the tilted frame), for $M$ in
# `search_M_list`. The free-sign case has two families of starts: *mixed* (`search_lbfgs_starts` per $M$:
# $V_{ij}\sim\mathcal N(0,$ `search_v_scale`$^2/d)$, $b_j\sim\mathcal N(0,$ `search_b_scale`$^2)$, so most starts have
# output weights of both signs; each minimised by L-BFGS), which the premise reads, and *spread* (`search_starts`
# per $M$, $b_j(0)\sim\mathcal N(0,1)$, vmapped gradient descent), which mostly keeps its drawn signs and ends
# where the negative neurons switched off. The non-centred case runs `search_starts` gradient-descent starts. The
# conjecture is *not reproduced* only if a start of any family ends below the conjectured loss beyond round-off;
# it is *inconclusive* if the premise's family cannot reach the conjectured loss (within `search_rtol`) from most
# starts.
#
# *Protocol changed after a run, twice (the gate did not):* the first version had only the spread family; about
# $2^{-M}$ of its starts draw every $b_j>0$ and a start keeps its drawn signs, so the premise
# `free_sign_search_reaches_etf` failed by construction (hits $\approx 200\cdot2^{-M}$) and F2 read *inconclusive*.
# The second counted a near-zero family ($b_j(0)\sim\mathcal N(0,0.01^2)$, every start reached $L^*(M)$), but a
# referee showed that near $b=0$ every $\partial L/\partial b_j<0$: that family searched only $b\ge0$, the case the
# notes prove, so its premise passed by construction. The referee's own L-BFGS from mixed-sign starts
# ($V\sim\mathcal N(0,4/d)$, $b\sim\mathcal N(0,0.5^2)$) reached $L^*(M)$ from 199-200 of 200 starts at
# $M\in\{3,5,8,12\}$, and no start of 6400 in eight families went below it; gradient descent and Adam at fixed
# steps from the same starts did not converge, hence L-BFGS. The premise's gate (more than half the starts) is
# unchanged. Not built: the referee's planted control (a target with a negative neuron, whose optimum needs a
# negative output weight) that would measure the search's power to find a mixed-sign optimum.

# %%
search = E.open_case_search(rng, search_M_list=P.search_M_list, d=P.d, mu_norm=P.mu_norm, sigma_w=P.sigma_w, lr=P.lr,
                            search_starts=P.search_starts, search_steps=P.search_steps, search_rtol=P.search_rtol,
                            search_lbfgs_starts=P.search_lbfgs_starts, search_v_scale=P.search_v_scale,
                            search_b_scale=P.search_b_scale)
run.save(F.open_search(search, readings), "open_search")
{case: {k: r[k] for k in ("M", "reached_conjectured", "best_loss_ratio")} for case, r in search.items()}

# %% [markdown]
# ## 4. Mixed signs: do the negative neurons switch off?
#
# The general conjecture: with output weights of either sign, the optimum is the ETF of the positive neurons. With
# $p$ of the $M$ output weights fixed at $-1$, the best loss must therefore equal the ETF loss of $M-p$ neurons (the
# simplex at $c=0$, the tilted frame at the target's $c$). A loss **below** that level, beyond round-off, falsifies
# the conjecture; a loss **above** it means the search did not reach that level, and the test cannot decide
# (inconclusive). Gradient descent from `sign_restarts` starts per pattern (vmapped over starts and patterns), the
# best finished by L-BFGS (whose line search never raises the loss, so polishing can only make a falsification
# easier to see).

# %%
signs = E.sign_patterns(rng, M_list=P.M_list, d=P.d, mu_norm=P.mu_norm, sigma_w=P.sigma_w, sign_p_per_M=P.sign_p_per_M,
                        sign_restarts=P.sign_restarts, sign_steps=P.sign_steps, lr=P.lr)
run.save(F.sign_patterns(signs), "sign_patterns")
{k: max(r["gd_loss"] / r["etf_loss_M_minus_p"] - 1 for r in v.values()) for k, v in signs.items()}

# %% [markdown]
# ## 5. Simplified versus true problem, and a Monte Carlo check
#
# L-BFGS on the *exact* finite-$N$ closed-form loss (centred target, $M$ = `M_finite`) for several $N$, $d$ and
# `finite_draws` target draws: the learned frame should approach the ETF, and its loss the mean-field optimum
# $L^*_{MF,d}$, as $N$ grows (at finite $N$ the optimum exploits the particular draw). The trend is gated by the
# interval of its log-log slope over every draw. The loss at the first optimum is re-estimated from fresh inputs.

# %%
fin = E.finite_n(rng, M_finite=P.M_finite, finite_d_list=P.finite_d_list, N_list=P.N_list, sigma_w=P.sigma_w,
                 weights=P.weights, finite_draws=P.finite_draws, finite_restarts=P.finite_restarts)
run.save(F.finite_n(fin["table"]), "finite_n")
W, a, V_opt, L_closed = fin["_optimum"]
mc_loss, mc_se = E.monte_carlo_loss(W, a, V_opt, P.mc_samples, P.seed + 1)
fin["table"], dict(mc_loss=mc_loss, mc_se=mc_se, closed_form=L_closed)

# %% [markdown]
# ## 6. How good is the simplification?
#
# $\mathcal L_{exact}-\mathcal L_{sim}$ at the $d\to\infty$ ETF optimum, against $N$ and $d$, for three sub-Gaussian
# targets: Gaussian and Rademacher first-layer weights, and Gaussian weights with random output weights
# $a_i=(1+s\,\xi_i)/N$ ($s$ = `a_spread`; the mean-field limit depends only on $\mathbb E[Na_i]=1$). The error must
# fall with $d$ (bias $O(1/d)$) and its spread over draws with $N$ (the CLT predicts $N^{-1/2}$). For Gaussian weights
# the mean over draws has a closed form, $\mathcal L_{MF,d}(V)+(\frac12-\frac1{2\pi})\sigma_w^2/N$ (dotted), checked
# separately with `identity_draws` draws per cell against a Student-$t$ critical value declared in `claim.py`. The
# paper's own rate is unknown.

# %%
err = E.approximation_error(rng, M_finite=P.M_finite, error_d_list=P.error_d_list, N_list=P.N_list,
                            sigma_w=P.sigma_w, n_draws=P.n_draws, a_spread=P.a_spread)
run.save(F.approximation_error(err), "approximation_error")
ident = E.expected_loss_identity(rng, M_finite=P.M_finite, identity_d_list=P.identity_d_list,
                                 identity_N_list=P.identity_N_list, sigma_w=P.sigma_w, identity_draws=P.identity_draws)
ident

# %% [markdown]
# ## 7. Controls
#
# Where the conjecture's premise is removed, the machinery must find the other optimum, not the simplex ETF: with
# $M>d+1$ ($d=2$, $M=5$) no simplex ETF exists and the optimum must be the regular pentagon (cosines
# $\cos\frac{2\pi}5$, $\cos\frac{4\pi}5$, with its own closed-form loss, which lies above the infeasible ETF formula's);
# with the quadratic activation the optimum is an orthogonal frame (closed form $|v_j|^2=\frac{d+2}{d(M+2)}$).

# %%
neg = E.negative_controls(rng, sigma_w=P.sigma_w, n_restarts=P.n_restarts, steps=P.steps, lr=P.lr)
run.save(F.negative_controls(neg), "negative_controls")
{k: {kk: vv for kk, vv in v.items()} for k, v in neg.items() if not k.startswith("_")}

# %% [markdown]
# ## Checks and verdict
#
# Each row compares against a closed form, neural-tangents, Monte Carlo or a negative control, with tolerances
# fixed in advance (`LOSS_RTOL`, `INVARIANT_TOL` in `ntkrepro/claims/etf/claim.py`: convergence of float64 gradient descent in `steps` steps).

# %%
metrics = E.collect(kern, cen, til, readings, fin, (mc_loss, mc_se, L_closed), err, neg, signs, ident, search)
run.conclude(metrics);

# %% [markdown]
# ## Reading the result
#
# The verdict, the findings table and the reading above are generated from this run's numbers; every gate is
# declared in `ntkrepro/claims/etf/claim.py`. What would falsify each finding:
#
# - **F1** (centred: simplex ETF): a start of gradient descent ending below the ETF's loss beyond round-off, or a
#   converged frame whose cosines or norms differ from the closed form. This case is proved (a Jensen argument in
#   the notes), so F1 checks the machinery and is counted apart from the open findings; its controls are the quadratic activation (the optimum must be the
#   orthogonal frame) and $M>d+1$ (the optimum must be the regular pentagon).
# - **F2** (mixed signs): a sign pattern whose best loss lies below the ETF loss of its positive neurons. If the
#   search does not reach that level (`sign_patterns_reach_positive_etf`), the finding is inconclusive, not
#   reproduced: no lower loss was found, but the search was not strong enough to rule one out. The hard free-sign
#   search (`free_sign_search_*`) is judged the same way: a start below the ETF loss falsifies; fewer than half the
#   starts reaching it at some $M$ leaves F2 inconclusive.
# - **F3** (tilted frame, every $c$): any cosine or norm of the optimum off the 1-D search's values, or an axis not
#   parallel to the mean (angle above $10^{-6}$, the notes' bound; the first version gated means and reached
#   $4.8\cdot10^{-6}$ at $M=16$: under-converged, now finished by L-BFGS).
#   F3 is the tilted reading; the hard non-centred search (`non_centred_search_*`) must reach the tilted loss from
#   most starts and find nothing below it.
# - **F5** (literal reading): an ETF (simplex in $\mu^\perp$ or tight tilted frame) must attain the optimum at every
#   $c>0$; the tilted frame's lower loss falsifies it (e.g. $M=3$, $c=0.6$: tight frame 0.0204, simplex 0.1348,
#   optimum 0.0129).
# - **F4** (approximation): the exact optimum not moving toward the ETF (or its loss toward $L^*_{MF,d}$) as $N$
#   grows, the error not falling with $d$, or its spread not falling with $N$, for any of the three target families.
#   `finite_n_approaches_etf` is declared `smoke_decides=False`: at smoke sizes (small $N$, few draws) the trend's
#   interval cannot decide it, and the committed smoke record and every point of the smoke-sized claim map failed it
#   where the full profile passes (a false negative of the map, issue 27 item 4). In the smoke profile it is now
#   inconclusive whatever its outcome; the full profile's gate is unchanged. (The map's $F3$ at large $\|\mu\|$ was
#   already inconclusive, not a fail: its premise, the search reaching the tilted optimum, fails at smoke size.)
# - `expected_loss_identity` first used $|z|<4$ with a sample sd from 5 draws and failed once at $z=4.89$; it was
#   then changed to a Student-$t$ critical value after seeing that failure. It now runs on its own cells with
#   `identity_draws` draws each (200 in the full profile), with the Student-$t$ gate declared before the run.
# - The $M>d+1$ check used to be an implementation check that could not fail (no ETF of rank $M-1>d$ exists); it is
#   now the pentagon control, which fails if gradient descent finds anything but the regular pentagon.

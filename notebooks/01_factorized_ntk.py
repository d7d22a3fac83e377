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
# # Claim 1 — A factorized NTK guarantee (Ailon & Shit 2022)
#
# **Paper.** N. Ailon, S. Shit, *Efficient NTK using Dimensionality Reduction*, [arXiv 2210.04807](https://arxiv.org/abs/2210.04807) (2022).
#
# **Claim.** Replacing the dense first layer of a wide two-layer ReLU network by a low-complexity factorization keeps
# the NTK-style guarantee of the prior analysis (gradient descent converges linearly at a rate set by the least
# eigenvalue $\lambda_0$ of the infinite-width Gram matrix), while cutting training and inference cost; it matters
# most when the data dimension $d$ is of the order of the number of points $n$.
#
# **What is reconstructed.** The paper's text was not available (only its abstract). The prior analysis is taken to
# be Du, Zhai, Póczos & Singh (ICLR 2019): $f(W,x)=m^{-1/2}\sum_r a_r\,\mathrm{relu}(w_r\cdot x)$, $a_r=\pm1$
# fixed, $W$ trained by GD on $\frac12\sum_i(u_i-y_i)^2$, and the bound
# $\|u(t)-y\|^2\le(1-\eta\lambda_0/2)^t\|u(0)-y\|^2$. The factorized model is our reconstruction **R1**: a fixed
# Johnson–Lindenstrauss map $J\in\mathbb R^{k\times d}$ (Gaussian or subsampled randomized Hadamard) with the
# $m\times k$ factor trained, i.e. Du's network on $z=Jx/|Jx|$, whose guarantee is Du's with
# $\lambda_0\to\lambda_0^J$. The paper's own construction, constants and rates may differ; **no paper number is
# claimed.**

# %% tags=["parameters"]
# Parameters. None = take the value from the profile ("smoke": seconds, "full": the paper-scale figure).
profile = "smoke"
seed = None
output_dir = None
stage_dir = None  # set by `python -m ntkrepro run` (its staging folder); None: write to output_dir
n = None               # training points
d = None               # input dimension (a power of 2)
m = None               # width of the trained networks
m_list = None          # widths of the NTK-convergence study
k_list = None          # projected dimensions
projection = None      # "gaussian" | "hadamard"
data = None            # "sphere" | "lowrank"
intrinsic_dim = None   # subspace dimension of the low-rank data
lr = None              # GD step size
steps = None           # GD steps
n_draws = None         # draws of J (and of W)
bench_batch = None     # timing benchmark size
bench_d = None
bench_m = None
control_width = None   # width of the small-width control
eps = None             # cost to accuracy: reach training loss eps * L(0)
train_seeds = None     # initializations per model in the cost-to-accuracy comparison
dn_ratios = None       # d / n of the d/n sweep
dn_compression = None  # d / k in the d/n sweep
dn_width = None        # width of the factorized networks of the d/n sweep
seeds = None           # seeds of every interval comparison (required width, equal compute, d/n sweep)
budget_steps = None    # step budget of the runs to eps (censored beyond)
width_grid = None      # declared width grid of the required-width search
req_k_list = None      # k of the required-width curve and the equal-compute comparison
width_min_ok = None    # seeds (of `seeds`) that must stay in the premise and reach eps at m*
dn_fixed_k = None      # k of the fixed-k series of the d/n sweep
rate_control_width = None  # width of the late-rate control

# %%
import numpy as np

from ntkrepro.claims.factorized_ntk import figures as F, science as E
from ntkrepro.notebook import start

P, run = start("factorized_ntk", globals())  # validates every knob before any compute
rng = np.random.default_rng(P.seed)
dict(P)

# %% [markdown]
# ## 1. The infinite-width Gram matrix $H^\infty$
#
# $H^\infty_{ij}=x_i\cdot x_j\,(\pi-\arccos\cos\theta_{ij})/(2\pi)$, in float64. Cross-checks: neural-tangents'
# `stax` (NTK minus NNGP of `Dense(W_std=√d) + Relu + Dense(1)`, i.e. the first layer's share), and the closed-form
# finite-width NTK $H(W)=(XX^\top)\circ(MM^\top)/m$ against `nt.empirical_ntk_fn`.

# %%
X = E.make_data(P.data, P.n, P.d, P.intrinsic_dim, np.random.default_rng(P.seed))  # the training data (section 2)
kern = E.kernel_check(X)
{k: v for k, v in kern.items() if not k.startswith("_")}

# %% [markdown]
# ## 2. Full-batch gradient descent: dense against factorized
#
# For the dense network and each $k$: the loss (solid), Du's bound $(1-\eta\lambda_{min}(H(0))/2)^tL(0)$ (dashed)
# and the linearized prediction $\sum_i(1-\eta\mu_i)^{2t}(q_i\cdot r_0)^2/2$ from the eigenpairs of $H(0)$ (dotted);
# right, how far the NTK moves against the guarantee's premise, drift below $\lambda_0/4$ (runs outside it are
# listed and left out of the checks), and how far the weights move. The **small-width control** (grey) is the dense
# network at `control_width`: with the premise of a wide network removed, the linearization must break down. The late
# rate compares the measured slope of $\log L$ per step with $2\log(1-\eta\lambda_{min}(H(0)))$, the decay of the
# slowest linearized mode. $k=1$ is an implementation check ($\lambda_0^J=0$ by construction). The finite-width
# cross-check of section 1 ($H(W)$ against `nt.empirical_ntk_fn` at $m=256$) draws its $W$ after these runs.

# %%
tr = E.training(P.data, P.n, P.d, P.intrinsic_dim, P.projection, P.k_list, P.m, P.lr, P.steps, P.control_width,
                P.rate_control_width, P.seed, rng)
emp_err = E.empirical_ntk_check(X, 256, rng)
run.save(F.training(tr, P.k_list, P.m), "training")
print(f"max |H(W) - nt.empirical_ntk_fn| at m=256: {emp_err:.2e}")
{name: {k: v for k, v in r.items() if not k.startswith("_")} for name, r in {**tr["runs"], "k=1": tr["negative_control"]}.items()}

# %% [markdown]
# ## 3. How much of $\lambda_0$ survives the projection?
#
# $\lambda_0^J/\lambda_0$ against $k$ over `n_draws` draws of $J$, for isotropic sphere data and for data near an
# `intrinsic_dim`-dimensional subspace, with Gaussian and Hadamard maps. Du's width requirement scales like
# $\lambda_0^{-4}$ and the per-neuron cost like $k$, so the **bound-implied cost ratio** is
# $\rho(k)=(k/d)(\lambda_0/\lambda_0^J)^4$: below 1, the factorized network is cheaper *at equal guarantee*.

# %%
lam = E.lambda0_study(P.n, P.d, P.intrinsic_dim, P.k_list, P.n_draws, P.seed, rng)
run.save(F.lambda0_vs_k(lam, P.k_list, P.n, P.d), "lambda0_vs_k")
{name: {k: round(v["rho"], 3) for k, v in s["by_k"].items()} for name, s in lam.items()}

# %% [markdown]
# ## 4. The finite-width NTK converges to $H^\infty$
#
# $\|H(0)-H^\infty\|_2$ against $m$ (mean over draws of $W$); the theory says $m^{-1/2}$, for the dense network and
# for the factorized one (on $Z=JX$, against $H^\infty(Z)$).

# %%
err_dense = E.ntk_error_vs_m(X, kern["_H"], P.m_list, P.n_draws, rng)
k_mid = P.k_list[len(P.k_list) // 2]
Z = E.project(X, E.projection(P.projection, k_mid, P.d, rng))
err_fact = E.ntk_error_vs_m(Z, E.h_inf(Z), P.m_list, P.n_draws, rng)
run.save(F.ntk_convergence(err_dense, err_fact, k_mid), "ntk_convergence")

# %% [markdown]
# ## 5. Cost
#
# Exact trainable parameters ($mk$ against $md$) and first-layer multiply-adds per example ($kd+mk$ against $md$),
# and the measured speedup of a jitted forward pass plus one GD step (float32, median of 7) at a larger size.
# Wall-clock numbers differ between machines and runs; the exact counts do not.

# %%
cst = E.cost(P.bench_batch, P.bench_d, P.bench_m, P.k_list, rng)
fwht_err = E.fwht_check(P.bench_d, rng)
run.save(F.cost(cst, P.bench_batch, P.bench_d, P.bench_m), "cost")
cst

# %% [markdown]
# ## 6. Cost to accuracy at equal width (the first version's F2, kept as a metric)
#
# The first version compared the factorized network with the dense network **of the same width** $m$: the
# factorized one then does $k/d$ of the multiply-adds per step and wins by construction (a referee's point). These
# numbers (`cost_to_eps`) are kept for reference and no longer decide F2; sections 7 and 8 do.

# %%
c2e = E.cost_to_eps(tr["_Z"], tr["_y"], P.m, P.lr, P.steps, P.eps, P.train_seeds, rng)
run.save(F.cost_to_eps(c2e, tr["runs"], P.eps), "cost_to_eps")
{k: {kk: v[kk] for kk in ("steps", "macs", "seconds", "reached")} for k, v in c2e.items()}

# %% [markdown]
# ## 7. Required width and cost at equal guarantee (F2)
#
# The paper's question is a similar guarantee at lower cost. For the dense network and each $k$ of `req_k_list`
# (each seed with its own Gaussian $J_s$, see below): the smallest width $m^*$ of the declared `width_grid`
# ($\sqrt2$-spaced in the full profile) at which at least `width_min_ok`
# of `seeds` runs both stay inside the premise (NTK drift over the training to $\varepsilon$,
# $\|H(W_{stop})-H(0)\|_2<\lambda_0/4$ with the network's own $\lambda_0$) and reach $\varepsilon L(0)$ within
# `budget_steps`; the cost to $\varepsilon$ is steps $\times$ per-step multiply-adds ($3nm\cdot\dim$, plus the
# one-time projection $nkd$) at $m^*$. On sphere data (decides F2) and on low-rank data (reported apart: the
# bound-implied $\rho(k)$ is about 0.3 there; to keep the full run within its time budget, low-rank data search
# every other width of the grid, i.e. its $2\times$-spaced sub-grid). A run that does not reach $\varepsilon$ is
# censored, never given a placeholder.
#
# **Protocol changed after a run (a referee's finding); the gates did not.** The first runs of sections 7 and 8
# drew one $J$ per $k$, shared by all seeds (and one data set): their intervals over seeds were conditional on that
# one draw of $J$, and a referee who redrew $J$ per seed got a cost ratio of 2.56 at $k=16$ (equal compute), above
# the recorded interval's upper bound 2.11. The required width $m^*$, on a $2\times$ grid and next to the premise
# line, moved between draws of $J$ (0.69$\times$ at $k=32$ in the record, 1.70$\times$ in a rehearsal with other
# draws). Now every seed $s$ draws its own $J_s$ for each $k$ from `default_rng([base, s, k, J_STREAM])` (the same
# $J_s$ at every width and in both comparisons; reproducible and independent of the order of the runs), so the
# intervals and $m^*$ are taken over draws of $J$ as well as of $W$, and the full profile's `width_grid` is
# $\sqrt2$-spaced. The checks, their gates, effects of interest and matched declarations are unchanged (same
# fingerprints); only their descriptions now say that $J$ is drawn per seed. The $d/n$ sweep of F3 (below) had the
# same flaw (one $J$ per $(d, k)$) and draws $J$ per seed too, from the same run on.

# %%
f2 = E.f2_study(P.data, P.n, P.d, P.intrinsic_dim, P.req_k_list, P.width_grid, P.lr, P.eps, P.budget_steps,
                P.seeds, P.width_min_ok, P.seed, rng)
run.save(F.required_width(f2, P.width_grid, P.width_min_ok, P.seeds), "required_width")
{data: {k: (v["m_star"], v["cost_to_eps"]) for k, v in r["required_width"].items()} for data, r in f2.items()}

# %%
{data: {k: {kk: v.get(kk) for kk in ("cost_ratio", "ci_low", "ci_high", "m_star", "dense_m_star")}
        for k, v in r["at_required_width"].items()} for data, r in f2.items()}

# %% [markdown]
# ## 8. Equal per-step compute (F2)
#
# The factorized network at width $m$ against the dense network of **equal per-step multiply-adds** (width $mk/d$),
# both to $\varepsilon L(0)$ with the same step size, budget and seeds: the cost ratio with its 90% interval over
# seeds (each seed with its own $J_s$). The F2 checks read the $k$ with the lowest ratio (a declared choice that
# favours the factorized network, so a failure stands).
#
# **A known bias in the factorized network's favour.** Both arms use the same step size $\eta$ (`lr`). At
# $\eta=0.1$ the factorized network runs at about 12 % of its own stability limit ($2/\lambda_{max}$ of its NTK),
# the dense network at about 5 % of its own (a referee's measurement): the factorized arm takes relatively larger
# steps. With each arm at its own stable rate the referee found the factorized network 2-8$\times$ more expensive.
# This protocol is kept as declared, so a "not reproduced" verdict here is conservative: a fairer step size would
# widen the gap, not close it.

# %%
sel = f2[P.data]  # the selected data's inputs of section 7: the same X, J_s per seed, labels and seed base
ec = E.equal_compute(sel["_Z"], sel["_y"], P.m, P.d, P.lr, P.eps, P.budget_steps, P.seeds, sel["_base"])
run.save(F.equal_compute(ec, P.eps), "equal_compute")
{k: {kk: v.get(kk) for kk in ("dense_width", "dense_steps_to_eps", "factorized_steps_to_eps", "cost_ratio",
                              "ci_low", "ci_high")} for k, v in ec.items()}

# %% [markdown]
# ## 9. Does the benefit grow as $d$ approaches $n$? (F3)
#
# At fixed $n$, $d$ from `dn_ratios`$\cdot n$, two series: fixed $k/d$ ($k=d/$`dn_compression`; the first version
# confounded $d/n$ with $k$ this way) and fixed $k$ (`dn_fixed_k`, capped at $d$). Each point: the factorized
# network at `dn_width` against the dense network of equal per-step multiply-adds, `seeds` seeds, censored runs
# counted (a seed that never reaches $\varepsilon$ enters at its budget, a lower bound, and only where that bound
# cannot favour the finding). F3 reads the growth of the benefit from the smallest $d/n<1$ where the factorization
# reduces the dimension ($k<d$) and the dense arm reached $\varepsilon$, to $d=n$; `dn_peak` says where the benefit
# peaks, over the points with $k<d$ (in the record at f580f12 it still counted the fixed-$k$ point $d/n=0.25$, where
# $k=d$; the figure marks such a point with a ring).
#
# *Protocol change after the record at 9b40dec (a referee's point, recorded here).* The fixed-$k$ series caps $k$ at
# $d$, so at $d/n=0.25$ ($d=16$, `dn_fixed_k` $=16$) it had $k=d$: the square Gaussian $J$ projects nothing away and
# only distorts the data, yet that point was F3's "small $d/n$". The comparison now starts at the smallest $d/n$ with
# $k<d$. The gate is unchanged. That record's fixed-$k$ growth, $-0.119$ $[-0.332, 0.093]$ over 5 seeds, failed the
# gate; the referee's own code gave $-0.045$ $[-0.103, 0.013]$ over 40 seeds (a fail too). What F3 tests is the
# measured equal-compute cost (reconstruction R1), not the bound. The referee also found that every cost ratio of
# the sweep lies above 1, so a growth would be a shrinking disadvantage, not a saving; that both networks leave the
# premise (NTK drift $<\lambda_0/4$) at every fixed-$k$ point; and that the intervals are conditional on one data
# draw per $d$. These are reported, not gated.

# %%
fair_dn = E.dn_sweep_fair(P.n, P.dn_ratios, P.dn_compression, P.dn_fixed_k, P.dn_width, P.lr, P.eps,
                          P.budget_steps, P.seeds, P.seed, rng)
dns = E.dn_legacy(P.n, fair_dn, P.n_draws, P.seed, rng)
run.save(F.dn_sweep(dns, fair_dn, P.n), "dn_sweep")
{s: {r: v.get("cost_ratio") for r, v in rows.items()} for s, rows in fair_dn.items()}

# %% [markdown]
# ## Checks and verdict

# %%
metrics = E.collect(kern, emp_err, lam, err_dense, err_fact, tr, cst, c2e, dns, fwht_err, f2, ec, fair_dn,
                    data=P.data, projection=P.projection, d=P.d)
run.conclude(metrics);

# %% [markdown]
# ## Reading the result
#
# The verdict, the findings table and the reading above are generated from this run's numbers; every gate is
# declared in `ntkrepro/claims/factorized_ntk/claim.py`. What would falsify each finding:
#
# - **F1** (guarantee transfers): a run inside the premise that departs from the linearized prediction by more
#   than 0.15 in $\log_{10}$ (the notes' pre-registered tolerance), or decays at a late rate more than 15 % away from
#   the slowest mode's; the finite-width NTK not concentrating like $m^{-1/2}$ (slope within $\pm0.05$). Its controls:
#   at a small width the linearization must break (`small_width_control`) and the late rate must miss the
#   prediction (`late_rate_control_small_width`, width `rate_control_width`), so both F1 tests can fail at these
#   sizes. Du's bound (`du_bound_held_runs`) and the monotonicity of $\lambda_0^J/\lambda_0$ in $k$ are reported as
#   metrics only: at these sizes neither could fail (the bound held at $m=16$, where the linearization already
#   breaks; the gaps between consecutive $k$ are $\ge0.1$ against sd $\le0.025$).
# - **F2** (cost at equal accuracy): decided on sphere data by two interval checks, the factorized network against
#   the dense network of equal per-step multiply-adds, and each at its own required width $m^*$; each passes when the
#   90% interval of log(dense cost / factorized cost) lies above 0 and fails when it lies below log 1.1 (the
#   factorized network not even 10 % cheaper). The bound-implied $\rho_p(k)=(k/d)(\lambda_0/\lambda_0^J)^p$ is
#   reported for $p=1..4$ (`exponent_sensitivity`); low-rank data are reported apart (`required_width_lowrank`,
#   `at_required_width_lowrank`). The equal-width comparison of the first version (`cost_to_eps`) is a metric only.
# - **F3** ($d\to n$): the 90% Welch interval of the log cost ratio at the smallest $d/n<1$ (dense arm reached) minus
#   at $d=n$, at fixed $k/d$ and at fixed $k$: pass above 0, fail below log 1.1. `dn_peak` says whether the benefit
#   keeps growing past $d=n$ (the abstract's "most significant when $d$ is of the order of $n$" would predict a peak).
#   A pass says the cost ratio *falls* toward $d=n$; it does not say the factorized network is cheaper there (read
#   the ratios themselves in `dn_sweep_fair`: above 1 means the dense network of equal per-step compute is cheaper).

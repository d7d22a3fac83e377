"""Figures of the factorized-NTK notebook (one function per figure)."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ntkrepro.plotting import log_ticks


def lambda0_vs_k(lam: dict[str, Any], k_list: list[int], n: int, d: int) -> plt.Figure:
    """lambda_0^J / lambda_0 and the bound-implied cost ratio rho(k) against k (``lam``: science.lambda0_study
    over ``k_list``, n points in d dimensions)."""
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    k = np.array(k_list)
    for i, (name, v) in enumerate(lam.items()):
        rows = [v["by_k"][str(kk)] for kk in k]
        style = "-" if name.endswith("gaussian") else "--"
        ax[0].errorbar(k, [r["mean"] for r in rows], [r["std"] for r in rows], fmt="o" + style,
                       color=f"C{i}", capsize=2, label=f"{name} (λ0={v['lambda0']:.3f})")
        ax[1].plot(k, [r["rho"] for r in rows], "o" + style, color=f"C{i}", label=name)
    _jl_line(ax[0], lam, k)
    ax[0].set(xscale="log", xlabel="projected dimension k", ylabel="λ0^J / λ0",
              title=f"Least eigenvalue kept by the projection (n={n}, d={d})")
    ax[1].axhline(1, color="k", lw=1)
    ax[1].set(xscale="log", yscale="log", xlabel="projected dimension k", ylabel="ρ(k) = (k/d)(λ0/λ0^J)^4",
              title="Bound-implied cost ratio (below 1: cheaper than dense)")
    for a in ax:
        log_ticks(a, k)
        a.legend(fontsize="x-small")
    fig.tight_layout()
    return fig


def _jl_line(ax: plt.Axes, lam: dict[str, Any], k: np.ndarray) -> None:
    rows = lam.get("sphere/gaussian", {}).get("by_k", {})
    if rows and all("jl_expected" in rows[str(kk)] for kk in k):
        ax.plot(k, [rows[str(kk)]["jl_expected"] for kk in k], "k:", label="JL expectation (sphere)")


def ntk_convergence(err_dense: dict[str, float], err_fact: dict[str, float], k: int) -> plt.Figure:
    """||H(0) - H^inf||_2 against m, with the m^(-1/2) reference."""
    m = np.array([int(v) for v in err_dense])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(m, list(err_dense.values()), "o-", label="dense")
    ax.plot(m, list(err_fact.values()), "s-", label=f"factorized (k={k})")
    ax.plot(m, list(err_dense.values())[0] * np.sqrt(m[0] / m), "k:", label="∝ m^(-1/2)")
    ax.set(xscale="log", yscale="log", xlabel="width m", ylabel="‖H(0) − H^∞‖₂",
           title="Finite-width NTK converges to H^∞")
    log_ticks(ax, m)
    ax.legend()
    fig.tight_layout()
    return fig


def training(tr: dict[str, Any], k_list: list[int], m: int) -> plt.Figure:
    """Loss curves with Du's bound and the linearized prediction, dense and factorized (``tr``:
    science.training over ``k_list`` at width m)."""
    runs = tr["runs"]
    show = ["dense"] + [str(k) for k in k_list][:: max(1, len(k_list) // 3)]
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.2))
    for i, name in enumerate(show):
        r = runs[name]
        label = "dense" if name == "dense" else f"R1, k={name}"
        ax[0].plot(r["_loss"], color=f"C{i}", label=f"{label} (λmin H(0)={r['lambda_min_H0']:.3f})")
        ax[0].plot(r["_bound"], color=f"C{i}", ls="--", lw=1)
        ax[0].plot(r["_linear"], color=f"C{i}", ls=":", lw=1.5)
    small = tr["small_width"]
    ax[0].plot(small["_loss"], color="0.5", label=f"dense, m={small['m']} (small-width control)")
    ax[0].plot(small["_linear"], color="0.5", ls=":", lw=1.5)
    ax[0].set(yscale="log", xlabel="GD step", ylabel="½‖u − y‖²",
              title="Training loss (solid), Du's bound (dashed), linearized (dotted)")
    ax[0].set_ylim(max(1e-14, ax[0].get_ylim()[0]), None)
    ax[0].legend(fontsize="x-small")
    names = ["dense"] + [str(k) for k in k_list]
    x = np.arange(len(names))
    ax[1].bar(x - 0.2, [runs[n]["ntk_drift"] for n in names], 0.4, label="NTK drift ‖H(T) − H(0)‖₂")
    ax[1].scatter(x - 0.2, [runs[n]["lambda0_inf"] / 4 for n in names], marker="_", s=300, color="k", zorder=3,
                  label="premise: λ₀/4")
    ax[1].bar(x + 0.2, [runs[n]["max_weight_move"] for n in names], 0.4, label="max_r ‖w_r(T) − w_r(0)‖")
    ax[1].set_xticks(x, ["dense"] + [f"k={k}" for k in k_list])
    ax[1].set(yscale="log", title=f"Laziness at width m={m}")
    ax[1].legend(fontsize="small")
    fig.tight_layout()
    return fig


def cost(cst: dict[str, Any], batch: int, d: int, m: int) -> plt.Figure:
    """Multiply-add ratio and measured speedup of a jitted forward + GD step against k (``cst``: science.cost
    on a batch of ``batch`` inputs in d dimensions at width m)."""
    ks = [k for k in cst if k.isdigit()]
    k = np.array([int(v) for v in ks])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(k, [cst[v]["mac_ratio"] for v in ks], "o-", label="MAC ratio (exact count)")
    ax.plot(k, [cst[v]["measured_speedup"] for v in ks], "s-", label="measured speedup, Gaussian J (jit, float32)")
    hk = [v for v in ks if f"hadamard/{v}" in cst]
    if hk:
        ax.plot([int(v) for v in hk], [cst[f"hadamard/{v}"]["measured_speedup"] for v in hk], "^--",
                label="measured speedup, SRHT by fast WHT")
    ax.axhline(1, color="k", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="projected dimension k", ylabel="dense / factorized",
           title=f"Cost (batch {batch}, d={d}, m={m})")
    log_ticks(ax, k)
    ax.legend()
    fig.tight_layout()
    return fig


def cost_to_eps(c2e: dict[str, Any], runs: dict[str, Any], eps: float) -> plt.Figure:
    """Cost to reach training loss eps L(0), factorized / dense, per k."""
    ks = [k for k in c2e if k != "dense"]
    x = np.arange(len(ks))
    macs = [np.array(c2e[k]["macs_ratio_per_seed"]) for k in ks]
    secs = [c2e[k]["seconds"] / c2e["dense"]["seconds"] for k in ks]
    fig, ax = plt.subplots(figsize=(7, 4))
    outside = [not runs[k]["in_premise"] for k in ks]
    ax.bar(x - 0.2, [m.mean() for m in macs], 0.4, label="multiply-adds (seed mean)", color="C0")
    ax.errorbar(x - 0.2, [m.mean() for m in macs], [[m.mean() - m.min() for m in macs], [m.max() - m.mean() for m in macs]],
                fmt="none", color="k", capsize=3)
    ax.bar(x + 0.2, secs, 0.4, label="seconds", color="C1")
    for i, out in enumerate(outside):
        if out:
            ax.bar([x[i] - 0.2, x[i] + 0.2], [macs[i].mean(), secs[i]], 0.4, fill=False, hatch="//",
                   edgecolor="k", lw=0)
    ax.axhline(1, color="k", lw=1)
    ax.set_xticks(x, [f"k={k}" + ("" if c2e[k]["reached"] else "*") for k in ks])
    ax.set(yscale="log", ylabel="factorized / dense",
           title=f"Cost to reach L ≤ {eps:g}·L(0) (below 1: cheaper; *: not reached, a lower bound)")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def dn_sweep(sw: dict[str, Any], fair: dict[str, Any], n: int) -> plt.Figure:
    """lambda_0 ratio and rho_4 against d/n, and the measured cost-to-eps ratio at equal per-step
    multiply-adds with its interval over seeds, at fixed k/d and at fixed k (x: censored)."""
    r = np.array([float(v) for v in sw])
    fig, ax = plt.subplots(1, 3, figsize=(17, 3.8))  # wide: the third panel's legend sits beside it
    ax[0].plot(r, [sw[v]["lambda0_ratio"] for v in sw], "o-")
    ax[0].set(ylabel="λ0^J / λ0", title="Least eigenvalue kept (k = d/4)")
    ax[1].plot(r, [sw[v]["rho4"] for v in sw], "o-")
    ax[1].set(yscale="log", ylabel="ρ₄ = (k/d)(λ0/λ0^J)^4", title="Bound-implied cost ratio")
    for i, (series, label) in enumerate((("fixed_k_over_d", "fixed k/d"), ("fixed_k", "fixed k"))):
        rows = fair[series]
        rr = np.array([float(v) for v in rows])
        y = np.array([np.nan if rows[v].get("cost_ratio") is None else rows[v]["cost_ratio"] for v in rows])
        lo = np.array([np.nan if rows[v].get("cost_ratio") is None else rows[v]["ci_low"] for v in rows])
        hi = np.array([np.nan if rows[v].get("cost_ratio") is None else rows[v]["ci_high"] for v in rows])
        ax[2].errorbar(rr * (1 + 0.04 * i), y, [y - lo, hi - y], fmt="o-", color=f"C{i}", capsize=3,
                       label=f"{label} (k at d=n: {rows['1']['k']})")
        miss = [float(v) for v in rows if rows[v].get("cost_ratio") is None]
        if miss:
            ax[2].plot(np.array(miss) * (1 + 0.04 * i), [0.95 - 0.05 * i] * len(miss), "x", color=f"C{i}", ms=9,
                       transform=ax[2].get_xaxis_transform(),
                       label=f"{label}: censored (not every seed reached eps; top of the axis)")
        same = [float(v) for v in rows if rows[v].get("cost_ratio") is not None and rows[v]["k"] >= rows[v]["d"]]
        if same:  # k = d: J projects nothing away (not a factorized point; F3 and dn_peak skip it)
            ax[2].plot(np.array(same) * (1 + 0.04 * i), [rows[f"{v:g}"]["cost_ratio"] for v in same], "o", ms=12,
                       mfc="none", color="k", label=f"{label}: k = d (no projection; skipped by F3)")
    ax[2].legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0))  # beside the panel: clear of its labels
    ax[2].set(yscale="log", ylabel="factorized / dense (equal per-step MACs)",
              title="Measured cost to eps (90% CI over seeds)")
    for a in ax[1:]:
        a.axhline(1, color="k", lw=1)
    for a in ax:
        a.axvline(1, color="0.6", ls=":")
        a.set_xscale("log")
        log_ticks(a, r)
        a.set_xlabel(f"d / n (n = {n})")
    fig.tight_layout()
    return fig


def required_width(f2: dict[str, Any], width_grid: list[int], min_ok: int, seeds: int) -> plt.Figure:
    """Left: the required width m* per model and data set (open marker: censored above the grid);
    right: the cost to eps at m* relative to the dense network at its own m*, with the 90% CI over
    seeds (each seed with its own J; x at the bottom: censored). ``f2``: science.f2_study on ``width_grid``,
    m* where >= ``min_ok`` of ``seeds`` qualify."""
    fig, ax = plt.subplots(1, 2, figsize=(12, 4))
    for i, (data, v) in enumerate(f2.items()):
        req = v["required_width"]
        names = list(req)
        x = np.arange(len(names)) + 0.1 * i
        ms = [req[k]["m_star"] for k in names]
        ax[0].plot([xx for xx, m in zip(x, ms) if m], [m for m in ms if m], "o", color=f"C{i}", label=data)
        cens = [xx for xx, m in zip(x, ms) if not m]
        if cens:
            ax[0].plot(cens, [max(width_grid) * 1.4] * len(cens), "^", mfc="none", color=f"C{i}",
                       label=f"{data}: m* above the grid")
        ax[0].set_xticks(np.arange(len(names)), ["dense" if k == "dense" else f"k={k}" for k in names])
        at = v["at_required_width"]
        ks = [k for k in at]
        y = [at[k].get("cost_ratio") for k in ks]
        xs = np.arange(len(ks)) + 0.1 * i
        good = [j for j, yy in enumerate(y) if yy is not None]
        ax[1].errorbar([xs[j] for j in good], [y[j] for j in good],
                       [[y[j] - at[ks[j]]["ci_low"] for j in good], [at[ks[j]]["ci_high"] - y[j] for j in good]],
                       fmt="o", color=f"C{i}", capsize=3, label=data)
        cens = [xs[j] for j, yy in enumerate(y) if yy is None]  # m* censored above the grid (either arm)
        if cens:
            ax[1].plot(cens, [0.05] * len(cens), "x", color=f"C{i}", ms=8, transform=ax[1].get_xaxis_transform(),
                       label=f"{data}: censored (m* above the grid)")
        ax[1].set_xticks(np.arange(len(ks)), [f"k={k}" for k in ks])
    ax[0].set(yscale="log", ylabel="m* (smallest width: premise + eps on ≥ %d/%d seeds)" % (min_ok, seeds),
              title="Required width")
    ax[1].axhline(1, color="k", lw=1)
    ax[1].set(yscale="log", ylabel="cost to eps at own m*, factorized / dense",
              title="Cost at equal guarantee (below 1: factorized cheaper)")
    for a in ax:
        a.legend(fontsize="x-small")
    fig.tight_layout()
    return fig


def equal_compute(ec: dict[str, Any], eps: float) -> plt.Figure:
    """Cost-to-eps ratio, factorized at width m against the dense network of equal per-step
    multiply-adds, per k, with the 90% CI over seeds (x: censored)."""
    ks = list(ec)
    x = np.arange(len(ks))
    fig, ax = plt.subplots(figsize=(7, 4))
    for j, k in enumerate(ks):
        r = ec[k]
        if r.get("cost_ratio") is None:
            ax.plot([j], [0.95], "x", color="C3", ms=9, transform=ax.get_xaxis_transform())
            continue
        ax.errorbar([j], [r["cost_ratio"]], [[r["cost_ratio"] - r["ci_low"]], [r["ci_high"] - r["cost_ratio"]]],
                    fmt="o", color="C0", capsize=3)
        ax.annotate(f"{r['factorized_steps_to_eps']:.0f} vs {r['dense_steps_to_eps']:.0f} steps", (j, r["ci_high"]),
                    textcoords="offset points", xytext=(0, 5), ha="center", fontsize="x-small")
    ax.axhline(1, color="k", lw=1)
    ax.set_xticks(x, [f"k={k}\ndense m={ec[k]['dense_width']}" for k in ks])
    ax.set(yscale="log", ylabel="cost to eps, factorized / dense",
           title=f"Equal per-step multiply-adds, L ≤ {eps:g}·L(0) (x: censored)")
    fig.tight_layout()
    return fig

"""Figures of the factorized-NTK notebook (one function per figure)."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ntkrepro.params import Params
from ntkrepro.plotting import log_ticks


def lambda0_vs_k(lam: dict[str, Any], P: Params) -> plt.Figure:
    """lambda_0^J / lambda_0 and the bound-implied cost ratio rho(k) against k."""
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    k = np.array(P.k_list)
    for i, (name, v) in enumerate(lam.items()):
        rows = [v["by_k"][str(kk)] for kk in k]
        style = "-" if name.endswith("gaussian") else "--"
        ax[0].errorbar(k, [r["mean"] for r in rows], [r["std"] for r in rows], fmt="o" + style,
                       color=f"C{i}", capsize=2, label=f"{name} (λ0={v['lambda0']:.3f})")
        ax[1].plot(k, [r["rho"] for r in rows], "o" + style, color=f"C{i}", label=name)
    ax[0].set(xscale="log", xlabel="projected dimension k", ylabel="λ0^J / λ0",
              title=f"Least eigenvalue kept by the projection (n={P.n}, d={P.d})")
    ax[1].axhline(1, color="k", lw=1)
    ax[1].set(xscale="log", yscale="log", xlabel="projected dimension k", ylabel="ρ(k) = (k/d)(λ0/λ0^J)^4",
              title="Bound-implied cost ratio (below 1: cheaper than dense)")
    for a in ax:
        log_ticks(a, k)
        a.legend(fontsize="x-small")
    fig.tight_layout()
    return fig


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


def training(tr: dict[str, Any], P: Params) -> plt.Figure:
    """Loss curves with Du's bound and the linearized prediction, dense and factorized."""
    runs = tr["runs"]
    show = ["dense"] + [str(k) for k in P.k_list][:: max(1, len(P.k_list) // 3)]
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.2))
    for i, name in enumerate(show):
        r = runs[name]
        label = "dense" if name == "dense" else f"R1, k={name}"
        ax[0].plot(r["_loss"], color=f"C{i}", label=f"{label} (λmin H(0)={r['lambda_min_H0']:.3f})")
        ax[0].plot(r["_bound"], color=f"C{i}", ls="--", lw=1)
        ax[0].plot(r["_linear"], color=f"C{i}", ls=":", lw=1.5)
    neg = tr["negative_control"]
    ax[0].plot(neg["_loss"], color="k", label="k=1 (negative control)")
    ax[0].set(yscale="log", xlabel="GD step", ylabel="½‖u − y‖²",
              title="Training loss (solid), Du's bound (dashed), linearized (dotted)")
    ax[0].set_ylim(max(1e-14, ax[0].get_ylim()[0]), None)
    ax[0].legend(fontsize="x-small")
    names = ["dense"] + [str(k) for k in P.k_list]
    x = np.arange(len(names))
    ax[1].bar(x - 0.2, [runs[n]["ntk_drift"] for n in names], 0.4, label="NTK drift ‖H(T) − H(0)‖₂")
    ax[1].bar(x + 0.2, [runs[n]["max_weight_move"] for n in names], 0.4, label="max_r ‖w_r(T) − w_r(0)‖")
    ax[1].set_xticks(x, ["dense"] + [f"k={k}" for k in P.k_list])
    ax[1].set(yscale="log", title=f"Laziness at width m={P.m}")
    ax[1].legend(fontsize="small")
    fig.tight_layout()
    return fig


def cost(cst: dict[str, Any], P: Params) -> plt.Figure:
    """Multiply-add ratio and measured speedup of a jitted forward + GD step against k."""
    ks = [k for k in cst if k != "dense"]
    k = np.array([int(v) for v in ks])
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(k, [cst[v]["mac_ratio"] for v in ks], "o-", label="MAC ratio (exact count)")
    ax.plot(k, [cst[v]["measured_speedup"] for v in ks], "s-", label="measured speedup (jit, float32)")
    ax.axhline(1, color="k", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="projected dimension k", ylabel="dense / factorized",
           title=f"Cost (batch {P.bench_batch}, d={P.bench_d}, m={P.bench_m})")
    log_ticks(ax, k)
    ax.legend()
    fig.tight_layout()
    return fig

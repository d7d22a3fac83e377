"""Figures of the ETF-compression notebook (one function per figure)."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from ntkrepro.params import Params
from ntkrepro.plotting import log_ticks


def _heatmap(ax: plt.Axes, G: np.ndarray, title: str) -> None:
    sns.heatmap(G, ax=ax, vmin=-1, vmax=1, cmap="vlag", square=True, cbar=False,
                annot=len(G) <= 6, fmt=".2f", annot_kws={"size": 7})
    ax.set(title=title, xticks=[], yticks=[])


def centred(cen: dict[str, Any], P: Params) -> plt.Figure:
    """Learned cosine matrices (heatmaps) for a few M, and L*/C0 and GD against M."""
    Ms = list(cen["_grams"])
    show = Ms if len(Ms) <= 4 else [Ms[0], Ms[1], Ms[len(Ms) // 2], Ms[-1]]
    fig, ax = plt.subplots(1, len(show) + 1, figsize=(3.2 * (len(show) + 1) + 1.5, 3.6),
                           gridspec_kw={"width_ratios": [1] * len(show) + [1.6]})
    for a, M in zip(ax, show):
        _heatmap(a, cen["_grams"][M], f"M={M}: cos(v_j,v_l)\n(ETF: −1/(M−1) = {-1 / (M - 1):.3f})")
    t = cen["table"]
    M = np.array([int(k) for k in t])
    C0 = P.sigma_w**2 / (2 * np.pi)
    ax[-1].plot(M, [t[str(m)]["etf_loss"] / C0 for m in M], "k-", label="ETF closed form L*/C0")
    ax[-1].plot(M, [t[str(m)]["gd_loss"] / C0 for m in M], "o", mfc="none", label="GD, best start")
    ax[-1].plot(M, (np.pi / 2 - 1) / M, ":", label="(π/2 − 1)/M")
    ax[-1].set(xscale="log", yscale="log", xlabel="compressed width M", ylabel="L / C0",
               title="Loss of the simplified problem")
    log_ticks(ax[-1], M)
    ax[-1].legend(loc="lower left")
    fig.tight_layout()
    return fig


def tilted(til: dict[str, Any]) -> plt.Figure:
    """Tilted ETF: GD against the 1-D search per M, and t*(c), rho*(c)."""
    t = til["table"]
    M = np.array([int(k) for k in t])
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, gd, mk in (("t_star", "gd_t", "o"), ("rho_star", "gd_rho", "s"), ("r_star", "gd_norm", "^")):
        line, = ax[0].plot(M, [t[str(m)][key] for m in M], "-", label=f"{key} (1-D search)")
        ax[0].plot(M, [t[str(m)][gd] for m in M], mk, mfc="none", color=line.get_color(), label=f"GD {gd}")
    ax[0].set(xlabel="M", title=f"Non-centred target (alpha={til['alpha']:.2g}, c={til['c']:.2g})")
    ax[0].legend(ncol=2, fontsize="x-small")
    sw = til["c_sweep"]
    ax[1].plot(sw["c"], sw["t_star"], "o-", label="t* = cos(v_j, μ)")
    ax[1].plot(sw["c"], sw["rho_star"], "s-", label="ρ* = cos(v_j, v_l)")
    ax[1].axhline(-1 / (sw["M"] - 1), color="k", ls=":", lw=1, label="plain simplex −1/(M−1)")
    ax[1].set(xlabel="c = |μ| / α", title=f"Tilt of the ETF against c (M={sw['M']})")
    ax[1].legend()
    fig.tight_layout()
    return fig


def finite_n(fin: dict[str, Any]) -> plt.Figure:
    """Exact finite-N optimum: Gram deviation from the ETF and norm spread against N."""
    fig, ax = plt.subplots(1, 2, figsize=(10, 3.8))
    for d in sorted({r["d"] for r in fin.values()}):
        rows = sorted((r for r in fin.values() if r["d"] == d), key=lambda r: r["N"])
        N = [r["N"] for r in rows]
        ax[0].plot(N, [r["gram_offdiag_max_dev"] for r in rows], "o-", label=f"d={d}")
        ax[1].plot(N, [r["norm_rel_spread"] for r in rows], "o-", label=f"d={d}")
    ax[0].set(xscale="log", yscale="log", xlabel="target width N", ylabel="max |cos + 1/(M−1)|",
              title="Exact problem: distance of the optimum from the ETF")
    Ns = sorted({r["N"] for r in fin.values()})
    for a in ax:
        log_ticks(a, Ns)
    ax[1].set(xscale="log", yscale="log", xlabel="target width N", ylabel="(max−min)/mean of |v_j|",
              title="Norm spread of the optimum")
    for a in ax:
        a.legend()
    fig.tight_layout()
    return fig


def approximation_error(err: dict[str, Any]) -> plt.Figure:
    """|L_exact - L_sim| at the ETF against N, per d, Gaussian and Rademacher targets."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ds = sorted({r["d"] for r in err.values()})
    for i, d in enumerate(ds):
        for w, style in (("gaussian", "o-"), ("rademacher", "x--")):
            rows = sorted((r for r in err.values() if r["d"] == d and r["weights"] == w), key=lambda r: r["N"])
            ax.errorbar([r["N"] for r in rows], [abs(r["mean"]) for r in rows], [r["sd"] for r in rows],
                        fmt=style, color=f"C{i}", capsize=2, label=f"d={d}, {w}")
        rows = sorted((r for r in err.values() if r["d"] == d and r["weights"] == "gaussian"), key=lambda r: r["N"])
        ax.plot([r["N"] for r in rows], [abs(r["predicted_mean"]) for r in rows], ":", color=f"C{i}")
    ax.set(xscale="log", yscale="log", xlabel="target width N", ylabel="|L_exact − L_sim| at the ETF",
           title="Error of the simplification (dotted: closed-form mean, Gaussian)")
    log_ticks(ax, sorted({r["N"] for r in err.values()}))
    ax.legend(fontsize="x-small", ncol=2)
    fig.tight_layout()
    return fig


def negative_controls(neg: dict[str, Any]) -> plt.Figure:
    """Cosine matrices of the two negative controls."""
    fig, ax = plt.subplots(1, 2, figsize=(7, 3.6))
    _heatmap(ax[0], neg["_grams"]["M>d+1"], "M=5 > d+1 (d=2): pentagon,\nnot equiangular")
    _heatmap(ax[1], neg["_grams"]["quadratic"], "quadratic activation (d=10, M=3):\northogonal, not an ETF")
    fig.tight_layout()
    return fig

"""Figures of the ETF-compression notebook (one function per figure)."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from ntkrepro.plotting import log_ticks


def _heatmap(ax: plt.Axes, G: np.ndarray, title: str) -> None:
    sns.heatmap(G, ax=ax, vmin=-1, vmax=1, cmap="vlag", square=True, cbar=False,
                annot=len(G) <= 6, fmt=".2f", annot_kws={"size": 7})
    ax.set(title=title, xticks=[], yticks=[])


def centred(cen: dict[str, Any], sigma_w: float) -> plt.Figure:
    """Learned cosine matrices (heatmaps) for a few M, and L*/C0 and GD against M (C0 = sigma_w^2 / (2 pi))."""
    Ms = list(cen["_grams"])
    show = Ms if len(Ms) <= 4 else [Ms[0], Ms[1], Ms[len(Ms) // 2], Ms[-1]]
    fig, ax = plt.subplots(1, len(show) + 1, figsize=(3.2 * (len(show) + 1) + 1.5, 3.6),
                           gridspec_kw={"width_ratios": [1] * len(show) + [1.6]})
    for a, M in zip(ax, show):
        _heatmap(a, cen["_grams"][M], f"M={M}: cos(v_j,v_l)\n(ETF: −1/(M−1) = {-1 / (M - 1):.3f})")
    t = cen["table"]
    M = np.array([int(k) for k in t])
    C0 = sigma_w**2 / (2 * np.pi)
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
    """Tilted frame: GD against the 1-D search per M; t*(c), rho*(c) over c with the GD runs at the
    largest M; and the worst deviations of the GD optimum (every cosine and norm) per c."""
    t = til["table"]
    M = np.array([int(k) for k in t])
    fig, ax = plt.subplots(1, 3, figsize=(15, 3.9))
    for key, gd, mk in (("t_star", "gd_t", "o"), ("rho_star", "gd_rho", "s"), ("r_star", "gd_norm", "^")):
        line, = ax[0].plot(M, [t[str(m)][key] for m in M], "-", label=f"{key} (1-D search)")
        ax[0].plot(M, [t[str(m)][gd] for m in M], mk, mfc="none", color=line.get_color(), label=f"GD {gd}")
    ax[0].set(xlabel="M", title=f"Non-centred target (alpha={til['alpha']:.2g}, c={til['c']:.2g})")
    ax[0].legend(ncol=2, fontsize="x-small")
    sw = til["c_sweep"]
    ax[1].plot(sw["c"], sw["t_star"], "o-", label=f"t* = cos(v_j, μ), M={sw['M']}")
    ax[1].plot(sw["c"], sw["rho_star"], "s-", label=f"ρ* = cos(v_j, v_l), M={sw['M']}")
    ax[1].axhline(-1 / (sw["M"] - 1), color="k", ls=":", lw=1, label="plain simplex −1/(M−1)")
    ax[1].set(xlabel="c = |μ| / α", title="Tilt of the frame against c (1-D search)")
    ax[1].legend(fontsize="x-small")
    cg = til["c_gd"]
    cs = [float(k) for k in cg]
    for key, lab in (("gram_max_dev", "max |cos − ρ*|"), ("t_max_dev", "max |cos(v, μ) − t*|"),
                     ("norm_max_dev", "max ||v| − r*| / r*"), ("axis_angle_rad", "axis angle (rad)")):
        ax[2].plot(cs, [max(cg[k][key], 1e-17) for k in cg], "o-", label=lab)
    ax[2].axhline(1e-5, color="k", ls=":", lw=1, label="invariant tolerance")
    ax[2].axhline(1e-6, color="k", ls="--", lw=1, label="axis tolerance")
    M_top = next(iter(cg.values()))["M"] if cg else 0
    ax[2].set(yscale="log", xlabel="c", title=f"GD optimum vs closed form, M={M_top} (floored at 1e-17)")
    ax[2].legend(fontsize="x-small")
    fig.tight_layout()
    return fig


def sign_patterns(signs: dict[str, Any]) -> plt.Figure:
    """Mixed signs: best loss with p output weights at -1 over the ETF loss of M - p neurons, minus 1,
    per (M, p), at c = 0 and at the tilted c (symmetric-log axis: 0 means the negative neurons
    switched off)."""
    cs = sorted({k.split(",c=")[1] for k in signs}, key=float)
    fig, ax = plt.subplots(1, len(cs), figsize=(6 * len(cs), 3.9), squeeze=False)
    for a, c in zip(ax[0], cs):
        for i, key in enumerate(k for k in signs if k.endswith(f",c={c}")):
            M = int(key.split(",")[0][2:])
            ps = sorted(int(p) for p in signs[key])
            gap = [signs[key][str(p)]["gd_loss"] / signs[key][str(p)]["etf_loss_M_minus_p"] - 1 for p in ps]
            a.plot([p / M for p in ps], gap, "o-", color=f"C{i % 10}", label=f"M={M}")
        a.axhline(0, color="k", lw=1)
        for y in (-1e-8, 1e-6):
            a.axhline(y, color="k", ls=":", lw=1)
        a.set_yscale("symlog", linthresh=1e-12)
        ticks = [-1e-8, -1e-10, 0.0, 1e-10, 1e-8, 1e-6]
        a.set_yticks(ticks, ["−1e−8", "−1e−10", "0", "1e−10", "1e−8", "1e−6"])
        a.yaxis.set_minor_locator(plt.NullLocator())
        a.set(xlabel="fraction p/M of output weights fixed at −1", ylabel="L_best / L_ETF(M−p) − 1",
              title=f"Mixed signs, c = {c} (dotted: the gates −1e−8 and 1e−6)")
        a.legend(fontsize="x-small", ncol=2)
    fig.tight_layout()
    return fig


def finite_n(fin: dict[str, Any]) -> plt.Figure:
    """Exact finite-N optimum: Gram deviation from the ETF and norm spread against N (mean +- sd over
    target draws), and the relative loss gap to L_MF,d."""
    fig, ax = plt.subplots(1, 3, figsize=(14, 3.8))
    for d in sorted({r["d"] for r in fin.values()}):
        rows = sorted((r for r in fin.values() if r["d"] == d), key=lambda r: r["N"])
        N = [r["N"] for r in rows]
        ax[0].errorbar(N, [r["gram_offdiag_max_dev"] for r in rows], [r["gram_offdiag_max_dev_sd"] for r in rows],
                       fmt="o-", capsize=3, label=f"d={d}")
        ax[1].errorbar(N, [r["norm_rel_spread"] for r in rows], [r["norm_rel_spread_sd"] for r in rows],
                       fmt="o-", capsize=3, label=f"d={d}")
        ax[2].errorbar(N, [r["loss_gap_rel"] for r in rows], [np.std(r["loss_gap_rel_draws"], ddof=1) if
                       len(r["loss_gap_rel_draws"]) > 1 else 0 for r in rows], fmt="o-", capsize=3, label=f"d={d}")
    n_draws = next(iter(fin.values()))["n_draws"]
    ax[0].set(ylabel="max |cos + 1/(M−1)|", title="Distance of the optimum from the ETF")
    ax[1].set(ylabel="(max−min)/mean of |v_j|", title="Norm spread of the optimum")
    ax[2].set(ylabel="|L_exact,min − L_MF,d| / L_MF,d", title="Loss gap to the mean-field optimum")
    Ns = sorted({r["N"] for r in fin.values()})
    for a in ax:
        a.set(xscale="log", yscale="log", xlabel=f"target width N (mean ± sd, {n_draws} draws)")
        log_ticks(a, Ns)
        a.tick_params(axis="x", labelrotation=30)
        a.legend()
    fig.tight_layout()
    return fig


def approximation_error(err: dict[str, Any]) -> plt.Figure:
    """L_exact - L_sim at the ETF (signed, symmetric-log axis) against N, per d, for each target family;
    the closed-form mean (dotted, Gaussian)."""
    fams = [w for w in ("gaussian", "rademacher", "random_a") if any(r["weights"] == w for r in err.values())]
    fig, ax = plt.subplots(1, len(fams), figsize=(5.2 * len(fams), 4), sharey=True, squeeze=False)
    ds = sorted({r["d"] for r in err.values()})
    for a, w in zip(ax[0], fams):
        for i, d in enumerate(ds):
            rows = sorted((r for r in err.values() if r["d"] == d and r["weights"] == w), key=lambda r: r["N"])
            a.errorbar([r["N"] for r in rows], [r["mean"] for r in rows], [r["sd"] for r in rows],
                       fmt="o-", color=f"C{i}", capsize=2, label=f"d={d}")
            if w == "gaussian":
                a.plot([r["N"] for r in rows], [r["predicted_mean"] for r in rows], ":", color=f"C{i}")
        a.axhline(0, color="k", lw=0.8)
        a.set_xscale("log")
        a.set_yscale("symlog", linthresh=1e-4)
        log_ticks(a, sorted({r["N"] for r in err.values()}))
        a.set(xlabel="target width N", title=f"{w} target (mean ± sd over draws)")
        a.legend(fontsize="x-small")
    ax[0][0].set_ylabel("L_exact − L_sim at the ETF (symlog)")
    fig.tight_layout()
    return fig


def negative_controls(neg: dict[str, Any]) -> plt.Figure:
    """Cosine matrices of the two negative controls."""
    fig, ax = plt.subplots(1, 2, figsize=(7, 3.6))
    _heatmap(ax[0], neg["_grams"]["M>d+1"], "M=5 > d+1 (d=2): regular pentagon,\nnot the simplex ETF")
    _heatmap(ax[1], neg["_grams"]["quadratic"], "quadratic activation (d=10, M=3):\northogonal, not the simplex ETF")
    fig.tight_layout()
    return fig


def open_search(search: dict[str, Any], readings: dict[str, Any]) -> plt.Figure:
    """Left: the hard search, fraction of starts reaching the conjectured optimum per M (free sign, non-centred);
    middle: best loss found / conjectured loss - 1 (symlog; below 0 would falsify); right: the two readings'
    frame losses against the optimum over c, at the smallest and largest M."""
    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    for i, (case, r) in enumerate(search.items()):
        M = np.array(r["M"])
        ax[0].plot(M, np.array(r["reached_conjectured"]) / r["starts"], "o-", color=f"C{i}",
                   label=f"{case} ({r['starts']} starts)")
        ax[1].plot(M, np.array(r["best_loss_ratio"]) - 1, "o-", color=f"C{i}", label=case)
    ax[0].axhline(0.5, color="k", ls=":", lw=1, label="most starts (premise)")
    ax[0].set(xlabel="M", ylabel="fraction of starts reaching it", ylim=(-0.02, 1.02),
              title="Search reaches the conjectured optimum")
    ax[1].axhline(0, color="k", lw=1)
    ax[1].set_yscale("symlog", linthresh=1e-12)
    ax[1].set_yticks([-1e-2, -1e-8, 0, 1e-8, 1e-2, 1])
    ax[1].set(xlabel="M", ylabel="best loss / conjectured - 1", title="Best loss found (below 0: falsified)")
    Ms = sorted(readings, key=int)
    for j, M in enumerate([Ms[0], Ms[-1]] if len(Ms) > 1 else Ms):
        cs = sorted(readings[M], key=float)
        c = np.array([float(v) for v in cs])
        for key, ls in (("optimum_loss", "-"), ("tight_frame_loss", "--"), ("simplex_etf_loss", ":")):
            ax[2].plot(c, [readings[M][v][key] for v in cs], ls, color=f"C{j}", label=f"M={M}: {key}")
    ax[2].set(yscale="log", xlabel="c = |mu| / alpha", ylabel="L_sim", title="Readings: tilted optimum vs ETFs")
    for a in ax:
        a.legend(fontsize="x-small")
    fig.tight_layout()
    return fig

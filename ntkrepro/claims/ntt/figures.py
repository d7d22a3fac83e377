"""Figures of the neural-tangent-transfer notebook (one function per figure). Methods are shown by
human labels (``science.HUMAN``) and grouped by allocation (layerwise | global)."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ntkrepro.claims.ntt.science import HUMAN, allocation
from ntkrepro.plotting import log_ticks

KERNELS = (("rel_ntk_error", "dense-Jacobian NTK (authors' metric)"),
           ("rel_ntk_error_masked", "masked NTK $J_mJ_m^T$ (what the sparse net trains with)"))


def _order(methods: list[str]) -> list[str]:
    """Layerwise methods first, then global ones, each in the order given."""
    return [m for m in methods if allocation(m) == "layerwise"] + [m for m in methods if allocation(m) == "global"]


def ntk_error(runs: list[dict]) -> plt.Figure:
    """Held-out relative NTK error per method (rows: the two kernels; columns: densities). Each panel
    has its own y range starting at 0, so every density's bars are readable; bars are seed means,
    points are seeds; the global methods are hatched and separated by a line."""
    df = pd.DataFrame(runs)
    methods = _order(list(dict.fromkeys(df["method"])))
    densities = sorted(df["density"].unique(), reverse=True)
    fig, axes = plt.subplots(len(KERNELS), len(densities), figsize=(4.2 * len(densities) + 1, 7.5), squeeze=False)
    colors = {m: plt.cm.tab10(i % 10) for i, m in enumerate(dict.fromkeys(HUMAN.get(m, m) for m in methods))}
    for r, (key, title) in enumerate(KERNELS):
        for c, d in enumerate(densities):
            ax = axes[r][c]
            g = df[df["density"] == d]
            for i, m in enumerate(methods):
                v = g[g["method"] == m][key].to_numpy()
                glob = allocation(m) == "global"
                ax.bar(i, v.mean(), color=colors[HUMAN.get(m, m)], alpha=0.7, hatch="//" if glob else None,
                       edgecolor="k", lw=0.5)
                ax.plot(np.full(len(v), i) + np.linspace(-0.15, 0.15, len(v)), v, "k.", ms=3)
            n_layer = sum(allocation(m) == "layerwise" for m in methods)
            if n_layer < len(methods):
                ax.axvline(n_layer - 0.5, color="0.3", lw=1, ls=":")
            ax.set_xticks(range(len(methods)), [HUMAN.get(m, m) for m in methods], rotation=60, ha="right",
                          fontsize="small")
            top = float(g[key].max()) if len(g) else 1.0
            ax.set_ylim(0, 1.1 * top)
            ax.set_title(f"density {d:g}", fontsize="medium")
            if c == 0:
                ax.set_ylabel(f"{title}\n‖Θ_s − Θ_t‖_F / ‖Θ_t‖_F", fontsize="small")
    from matplotlib.patches import Patch

    fig.legend([Patch(facecolor="w", edgecolor="k"), Patch(facecolor="w", edgecolor="k", hatch="//")],
               ["layerwise (each layer at the density)", "global (one threshold, right of the dotted line)"],
               loc="upper center", ncol=2, fontsize="small", bbox_to_anchor=(0.5, 1.0))
    fig.suptitle("Kernel match to the dense teacher on held-out inputs (lower is better)", y=1.04)
    fig.tight_layout()
    return fig


def learning_curves(curves: dict[str, np.ndarray], dense: np.ndarray, density: float,
                    plateau: dict[str, Any] | None = None) -> plt.Figure:
    """Training loss per epoch at ``density`` (mean over seeds, band: min to max), layerwise and
    global masks side by side; a marker at the mean epoch where the stopping rule found each method's
    plateau."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    for alloc, ax in zip(("layerwise", "global"), axes):
        for name, c in curves.items():
            method, d = name.split("@")
            if float(d) != density or allocation(method) != alloc:
                continue
            ep = np.arange(1, c.shape[1] + 1)
            line, = ax.plot(ep, c.mean(0), label=HUMAN.get(method, method))
            ax.fill_between(ep, c.min(0), c.max(0), color=line.get_color(), alpha=0.15)
            if plateau and method in plateau and f"{density:g}" in plateau[method]:
                e = plateau[method][f"{density:g}"]["mean"]
                ax.plot([e], [np.interp(e, ep, c.mean(0))], "v", color=line.get_color(), ms=8)
        ax.plot(np.arange(1, dense.shape[1] + 1), dense.mean(0), "k--", label="dense")
        ax.plot([], [], "kv", label="plateau (stopping rule, seed mean)")
        ax.set(yscale="log", xlabel="epoch", title=f"{alloc} masks, density {density:g}")
        ax.legend(fontsize="small")
    axes[0].set_ylabel("training cross-entropy")
    fig.suptitle("Supervised training, one optimizer for every method (mask fixed)")
    fig.tight_layout()
    return fig


def accuracy_vs_density(runs: list[dict], dense_acc: float) -> plt.Figure:
    """Test accuracy against density per method (mean, bars: min to max over seeds), layerwise and
    global masks side by side."""
    df = pd.DataFrame(runs)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    for alloc, ax in zip(("layerwise", "global"), axes):
        for method, g in df[df["method"].map(allocation) == alloc].groupby("method", sort=False):
            s = g.groupby("density")["test_accuracy"].agg(["mean", "min", "max"]).reset_index()
            ax.errorbar(s["density"], s["mean"], [s["mean"] - s["min"], s["max"] - s["mean"]], marker="o",
                        capsize=3, label=HUMAN.get(method, method))
        ax.axhline(dense_acc, color="k", ls="--", lw=1, label="dense")
        ax.set(xscale="log", xlabel="density (fraction of weights kept)", title=f"{alloc} masks")
        log_ticks(ax, sorted(df["density"].unique()))
        ax.legend(fontsize="small")
    axes[0].set_ylabel("test accuracy (bars: min to max over seeds)")
    fig.suptitle("Accuracy after supervised training to the plateau")
    fig.tight_layout()
    return fig


def ntt_convergence(val_curves: dict[str, list[float]], mask_every: int) -> plt.Figure:
    """NTT's held-out objective (mean over seeds) per period of ``mask_every`` steps."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, v in val_curves.items():
        method, d = name.split("@")
        steps = mask_every * np.arange(1, len(v) + 1)
        ax.plot(steps, v, marker=".", label=f"{HUMAN.get(method, method)} ({allocation(method)}), d={d}")
    ax.set(yscale="log", xlabel="NTT step", ylabel="NTT objective on held-out inputs",
           title="NTT convergence (the curve its stopping rule reads)")
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig

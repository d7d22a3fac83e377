"""Figures of the neural-tangent-transfer notebook (one function per figure)."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from ntkrepro.plotting import log_ticks


def ntk_error(runs: list[dict]) -> plt.Figure:
    """Held-out relative NTK error per method and density (points: seeds; bars: means)."""
    df = pd.DataFrame(runs)
    fig, ax = plt.subplots(figsize=(10, 4))
    sns.barplot(df, x="method", y="rel_ntk_error", hue="density", ax=ax, errorbar=None, alpha=0.6)
    sns.stripplot(df, x="method", y="rel_ntk_error", hue="density", dodge=True, ax=ax, legend=False,
                  palette="dark:k", size=3)
    ax.set(ylabel="‖Θ_s − Θ_t‖_F / ‖Θ_t‖_F (held-out)", xlabel="",
           title="Kernel match to the dense teacher (lower is better)")
    ax.tick_params(axis="x", rotation=20)
    fig.tight_layout()
    return fig


def learning_curves(curves: dict[str, np.ndarray], dense: np.ndarray, density: float,
                    plateau: dict[str, Any] | None = None) -> plt.Figure:
    """Training loss per epoch at ``density`` (mean over seeds, band: min to max); a marker at the
    mean epoch where the stopping rule found each method's plateau."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, c in curves.items():
        method, d = name.split("@")
        if float(d) != density:
            continue
        line, = ax.plot(np.arange(1, c.shape[1] + 1), c.mean(0), label=method)
        ax.fill_between(np.arange(1, c.shape[1] + 1), c.min(0), c.max(0), color=line.get_color(), alpha=0.15)
        if plateau and method in plateau and f"{density:g}" in plateau[method]:
            e = plateau[method][f"{density:g}"]["mean"]
            ax.plot([e], [np.interp(e, np.arange(1, c.shape[1] + 1), c.mean(0))], "v", color=line.get_color(), ms=8)
    ax.plot(np.arange(1, dense.shape[1] + 1), dense.mean(0), "k--", label="dense")
    ax.plot([], [], "kv", label="plateau (stopping rule, seed mean)")
    ax.set(yscale="log", xlabel="epoch", ylabel="training cross-entropy",
           title=f"Supervised training at density {density:g} (mask fixed)")
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def accuracy_vs_density(runs: list[dict], dense_acc: float) -> plt.Figure:
    """Test accuracy against density per method (mean ± sd over seeds)."""
    df = pd.DataFrame(runs)
    fig, ax = plt.subplots(figsize=(7, 4))
    for method, g in df.groupby("method", sort=False):
        s = g.groupby("density")["test_accuracy"].agg(["mean", "std"]).reset_index()
        ax.errorbar(s["density"], s["mean"], s["std"], marker="o", capsize=3, label=method)
    ax.axhline(dense_acc, color="k", ls="--", lw=1, label="dense")
    ax.set(xscale="log", xlabel="density (fraction of weights kept)", ylabel="test accuracy",
           title="Accuracy after supervised training")
    log_ticks(ax, sorted(df["density"].unique()))
    ax.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig

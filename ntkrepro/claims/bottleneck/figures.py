"""Figures of the bottleneck-acceleration notebook (one function per figure)."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ntkrepro.params import Params
from ntkrepro.plotting import log_ticks


def headline(head: dict[str, Any], P: Params) -> plt.Figure:
    """Training loss / zero-predictor loss against steps: NTK and bottlenecks (same lr)."""
    base = head["_base"]
    fig, ax = plt.subplots(1, 2, figsize=(12, 4.2))
    ax[0].plot(head["_curves"]["ntk"] / base, "k-", lw=2, label="NTK (d = ∞), expectation over init")
    for i, d in enumerate(str(w) for w in P.bottleneck_widths):
        c = head["_curves"][d] / base
        ax[0].plot(c.mean(0), color=f"C{i}", label=f"bottleneck d={d} ({len(c)} seeds)")
        if len(c) > 1:
            ax[0].fill_between(np.arange(c.shape[1]), c.min(0), c.max(0), color=f"C{i}", alpha=0.2)
    for lvl in (0.1, 0.01):
        ax[0].axhline(lvl, color="gray", ls=":", lw=1)
    ax[0].set(yscale="log", xlabel="GD step", ylabel="train loss / zero-predictor loss",
              title=f"{P.target} target, amplitude {P.amplitude:g}, lr {P.lr:g} for every model")
    ax[0].legend(fontsize="small")
    bn = head["bottleneck"]
    d = np.array(P.bottleneck_widths)
    ax[1].plot(d, [bn[str(w)]["test_rel_mse"] or np.nan for w in d], "o-", label="bottleneck")
    ax[1].axhline(head["ntk"]["test_rel_mse"], color="k", label="NTK mean predictor")
    ax[1].set(xscale="log", xlabel="bottleneck width d", ylabel="test relative MSE", title="Test error at the end")
    log_ticks(ax[1], d)
    ax[1].legend()
    fig.tight_layout()
    return fig


def mechanism(align: dict[str, Any]) -> plt.Figure:
    """The effective NTK of the bottleneck model over training: trace / n and kernel-target alignment."""
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for d, v in align.items():
        pts = v["trajectory"]
        ax[0].plot([p["step"] for p in pts], [p["trace_over_n"] for p in pts], "o-", label=f"d={d}")
        ax[1].plot([p["step"] for p in pts], [p["alignment"] for p in pts], "o-", label=f"d={d}")
    ax[0].set(xlabel="GD step", ylabel="tr Θ_F / n", title="Effective NTK grows (the NTK's is fixed)")
    ax[1].set(xlabel="GD step", ylabel="y'Θy / (‖Θ‖_F ‖y‖²)", title="Kernel–target alignment")
    for a in ax:
        a.legend()
    fig.tight_layout()
    return fig


def deep_linear(dl: dict[str, Any], P: Params) -> plt.Figure:
    """Deep linear speedup over the infinite net against amplitude, per bottleneck width."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    amps = sorted(P.linear_amplitudes)
    for d in P.linear_widths:
        s = [dl[f"amp={a:g}"][str(d)]["speedup"] for a in amps]
        ax.plot(amps, [v if v is not None else np.nan for v in s], "o-", label=f"d={d}")
    ax.axhline(1, color="k", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="target amplitude", ylabel="speedup over d = ∞",
           title="Deep linear nets: the bottleneck as a growing preconditioner\n(missing points: diverged at lr = 1)")
    log_ticks(ax, amps)
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    return fig


def best_lr(best: dict[str, Any], head: dict[str, Any], P: Params) -> plt.Figure:
    """Steps to 10% and 1% for both protocols: the same lr, and each model at its best lr."""
    names = list(best)
    x = np.arange(len(names))
    never = P.steps + 1
    same = [head["ntk"] if n == "ntk" else head["bottleneck"][n] for n in names]
    fig, ax = plt.subplots(figsize=(9, 4))
    for off, rows, label in ((-0.2, same, "same lr"), (0.2, [best[n] for n in names], "each at its best lr")):
        for j, (lvl, hatch) in enumerate((("steps_to_10pct", ""), ("steps_to_1pct", "//"))):
            vals = [r[lvl] if r[lvl] is not None else never for r in rows]
            ax.bar(x + off + (j - 0.5) * 0.18, vals, 0.18, hatch=hatch, color="C0" if off < 0 else "C1",
                   edgecolor="k", label=f"{label}: {lvl.replace('steps_to_', 'to ').replace('pct', '%')}")
    ax.axhline(never, color="gray", ls=":", lw=1, label="never (within the run)")
    ax.set_xticks(x, ["NTK" if n == "ntk" else f"d={n}" for n in names])
    ax.set(yscale="log", ylabel="GD steps", title="Learning-rate control: same lr vs each model's best lr")
    ax.legend(fontsize="x-small", ncol=2)
    fig.tight_layout()
    return fig

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
    ax[1].plot(d, [bn[str(w)]["test_rel_mse"] or np.nan for w in d], "o-", label="bottleneck, seed mean")
    for w in d:
        per = [p["test_rel_mse"] for p in bn[str(w)].get("per_seed", [])]
        ax[1].plot([w] * len(per), per, "x", color="C0", alpha=0.6, label="each seed" if w == d[0] else None)
    ax[1].axhline(head["ntk"]["test_rel_mse"], color="k", label="NTK mean predictor")
    ax[1].set(xscale="log", xlabel="bottleneck width d", ylabel="test relative MSE", title="Test error at the end")
    log_ticks(ax[1], d)
    ax[1].legend()
    fig.tight_layout()
    return fig


def mechanism(align: dict[str, Any], ntk_alignment: float | None = None,
              unit: dict[str, Any] | None = None) -> plt.Figure:
    """The effective NTK of the bottleneck model over training: trace / n and kernel-target alignment,
    with the (fixed) NTK's alignment and the amplitude-1 control."""
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    for d, v in align.items():
        pts = v["trajectory"]
        ax[0].plot([p["step"] for p in pts], [p["trace_over_n"] for p in pts], "o-", label=f"d={d}")
        ax[1].plot([p["step"] for p in pts], [p["alignment"] for p in pts], "o-", label=f"d={d}")
    end = max(p["step"] for v in align.values() for p in v["trajectory"])
    if ntk_alignment is not None:
        ax[1].axhline(ntk_alignment, color="k", lw=2, label="NTK (fixed kernel)")
    if unit is not None:
        ax[1].plot([0, end], [unit["start"], unit["end"]], "s--", color="gray",
                   label=f"d={unit['d']} at amplitude 1 (control)")
    ax[0].set(xlabel="GD step", ylabel="tr Θ_F / n", title="Effective NTK grows (the NTK's is fixed)")
    ax[1].set(xlabel="GD step", ylabel="y'Θy / (‖Θ‖_F ‖y‖²)", title="Kernel–target alignment")
    ax[0].legend(fontsize="small")
    ax[1].legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig


def deep_linear(dl: dict[str, Any], P: Params) -> plt.Figure:
    """Deep linear speedup over the infinite net (d → ∞) against amplitude, per bottleneck width;
    runs that fail the declared stability criterion are drawn as open markers at their raw ratio."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    amps = sorted(P.linear_amplitudes)
    for i, d in enumerate(P.linear_widths):
        rows = [dl[f"amp={a:g}"][str(d)] for a in amps]
        t_inf = [dl[f"amp={a:g}"]["infinite"]["steps_to_tol"] for a in amps]
        s = [r["speedup"] if r["speedup"] is not None else np.nan for r in rows]
        ax.plot(amps, s, "o-", color=f"C{i}", label=f"d={d}")
        raw = [ti / r["steps_to_tol"] if (not r["stable"] and r["steps_to_tol"] and ti) else np.nan
               for r, ti in zip(rows, t_inf)]
        ax.plot(amps, raw, "o", mfc="none", color=f"C{i}", ms=9)
    ax.plot([], [], "ko", mfc="none", label="unstable run (not compared)")
    ax.axhline(1, color="k", lw=1)
    ax.set(xscale="log", yscale="log", xlabel="target amplitude", ylabel="speedup over the infinite net (d → ∞)",
           title=f"Deep linear nets at lr = {P.linear_lr:g}: the bottleneck as a growing preconditioner")
    log_ticks(ax, amps)
    ax.legend(fontsize="small", ncol=2)
    fig.tight_layout()
    return fig


def where_from(rf: dict[str, Any], nob: dict[str, Any], head: dict[str, Any]) -> plt.Figure:
    """Steps to 10 % against the random-feature width M of f (d = 128), with the NTK and a finite
    network without a bottleneck at the same amplitude and rate."""
    fig, ax = plt.subplots(figsize=(6.5, 4))
    Ms = sorted(int(k) for k in rf)
    ax.plot(Ms, [rf[str(M)]["steps_to_10pct"] or np.nan for M in Ms], "o-",
            label=f"hybrid bottleneck d={rf[str(Ms[0])]['d']}")
    t_ntk = head["ntk"]["steps_to_10pct"] or head["ntk"]["steps_to_10pct_extended"]
    if t_ntk:
        ax.axhline(t_ntk, color="k", lw=2, label="NTK (closed form)")
    if nob.get("steps_to_10pct"):
        ax.axhline(nob["steps_to_10pct"], color="C3", ls="--",
                   label=f"finite net, no bottleneck, width {nob['width']} (ΔNTK {nob['delta_ntk']:.2f})")
    ax.set(xscale="log", yscale="log", xlabel="random-feature width M of f", ylabel="GD steps to 10 %",
           title="Where does the speedup come from?")
    log_ticks(ax, Ms)
    ax.legend(fontsize="small")
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

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
    if Ms:
        ax.plot(Ms, [rf[str(M)]["steps_to_10pct"] or np.nan for M in Ms], "o-",
                label=f"hybrid bottleneck d={rf[str(Ms[0])]['d']}")
    else:  # no swept width had a tuned rate (the check speedup_not_set_by_rf_width is not run, with why)
        ax.text(0.5, 0.6, "random-feature sweep not run:\nno stable tuned rate at the swept bottleneck width",
                transform=ax.transAxes, ha="center")
    t_ntk = head["ntk"]["steps_to_10pct"] or head["ntk"]["steps_to_10pct_extended"]
    if t_ntk:
        ax.axhline(t_ntk, color="k", lw=2, label="NTK (closed form)")
    if nob.get("steps_to_10pct"):
        ax.axhline(nob["steps_to_10pct"], color="C3", ls="--",
                   label=f"finite net, no bottleneck, width {nob['width']} (ΔNTK {nob['delta_ntk']:.2f})")
    reached = any(rf[str(M)]["steps_to_10pct"] for M in Ms)
    if Ms and not reached:
        ax.text(0.5, 0.5, "no random-feature width reached 10 % in the sweep", transform=ax.transAxes, ha="center")
    ax.set(xscale="log", yscale="log" if reached else "linear", xlabel="random-feature width M of f",
           ylabel="GD steps to 10 %", title="Where does the speedup come from? (hybrid at its tuned rate)")
    if Ms:
        ax.set_xlim(min(Ms) / 1.5, max(Ms) * 1.5)
        log_ticks(ax, Ms)
    if ax.get_legend_handles_labels()[0]:
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
    def value(r, lvl):  # the median over verdict seeds where per-seed values exist (a diverged seed: never)
        per = r.get(f"{lvl}_per_seed")
        if per:
            return float(np.median([t if t is not None else never for t in per]))
        return r[lvl] if r[lvl] is not None else never

    for off, rows, label in ((-0.2, same, "same lr"), (0.2, [best[n] for n in names], "each at its tuned lr")):
        for j, (lvl, hatch) in enumerate((("steps_to_10pct", ""), ("steps_to_1pct", "//"))):
            vals = [value(r, lvl) for r in rows]
            ax.bar(x + off + (j - 0.5) * 0.18, vals, 0.18, hatch=hatch, color="C0" if off < 0 else "C1",
                   edgecolor="k", label=f"{label}: {lvl.replace('steps_to_', 'to ').replace('pct', '%')}")
    ax.axhline(never, color="gray", ls=":", lw=1, label="never (within the run)")
    ax.set_xticks(x, ["NTK" if n == "ntk" else f"d={n}" for n in names])
    ax.set(yscale="log", ylabel="GD steps (median over seeds)",
           title="Learning-rate control: same lr vs each model's tuned lr")
    ax.set_ylim(top=never * 4)  # headroom above the "never" line: the legend sits there, clear of every bar
    ax.legend(fontsize="x-small", ncol=3, loc="upper center")
    fig.tight_layout()
    return fig


def lr_tuning(tun: dict[str, Any], rows: dict[str, Any], ntk_lr_max: float, P: Params) -> plt.Figure:
    """Rate tuning per model (``tun``: :func:`science.tune_rates`) with the NTK's stability bound
    ``ntk_lr_max``, and the per-width intervals at tuned rates (``rows``: :func:`science.tuned_rows`)."""
    fig, ax = plt.subplots(1, 2, figsize=(12.5, 4.2))
    for i, (name, t) in enumerate(tun.items()):
        g = np.asarray(t["grid"])
        med = np.asarray(t["median_steps_to_10pct"], float)
        ok = np.asarray(t["stable_seeds"]) == P.tune_seeds
        col = "k" if name == "ntk" else f"C{i - 1}"
        lab = "NTK (closed form)" if name == "ntk" else f"d={name}"
        ax[0].plot(g, med, "-", color=col, lw=2 if name == "ntk" else 1, label=lab)
        ax[0].plot(g[ok], med[ok], "o", color=col)
        ax[0].plot(g[~ok], med[~ok], "o", mfc="none", color=col)
        if t.get("fastest_stable") is not None:  # the fastest stable rate (it may sit at the stability edge)
            j = int(np.argmin(np.abs(g - t["fastest_stable"])))
            ax[0].plot(g[j], med[j], "^", color=col, ms=9, mec="k")
        if t["chosen"] is not None:
            j = int(np.argmin(np.abs(g - t["chosen"])))
            ax[0].plot(g[j], med[j], "*", color=col, ms=14, mec="k")
    ax[0].axvline(ntk_lr_max, color="gray", ls=":", label="NTK lr_max")
    ax[0].axvline(P.lr, color="gray", ls="--", label=f"shared rate {P.lr:g}")
    ax[0].set(xscale="log", yscale="log", xlabel="learning rate", ylabel="median steps to 10 % (tuning seeds)")
    ax[0].set_title(f"Rate tuning ({P.tune_steps} steps). ▲ fastest stable rate; ★ chosen: the fastest\n"
                    "at least one grid step below the largest rate stable on every tuning seed", fontsize="medium")
    ax[0].legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    ds = list(rows)
    ax[0].xaxis.set_minor_formatter(plt.NullFormatter())  # minor log ticks: unlabelled (they overlap)
    for j, (key, lab, off) in enumerate((("early_log_speedup", "to 10 %", -0.12), ("late_log_speedup", "to 1 %", 0.12))):
        labelled = False
        for i, d in enumerate(ds):
            v = rows[d][key]
            if v.get("censored"):
                ax[1].plot(i + off, 0, "x", color=f"C{j}", ms=10)
                continue
            mu = v.get("mean", v.get("mean_diff"))
            ax[1].errorbar(i + off, mu, [[mu - v["ci_low"]], [v["ci_high"] - mu]], fmt="o",
                           color=f"C{j}", capsize=4, label=None if labelled else lab)
            labelled = True
    ax[1].axhline(0, color="k", lw=1)
    ax[1].set_xticks(range(len(ds)), [f"d={d}" for d in ds])
    ax[1].set(ylabel="log(NTK steps / bottleneck steps)", title="Tuned rates: 90 % interval over verdict seeds (x: censored)")
    ax[1].legend(fontsize="small")
    fig.tight_layout()
    return fig


def digits(dg: dict[str, Any]) -> plt.Figure:
    """Digits accuracy per width against a single NTK network, and training speed per amplitude."""
    fig, ax = plt.subplots(1, 2, figsize=(12, 4))
    pw = dg["per_width"]
    ds = list(pw)
    for i, d in enumerate(ds):
        r = pw[d]
        ax[0].errorbar(i, r["mean"], [[r["mean"] - r["ci_low"]], [r["ci_high"] - r["mean"]]], fmt="o", color="C0",
                       capsize=4, label="bottleneck (seeds + test points, 90 %)" if i == 0 else None)
        ax[0].plot([i] * len(r["per_seed"]), r["per_seed"], "x", color="C0", alpha=0.5)
    s = dg["ntk_single_net"]
    ax[0].axhspan(s["mean"] - s["sd"], s["mean"] + s["sd"], color="k", alpha=0.15,
                  label=f"single NTK network ({s['n_draws']} draws, ± sd)")
    ax[0].axhline(s["mean"], color="k")
    ax[0].axhline(dg["ntk_mean_predictor_accuracy"], color="k", ls="--", label="NTK mean predictor (reference)")
    ax[0].set_xticks(range(len(ds)), [f"d={d}" for d in ds])
    ax[0].set(ylabel="test accuracy", title=f"Digits, same rate {dg['lr']:.3g}")
    ax[0].legend(fontsize="x-small")
    sp = dg["train_speed"]
    amps = list(sp)
    for j, a in enumerate(amps):
        row = sp[a]
        ax[1].plot(j, row["ntk"]["final_train_rel"], "ks", ms=9, label="NTK" if j == 0 else None)
        for i, d in enumerate(x for x in row if x != "ntk"):
            ax[1].plot([j + 0.1 * (i + 1)] * len(row[d]["final_train_rel_per_seed"]), row[d]["final_train_rel_per_seed"],
                       "o", color=f"C{i}", label=f"d={d}" if j == 0 else None)
    ax[1].set_xticks(range(len(amps)), amps)
    ax[1].set(yscale="log", ylabel="final train loss / zero-predictor loss", title="Digits training speed by target scale")
    ax[1].legend(fontsize="small")
    fig.tight_layout()
    return fig

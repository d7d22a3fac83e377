"""Figures of the neural-tangent-transfer notebook (one function per figure). Methods are shown by
human labels (``science.HUMAN``) and grouped by allocation (layerwise | global).

Every figure takes a method's look from :func:`style`, the one place where it is defined: the colour and
the marker belong to the method (NTT is the same blue star in every panel, layerwise or global), the
allocation is the line style (solid: layerwise, dashed: global) or, for bars, the hatch. NTT is drawn
last and on top, the other methods slightly transparent, and in the accuracy panels the methods are
dodged horizontally around each density, so that a method lying on NTT's value cannot hide it."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patches import Patch

from ntkrepro.claims.ntt.claim import METHODS, base_method
from ntkrepro.claims.ntt.science import HUMAN, allocation
from ntkrepro.plotting import log_ticks

KERNELS = (("rel_ntk_error", "dense-Jacobian NTK (authors' metric)"),
           ("rel_ntk_error_masked", "masked NTK $J_mJ_m^T$ (what the sparse net trains with)"))

# Method -> (index in seaborn's colour-blind palette, marker), by base method, so that a method has one
# look in both allocations: NTT blue and its mask with fresh values light blue (NTT's connectivity), NTT's
# control (lambda_K = 0) tan, magnitude green, random grey, SNIP purple, logit-SNIP vermilion. "v" is kept
# for the plateau marks of the learning curves.
_LOOK = {"ntt": (0, "*"), "ntt_mask_fresh_init": (9, "X"), "ntt_no_kernel": (5, "D"), "magnitude": (2, "s"),
         "random": (7, "^"), "scaled_random": (1, "h"), "snip": (4, "o"), "logit_snip": (3, "P")}
_PALETTE = sns.color_palette("colorblind", 10)
LINESTYLE = {"layerwise": "-", "global": "--"}
HATCH = {"layerwise": None, "global": "//"}
FOCUS = "ntt"          # drawn last, on top, opaque and with a larger marker
OTHERS_ALPHA = 0.75    # the other methods, so that NTT shows through where they coincide


def style(method: str) -> dict[str, Any]:
    """The one look of ``method`` in every figure of this claim: colour and marker from its base method,
    line style and hatch from its allocation, z-order and transparency (NTT on top)."""
    base = base_method(method)
    color_idx, marker = _LOOK[base]
    focus = base == FOCUS
    return {"color": _PALETTE[color_idx], "marker": marker, "ls": LINESTYLE[allocation(method)],
            "hatch": HATCH[allocation(method)], "ms": 11 if focus else 6, "zorder": 5 if focus else 3,
            "alpha": 1.0 if focus else OTHERS_ALPHA, "mec": "k" if focus else "none"}


assert {base_method(m) for m in METHODS} <= set(_LOOK), "every method needs a look in _LOOK"


def _order(methods: list[str]) -> list[str]:
    """Layerwise methods first, then global ones, each in the order given."""
    return [m for m in methods if allocation(m) == "layerwise"] + [m for m in methods if allocation(m) == "global"]


def _drawing_order(methods: list[str]) -> list[str]:
    """NTT last, so that it is drawn on top of any method at the same place."""
    return [m for m in methods if base_method(m) != FOCUS] + [m for m in methods if base_method(m) == FOCUS]


def _line_kw(method: str) -> dict[str, Any]:
    s = style(method)
    return {k: s[k] for k in ("color", "marker", "ls", "ms", "zorder", "alpha", "mec")}


def _frame(runs: list) -> pd.DataFrame:
    """A table of per-run rows (typed :class:`~ntkrepro.claims.ntt.metrics.RunRecord` or plain dicts)."""
    return pd.DataFrame([r.to_json() if hasattr(r, "to_json") else r for r in runs])


ZOOM_SPREAD = 0.25  # a panel whose seed means span less than this fraction of their largest is zoomed


def ntk_error(runs: list) -> plt.Figure:
    """Held-out relative NTK error per method (rows: the two kernels; columns: densities). Each panel
    has its own y range: bars from 0 where the methods differ widely; where their means lie within
    ``ZOOM_SPREAD`` of each other (the masked NTK at high sparsity: every method near 1) the panel is
    zoomed onto the values and the means are drawn as thick marks instead of bars (a bar needs a zero
    baseline), so that the differences stay visible; the title says so. Points are seeds, the number
    over each method its seed mean; the global methods are hatched (bars) and right of a dotted line."""
    df = _frame(runs)
    methods = _order(list(dict.fromkeys(df["method"])))
    densities = sorted(df["density"].unique(), reverse=True)
    fig, axes = plt.subplots(len(KERNELS), len(densities), figsize=(4.6 * len(densities) + 1.4, 8.2), squeeze=False)
    for r, (key, title) in enumerate(KERNELS):
        for c, d in enumerate(densities):
            ax = axes[r][c]
            g = df[df["density"] == d]
            means = [float(g[g["method"] == m][key].mean()) for m in methods]
            lo, hi = float(g[key].min()), float(g[key].max())
            zoom = len(g) > 0 and max(means) - min(means) < ZOOM_SPREAD * max(means)
            pad = 0.15 * max(hi - lo, 1e-3)
            for i, m in enumerate(methods):
                v = g[g["method"] == m][key].to_numpy()
                s = style(m)
                if zoom:
                    ax.plot([i - 0.35, i + 0.35], [v.mean()] * 2, color=s["color"], lw=4, solid_capstyle="butt")
                else:
                    ax.bar(i, v.mean(), color=s["color"], alpha=0.85, hatch=s["hatch"], edgecolor="k", lw=0.5)
                ax.plot(np.full(len(v), i) + np.linspace(-0.15, 0.15, len(v)), v, "k.", ms=3, zorder=6)
                ax.annotate(f"{v.mean():.3f}", (i, (hi if zoom else v.max()) + 0.3 * pad), ha="center",
                            va="bottom", fontsize=6.5, rotation=90)
            n_layer = sum(allocation(m) == "layerwise" for m in methods)
            if n_layer < len(methods):
                ax.axvline(n_layer - 0.5, color="0.3", lw=1, ls=":")
            ax.set_xticks(range(len(methods)), [HUMAN.get(m, m) for m in methods], rotation=60, ha="right",
                          fontsize="small")
            if zoom:
                ax.set_ylim(lo - pad, hi + 3.5 * pad)
                ax.set_title(f"density {d:g} (zoomed: the axis does not start at 0)", fontsize="small")
            else:
                ax.set_ylim(0, 1.25 * (hi if len(g) else 1.0))
                ax.set_title(f"density {d:g}", fontsize="medium")
            if c == 0:
                ax.set_ylabel(title + "\n" + r"$\|\Theta_s-\Theta_t\|_F\,/\,\|\Theta_t\|_F$", fontsize="small")
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
    plateau. Each method's own marker is placed on its curve at staggered epochs."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    for alloc, ax in zip(("layerwise", "global"), axes):
        sel = {name.split("@")[0]: c for name, c in curves.items()
               if float(name.split("@")[1]) == density and allocation(name.split("@")[0]) == alloc}
        order = list(sel)
        handles = {}
        for method in _drawing_order(order):
            c = sel[method]
            ep = np.arange(1, c.shape[1] + 1)
            kw = _line_kw(method)
            every = max(2, len(ep) // 6)
            handles[method], = ax.plot(ep, c.mean(0), label=HUMAN.get(method, method), lw=2.2 if kw["zorder"] > 3
                                       else 1.5, markevery=(order.index(method) % every, every), **kw)
            ax.fill_between(ep, c.min(0), c.max(0), color=kw["color"], alpha=0.15, zorder=kw["zorder"] - 1, lw=0)
            if plateau and method in plateau and f"{density:g}" in plateau[method]:
                e = plateau[method][f"{density:g}"].mean
                ax.plot([e], [np.interp(e, ep, c.mean(0))], "v", color=kw["color"], ms=8, mec="k", mew=0.5,
                        zorder=kw["zorder"] + 1)
        dense_line, = ax.plot(np.arange(1, dense.shape[1] + 1), dense.mean(0), "k--", label="dense")
        plat, = ax.plot([], [], "kv", label="plateau (stopping rule, seed mean)")
        ax.set(yscale="log", xlabel="epoch", title=f"{alloc} masks, density {density:g}")
        ax.legend([handles[m] for m in order] + [dense_line, plat],
                  [HUMAN.get(m, m) for m in order] + ["dense", "plateau (stopping rule, seed mean)"],
                  fontsize="small")
    axes[0].set_ylabel("training cross-entropy")
    fig.suptitle("Supervised training, one optimizer for every method (mask fixed)")
    fig.tight_layout()
    return fig


DODGE = 0.012  # horizontal offset between methods around a density, in decades (about 3 %)


def accuracy_vs_density(runs: list, dense_acc: float) -> plt.Figure:
    """Test accuracy against density per method (mean, bars: min to max over seeds), layerwise and
    global masks side by side. The methods are dodged horizontally around each density (by ``DODGE``
    decades each, in legend order), so coinciding values stay visible; the ticks mark the densities."""
    df = _frame(runs)
    densities = sorted(df["density"].unique())
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    for alloc, ax in zip(("layerwise", "global"), axes):
        order = [m for m in dict.fromkeys(df["method"]) if allocation(m) == alloc]
        handles = {}
        for method in _drawing_order(order):
            g = df[df["method"] == method]
            s = g.groupby("density")["test_accuracy"].agg(["mean", "min", "max"]).reset_index()
            shift = 10 ** (DODGE * (order.index(method) - (len(order) - 1) / 2))
            kw = _line_kw(method)
            handles[method] = ax.errorbar(s["density"] * shift, s["mean"], [s["mean"] - s["min"], s["max"] - s["mean"]],
                                          capsize=3, label=HUMAN.get(method, method), **kw)
        dense_line = ax.axhline(dense_acc, color="k", ls="--", lw=1, label="dense")
        ax.set(xscale="log", xlabel="density (fraction of weights kept; methods dodged around it)",
               title=f"{alloc} masks")
        log_ticks(ax, densities)
        half = DODGE * (max(len(order), 2) + 4) / 2
        ax.set_xlim(min(densities) * 10 ** -max(half, 0.08), max(densities) * 10 ** max(half, 0.08))
        ax.legend([handles[m] for m in order] + [dense_line], [HUMAN.get(m, m) for m in order] + ["dense"],
                  fontsize="small")
    axes[0].set_ylabel("test accuracy (bars: min to max over seeds)")
    fig.suptitle("Accuracy after supervised training to the plateau")
    fig.tight_layout()
    return fig


def ntt_convergence(val_curves: dict[str, list[float]], mask_every: int) -> plt.Figure:
    """NTT's held-out objective (mean over seeds) per period of ``mask_every`` steps. Colour and marker
    are the method's, the line style its allocation; with several densities, lighter lines are denser."""
    fig, ax = plt.subplots(figsize=(7, 4))
    names = list(val_curves)
    dens = sorted({float(n.split("@")[1]) for n in names})
    for name in _drawing_order(names):
        v = val_curves[name]
        method, d = name.split("@")
        steps = mask_every * np.arange(1, len(v) + 1)
        kw = _line_kw(method)
        if len(dens) > 1:
            kw["alpha"] = kw["alpha"] * (1 - 0.5 * dens.index(float(d)) / (len(dens) - 1))
        ax.plot(steps, v, label=f"{HUMAN.get(method, method)} ({allocation(method)}), d={d}", **kw)
    h, lab = ax.get_legend_handles_labels()
    idx = sorted(range(len(lab)), key=lambda i: names.index(_drawing_order(names)[i]))
    ax.set(yscale="log", xlabel="NTT step", ylabel="NTT objective on held-out inputs",
           title="NTT convergence (the curve its stopping rule reads)")
    ax.legend([h[i] for i in idx], [lab[i] for i in idx], fontsize="small", loc="center left",
              bbox_to_anchor=(1.01, 0.5))
    fig.tight_layout()
    return fig

"""Figures of the finite-versus-infinite notebook (one function per figure)."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ntkrepro.claims.finite_vs_infinite.science import summarize
from ntkrepro.params import Params
from ntkrepro.plotting import log_ticks


def width_sweep(k: dict[str, Any], finite: dict[str, Any], P: Params) -> plt.Figure:
    """Accuracy, output variance and argmax agreement with the NTK predictor against width."""
    w = np.array(P.widths)
    fin = [finite[str(v)] for v in w]
    m = summarize(k, finite, P.widths)
    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    mean = np.array([f["accuracy_mean"] for f in fin])
    sd = np.array([f["accuracy_std"] for f in fin])
    ax[0].errorbar(w, mean, sd, marker="o", capsize=3, label="single net (mean ± sd)")
    ax[0].plot(w, [f["ensemble_accuracy"] for f in fin], "s-", label=f"ensemble of {P.n_seeds}")
    ax[0].plot(w, [f["centered_accuracy"] for f in fin], "^-", label="centred net (mean)")
    for key, style, label in (("ntk_t_accuracy", "k-", "NTK at t"), ("ntk_accuracy", "k--", "NTK t=∞"),
                              ("nngp_accuracy", "k:", "NNGP t=∞")):
        ax[0].axhline(k[key], ls=style[1:], color="k", lw=1, label=label)
    ax[0].set(xscale="log", xlabel="width", ylabel="test accuracy", title="F1/F3: accuracy")
    ax[0].legend()
    for key, marker, label, slope in (("uncentered_variance", "o", "uncentred", m["uncentered_variance_slope"]),
                                      ("centered_variance", "^", "centred", m["centered_variance_slope"])):
        ax[1].plot(w, [f[key] for f in fin], marker=marker, label=f"{label} (slope {slope:+.2f})")
    ax[1].axhline(k["gp_posterior_variance"], color="k", lw=1, label="NTK-GP posterior variance")
    ax[1].set(xscale="log", yscale="log", xlabel="width", ylabel="variance over seeds (mean)",
              title="Output variance over initializations")
    ax[1].legend()
    ax[2].plot(w, [1 - f["centered_agreement"] for f in fin], "^-", label="centred nets")
    ax[2].set(xscale="log", yscale="log", xlabel="width", ylabel="1 − argmax agreement with NTK(t)",
              title="Centred nets approach the NTK predictor")
    ax[2].legend()
    for a in ax:
        log_ticks(a, w)
    fig.tight_layout()
    return fig


def breaking(br: dict[str, Any], P: Params, dvw: dict[str, Any] | None = None,
             shrink: dict[str, float] | None = None) -> plt.Figure:
    """Relative NTK change per configuration, the training-loss curves and (with ``dvw``, from
    :func:`~ntkrepro.claims.finite_vs_infinite.science.delta_ntk_vs_width`) the change against width
    with the lazy width^-1/2 reference, the shrinkage prediction 1 - s^2 (``shrink``) and L2 toward init."""
    names = list(br)
    label = lambda n: n.replace("l2=", "L2 wd=").replace("lr=", "lr ")  # noqa: E731  (one spelling: L2)
    fig, ax = plt.subplots(1, 3 if dvw else 2, figsize=(21 if dvw else 12, 5.5))
    colors = ["C4" if v["weight_decay"] > 0 else "C3" if v["lr_factor"] > 1 else "C0" for v in br.values()]
    ax[0].bar([label(n) for n in names], [v["delta_ntk"] for v in br.values()], color=colors)
    ax[0].axhline(2 / np.sqrt(P.break_width), color="k", ls="--", lw=1, label="2/√width (lazy scale)")
    ax[0].set(yscale="log", ylabel="‖Θ_T − Θ_0‖_F / ‖Θ_0‖_F",
              title=f"F4: empirical NTK change (width {P.break_width})\nlr in units of 2nk/λ_max")
    ax[0].tick_params(axis="x", rotation=30, labelsize=11)
    ax[0].legend(fontsize=11)
    for name in names:
        ax[1].plot(br[name]["_loss_curve"], label=label(name))
    ax[1].set(yscale="log", xlabel="step", ylabel="training loss 0.5·mean((f−y)²)",
              title="Training loss (centred nets, mean over seeds)")
    ax[1].legend(fontsize=11)
    if dvw:
        w = np.array(P.break_widths, float)
        t = dvw["table"]
        for key, color, label in (("stable", "C0", f"stable (lr {P.lr_factor:g}, slope {dvw['slope']:+.2f})"),
                                  ("large_lr", "C3", f"large rate (lr {max(P.lr_factors_break):g})"),
                                  ("l2", "C4", f"L2 wd={max(P.weight_decays):g}")):  # noqa: E501
            ax[2].plot(w, [t[str(int(v))][key] for v in w], "o-", color=color, label=label)
            if "delta_ntk_shape" in t[str(int(w[0]))]:  # the rescale-invariant change beside the raw one
                ax[2].plot(w, [max(t[str(int(v))]["delta_ntk_shape"][key], 1e-6) for v in w], "s:", color=color,
                           label=f"{label.split(' (')[0]}: shape only")
        ax[2].plot(w, t[str(int(w[0]))]["stable"] * (w / w[0]) ** -0.5, "k--", lw=1, label=r"$\propto \mathrm{width}^{-1/2}$ (lazy)")
        if shrink:
            ax[2].axhline(shrink[f"l2={max(P.weight_decays):g}"], color="C4", ls=":", lw=1,
                          label="1 − s² (uniform shrinkage alone)")
        to_init = dvw["l2_to_init"]
        ax[2].plot([to_init["width"]], [to_init["delta_ntk"]], "D", color="C5", label="L2 toward θ_0")
        ax[2].set(xscale="log", yscale="log", xlabel="width", ylabel="‖Θ_T − Θ_0‖_F / ‖Θ_0‖_F",
                  title="NTK change against width")
        log_ticks(ax[2], [int(v) for v in w])
        ax[2].legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # outside: it covered the data
    for a in ax:
        a.title.set_fontsize(13)
        a.xaxis.label.set_fontsize(12)
        a.yaxis.label.set_fontsize(12)
    fig.tight_layout()
    return fig


def diag_reg_vs_time(d: dict[str, Any]) -> plt.Figure:
    """Accuracy against diag_reg and against the matched stopping time, for NNGP and NTK."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, name in enumerate(("nngp", "ntk")):
        ax.plot(d["diag_regs"], d[name]["accuracy_vs_diag_reg"], "o-", color=f"C{i}",
                label=f"{name.upper()}: ridge ε")
        ax.plot(d["diag_regs"], d[name]["accuracy_vs_time"], "x--", color=f"C{i}",
                label=f"{name.upper()}: stop at t(ε) = nk/(ε trK/n)")
    ax.set(xscale="log", xlabel="diag_reg ε  (dashed: gradient flow stopped at t(ε))", ylabel="test accuracy",
           title=f"F6: diag_reg ≈ early stopping (max gap {d['max_gap']:.3f})")
    ax.legend()
    fig.tight_layout()
    return fig


def precision(p: dict[str, Any]) -> plt.Figure:
    """lambda_min/lambda_max against n with the power-law fit and float32's epsilon; float32 against
    float64 below n*; the emulated float16 solve against float64 with the n* the same rule predicts."""
    n = np.array(p["sizes"], float)
    fig, ax = plt.subplots(1, 3, figsize=(16, 4))
    ax[0].plot(n, p["cond_ratio"], "o", label="measured (NNGP kernel)")
    grid = np.geomspace(n[0], max(n[-1], min(p["critical_n_float32"], 1e7)) * 1.2, 50)
    fit = np.exp(np.log(p["cond_ratio"][0]) + p["cond_slope"] * np.log(grid / n[0]))
    ax[0].plot(grid, fit, "-", label=f"power law, slope {p['cond_slope']:.2f}")
    ax[0].axhline(np.finfo(np.float32).eps, color="k", ls="--", lw=1, label="float32 ε")
    ax[0].axvline(p["critical_n_float32"], color="C3", ls=":", label=f"n* ≈ {p['critical_n_float32']:.3g}")
    ax[0].set(xscale="log", yscale="log", xlabel="training points n", ylabel="λ_min / λ_max",
              title="F7 mechanism: conditioning falls as a power of n")
    ax[0].xaxis.set_minor_formatter(plt.NullFormatter())
    ax[0].legend()
    ax[1].plot(n, p["float64_accuracy"], "o-", label="float64 solve")
    ax[1].plot(n, p["float32_accuracy"], "x--", label="float32 solve")
    ax[1].set(xscale="log", xlabel="training points n", ylabel="test accuracy",
              title="Below n* (a heuristic), float32 = float64")
    log_ticks(ax[1], [int(v) for v in n])
    ax[1].legend()
    c = p.get("float16_calibration")
    if c:
        m = np.array(c["sizes"], float)
        ax[2].plot(m, c["float64_accuracy"], "o-", label="float64 solve")
        ok = [a if a is not None else np.nan for a in c["float16_accuracy"]]
        ax[2].plot(m, ok, "x--", label="emulated float16 solve")
        failed = [v for v, good in zip(m, c["cholesky_ok"]) if not good]
        if failed:
            ax[2].plot(failed, [min(c["float64_accuracy"])] * len(failed), "rv", ms=9, label="float16 Cholesky fails")
        ax[2].axvline(c["predicted_n_star_float16"], color="C3", ls=":",
                      label=f"rule's n*(float16) ≈ {c['predicted_n_star_float16']:.0f}")
        if c.get("first_broken_n"):
            ax[2].axvline(c["first_broken_n"], color="k", ls="--", lw=1,
                          label=f"first broken n = {c['first_broken_n']} (×{c['calibration_factor']:.1f})")
        ax[2].set(xscale="log", xlabel="training points n", ylabel="test accuracy",
                  title="F7 where reachable: float16 breaks beyond a size")
        log_ticks(ax[2], [int(v) for v in m])
        ax[2].legend(fontsize="small")
    else:
        ax[2].set_axis_off()
    fig.tight_layout()
    return fig


def intervals(rows: list[tuple[str, str, dict[str, Any] | None]]) -> plt.Figure:
    """The interval-gated comparisons side by side: ``(finding, label, {mean_diff, ci_low, ci_high})``
    per row (``None``: not run in this profile). A row reproduces when its interval lies above 0."""
    rows = [r for r in rows if r[2] is not None]
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(rows) + 1.4))
    for i, (fid, label, iv) in enumerate(rows):
        lo, hi, mid = iv["ci_low"], iv["ci_high"], iv["mean_diff"]
        if not (np.isfinite(lo) and np.isfinite(hi)):  # the gate fails a NaN interval: say so on the figure
            ax.plot([mid], [i], "x", color="C3")
            ax.annotate("no interval (fails its gate)", (mid, i), textcoords="offset points", xytext=(6, 4),
                        color="C3", fontsize="small")
            continue
        color = "C2" if lo > 0 else "C3" if hi < 0 else "C7"
        ax.plot([lo, hi], [i, i], color=color, lw=3)
        ax.plot([mid], [i], "o", color=color)
    ax.axvline(0, color="k", lw=1)
    ax.set_yticks(range(len(rows)), [f"{fid}: {label}" for fid, label, _ in rows])
    ax.invert_yaxis()
    ax.set(xlabel="accuracy difference (90 % interval; green above 0, red below, grey straddles)",
           title="Interval-gated findings")
    fig.tight_layout()
    return fig

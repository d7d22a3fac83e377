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
    m = summarize(k, finite, P)
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


def breaking(br: dict[str, Any], P: Params) -> plt.Figure:
    """Relative NTK change per configuration, and the training-loss curves."""
    names = list(br)
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    colors = ["C4" if v["weight_decay"] > 0 else "C3" if v["lr_factor"] > 1 else "C0" for v in br.values()]
    ax[0].bar(names, [v["delta_ntk"] for v in br.values()], color=colors)
    ax[0].axhline(2 / np.sqrt(P.break_width), color="k", ls="--", lw=1, label="2/√width (lazy scale)")
    ax[0].set(yscale="log", ylabel="‖Θ_T − Θ_0‖_F / ‖Θ_0‖_F",
              title=f"F4: empirical NTK change (width {P.break_width}); lr in units of 2nk/λ_max")
    ax[0].tick_params(axis="x", rotation=30)
    ax[0].legend()
    for name in names:
        ax[1].plot(br[name]["_loss_curve"], label=name)
    ax[1].set(yscale="log", xlabel="step", ylabel="training loss 0.5·mean((f−y)²)",
              title="Training loss (centred nets, mean over seeds)")
    ax[1].legend()
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
    """lambda_min/lambda_max against n with the power-law fit and float32's epsilon."""
    n = np.array(p["sizes"], float)
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
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
    fig.tight_layout()
    return fig

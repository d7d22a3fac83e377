"""One seaborn style for every figure, and atomic saving with provenance metadata."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import matplotlib.pyplot as plt
import seaborn as sns

from ntkrepro.io import atomic_path, to_jsonable

FORMATS = ("png", "pdf")


def set_style() -> None:
    """The project's figure style (seaborn 'whitegrid', colour-blind palette)."""
    sns.set_theme(context="notebook", style="whitegrid", palette="colorblind", font_scale=0.95)
    plt.rcParams.update({"figure.dpi": 110, "savefig.dpi": 150, "savefig.bbox": "tight",
                         "axes.titlesize": "medium", "legend.fontsize": "small",
                         "pdf.fonttype": 42})


def savefig(fig: plt.Figure, output_dir: str | Path, stem: str,
            provenance: Mapping[str, Any], parameters: Mapping[str, Any] | None = None) -> list[Path]:
    """Save ``fig`` as ``<stem>.png`` and ``<stem>.pdf`` atomically; provenance goes in the metadata.

    PNG gets text chunks (read them with PIL: ``Image.open(p).text``); PDF gets Subject/Keywords.
    """
    info = json.dumps(to_jsonable({"provenance": provenance, "parameters": parameters or {}}),
                      sort_keys=True)
    commit = str(provenance.get("git_commit"))
    paths = []
    for fmt in FORMATS:
        path = Path(output_dir) / f"{stem}.{fmt}"
        if fmt == "png":
            meta = {"Title": stem, "Software": "ntkrepro", "Source": commit, "Comment": info}
        else:
            meta = {"Title": stem, "Creator": "ntkrepro", "Subject": f"git {commit}", "Keywords": info}
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, metadata=meta)
        paths.append(path)
    return paths


def log_ticks(ax: plt.Axes, values, axis: str = "x") -> None:
    """Log-scaled axis with major ticks exactly at ``values`` (plain labels) and no minor labels."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xticks if axis == "x" else ax.set_yticks)(list(values), [f"{v:g}" for v in values])
    target.set_minor_formatter(plt.NullFormatter())

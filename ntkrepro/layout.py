"""Where a run's outputs live on disk: the one place that names the folders (a leaf module: it imports
nothing of ntkrepro but :mod:`ntkrepro.provenance`, for the repository root).

- ``figures/<id>/``: a claim's committed full-profile record (``results.json``, figures, ``notebook.ipynb``);
- ``figures/<id>/smoke/``: its committed smoke record; ``figures/maps/<id>.{png,json}``: its claim map;
- ``build/<profile>/<id>/``: a run's outputs when no ``--output-dir`` is given and the profile is not ``full``;
- ``build/notebooks/<profile>/``: the executed notebooks of runs without ``--output-dir``.
"""
from __future__ import annotations

from pathlib import Path

from ntkrepro.provenance import REPO_ROOT

FIGURES = "figures"  # the committed record, relative to a checkout's root
FIGURES_DIR = REPO_ROOT / FIGURES
MAPS_DIR = FIGURES_DIR / "maps"
BUILD_DIR = REPO_ROOT / "build"


def default_output_dir(claim_id: str, profile: str) -> Path:
    """Where a run of ``claim_id`` writes when no output directory is given: the committed record
    ``figures/<id>`` for the full profile, else ``build/<profile>/<id>``."""
    if profile == "full":
        return FIGURES_DIR / claim_id
    return BUILD_DIR / profile / claim_id


def record_path(claim_id: str, profile: str, figures: Path | None = None) -> Path:
    """``figures/<id>/results.json`` (full) or ``figures/<id>/smoke/results.json`` (smoke)."""
    base = (figures or FIGURES_DIR) / claim_id
    return base / "results.json" if profile == "full" else base / profile / "results.json"


def map_record_path(claim_id: str, root: Path = REPO_ROOT) -> Path:
    return root / FIGURES / "maps" / f"{claim_id}.json"

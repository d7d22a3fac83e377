"""Provenance attached to every result and figure: commit, parameters, package versions."""
from __future__ import annotations

import datetime as _dt
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("jax", "jaxlib", "numpy", "scipy", "neural-tangents", "optax", "matplotlib",
            "seaborn", "scikit-learn", "papermill")


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO_ROOT, capture_output=True, text=True,
                             timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def git_state() -> dict[str, Any]:
    """The checkout's commit and whether tracked source files differ from it (the run outputs
    under ``figures/`` and the generated README table do not count)."""
    commit = _git("rev-parse", "HEAD")
    status = _git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!figures", ":!README.md")
    return {"git_commit": commit, "git_dirty": None if status is None else bool(status)}


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def provenance(profile: str | None = None, **extra: Any) -> dict[str, Any]:
    """Everything needed to tell where a number came from (no wall time: see results)."""
    return {
        **git_state(),
        "timestamp": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "profile": profile,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        **extra,
    }

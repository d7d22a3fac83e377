"""The claims registry: one source of truth per claim.

Each claim lives in its own module under :mod:`ntkrepro.claims` and exports ``CLAIM``. The
README table, the CLI, the runner and the tests all read this registry.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ntkrepro.params import ParamSet
from ntkrepro.provenance import REPO_ROOT


@dataclass(frozen=True)
class Paper:
    authors: str
    title: str
    year: int
    arxiv: str
    venue: str = ""

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv}"

    @property
    def short(self) -> str:
        return f"{self.authors} {self.year}"


@dataclass(frozen=True)
class CheckSpec:
    """A check the notebook must report. ``smoke`` says whether it runs in the smoke profile and
    ``smoke_must_pass`` whether the tests require it to pass there (small sizes can make a
    full-scale claim unreachable; the check is still reported)."""

    name: str
    description: str
    smoke: bool = True
    smoke_must_pass: bool = True


@dataclass(frozen=True)
class Claim:
    id: str
    number: int
    title: str
    paper: Paper
    notebook: str  # file name inside notebooks/
    figures: tuple[str, ...]  # figure stems written to output_dir (PNG + PDF each)
    params: ParamSet
    checks: tuple[CheckSpec, ...]
    key_metric: tuple[str, str]  # (label, dotted path into results["metrics"])
    reconstructed: str  # what is reconstructed where the paper's text was not available

    @property
    def notebook_path(self) -> Path:
        return REPO_ROOT / "notebooks" / self.notebook

    def default_output_dir(self, profile: str) -> Path:
        if profile == "full":
            return REPO_ROOT / "figures" / self.id
        return REPO_ROOT / "build" / profile / self.id

    def check_names(self, profile: str) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks if profile == "full" or c.smoke)


def _load() -> dict[str, Claim]:
    from ntkrepro.claims import ALL

    claims = sorted(ALL, key=lambda c: c.number)
    return {c.id: c for c in claims}


CLAIMS: dict[str, Claim] = _load()


def get_claim(claim_id: str) -> Claim:
    try:
        return CLAIMS[claim_id]
    except KeyError:
        raise ValueError(f"unknown claim {claim_id!r}; known claims: {sorted(CLAIMS)}") from None

"""The claims registry. Each claim is a folder ``ntkrepro/claims/<id>/`` whose ``claim.py`` declares it
(parameters, profiles, findings, checks with their gates, figure captions); the README, the CLI, the
runner, the Makefile and the tests all read this registry. Claims are discovered, not listed: a new
folder with a ``claim.py`` is a new claim (no edit here). A folder whose name starts with ``_`` is hidden
(never listed, so never in the README, ``run all`` or the record; loaded by its explicit id only): the
tests' machinery probe ``_probe``.

Loading is lazy and jax-free: ``CLAIMS`` (id -> :class:`~ntkrepro.spec.Claim`, ordered by claim
number) imports every ``claim.py`` on first access, :func:`get_claim` only the one it is asked for. A
``claim.py`` imports its science only inside the functions that need it, so reading the registry
imports neither jax nor any claim's science.

Import order (no cycles): ``params``, ``provenance`` -> ``layout`` -> ``spec`` -> ``claims.<id>.claim`` ->
``registry`` -> ``ledger``, ``results`` -> ``runner``, ``jobs`` -> ``sweep``, ``cli``.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Mapping

from ntkrepro.params import Params
from ntkrepro.spec import CheckSpec, Claim, Finding, Paper  # noqa: F401  (re-exported)

CLAIMS_DIR = Path(__file__).resolve().parent / "claims"
_LOADED: dict[str, Claim] = {}
_ALL: dict[str, Claim] | None = None


def claim_ids() -> list[str]:
    """The folders of ``ntkrepro/claims/`` that hold a ``claim.py`` (sorted by name; cheap: no import)."""
    return sorted(p.parent.name for p in CLAIMS_DIR.glob("*/claim.py") if not p.parent.name.startswith("_"))


def _load(claim_id: str) -> Claim:
    if claim_id not in _LOADED:
        claim = importlib.import_module(f"ntkrepro.claims.{claim_id}.claim").CLAIM
        if claim.id != claim_id:
            raise RuntimeError(f"ntkrepro/claims/{claim_id}/claim.py declares id {claim.id!r}; "
                               "a claim's id is its folder name")
        _LOADED[claim_id] = claim
    return _LOADED[claim_id]


def all_claims() -> dict[str, Claim]:
    """Every discovered claim, id -> Claim, ordered by claim number (loaded once)."""
    global _ALL
    if _ALL is None:
        _ALL = {c.id: c for c in sorted((_load(i) for i in claim_ids()), key=lambda c: c.number)}
    return _ALL


def get_claim(claim_id: str) -> Claim:
    """The claim ``claim_id``: a listed one, or a hidden one (a folder starting with ``_``, e.g. the
    machinery probe ``_probe`` that the tests run), which only an explicit id reaches."""
    hidden = claim_id.startswith("_") and claim_id.isidentifier() and (CLAIMS_DIR / claim_id / "claim.py").is_file()
    if claim_id not in claim_ids() and not hidden:
        raise ValueError(f"unknown claim {claim_id!r}; known claims: {claim_ids()}")
    return _load(claim_id)


def resolve_params(claim_id: str, namespace: Mapping[str, Any] | None = None, **explicit: Any) -> Params:
    """Resolve a claim's parameters from a notebook namespace (``globals()``) and/or keywords.

    Only names the claim declares are read from ``namespace``; ``None`` means "use the profile".
    """
    claim = get_claim(claim_id)
    given = {n: namespace[n] for n in claim.params.names if namespace and n in namespace}
    given.update(explicit)
    return claim.params.resolve(given, claim.default_output_dir)


def __getattr__(name: str) -> Any:
    if name == "CLAIMS":  # ``from ntkrepro.registry import CLAIMS`` loads every declaration once
        return all_claims()
    raise AttributeError(f"module 'ntkrepro.registry' has no attribute {name!r}")

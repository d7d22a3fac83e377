"""The claims registry: one line per claim. Each claim is a folder ``ntkrepro/claims/<id>/``
whose ``claim.py`` declares it (parameters, profiles, findings, checks with their gates, figure
captions); the README, the CLI, the runner, the Makefile and the tests all read this registry.

Import order (no cycles): ``params``, ``provenance`` -> ``spec`` -> ``claims.<id>`` -> ``registry``
-> ``results``, ``runner``, ``cli``.
"""
from __future__ import annotations

from typing import Any, Mapping

from ntkrepro.claims import bottleneck, etf, factorized_ntk, finite_vs_infinite, ntt
from ntkrepro.params import Params
from ntkrepro.spec import CheckSpec, Claim, Finding, Paper  # noqa: F401  (re-exported)

CLAIMS: dict[str, Claim] = {c.id: c for c in sorted(
    (factorized_ntk.CLAIM, etf.CLAIM, bottleneck.CLAIM, finite_vs_infinite.CLAIM, ntt.CLAIM),
    key=lambda c: c.number)}


def get_claim(claim_id: str) -> Claim:
    try:
        return CLAIMS[claim_id]
    except KeyError:
        raise ValueError(f"unknown claim {claim_id!r}; known claims: {sorted(CLAIMS)}") from None


def resolve_params(claim_id: str, namespace: Mapping[str, Any] | None = None, **explicit: Any) -> Params:
    """Resolve a claim's parameters from a notebook namespace (``globals()``) and/or keywords.

    Only names the claim declares are read from ``namespace``; ``None`` means "use the profile".
    """
    claim = get_claim(claim_id)
    given = {n: namespace[n] for n in claim.params.names if namespace and n in namespace}
    given.update(explicit)
    return claim.params.resolve(given, claim.default_output_dir)

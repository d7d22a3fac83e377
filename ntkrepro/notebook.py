"""What a claim notebook calls first: resolve and validate its parameters, start its run, set the style."""
from __future__ import annotations

import ast
from typing import Any, Mapping

from ntkrepro.params import Params
from ntkrepro.plotting import set_style
from ntkrepro.registry import get_claim, resolve_params
from ntkrepro.results import Run

INJECTED_HEADER = "# Parameters"  # the first line of the cell papermill injects after the parameters cell


def injected_names(inputs: list[str]) -> list[str]:
    """Names assigned in the cells papermill injected (their source starts with ``# Parameters``),
    from the kernel's input history."""
    names: list[str] = []
    for src in inputs:
        if src.lstrip().startswith(INJECTED_HEADER):
            for node in ast.parse(src).body:
                if isinstance(node, ast.Assign):
                    names += [t.id for t in node.targets if isinstance(t, ast.Name)]
    return names


def _history() -> list[str]:
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return []
    ip = get_ipython()
    return list(ip.user_ns.get("In", [])) if ip is not None else []


def start(claim_id: str, namespace: Mapping[str, Any]) -> tuple[Params, Run]:
    """``P, run = start("etf", globals())``: the claim's parameters (profile values overridden by the
    notebook's non-None knobs, all validated before any compute) and a :class:`Run` that saves
    figures and writes ``results.json``. A parameter injected by plain papermill (``-p NAME
    VALUE``) that the claim does not declare is refused here, naming it, as the CLI does."""
    known = set(get_claim(claim_id).params.names)
    unknown = sorted(set(injected_names(_history())) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for claim {claim_id!r}; allowed: {sorted(known)}")
    P = resolve_params(claim_id, namespace)
    set_style()
    return P, Run(claim_id, P)

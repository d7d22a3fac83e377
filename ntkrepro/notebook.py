"""What a claim notebook calls first: resolve and validate its parameters, start its run, set the style."""
from __future__ import annotations

from typing import Any, Mapping

from ntkrepro.params import Params
from ntkrepro.registry import resolve_params
from ntkrepro.plotting import set_style
from ntkrepro.results import Run


def start(claim_id: str, namespace: Mapping[str, Any]) -> tuple[Params, Run]:
    """``P, run = start("etf", globals())``: the claim's parameters (profile values overridden by the
    notebook's non-None knobs, all validated before any compute) and a :class:`Run` that saves
    figures and writes ``results.json``."""
    P = resolve_params(claim_id, namespace)
    set_style()
    return P, Run(claim_id, P)

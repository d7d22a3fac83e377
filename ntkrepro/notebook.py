"""What a claim notebook calls first: read (runner) or resolve (plain run) its parameters, start its run,
set the style."""
from __future__ import annotations

import ast
from typing import Any, Mapping

from ntkrepro.numerics import pin_threads
from ntkrepro.params import Params
from ntkrepro.plotting import set_style
from ntkrepro.registry import get_claim, resolve_params
from ntkrepro.results import STAGE_PARAM, Run

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
    """``P, run = start("etf", globals())``: the run's parameters and a :class:`Run` that saves figures
    and writes ``results.json``. Two ways in, told apart by ``stage_dir`` (:data:`STAGE_PARAM`):

    - the runner (``python -m ntkrepro run``) resolved the parameters once, before any kernel started,
      and injected them all, with the staging directory as ``stage_dir``: ``P`` is those values as they
      are (each type-checked, no profile applied again) and ``run`` writes into ``stage_dir``;
    - a plain run (JupyterLab top to bottom, or plain papermill) leaves ``stage_dir`` None: the
      notebook's non-None knobs override the profile, resolved and validated here before any compute,
      and ``run`` writes into ``P.output_dir``.

    A parameter injected by plain papermill (``-p NAME VALUE``) that the claim does not declare is
    refused here, naming it, as the CLI does."""
    pin_threads()  # a hand run in JupyterLab computes as the runner's kernels do (before any jax computation)
    params = get_claim(claim_id).params
    known = set(params.names) | {STAGE_PARAM}
    unknown = sorted(set(injected_names(_history())) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown} for claim {claim_id!r}; allowed: {sorted(params.names)}")
    stage_dir = namespace.get(STAGE_PARAM)
    if stage_dir is None:
        P = resolve_params(claim_id, namespace)
    else:
        P = params.check({n: namespace[n] for n in params.names if n in namespace})
    set_style()
    return P, Run(claim_id, P, stage_dir)

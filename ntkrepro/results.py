"""The results contract: ``results.json`` and the :class:`Run` a notebook writes it with.

``results.json`` = ``{claim, title, verdict, findings, parameters, metrics, checks, choices, provenance}``.
Each check row is ``{name, kind, finding, outcome, passed, value, expected, gate, description, arms,
matched, interval_method, mde, seeds_to_decide, decide_command, gate_sha, reason, censored}``
(:func:`ntkrepro.ledger.evaluate_check`); each choice ``{name, arm, grid, chosen, selected_on, at_edge,
edge_is_bound, findings, reason}``; each finding is ``{id, statement, source, verdict, reason, proved,
checks, evidence}``. The verdict summarizes the findings, or is ``implementation error``.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

from ntkrepro import ledger
from ntkrepro.io import read_json, to_jsonable, write_json
from ntkrepro.metrics import to_json as to_json_metrics
from ntkrepro.provenance import provenance
from ntkrepro.registry import get_claim
from ntkrepro.spec import Claim

# The parameter under which the runner hands a notebook its staging directory (a papermill parameter,
# declared as ``stage_dir = None`` in every notebook's parameters cell; not a knob of any claim).
STAGE_PARAM = "stage_dir"


class Run:
    """Collects a notebook run's metrics, evaluates the claim's declared checks and writes
    ``results.json`` atomically.

    Files go to ``write_dir`` when given (the runner's staging directory, which it moves into
    ``params["output_dir"]`` only when the whole run succeeded), else to ``params["output_dir"]``."""

    def __init__(self, claim_id: str, params: Mapping[str, Any], write_dir: str | Path | None = None):
        self.claim = get_claim(claim_id)
        self.params = dict(params)
        self.output_dir = Path(write_dir if write_dir is not None else self.params["output_dir"])
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.metrics: dict[str, Any] = {}
        self.results_: dict[str, Any] | None = None
        self._t0 = time.perf_counter()

    def provenance(self) -> dict[str, Any]:
        return provenance(self.params.get("profile"), claim=self.claim.id,
                          wall_time_s=round(time.perf_counter() - self._t0, 2))

    def results(self) -> dict[str, Any]:
        metrics = to_jsonable(self.metrics)
        led = ledger.conclude(self.claim, metrics, self.params)
        return to_jsonable({
            "claim": self.claim.id,
            "title": self.claim.title,
            "verdict": led["verdict"],
            "findings": led["findings"],
            "parameters": self.params,
            "metrics": metrics,
            "checks": led["checks"],
            "choices": led["choices"],
            "provenance": self.provenance(),
        })

    def save(self, fig: Any, stem: str) -> list[Path]:
        """Save a figure (PNG + PDF, atomically) into the output directory with this run's provenance."""
        from ntkrepro.plotting import savefig

        if stem not in self.claim.figure_stems:
            raise ValueError(f"figure {stem!r} is not declared by claim {self.claim.id} "
                             f"(declared: {self.claim.figure_stems})")
        return savefig(fig, self.output_dir, stem, self.provenance(), self.params)

    def conclude(self, metrics: Any) -> dict[str, Any]:
        """Record the metrics (the claim's typed record, or a mapping), evaluate the declared checks, write ``results.json`` and show the
        findings table, the checks table and the reading generated from the numbers (the last
        cell of every claim notebook). Returns the results."""
        self.metrics = dict(to_json_metrics(metrics))
        res = self.results()
        write_json(self.output_dir / "results.json", res)
        self.results_ = res
        print(f"verdict: {res['verdict']}")
        try:
            from IPython.display import Markdown, display
        except ImportError:  # pragma: no cover - outside Jupyter
            print(ledger.reading(res))
            return res
        display(findings_table(res["findings"]))
        display(checks_table(res["checks"]))
        display(Markdown(ledger.reading(res)))
        return res


def load_results(path: str | Path) -> dict[str, Any]:
    return read_json(path)


def get_metric(results: Mapping[str, Any], dotted: str) -> Any:
    """``get_metric(r, "kernel.ntk_accuracy")`` -> r["metrics"]["kernel"]["ntk_accuracy"]."""
    return ledger.get_path(results["metrics"], dotted)


def findings_table(found):
    import pandas as pd

    return pd.DataFrame([{"finding": f["id"], "verdict": f["verdict"], "statement": f["statement"],
                          "source": f["source"], "evidence": f["evidence"]} for f in found])


def checks_table(checks):
    """The checks as a pandas DataFrame for display in a notebook."""
    import pandas as pd

    rows = [{"check": c["name"], "kind": c["kind"], "finding": c["finding"] or "",
             "outcome": c["outcome"].upper(), "value": ledger._fmt(c["value"]), "gate": c["expected"],
             "what it tests": c["description"]} for c in checks]
    return pd.DataFrame(rows)


def latest_results(claim: Claim) -> dict | None:
    """The claim's committed full-profile results (``figures/<id>/results.json``), or None before its
    first full run. Serves the README, the report and ``python -m ntkrepro list``."""
    path = claim.default_output_dir("full") / "results.json"
    return load_results(path) if path.exists() else None

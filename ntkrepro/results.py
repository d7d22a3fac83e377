"""The results contract: checks, verdicts and ``results.json``.

``results.json`` = ``{claim, title, parameters, metrics, checks, verdict, provenance}``; each
check is ``{name, passed, value, expected, tolerance | threshold, description}``.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ntkrepro.io import read_json, to_jsonable, write_json
from ntkrepro.provenance import provenance

VERDICTS = ("reproduced", "partially reproduced", "not reproduced")


def check(name: str, passed: bool, value: Any, expected: Any, description: str, *,
          tolerance: Any = None, threshold: Any = None) -> dict[str, Any]:
    """One check row. Exactly one of ``tolerance`` (closeness) or ``threshold`` (bound) is set."""
    if (tolerance is None) == (threshold is None):
        raise ValueError("a check needs exactly one of tolerance= or threshold=")
    row = {"name": name, "passed": bool(passed), "value": value, "expected": expected}
    row["tolerance" if tolerance is not None else "threshold"] = tolerance if tolerance is not None else threshold
    row["description"] = description
    return to_jsonable(row)


def check_close(name: str, value: float, expected: float, tolerance: float, description: str,
                *, relative: bool = False) -> dict[str, Any]:
    """Pass when |value - expected| <= tolerance (times |expected| if ``relative``)."""
    scale = abs(expected) if relative else 1.0
    ok = bool(np.isfinite(value) and abs(value - expected) <= tolerance * scale)
    tol = f"{tolerance:g} (relative)" if relative else tolerance
    return check(name, ok, value, expected, description, tolerance=tol)


def check_below(name: str, value: float, threshold: float, description: str) -> dict[str, Any]:
    """Pass when value < threshold."""
    return check(name, bool(np.isfinite(value) and value < threshold), value, f"< {threshold:g}",
                 description, threshold=threshold)


def check_above(name: str, value: float, threshold: float, description: str) -> dict[str, Any]:
    """Pass when value > threshold."""
    return check(name, bool(np.isfinite(value) and value > threshold), value, f"> {threshold:g}",
                 description, threshold=threshold)


def verdict(checks: Sequence[Mapping[str, Any]]) -> str:
    """All checks pass: reproduced; some: partially reproduced; none: not reproduced."""
    passed = [bool(c["passed"]) for c in checks]
    if passed and all(passed):
        return VERDICTS[0]
    return VERDICTS[1] if any(passed) else VERDICTS[2]


class Run:
    """Collects a notebook run's metrics and checks and writes ``results.json`` atomically."""

    def __init__(self, claim_id: str, params: Mapping[str, Any]):
        from ntkrepro.registry import get_claim

        self.claim = get_claim(claim_id)
        self.params = dict(params)
        self.output_dir = Path(self.params["output_dir"])
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.metrics: dict[str, Any] = {}
        self.checks: list[dict[str, Any]] = []
        self._t0 = time.perf_counter()

    def provenance(self) -> dict[str, Any]:
        return provenance(self.params.get("profile"), claim=self.claim.id,
                          wall_time_s=round(time.perf_counter() - self._t0, 2))

    def add_checks(self, rows: Sequence[Mapping[str, Any]]) -> None:
        self.checks.extend(dict(r) for r in rows)

    def results(self) -> dict[str, Any]:
        expected = set(self.claim.check_names(self.params["profile"]))
        got = [c["name"] for c in self.checks]
        if set(got) != expected or len(got) != len(set(got)):
            raise RuntimeError(f"checks reported {sorted(got)} differ from the registry's {sorted(expected)}")
        return {
            "claim": self.claim.id,
            "title": self.claim.title,
            "parameters": self.params,
            "metrics": self.metrics,
            "checks": self.checks,
            "verdict": verdict(self.checks),
            "provenance": self.provenance(),
        }

    def write(self) -> dict[str, Any]:
        res = self.results()
        write_json(self.output_dir / "results.json", res)
        return to_jsonable(res)

    def save(self, fig: Any, stem: str) -> list[Path]:
        """Save a figure (PNG + PDF, atomically) into the output directory with this run's provenance."""
        from ntkrepro.plotting import savefig

        return savefig(fig, self.output_dir, stem, self.provenance(), self.params)

    def conclude(self, metrics: Mapping[str, Any], checks: Sequence[Mapping[str, Any]]):
        """Record the metrics and checks, write ``results.json``, print the verdict and return the
        checks table (the last cell of every claim notebook)."""
        self.metrics = dict(metrics)
        self.add_checks(checks)
        res = self.write()
        n_pass = sum(c["passed"] for c in res["checks"])
        print(f"verdict: {res['verdict']}  ({n_pass}/{len(res['checks'])} checks pass)")
        return checks_table(res["checks"])


def drop_private(d: Any) -> Any:
    """Recursively drop dict keys starting with ``_`` (arrays kept for figures, not for results.json)."""
    if isinstance(d, Mapping):
        return {k: drop_private(v) for k, v in d.items() if not str(k).startswith("_")}
    return d


def load_results(path: str | Path) -> dict[str, Any]:
    return read_json(path)


def get_metric(results: Mapping[str, Any], dotted: str) -> Any:
    """``get_metric(r, "kernel.ntk_accuracy")`` -> r["metrics"]["kernel"]["ntk_accuracy"]."""
    node: Any = results["metrics"]
    for part in dotted.split("."):
        node = node[part]
    return node


def checks_table(checks: Sequence[Mapping[str, Any]]):
    """The checks as a pandas DataFrame for display in a notebook."""
    import pandas as pd

    rows = [{"check": c["name"], "passed": "PASS" if c["passed"] else "FAIL",
             "value": c["value"], "expected": c["expected"],
             "tolerance/threshold": c.get("tolerance", c.get("threshold")),
             "what it tests": c["description"]} for c in checks]
    return pd.DataFrame(rows)

"""Every check can fail: each (claim, check) of the registry is fed a real run's metrics (the
committed full-profile results.json) with its declared ``passes_with`` overrides, under which it
must pass, and its ``fails_with`` overrides, under which it must fail. And the verdict rules."""
import pytest

from ntkrepro import CLAIMS
from ntkrepro.io import read_json
from ntkrepro.ledger import (IMPLEMENTATION_ERROR, apply_overrides, claim_verdict, evaluate_check,
                             finding_verdict, findings)
from ntkrepro.spec import KINDS, interval_above

CASES = [(cid, spec.name) for cid, c in CLAIMS.items() for spec in c.checks]


@pytest.fixture(scope="module")
def reference():
    """A real run's metrics and parameters per claim (full profile, as committed)."""
    out = {}
    for cid, c in CLAIMS.items():
        res = read_json(c.default_output_dir("full") / "results.json")
        out[cid] = (res["metrics"], res["parameters"])
    return out


@pytest.mark.parametrize("claim_id,check", CASES)
def test_check_passes_and_fails(reference, claim_id, check):
    spec = next(s for s in CLAIMS[claim_id].checks if s.name == check)
    metrics, params = reference[claim_id]
    good = evaluate_check(spec, apply_overrides(metrics, spec.passes_with), params)
    bad = evaluate_check(spec, apply_overrides(metrics, spec.fails_with), params)
    assert good["outcome"] == "pass", f"{check} does not pass under passes_with: {good['value']}"
    assert bad["outcome"] == "fail", f"{check} does not fail under fails_with: {bad['value']}"


@pytest.mark.parametrize("claim_id", list(CLAIMS))
def test_declaration_is_complete(claim_id):
    c = CLAIMS[claim_id]
    assert c.findings and all(s.kind in KINDS for s in c.checks)
    for f in c.findings:
        tested = [s for s in c.checks if s.finding == f.id]
        assert tested or f.not_run_reason, f"{f.id} has no check and no reason for not running"
    for fig in c.figures:
        assert fig.caption.strip(), fig.stem


def _row(kind, outcome, finding="F1"):
    return {"name": "x", "kind": kind, "finding": None if kind == "implementation" else finding,
            "outcome": outcome, "value": 1.0, "expected": "", "passed": outcome == "pass"}


@pytest.mark.parametrize("rows,verdict", [
    ([], "not run"),
    ([_row("finding", "pass")], "reproduced"),
    ([_row("finding", "pass"), _row("control", "pass")], "reproduced"),
    ([_row("finding", "pass"), _row("finding", "fail")], "not reproduced"),
    ([_row("finding", "pass"), _row("finding", "inconclusive")], "inconclusive"),
    ([_row("finding", "pass"), _row("control", "fail")], "inconclusive"),
    ([_row("finding", "fail"), _row("control", "fail")], "not reproduced"),
])
def test_finding_verdict_rules(rows, verdict):
    assert finding_verdict(rows) == verdict


def test_claim_verdict_counts_and_implementation_error():
    c = CLAIMS["factorized_ntk"]
    rows = [_row("finding", "pass", "F1"), _row("finding", "fail", "F2")]
    found = findings(c, rows)
    assert claim_verdict(rows, found) == "1 of 3 findings reproduced, 1 not reproduced, 1 not run"
    assert claim_verdict(rows + [_row("implementation", "fail")], found) == IMPLEMENTATION_ERROR


@pytest.mark.parametrize("value,outcome", [
    ({"ci_low": 0.01, "ci_high": 0.2}, "pass"),
    ({"ci_low": -0.2, "ci_high": 0.02}, "fail"),
    ({"ci_low": -0.1, "ci_high": 0.1}, "inconclusive"),
    ({"ci_low": 0.0, "ci_high": 0.0}, "fail"),       # a tie is never a pass
    ({"ci_low": -0.05, "ci_high": 0.05}, "inconclusive"),
    ({"ci_low": None, "ci_high": None}, "fail"),
])
def test_interval_gate(value, outcome):
    assert interval_above(0.0, 0.05).outcome(value) == outcome


def test_a_value_that_cannot_be_computed_fails_the_check():
    spec = next(s for s in CLAIMS["bottleneck"].checks if s.name == "bottleneck_better_test_error")
    metrics = {"bottleneck": {"2": {"test_rel_mse": 0.5}}, "ntk": {"test_rel_mse": None}}
    row = evaluate_check(spec, metrics, {"bottleneck_widths": [2]})
    assert row["outcome"] == "fail" and row["value"] is None and "could not be evaluated" in row["description"]

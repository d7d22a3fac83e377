"""The findings ledger: evaluate a claim's declared checks on a run's metrics, give each finding
a verdict, summarize the claim, and write the reading from the measured numbers.

Finding verdict (from its ``finding`` and ``control`` checks in this profile):
- ``not run``: none of them runs in this profile;
- ``not reproduced``: a finding check fails;
- ``inconclusive``: a finding check is inconclusive (the pre-declared test cannot decide at this
  size), or every finding check passes but a control fails or is inconclusive (the test does
  not discriminate);
- ``reproduced``: every finding check and every control passes.

Claim verdict: ``implementation error`` when an implementation check fails, otherwise a count of
the findings by verdict ("3 of 4 findings reproduced, 1 inconclusive").
"""
from __future__ import annotations

import copy
from typing import Any, Mapping, Sequence

from ntkrepro.io import to_jsonable
from ntkrepro.spec import FINDING_VERDICTS, Claim, CheckSpec

IMPLEMENTATION_ERROR = "implementation error"


def get_path(tree: Mapping[str, Any], dotted: str) -> Any:
    node: Any = tree
    for part in dotted.split("."):
        node = node[part]
    return node


def apply_overrides(metrics: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``metrics`` with each dotted path set (``*`` = every key at that level; a tuple
    of keys where a key contains a dot). A callable value is applied to the current value."""
    out = copy.deepcopy(dict(metrics))

    def put(node: Any, parts: list[str], value: Any) -> int:
        head, rest = parts[0], parts[1:]
        if head == "*":  # every child that has the rest of the path
            done = 0
            for k in (range(len(node)) if isinstance(node, list) else list(node)):
                try:
                    done += put(node, [str(k), *rest], value)
                except (KeyError, TypeError, IndexError):
                    continue
            if not done:
                raise KeyError(f"override path {'.'.join(parts)!r} matches nothing")
            return done
        k: Any = int(head) if isinstance(node, list) else head
        if not isinstance(node, list) and k not in node:
            raise KeyError(f"override path part {k!r} not in metrics (have {sorted(node)[:8]})")
        if rest:
            return put(node[k], rest, value)
        node[k] = value(node[k]) if callable(value) else value
        return 1

    for path, value in overrides.items():
        put(out, list(path) if isinstance(path, tuple) else path.split("."), value)
    return out


def _fmt(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, dict) and {"ci_low", "ci_high"} <= set(v):
        mean = v.get("mean_diff", v.get("mean"))
        return (f"{_fmt(mean)} [{_fmt(v['ci_low'])}, {_fmt(v['ci_high'])}]"
                + (f", n={v['n']}" if "n" in v else ""))
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v[:6]) + (", ..." if len(v) > 6 else "") + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_fmt(x)}" for k, x in list(v.items())[:6]) + "}"
    return str(v)


def evaluate_check(spec: CheckSpec, metrics: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """One check row. A value that cannot be computed from these metrics (a quantity the run never
    reached, such as steps to a loss level that was not attained) fails the check, with the reason."""
    description = spec.description
    try:
        value = to_jsonable(spec.value(metrics, params))
    except (TypeError, KeyError, ValueError, ZeroDivisionError, IndexError) as err:
        value = None
        description += f" [could not be evaluated on this run: {type(err).__name__}: {err}]"
    outcome = spec.gate.outcome(value)
    return {"name": spec.name, "kind": spec.kind, "finding": spec.finding, "outcome": outcome,
            "passed": outcome == "pass", "value": value, "expected": spec.gate.describe(),
            "gate": to_jsonable(spec.gate.as_dict()), "description": description}


def evaluate(claim: Claim, metrics: Mapping[str, Any], params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per check that runs in ``params['profile']``."""
    return [evaluate_check(s, metrics, params) for s in claim.check_specs(params["profile"])]


def finding_verdict(rows: Sequence[Mapping[str, Any]]) -> str:
    find = [r["outcome"] for r in rows if r["kind"] == "finding"]
    ctrl = [r["outcome"] for r in rows if r["kind"] == "control"]
    if not find and not ctrl:
        return "not run"
    if "fail" in find:
        return "not reproduced"
    if "inconclusive" in find or any(o != "pass" for o in ctrl) or not find:
        return "inconclusive"
    return "reproduced"


def findings(claim: Claim, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``[{id, statement, source, verdict, checks, evidence}]`` for every declared finding."""
    out = []
    for f in claim.findings:
        mine = [r for r in rows if r["finding"] == f.id]
        verdict = finding_verdict(mine)
        if verdict == "not run":
            evidence = f.not_run_reason or "no check of this profile tests it"
        else:
            evidence = "; ".join(f"{r['name']} = {_fmt(r['value'])} (gate {r['expected']}: {r['outcome']})"
                                 for r in mine)
        source = f.source + (f", {f.where}" if f.where else "")
        out.append({"id": f.id, "statement": f.statement, "source": source, "verdict": verdict,
                    "checks": [r["name"] for r in mine], "evidence": evidence})
    return out


def claim_verdict(rows: Sequence[Mapping[str, Any]], found: Sequence[Mapping[str, Any]]) -> str:
    broken = [r["name"] for r in rows if r["kind"] == "implementation" and r["outcome"] != "pass"]
    if broken:
        return IMPLEMENTATION_ERROR
    counts = {v: sum(f["verdict"] == v for f in found) for v in FINDING_VERDICTS}
    n = len(found)
    parts = [f"{counts['reproduced']} of {n} findings reproduced"]
    parts += [f"{counts[v]} {v}" for v in FINDING_VERDICTS[1:] if counts[v]]
    return ", ".join(parts)


def failed_implementation_checks(results: Mapping[str, Any]) -> list[str]:
    return [r["name"] for r in results.get("checks", [])
            if r.get("kind") == "implementation" and r.get("outcome") != "pass"]


def reading(results: Mapping[str, Any]) -> str:
    """Markdown generated from the measured numbers: the verdict, then per finding its verdict
    and evidence line, then any implementation check that failed."""
    lines = [f"**Verdict: {results['verdict']}** ({results['parameters']['profile']} profile)", ""]
    for f in results["findings"]:
        lines.append(f"- **{f['id']} ({f['verdict']})**: {f['statement']} *Evidence:* {f['evidence']}")
    bad = failed_implementation_checks(results)
    if bad:
        lines += ["", f"Implementation checks failed: {', '.join(bad)}. The numbers above cannot be "
                  "trusted until the code is fixed."]
    n_impl = sum(r["kind"] == "implementation" for r in results["checks"])
    lines += ["", f"{n_impl} implementation checks (code against closed forms, Monte Carlo or an "
              f"independent implementation): {n_impl - len(bad)} pass."]
    return "\n".join(lines)

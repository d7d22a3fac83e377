"""The findings ledger: evaluate a claim's declared checks and choices on a run's metrics, give
each finding a verdict with its reason, summarize the claim, and write the reading from the
measured numbers. The rules make sure no verdict is decided by how a comparison was posed (issue 24).

Check outcome (``pass``, ``fail``, ``inconclusive``, ``not run``):
- a value that cannot be computed in this profile (None, a missing metric, an interval that could
  not be formed) is ``not run``, with the reason, never a failure;
- a censored value (``{"censored": True, "reached": k, "n": n, "budget": steps}``: an arm that did
  not reach its target on every seed) never reaches the gate: the check is ``inconclusive`` unless it
  declares how censoring is handled (``censoring``), in which case the gate reads ``value["value"]``;
- an ``interval>`` gate with fewer than ``min_seeds`` (default 5) seeds is ``inconclusive`` whatever
  its interval; every inconclusive interval check reports its minimum detectable effect at its n
  (``mde``), the seeds that would decide the declared effect of interest at 80 % power
  (``seeds_to_decide``) and the command that would run them (``decide_command``);
- in the smoke profile, a check declared ``smoke_decides=False`` (smoke sizes cannot decide it) is
  ``inconclusive`` whatever it would have been, pass or fail (the reason says which).

Finding verdict, in this order:
1. a control or premise of the finding that fails, is inconclusive or is not run -> ``inconclusive``
   ("the instrument failed its control: ...");
2. a declared choice serving the finding at the edge of its grid (not a declared bound) ->
   ``inconclusive`` ("... at the grid edge");
3. every finding check not run -> ``not run``;
4. a finding check fails -> ``not reproduced``;
5. a finding check inconclusive or not run -> ``inconclusive``;
6. otherwise ``reproduced``.
A finding none of whose checks runs in this profile is ``not run``.

Claim verdict: ``implementation error`` when an implementation check fails, otherwise a count of the
findings by verdict ("3 of 4 findings reproduced, 1 inconclusive"); findings proved in the notes are
counted apart ("3 of 3 open findings reproduced, ...; 1 proved case consistent").
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
from typing import Any, Mapping, Sequence

from ntkrepro.io import to_jsonable
from ntkrepro.metrics import parse as parse_metrics
from ntkrepro.spec import FINDING_VERDICTS, CheckSpec, ChoiceSpec, Claim, is_finite_number as _finite

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


def _rounded(x: Any) -> Any:
    """Floats to 12 significant digits, recursively: a bound computed with numpy (e.g. log 1.25) differs in
    its last bit between numpy versions, and that is not a changed gate."""
    if isinstance(x, float):
        return float(f"{x:.12g}")
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_rounded(v) for v in x]
    return x


def gate_sha(spec: CheckSpec) -> str:
    """A fingerprint of a check's declaration (name, kind, finding, gate with its numbers to 12 significant
    digits, min seeds, censoring, arms, matched): sha256 of its canonical JSON, 12 hex digits. A committed row whose ``gate_sha`` differs
    from the declaration's was decided by another gate (:func:`changed_gates`)."""
    decl = [spec.name, spec.kind, spec.finding, _rounded(to_jsonable(spec.gate.as_dict())), spec.required_seeds,
            spec.censoring, list(spec.arms), list(spec.matched)]
    text = json.dumps(decl, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def changed_gates(claim: Claim, results: Mapping[str, Any]) -> list[str]:
    """Checks of the committed ``results`` whose recorded ``gate_sha`` differs from the current
    declaration, or that the claim no longer declares. Rows without ``gate_sha`` (records made
    before fingerprints existed) are skipped."""
    specs = {c.name: c for c in claim.checks}
    out = []
    for r in results.get("checks", []):
        if "gate_sha" not in r or r["gate_sha"] is None:
            continue
        spec = specs.get(r["name"])
        if spec is None or gate_sha(spec) != r["gate_sha"]:
            out.append(r["name"])
    return out


def _power(spec: CheckSpec, value: Mapping[str, Any], claim: Claim | None) -> tuple[dict[str, Any], str | None]:
    """``mde`` at the interval's n, ``seeds_to_decide`` and ``decide_command`` for an inconclusive
    interval check. The effect to decide is the declared effect of interest |effect - bound|, or,
    where the gate declares none (effect == bound), the observed |mean - bound|. The standard error
    comes from the row's sd / sqrt(n) when it carries sd, else from its CI half-width and level
    (default 0.90); the per-seed spread is assumed to stay the same as n grows, so the standard error
    falls as 1/sqrt(n). For a corrected resampled t (overlapping resplits) the standard error has a floor
    (sd sqrt(n_test/n_train)), so ``seeds_to_decide`` is then a lower bound. The interval's n is read
    from ``n`` (or ``n_splits``). A paired bootstrap over seeds and test points (a row with ``se_seeds``,
    ``se_points`` and ``n_test``) has a floor too, its test-set sampling error: ``seeds_to_decide`` then
    counts it (:func:`ntkrepro.stats.seeds_to_decide_with_floor`), and where the floor alone is too large
    it is None and the returned note (added to the row's reason) says how many test points would be needed.
    Returns (power, note); note is None except in that case."""
    from ntkrepro import stats  # scipy: imported only when an interval is inconclusive

    n = value.get("n", value.get("n_splits"))
    if not isinstance(n, int) or isinstance(n, bool) or n < 2:
        return {"mde": None, "seeds_to_decide": None, "decide_command": None}, None
    level = float(value.get("level", 0.90))
    se = stats.se_of_interval(dict(value), level)
    mde = stats.mde_from_se(se, n, level)
    gate = spec.gate
    effect = abs(gate.effect - gate.bound)
    if effect == 0:
        mean = value.get("mean_diff", value.get("mean"))
        effect = abs(mean - gate.bound) if _finite(mean) else float("nan")
    note = None
    floor = value.get("se_points")
    if _finite(floor) and _finite(value.get("se_seeds")) and isinstance(value.get("n_test"), int):
        need, points = stats.seeds_to_decide_with_floor(effect, value["se_seeds"], floor, n, value["n_test"], level,
                                                        min_n=max(spec.required_seeds or 2, 2))
        if points is not None:
            note = (f"the test-set sampling error alone (se {floor:.3g} on {value['n_test']} test points) is "
                    f"too large for an effect of {effect:.3g}: no number of seeds decides it; at least "
                    f"{points} test points would be needed")
    else:
        need = stats.seeds_to_decide(effect, se, n, level, min_n=max(spec.required_seeds or 2, 2))
    knob = spec.seeds_param or (claim.seeds_param if claim is not None else "")
    cmd = (f"python -m ntkrepro run {claim.id} --profile full -p {knob} {need}"
           if (knob and need is not None and claim is not None) else None)
    return {"mde": mde if math.isfinite(mde) else None, "seeds_to_decide": need, "decide_command": cmd}, note


def evaluate_check(spec: CheckSpec, metrics: Mapping[str, Any], params: Mapping[str, Any],
                   claim: Claim | None = None) -> dict[str, Any]:
    """One check row. A value that cannot be computed from these metrics (a quantity this profile
    does not produce) is ``not run``, with the reason; a censored value and an interval from fewer
    than ``min_seeds`` seeds are ``inconclusive`` (see the module docstring)."""
    description, reason = spec.description, ""
    infinite = None
    if claim is not None:  # the claim's typed record (a MetricsError names a missing or renamed metric)
        metrics = parse_metrics(claim.metrics_type, metrics)
    try:
        raw = spec.value(metrics, params)
        if isinstance(raw, (float, int)) and not isinstance(raw, bool) and math.isinf(raw):
            infinite = float(raw)
        value = to_jsonable(raw)
    except (TypeError, KeyError, ValueError, ZeroDivisionError, IndexError) as err:
        value = None
        if isinstance(err, TypeError) and "NoneType" in str(err):
            reason = ("could not be evaluated on this run: a value it reads is null in the metrics (a run that "
                      f"diverged or produced no number; {type(err).__name__}: {err})")
        else:
            reason = f"could not be evaluated on this run: {type(err).__name__}: {err}"
        description += f" [{reason}]"
    censored = None
    power = {"mde": None, "seeds_to_decide": None, "decide_command": None}
    method = value.get("method") if isinstance(value, dict) else None
    gated = value
    if isinstance(value, dict) and value.get("censored") is True:
        censored = {k: value.get(k) for k in ("reached", "n", "budget")}
        gated = value.get("value") if spec.censoring else None
    if infinite is not None and spec.gate.op in ("<", ">"):
        outcome = spec.gate.outcome(infinite)  # recorded as null (JSON has no infinity); the reason says so
        reason = f"the value is {infinite:+}: compared with the gate as it is"
    elif value is None:
        outcome = "not run"
        reason = reason or "the value cannot be computed in this profile"
    elif censored is not None and not spec.censoring:
        outcome = "inconclusive"
        reason = (f"censored: {censored['reached']} of {censored['n']} seeds reached the target within "
                  f"{censored['budget']} steps, and the check declares no handling of censoring")
    elif censored is not None and gated is None:
        outcome = "inconclusive"
        reason = f"censored ({spec.censoring}), and no value for the gate"
    elif spec.gate.op == "interval>":
        iv = gated if isinstance(gated, dict) else {}
        if not (_finite(iv.get("ci_low")) and _finite(iv.get("ci_high"))):
            outcome = "not run"
            reason = f"the interval could not be formed on this run (n = {iv.get('n')})"
        else:
            outcome = spec.gate.outcome(iv)
            n, need = iv.get("n", iv.get("n_splits")), spec.required_seeds
            if isinstance(n, int) and n < need and outcome in ("pass", "fail"):
                reason = (f"{n} seeds: an interval gate needs at least {need} to decide (the interval alone "
                          f"would {outcome})")
                outcome = "inconclusive"
            elif outcome == "inconclusive":
                reason = "the interval straddles the gate: the test cannot decide at this size"
            if outcome == "inconclusive":
                power, note = _power(spec, iv, claim)
                if note:
                    reason += f"; {note}"
    else:
        outcome = spec.gate.outcome(gated)
    if censored is not None and spec.censoring and not reason:
        reason = f"censored ({censored['reached']} of {censored['n']} reached): {spec.censoring}"
    if not spec.smoke_decides and params.get("profile") == "smoke" and outcome in ("pass", "fail"):
        reason = (f"smoke sizes do not decide this check (declared): it would {outcome} here"
                  + (f"; {reason}" if reason else ""))
        outcome = "inconclusive"
    return {"name": spec.name, "kind": spec.kind, "finding": spec.finding, "outcome": outcome,
            "passed": outcome == "pass", "value": value, "expected": spec.gate.describe(),
            "gate": to_jsonable(spec.gate.as_dict()), "description": description,
            "arms": list(spec.arms), "matched": list(spec.matched), "interval_method": method,
            **power, "gate_sha": gate_sha(spec), "reason": reason, "censored": censored}


def evaluate(claim: Claim, metrics: Mapping[str, Any], params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per check that runs in ``params['profile']``."""
    metrics = parse_metrics(claim.metrics_type, metrics)
    return [evaluate_check(s, metrics, params, claim) for s in claim.check_specs(params["profile"])]


def _values(x: Any) -> list[Any]:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _same(a: Any, b: Any) -> bool:
    if _finite(a) and _finite(b):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def evaluate_choice(choice: ChoiceSpec, metrics: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """``{name, arm, grid, chosen, selected_on, at_edge, edge_is_bound, findings, reason}``: ``at_edge``
    when a chosen value (or any of them, when one is chosen per seed or split) equals the smallest or
    the largest value of the grid; None (with the reason) when this run does not record the choice."""
    row = {"name": choice.name, "arm": choice.arm, "grid": None, "chosen": None, "selected_on": choice.selected_on,
           "at_edge": None, "edge_is_bound": choice.edge_is_bound, "findings": list(choice.findings), "reason": ""}
    try:
        grid = to_jsonable(choice.grid(metrics, params))
        chosen = to_jsonable(choice.chosen(metrics, params))
    except (TypeError, KeyError, ValueError, ZeroDivisionError, IndexError) as err:
        row["reason"] = f"not recorded on this run: {type(err).__name__}: {err}"
        return row
    row["grid"], row["chosen"] = grid, chosen
    pts = [g for g in _values(grid) if g is not None]
    picks = [c for c in _values(chosen) if c is not None]
    if not pts or not picks:
        row["reason"] = "not recorded on this run (empty grid or no chosen value)"
        return row
    try:
        ends = (min(pts), max(pts))
    except TypeError:
        ends = (pts[0], pts[-1])
    row["at_edge"] = any(_same(c, e) for c in picks for e in ends)
    return row


def evaluate_choices(claim: Claim, metrics: Mapping[str, Any], params: Mapping[str, Any]) -> list[dict[str, Any]]:
    metrics = parse_metrics(claim.metrics_type, metrics)
    return [evaluate_choice(ch, metrics, params) for ch in claim.choices]


CONTROL_KINDS = ("control", "premise")


def _choice_label(c: Mapping[str, Any]) -> str:
    return c["name"] if c["arm"] in c["name"] else f"{c['name']} ({c['arm']})"


def verdict_and_reason(rows: Sequence[Mapping[str, Any]],
                       choices: Sequence[Mapping[str, Any]] = ()) -> tuple[str, str]:
    """The finding verdict from its check rows and the choices serving it, with the reason
    (the order of the module docstring)."""
    find = [r for r in rows if r["kind"] == "finding"]
    ctrl = [r for r in rows if r["kind"] in CONTROL_KINDS]
    if all(r["outcome"] == "not run" for r in find + ctrl):  # also: no check at all
        why = "; ".join(f"{r['name']}: {r.get('reason') or 'not run'}" for r in find + ctrl)
        return "not run", why or "no check of this profile tests it"
    bad = [r for r in ctrl if r["outcome"] != "pass"]
    if bad:
        return "inconclusive", "the instrument failed its control: " + "; ".join(
            f"{r['name']} ({r['outcome']}{': ' + r['reason'] if r.get('reason') else ''})" for r in bad)
    edge = [c for c in choices if c.get("at_edge") and not c.get("edge_is_bound")]
    if edge:
        return "inconclusive", "; ".join(f"{_choice_label(c)} at the grid edge: chose {_fmt(c['chosen'])} "
                                         f"of {_fmt(c['grid'])}" for c in edge)
    if all(r["outcome"] == "not run" for r in find):
        return "not run", "; ".join(f"{r['name']}: {r.get('reason') or 'not run'}" for r in find) or \
            "no finding check runs in this profile"
    failed = [r for r in find if r["outcome"] == "fail"]
    if failed:
        return "not reproduced", "failed: " + ", ".join(r["name"] for r in failed)
    open_ = [r for r in find if r["outcome"] != "pass"]
    if open_:
        return "inconclusive", "; ".join(f"{r['name']} {r['outcome']}" + (f": {r['reason']}" if r.get("reason") else "")
                                         for r in open_)
    return "reproduced", ""


def finding_verdict(rows: Sequence[Mapping[str, Any]], choices: Sequence[Mapping[str, Any]] = ()) -> str:
    return verdict_and_reason(rows, choices)[0]


def _evidence(r: Mapping[str, Any]) -> str:
    text = f"{r['name']} = {_fmt(r['value'])} (gate {r['expected']}: {r['outcome']})"
    extra = []
    if r.get("censored"):
        c = r["censored"]
        extra.append(f"censored: {c.get('reached')} of {c.get('n')} reached in {c.get('budget')} steps")
    if r.get("mde") is not None:
        extra.append(f"mde {r['mde']:.3g} at n={r['value'].get('n') if isinstance(r['value'], dict) else '?'}"
                     + (f", {r['seeds_to_decide']} seeds to decide" if r.get("seeds_to_decide") else ""))
    return text + (f" [{'; '.join(extra)}]" if extra else "")


def findings(claim: Claim, rows: Sequence[Mapping[str, Any]],
             choices: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """``[{id, statement, source, verdict, reason, proved, checks, evidence}]`` for every declared finding."""
    out = []
    for f in claim.findings:
        mine = [r for r in rows if r["finding"] == f.id]
        served = [c for c in choices if f.id in c.get("findings", ())]
        verdict, reason = verdict_and_reason(mine, served)
        if verdict == "not run" and (f.not_run_reason or not mine):
            reason = f.not_run_reason or "no check of this profile tests it"
            evidence = reason
        else:
            evidence = "; ".join(_evidence(r) for r in mine)
            edge = [c for c in served if c.get("at_edge") and not c.get("edge_is_bound")]
            if edge:
                evidence += "; at the grid edge: " + ", ".join(c["name"] for c in edge)
        source = f.source + (f", {f.where}" if f.where else "")
        out.append({"id": f.id, "statement": f.statement, "source": source, "verdict": verdict,
                    "reason": reason, "proved": f.proved, "checks": [r["name"] for r in mine],
                    "evidence": evidence})
    return out


def _counts(found: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    return {v: sum(f["verdict"] == v for f in found) for v in FINDING_VERDICTS}


def claim_verdict(rows: Sequence[Mapping[str, Any]], found: Sequence[Mapping[str, Any]]) -> str:
    """``implementation error``, or "k of n findings reproduced, ..." (``open findings`` when some are
    proved cases, which follow after a semicolon: "1 proved case consistent")."""
    if failed_implementation_checks({"checks": rows}):
        return IMPLEMENTATION_ERROR
    open_ = [f for f in found if not f.get("proved")]
    proved = [f for f in found if f.get("proved")]
    counts = _counts(open_)
    parts = [f"{counts['reproduced']} of {len(open_)} {'open ' if proved else ''}findings reproduced"]
    parts += [f"{counts[v]} {v}" for v in FINDING_VERDICTS[1:] if counts[v]]
    text = ", ".join(parts)
    if proved:
        pc = _counts(proved)
        k, p = pc["reproduced"], len(proved)
        head = (f"{k} proved case{'s' if k != 1 else ''} consistent" if k == p
                else f"{k} of {p} proved cases consistent")
        text += "; " + ", ".join([head] + [f"{pc[v]} {v}" for v in FINDING_VERDICTS[1:] if pc[v]])
    return text


def failed_implementation_checks(results: Mapping[str, Any]) -> list[str]:
    """Implementation checks that fail or are inconclusive (one that is not run is not an error)."""
    return [r["name"] for r in results.get("checks", [])
            if r.get("kind") == "implementation" and r.get("outcome") in ("fail", "inconclusive")]


def conclude(claim: Claim, metrics: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """``{verdict, findings, checks, choices}`` of a run's metrics: what results.json records."""
    typed = parse_metrics(claim.metrics_type, metrics)
    rows = evaluate(claim, typed, params)
    chosen = evaluate_choices(claim, typed, params)
    found = findings(claim, rows, chosen)
    return {"verdict": claim_verdict(rows, found), "findings": found, "checks": rows, "choices": chosen}


def reevaluate(claim: Claim, results: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a committed ``results`` with its checks, choices, findings and verdict recomputed by
    the current rules and declarations from its own ``metrics`` and ``parameters`` (the reading is
    generated from these by :func:`reading`). Keys keep the results contract's order."""
    res = copy.deepcopy(dict(results))
    new = to_jsonable(conclude(claim, res["metrics"], res["parameters"]))
    order = ["claim", "title", "verdict", "findings", "parameters", "metrics", "checks", "choices", "provenance"]
    merged = {**res, **new}
    return {k: merged[k] for k in order if k in merged} | {k: v for k, v in merged.items() if k not in order}


def reading(results: Mapping[str, Any]) -> str:
    """Markdown generated from the measured numbers: the verdict, then per finding its verdict
    and evidence line, then any implementation check that failed."""
    lines = [f"**Verdict: {results['verdict']}** ({results['parameters']['profile']} profile)", ""]
    for f in results["findings"]:
        why = f" *Why {f['verdict']}:* {f['reason']}" if f.get("reason") and f["verdict"] != "reproduced" else ""
        proved = " (a case proved in the notes)" if f.get("proved") else ""
        lines.append(f"- **{f['id']} ({f['verdict']})**{proved}: {f['statement']} *Evidence:* {f['evidence']}{why}")
    edge = [c for c in results.get("choices", []) if c.get("at_edge")]
    if edge:
        lines += ["", "Choices at the edge of their grid: " + "; ".join(
            f"{_choice_label(c)} = {_fmt(c['chosen'])} of {_fmt(c['grid'])}"
            + (" (a declared bound)" if c.get("edge_is_bound") else "") for c in edge) + "."]
    cmds = [(r["name"], r["decide_command"]) for r in results["checks"] if r.get("decide_command")]
    if cmds:
        lines += ["", "To decide the inconclusive intervals (80 % power for the effect of interest):"]
        lines += [f"- {name}: `{cmd}`" for name, cmd in cmds]
    bad = failed_implementation_checks(results)
    if bad:
        lines += ["", f"Implementation checks failed: {', '.join(bad)}. The numbers above cannot be "
                  "trusted until the code is fixed."]
    impl = [r for r in results["checks"] if r["kind"] == "implementation"]
    n_pass = sum(r["outcome"] == "pass" for r in impl)
    n_skip = sum(r["outcome"] == "not run" for r in impl)
    lines += ["", f"{len(impl)} implementation checks (code against closed forms, Monte Carlo or an "
              f"independent implementation): {n_pass} pass" + (f", {n_skip} not run." if n_skip else ".")]
    return "\n".join(lines)

"""A record you can check: per-claim input hashes, ``status`` and ``verify``.

**Inputs of a run.** A claim's run is determined by: every file of its folder
(``ntkrepro/claims/<id>/``), its notebook pair (``notebooks/0N_*.py`` and ``.ipynb``), the
``ntkrepro`` modules in the static import closure of those files (read with :mod:`ast`; another
claim's package is never followed, so editing one claim leaves the others' records alone), the lock
file and the resolved parameters (without ``output_dir``, which says where outputs go, not what they
are). :func:`claim_inputs` lists them as ``{name: sha256}``; :func:`inputs_digest` hashes the list.
The runner writes both into ``results.json`` as ``provenance.inputs`` and
``provenance.inputs_sha256``, so the committed record says what it was made from, and
``run --skip-unchanged`` (``make figures``) skips a claim whose committed record matches.

**status** (:func:`status`): for every committed record (``figures/<id>/results.json``, the smoke
record ``figures/<id>/smoke/results.json``, the claim map ``figures/maps/<id>.json``), ``up to date``
or ``stale: <inputs that changed>``. It reads files and claim declarations only (no jax).

**verify** (:func:`verify`, :func:`compare`): re-run into ``build/verify/<profile>/<id>`` (never
``figures/``) and compare with the committed record: equal verdicts, every metric and check value
within the tolerance of its kind (:data:`TOLERANCES`, the one place where they are declared).
"""
from __future__ import annotations

import ast
import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from ntkrepro.layout import FIGURES, map_record_path, record_path  # noqa: F401  (the layout's owner; re-exported)
from ntkrepro.provenance import REPO_ROOT

LOCK_FILE = "requirements.lock"
PARAMETERS = "parameters"  # the name of the resolved parameters among a run's inputs
SWEEP_SPEC = "sweep_map"  # the name of a claim map's declared sweep among its inputs
PROFILES = ("full", "smoke")


# --------------------------------------------------------------------------------------------------
# inputs and their hash

def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _imports(source: str, module: str, is_package: bool) -> set[str]:
    """Absolute names of the ``ntkrepro`` modules a Python source imports (``from X import Y``
    gives X and X.Y; Y is kept only if it is a module, which :func:`_module_file` decides)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:  # a notebook .py with magics: fall back to the import lines
        lines = [ln for ln in source.splitlines() if re.match(r"\s*(from|import)\s+ntkrepro", ln)]
        tree = ast.parse("\n".join(ln.strip() for ln in lines))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package
                parts = module.split(".")
                base = parts if is_package else parts[:-1]
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{a.name}" for a in node.names if a.name != "*")
    return {n for n in found if n == "ntkrepro" or n.startswith("ntkrepro.")}


def _module_file(name: str, root: Path) -> Path | None:
    base = root / Path(*name.split("."))
    for f in (base.with_suffix(".py"), base / "__init__.py"):
        if f.is_file():
            return f
    return None


def _other_claim(name: str, claim_id: str) -> bool:
    parts = name.split(".")
    return len(parts) >= 3 and parts[:2] == ["ntkrepro", "claims"] and parts[2] != claim_id


def import_closure(claim_id: str, start_files: Iterable[Path], root: Path = REPO_ROOT) -> list[Path]:
    """The ``ntkrepro`` module files reachable by static imports from ``start_files`` (with every
    parent package's ``__init__.py``), not following other claims' packages."""
    todo: list[tuple[str, Path]] = []
    for f in start_files:
        if f.suffix == ".py":
            rel = f.relative_to(root).with_suffix("")
            todo.append((".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts), f))
    seen: dict[Path, None] = {}
    visited: set[Path] = set()
    while todo:
        module, f = todo.pop()
        if f in visited:
            continue
        visited.add(f)
        if f.is_relative_to(root / "ntkrepro"):
            seen[f] = None
        for name in _imports(f.read_text(), module, f.name == "__init__.py"):
            if _other_claim(name, claim_id):
                continue
            parts = name.split(".")
            for i in range(1, len(parts) + 1):  # a submodule's import runs its parents' __init__
                sub = ".".join(parts[:i])
                mf = _module_file(sub, root)
                if mf is not None and mf not in visited:
                    todo.append((sub, mf))
    return sorted(seen)


def _claim_files(claim: Any, root: Path) -> list[Path]:
    folder = root / "ntkrepro" / "claims" / claim.id
    # the tests beside a claim check its code but do not change what a run produces: not inputs
    files = [f for f in folder.rglob("*") if f.is_file() and "__pycache__" not in f.parts
             and f.suffix not in (".pyc", ".pyo") and not (f.name.startswith("test_") or f.name == "conftest.py")]
    nb = root / "notebooks" / claim.notebook
    return sorted(files) + [nb.with_suffix(".py"), nb]


def hashed_parameters(params: Mapping[str, Any]) -> dict[str, Any]:
    """The resolved parameters as they enter the hash: ``output_dir`` left out, JSON types."""
    from ntkrepro.io import to_jsonable

    return to_jsonable({k: v for k, v in dict(params).items() if k != "output_dir"})


def default_parameters(claim: Any, profile: str) -> dict[str, Any]:
    return hashed_parameters(claim.params.resolve({"profile": profile}, claim.default_output_dir))


def claim_inputs(claim: Any, params: Mapping[str, Any], root: Path = REPO_ROOT) -> dict[str, str]:
    """``{input name: sha256}``: the claim's folder (less the tests beside it), its notebook pair, the ``ntkrepro`` modules of
    their import closure, the lock file and ``parameters`` (the resolved parameters)."""
    own = _claim_files(claim, root)
    files = dict.fromkeys(own + import_closure(claim.id, own, root) + [root / LOCK_FILE])
    out = {str(f.relative_to(root)): (_sha(f.read_bytes()) if f.exists() else "missing") for f in files}
    out[PARAMETERS] = _sha(json.dumps(hashed_parameters(params), sort_keys=True).encode())
    return dict(sorted(out.items()))


def inputs_digest(inputs: Mapping[str, str]) -> str:
    return _sha("".join(f"{k}\t{v}\n" for k, v in sorted(inputs.items())).encode())


def provenance_fields(claim: Any, params: Mapping[str, Any], root: Path = REPO_ROOT) -> dict[str, Any]:
    """What the runner adds to ``results.json``'s provenance."""
    inputs = claim_inputs(claim, params, root)
    return {"inputs_sha256": inputs_digest(inputs), "inputs": inputs}


def map_inputs(claim: Any, root: Path = REPO_ROOT) -> dict[str, str]:
    """A claim map's inputs: the claim's smoke-profile inputs, ``ntkrepro/sweep.py`` and the
    declared sweep (axes and fixed values)."""
    inputs = claim_inputs(claim, claim.params.resolve({"profile": "smoke"}, claim.default_output_dir), root)
    sweep = root / "ntkrepro" / "sweep.py"
    inputs["ntkrepro/sweep.py"] = _sha(sweep.read_bytes()) if sweep.exists() else "missing"
    from ntkrepro.io import to_jsonable

    inputs[SWEEP_SPEC] = _sha(json.dumps(to_jsonable(dict(claim.sweep_map or {})), sort_keys=True).encode())
    return dict(sorted(inputs.items()))


def changed_inputs(recorded: Mapping[str, str] | None, current: Mapping[str, str]) -> list[str]:
    """The names whose hash differs, or that appear on one side only (``+new``, ``-gone``)."""
    if not recorded:
        return ["(no input hash in the record: made before input hashes; re-run it)"]
    out = [k for k in current if k in recorded and recorded[k] != current[k]]
    out += [f"+{k}" for k in current if k not in recorded]
    out += [f"-{k}" for k in recorded if k not in current]
    return out


# --------------------------------------------------------------------------------------------------
# status

@dataclass(frozen=True)
class Status:
    what: str  # "<claim> (full)", "<claim> (smoke)", "<claim> (map)"
    path: Path
    changed: tuple[str, ...]  # empty: up to date

    @property
    def up_to_date(self) -> bool:
        return not self.changed

    def line(self) -> str:
        if self.up_to_date:
            return f"{self.what}: up to date"
        return f"{self.what}: stale: {', '.join(self.changed)}"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def record_status(claim: Any, profile: str, root: Path = REPO_ROOT) -> Status:
    path = record_path(claim.id, profile, root / FIGURES)
    rec = _read(path)
    if rec is None:
        return Status(f"{claim.id} ({profile})", path, ("no record (run it)",))
    prov = rec.get("provenance", {})
    try:
        params = rec.get("parameters") or {}
        params = claim.params.resolve({**{k: v for k, v in params.items() if k != "output_dir"}},
                                      claim.default_output_dir)
    except ValueError as err:  # the record's parameters are no longer valid for the claim
        return Status(f"{claim.id} ({profile})", path, (f"parameters: {err}",))
    current = claim_inputs(claim, params, root)
    if prov.get("inputs_sha256") == inputs_digest(current):
        return Status(f"{claim.id} ({profile})", path, ())
    changed = changed_inputs(prov.get("inputs"), current)
    # a record made with other parameters than the profile's: say so
    if hashed_parameters(params) != default_parameters(claim, profile):
        changed.append(f"parameters differ from the {profile} profile")
    return Status(f"{claim.id} ({profile})", path, tuple(changed) or ("input hash differs",))


def map_status(claim: Any, root: Path = REPO_ROOT) -> Status | None:
    path = map_record_path(claim.id, root)
    png = path.with_suffix(".png")
    if not png.exists() and not path.exists():
        return None
    rec = _read(path)
    current = map_inputs(claim, root)
    if rec is None:
        return Status(f"{claim.id} (map)", path, ("no provenance beside the map (made before input hashes; "
                                                  "make maps)",))
    if rec.get("inputs_sha256") == inputs_digest(current):
        return Status(f"{claim.id} (map)", path, ())
    return Status(f"{claim.id} (map)", path, tuple(changed_inputs(rec.get("inputs"), current)) or ("input hash differs",))


def status(claims: Sequence[Any], root: Path = REPO_ROOT, profiles: Sequence[str] = PROFILES) -> list[Status]:
    """One :class:`Status` per committed record of each claim: its full and smoke records (a missing
    one is stale) and its claim map (when one is committed)."""
    out = []
    for c in claims:
        out += [record_status(c, p, root) for p in profiles]
        m = map_status(c, root)
        if m is not None:
            out.append(m)
    return out


def is_up_to_date(claim: Any, params: Mapping[str, Any], results_json: Path, root: Path = REPO_ROOT) -> bool:
    """Whether ``results_json`` records a run of exactly these inputs (``run --skip-unchanged``)."""
    rec = _read(results_json)
    if rec is None:
        return False
    return rec.get("provenance", {}).get("inputs_sha256") == inputs_digest(claim_inputs(claim, params, root))


# --------------------------------------------------------------------------------------------------
# tolerances: the one place where "equal enough" is declared, per kind of value

@dataclass(frozen=True)
class Tolerance:
    rtol: float | None  # None: not compared by value
    atol: float | None
    why: str


TOLERANCES: dict[str, Tolerance] = {
    # integers, booleans, strings, None: counts, sizes, case lists, closed forms in integers. A seed
    # fixes them; any difference is a different computation.
    "exact": Tolerance(0.0, 0.0, "identical"),
    # float64 arithmetic: kernels, eigenvalues, solves, closed forms evaluated in floating point, L-BFGS
    # optima. Same stack: bit-identical; another XLA/BLAS rounds differently at ~1e-15 relative, which
    # ill-conditioned solves and iterative optimizers amplify by a few orders.
    "float64": Tolerance(1e-6, 1e-10, "|a-b| <= 1e-10 + 1e-6 max(|a|,|b|)"),
    # float32 training (networks trained by GD for hundreds of steps, and the counts and accuracies
    # read from them): round-off of ~1e-7 per step compounds; two stacks agree to about 1 %.
    "float32": Tolerance(3e-2, 1e-4, "|a-b| <= 1e-4 + 3e-2 max(|a|,|b|)"),
    # float64 values at an iterative optimizer's optimum (L-BFGS or GD run to a stopping tolerance) and
    # the statistics over such optima: they agree to the optimizer's precision, not to round-off; measured
    # pinned vs modern on the ETF smoke profile: at most 1.2e-3 relative.
    "optimizer": Tolerance(1e-2, 1e-6, "|a-b| <= 1e-6 + 1e-2 max(|a|,|b|)"),
    # residuals and achieved optimizer precision (errors of closed forms, deviations from an ETF,
    # gradient norms at a converged optimum): numerical noise, not a result. Compared only through
    # the gate of the check that reads them (the check's outcome must be equal), never by value.
    "residual": Tolerance(None, None, "against its gate only"),
    # wall-clock timings (a claim's ``nondeterministic`` paths): vary run to run; ignored.
    "timing": Tolerance(None, None, "ignored"),
    # a claim of CROSS_STACK_OUTCOMES_ONLY compared across stacks: verdicts and check outcomes only
    "cross-stack outcome": Tolerance(None, None, "another stack: outcome only (CROSS_STACK_OUTCOMES_ONLY)"),
}

# A metric is a residual when both values are below this (numerical noise at float64 or float32
# precision after an optimizer), or when its name says so (RESIDUAL_NAME).
RESIDUAL_FLOOR = 1e-6
RESIDUAL_NAME = re.compile(r"(max_dev|_dev$|resid|max_abs_err|abs_err|grad_norm|achieved_precision|"
                           r"gram_dev|norm_dev)", re.I)
# A check whose gate is "< bound" with bound at most this, or "close to 0", tests a residual.
RESIDUAL_GATE = 1e-3

# Metrics at an optimizer's optimum, per claim (top-level metric keys), and checks whose value is an
# achieved precision (an error of the optimum normalized by its tolerance; gate "< 1"): compared through
# their gate only. Measured pinned vs modern: such values differ by up to 20 % and sit far inside the gate.
OPTIMIZER_METRICS: dict[str, tuple[str, ...]] = {
    "etf": ("centred", "centred_gram_max_dev", "tilted", "tilted_alpha_c", "c_sweep", "tilted_c_sweep_gd",
            "sign_patterns", "expected_loss_identity", "finite_n", "mc_loss", "mc_se", "closed_form_loss",
            "approximation_error", "negative_controls"),
}
RESIDUAL_CHECKS: dict[str, tuple[str, ...]] = {
    "etf": ("control_pentagon_when_m_gt_d_plus_1", "tilted_matches_1d_search", "tilted_frame_at_every_c",
            "centred_gd_reaches_etf_loss", "no_restart_below_etf", "centred_gram_is_simplex",
            "centred_norms_equal_r_star"),
}

# Claims whose float32 training is chaotic across stacks: compared with the (pinned) record on another stack by
# verdicts and check outcomes only, not by value. Same-stack comparisons keep every tolerance above.
CROSS_STACK_OUTCOMES_ONLY: dict[str, str] = {
    # the hybrid trains at each model's fastest stable rate, i.e. at the edge of stability, and d = 2 runs
    # through a catapult: jax 0.9.2 against 0.4.25 changes float32 trajectories by up to ~15 % per value
    # (kernel-trace growth at d = 2: 17.9 vs 16.8; steps to 1 %: 131 vs 158) and 2-seed interval bounds by more,
    # with every verdict and check outcome equal (measured on the smoke record at e568f40)
    "bottleneck": "float32 training at the edge of stability: chaotic across XLA versions",
}

# The metrics of float32 training, per claim (top-level metric keys; "*" = every metric), from each
# claim's science.py docstring ("the finite networks train in float32").
FLOAT32_METRICS: dict[str, tuple[str, ...]] = {
    "bottleneck": ("bottleneck", "finite_check", "best_lr", "best_lr_per_width", "min_speedup_to_10pct",
                   "digits", "rf_width_sweep", "no_bottleneck_finite", "alignment", "alignment_unit_amplitude"),
    "finite_vs_infinite": ("finite", "breaking", "precision", "l2_to_init", "parameterization", "cnn",
                           "delta_ntk_vs_width", "delta_ntk_width_slope", "empirical_ntk_slope",
                           "empirical_ntk_relative_error", "centered_variance_slope", "uncentered_variance_slope",
                           "uncentered_to_gp_variance_ratio", "centered_agreement_largest_width",
                           "diag_reg_vs_time", "diag_reg_vs_time_max_gap", "zca", "zca_reposed",
                           "zca_reposed_conv", "nngp_vs_ntk_mnist1d", "l2_shrinkage_prediction"),
    "factorized_ntk": ("training", "late_rate", "small_width_control", "negative_control", "cost",
                       "cost_to_eps", "dn_sweep", "runs_outside_premise"),
    "ntt": ("*",),
    "etf": (),
}


def _leaves(tree: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(tree, dict):
        if not tree and prefix:
            yield prefix, {}
        for k, v in tree.items():
            yield from _leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(tree, list):
        if not tree and prefix:
            yield prefix, []
        for i, v in enumerate(tree):
            yield from _leaves(v, f"{prefix}[{i}]")
    else:
        yield prefix, tree


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _under(path: str, prefixes: Iterable[str]) -> bool:
    """Whether ``path`` is at or below one of ``prefixes`` (dotted; a ``*`` part matches any one key;
    ``"*"`` alone matches everything)."""
    for p in prefixes:
        if p == "*":
            return True
        rx = r"\.".join(r"[^.\[]+" if part == "*" else re.escape(part) for part in p.split("."))
        if re.match(rf"{rx}(?:$|[.\[])", path):
            return True
    return False


def value_kind(claim_id: str, path: str, a: Any, b: Any, nondeterministic: Iterable[str] = ()) -> str:
    """The kind of a metric leaf (``path`` relative to ``metrics``), which picks its tolerance."""
    if _under(path, nondeterministic):
        return "timing"
    if not (_is_num(a) and _is_num(b)):
        return "exact"
    leaf = re.split(r"[.\[]", path)[-1]
    if RESIDUAL_NAME.search(leaf) or (abs(a) <= RESIDUAL_FLOOR and abs(b) <= RESIDUAL_FLOOR
                                      and (isinstance(a, float) or isinstance(b, float))):
        return "residual"
    if _under(path, FLOAT32_METRICS.get(claim_id, ())):
        return "float32"
    if _under(path, OPTIMIZER_METRICS.get(claim_id, ())):
        return "optimizer"
    if isinstance(a, int) and isinstance(b, int):
        return "exact"
    return "float64"


def _excess(kind: str, a: Any, b: Any) -> float:
    """0 when within tolerance; else how far beyond it (|a-b| / allowed, inf for exact kinds)."""
    tol = TOLERANCES[kind]
    if tol.rtol is None:
        return 0.0
    if _is_num(a) and _is_num(b):
        if math.isnan(a) and math.isnan(b):
            return 0.0
        diff = abs(a - b)
        if diff == 0:
            return 0.0
        allowed = tol.atol + tol.rtol * max(abs(a), abs(b))
        if math.isnan(diff):
            return math.inf
        return 0.0 if diff <= allowed else (diff / allowed if allowed else math.inf)
    return 0.0 if a == b else math.inf


def _residual_check(row: Mapping[str, Any]) -> bool:
    g = row.get("gate") or {}
    bound = g.get("bound")
    if g.get("op") == "<" and _is_num(bound) and abs(bound) <= RESIDUAL_GATE:
        return True
    return g.get("op") == "close" and _is_num(bound) and bound == 0


def compare(record: Mapping[str, Any], fresh: Mapping[str, Any], claim: Any,
            cross_stack: bool = False) -> dict[str, Any]:
    """Compare a fresh run's results with the committed record of the same claim and profile.

    Returns ``{claim, verdicts_equal, verdicts: [(finding, record, fresh)] that differ, compared,
    within, failures: [{path, kind, record, fresh, excess}], worst, ok}``. Metrics are compared
    leaf by leaf with the tolerance of their kind (:func:`value_kind`); each check's outcome must be
    equal and its value is compared like a metric, except a residual check's (compared through its
    gate, i.e. its outcome, only). ``cross_stack``: the fresh run is from another stack than the (pinned)
    record, so a claim of :data:`CROSS_STACK_OUTCOMES_ONLY` is compared by verdicts and outcomes only."""
    cid = claim.id
    nondet = tuple(getattr(claim, "nondeterministic", ()) or ())
    diffs: list[tuple[str, Any, Any]] = []
    if record.get("verdict") != fresh.get("verdict"):
        diffs.append(("claim verdict", record.get("verdict"), fresh.get("verdict")))
    rf = {f["id"]: f.get("verdict") for f in record.get("findings", [])}
    ff = {f["id"]: f.get("verdict") for f in fresh.get("findings", [])}
    diffs += [(k, rf.get(k), ff.get(k)) for k in dict.fromkeys([*rf, *ff]) if rf.get(k) != ff.get(k)]

    rows: list[dict[str, Any]] = []  # every comparison: {path, kind, record, fresh, excess}

    outcomes_only = cross_stack and cid in CROSS_STACK_OUTCOMES_ONLY

    def add(path: str, kind: str, a: Any, b: Any) -> None:
        if outcomes_only and not path.endswith(".outcome"):
            kind = "cross-stack outcome"
        rows.append({"path": path, "kind": kind, "record": a, "fresh": b, "excess": _excess(kind, a, b)})

    ra, fa = dict(_leaves(record.get("metrics", {}))), dict(_leaves(fresh.get("metrics", {})))
    for path in dict.fromkeys([*ra, *fa]):
        if path not in ra or path not in fa:
            rows.append({"path": f"metrics.{path}", "kind": "exact", "record": ra.get(path, "(missing)"),
                         "fresh": fa.get(path, "(missing)"), "excess": math.inf})
            continue
        add(f"metrics.{path}", value_kind(cid, path, ra[path], fa[path], nondet), ra[path], fa[path])

    rc = {c["name"]: c for c in record.get("checks", [])}
    fc = {c["name"]: c for c in fresh.get("checks", [])}
    for name in dict.fromkeys([*rc, *fc]):
        a, b = rc.get(name), fc.get(name)
        if a is None or b is None:
            rows.append({"path": f"checks.{name}", "kind": "exact", "record": "(missing)" if a is None else "present",
                         "fresh": "(missing)" if b is None else "present", "excess": math.inf})
            continue
        add(f"checks.{name}.outcome", "exact", a.get("outcome"), b.get("outcome"))
        if _residual_check(a) or name in RESIDUAL_CHECKS.get(cid, ()):
            continue  # its outcome (the gate) is what counts
        va, vb = dict(_leaves(a.get("value"), "v")), dict(_leaves(b.get("value"), "v"))
        for p in dict.fromkeys([*va, *vb]):
            x, y = va.get(p, "(missing)"), vb.get(p, "(missing)")
            # a check's value is read from the metrics: its kind follows the first metric of the check's
            # finding family; float32 when the claim's training is float32 throughout, else by value
            kind = value_kind(cid, "*" if FLOAT32_METRICS.get(cid) == ("*",) else f"checks.{name}", x, y, nondet)
            if kind == "float64" and _float32_check(cid, a):
                kind = "float32"
            elif kind == "float64" and OPTIMIZER_METRICS.get(cid):
                kind = "optimizer"
            add(f"checks.{name}.value{p[1:]}", kind, x, y)

    failures = [r for r in rows if r["excess"] > 0]
    compared = [r for r in rows if TOLERANCES[r["kind"]].rtol is not None or r["kind"] == "residual"]
    worst = max(failures, key=lambda r: r["excess"], default=None)
    if worst is None:  # the largest relative difference among those within tolerance
        num = [r for r in rows if _is_num(r["record"]) and _is_num(r["fresh"]) and r["kind"] in ("float64", "float32", "optimizer")
               and r["record"] != r["fresh"]]
        worst = max(num, key=lambda r: abs(r["record"] - r["fresh"]) / max(abs(r["record"]), abs(r["fresh"]), 1e-300),
                    default=None)
    return {"claim": cid, "verdicts_equal": not diffs, "verdicts": diffs, "compared": len(compared),
            "within": len(compared) - len(failures), "failures": failures, "worst": worst,
            "ok": not diffs and not failures}


def _float32_check(claim_id: str, row: Mapping[str, Any]) -> bool:
    """A check of a claim with float32 training: its value may come from that training (an
    implementation check comparing a trained wide network with the NTK does too). Checks of closed
    forms have residual gates and are compared through them."""
    return bool(FLOAT32_METRICS.get(claim_id))


def _short(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    s = json.dumps(x) if not isinstance(x, str) else x
    return s if len(s) <= 40 else s[:37] + "..."


def first_failure(report: Mapping[str, Any]) -> str | None:
    """One line naming the first failing verdict or metric of a :func:`compare` report."""
    if report["verdicts"]:
        what, a, b = report["verdicts"][0]
        return f"{report['claim']}: {what} verdict changed: record {a!r}, fresh {b!r}"
    if report["failures"]:
        r = report["failures"][0]
        return (f"{report['claim']}: {r['path']}: record {_short(r['record'])}, fresh {_short(r['fresh'])} "
                f"(beyond the {r['kind']} tolerance: {TOLERANCES[r['kind']].why})")
    return None


def table(reports: Sequence[Mapping[str, Any]]) -> str:
    """claim | verdicts equal | compared / within tolerance | worst offender (record vs fresh)."""
    lines = [f"{'claim':20s} {'verdicts':9s} {'within/compared':16s} worst offender (record vs fresh)"]
    for r in reports:
        w = r["worst"]
        worst = "-" if w is None else f"{w['path']} ({w['kind']}): {_short(w['record'])} vs {_short(w['fresh'])}"
        lines.append(f"{r['claim']:20s} {'equal' if r['verdicts_equal'] else 'DIFFER':9s} "
                     f"{r['within']}/{r['compared']:<12d} {worst}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# verify: re-run, then compare

VERIFY_DIR = REPO_ROOT / "build" / "verify"


def stack_tag() -> str:
    """``"modern"`` on jax >= 0.5 (requirements-modern.lock), else ``"pinned"``; read from the installed
    package's metadata, without importing jax."""
    from importlib import metadata

    try:
        major, minor = (int(x) for x in metadata.version("jax").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return "pinned"
    return "modern" if (major, minor) >= (0, 5) else "pinned"


def verify_dir(profile: str) -> Path:
    """Where verify runs go: ``build/verify/<profile>`` (pinned stack) or ``build/verify/<profile>-modern``."""
    return VERIFY_DIR / (profile if stack_tag() == "pinned" else f"{profile}-modern")


def verify(claim_ids: Sequence[str], profile: str = "smoke", record_dir: Path | None = None,
           fresh_dir: Path | None = None, jobs: int = 2, python: str | None = None,
           echo=print) -> list[dict[str, Any]]:
    """Run each claim's ``profile`` into :func:`verify_dir` ``/<id>`` (or read the runs already in
    ``fresh_dir/<id>``) and :func:`compare` it with its record (``record_dir``, a folder laid out like
    ``figures/``). A run that fails or a missing record gives a report with ``error``."""
    import os
    import subprocess
    from concurrent.futures import ThreadPoolExecutor

    from ntkrepro.registry import get_claim

    claims = [get_claim(c) for c in claim_ids]
    runs = fresh_dir or verify_dir(profile)

    def one(cid: str) -> tuple[str, str | None]:
        if fresh_dir is not None:
            return cid, None
        from ntkrepro.jobs import SINGLE_THREAD_ENV, run_argv

        env = {**os.environ, **(SINGLE_THREAD_ENV if jobs > 1 else {})}
        argv = run_argv(["run", cid, "--profile", profile, "-q", "--no-html", "--output-dir", str(runs / cid)],
                        python)
        echo(f"==> verify {cid} ({profile}): running into {runs / cid}")
        why = None
        for attempt in (1, 2):  # a run is deterministic: only a failure outside it (a kernel that did not
            # start beside another one) can pass on a second try, and a failing claim fails twice
            proc = subprocess.run(argv, env=env, capture_output=True, text=True)
            if not proc.returncode:
                return cid, None
            # the cause is on stderr (the runner's one ``error:`` line); stdout ends with the run's header
            err = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            out = [ln for ln in proc.stdout.splitlines() if ln.strip()]
            last = err[-1] if err else (out[-1] if out else "")
            why = f"{last} (exit {proc.returncode})" if last else f"exit {proc.returncode}"
            if attempt == 1:
                echo(f"==> verify {cid} ({profile}): the run failed ({why}); running it once more")
        return cid, why

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        errors = dict(pool.map(one, [c.id for c in claims]))
    reports = []
    for c in claims:
        rec_path = record_path(c.id, profile, record_dir)
        base = {"claim": c.id, "verdicts_equal": False, "verdicts": [], "compared": 0, "within": 0,
                "failures": [], "worst": None, "ok": False}
        if errors[c.id]:
            reports.append({**base, "error": f"{c.id}: the run failed: {errors[c.id]}"})
            continue
        record, fresh = _read(rec_path), _read(runs / c.id / "results.json")
        if record is None:
            reports.append({**base, "error": f"{c.id}: no committed record at {rec_path}"})
        elif fresh is None:
            reports.append({**base, "error": f"{c.id}: no results.json in {runs / c.id}"})
        else:
            reports.append(compare(record, fresh, c, cross_stack=stack_tag() != "pinned"))
    return reports

"""A record you can check: input hashes, ``status``, ``compare``/``verify`` and ``--skip-unchanged``,
all without executing a notebook."""
import copy
import json
import shutil
import subprocess
import sys

import pytest

from ntkrepro import CLAIMS, record
from ntkrepro.io import read_json
from ntkrepro.provenance import REPO_ROOT


def _copy_repo(dest):
    """The files a status reads: the package, the notebooks, the lock."""
    shutil.copytree(REPO_ROOT / "ntkrepro", dest / "ntkrepro", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "notebooks", dest / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy(REPO_ROOT / record.LOCK_FILE, dest / record.LOCK_FILE)
    return dest


def _fake_record(root, claim, profile):
    """A results.json whose provenance records the inputs of ``root`` as they are now."""
    params = claim.params.resolve({"profile": profile}, claim.default_output_dir)
    res = {"claim": claim.id, "verdict": "x", "findings": [], "metrics": {}, "checks": [],
           "parameters": record.hashed_parameters(params),
           "provenance": record.provenance_fields(claim, params, root)}
    path = record.record_path(claim.id, profile, root / "figures")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(res))
    return path


def test_import_closure_follows_imports_but_not_other_claims():
    own = record._claim_files(CLAIMS["etf"], REPO_ROOT)
    closure = [str(p.relative_to(REPO_ROOT)) for p in record.import_closure("etf", own)]
    assert "ntkrepro/results.py" in closure and "ntkrepro/ledger.py" in closure
    assert not [p for p in closure if p.startswith("ntkrepro/claims/") and "/etf/" not in p
                and p != "ntkrepro/claims/__init__.py"]
    assert "ntkrepro/record.py" not in closure and "ntkrepro/report.py" not in closure


def test_status_names_only_the_claim_whose_science_changed(tmp_path):
    root = _copy_repo(tmp_path)
    claims = list(CLAIMS.values())
    for c in claims:
        for p in record.PROFILES:
            _fake_record(root, c, p)
    assert all(s.up_to_date for s in record.status(claims, root)), [s.line() for s in record.status(claims, root)]
    science = root / "ntkrepro" / "claims" / "etf" / "science.py"
    science.write_text(science.read_text() + "\n# an edit\n")
    stale = [s for s in record.status(claims, root) if not s.up_to_date]
    assert {s.what for s in stale} == {"etf (full)", "etf (smoke)"}
    assert all("ntkrepro/claims/etf/science.py" in s.line() for s in stale)


def test_status_flags_a_record_without_hash_and_a_missing_one(tmp_path):
    root = _copy_repo(tmp_path)
    c = CLAIMS["ntt"]
    path = _fake_record(root, c, "full")
    res = json.loads(path.read_text())
    del res["provenance"]["inputs_sha256"], res["provenance"]["inputs"]
    path.write_text(json.dumps(res))
    full, smoke = record.status([c], root)
    assert "no input hash" in full.line() and "no record" in smoke.line()


def test_status_cli_exits_nonzero_when_stale():
    proc = subprocess.run([sys.executable, "-m", "ntkrepro", "status"], cwd=REPO_ROOT, capture_output=True, text=True)
    lines = proc.stdout.splitlines()
    assert len(lines) >= 2 * len(CLAIMS)
    assert all(": up to date" in ln or ": stale: " in ln for ln in lines)
    assert (proc.returncode != 0) == any("stale" in ln for ln in lines)


# -- compare -----------------------------------------------------------------------------------------

def _smoke_record(cid):
    path = record.record_path(cid, "smoke")
    if not path.exists():
        pytest.skip(f"no committed smoke record {path}")
    return json.loads(path.read_text())


@pytest.mark.parametrize("cid", list(CLAIMS))
def test_compare_passes_on_the_committed_smoke_record(cid):
    rec = _smoke_record(cid)
    rep = record.compare(rec, copy.deepcopy(rec), CLAIMS[cid])
    assert rep["ok"] and rep["verdicts_equal"] and rep["compared"] == rep["within"] > 0


@pytest.mark.parametrize("cid", list(CLAIMS))
def test_committed_smoke_record_passes_what_smoke_must_pass(cid):
    """The notebook tests require these checks of every smoke run; the committed smoke record, made by
    the same code, must already satisfy them (caught here without running a notebook)."""
    claim, rec = CLAIMS[cid], _smoke_record(cid)
    assert [c["name"] for c in rec["checks"]] == list(claim.check_names("smoke"))
    must = {s.name for s in claim.check_specs("smoke") if s.smoke_must_pass}
    failed = [c["name"] for c in rec["checks"] if c["name"] in must and not c["passed"]]
    assert not failed, f"{cid}: checks declared smoke_must_pass fail in the committed smoke record: {failed}"


def test_expected_figures_follow_their_flag():
    claim = CLAIMS["bottleneck"]
    assert "digits" not in claim.expected_figures({"run_digits": False})
    assert "digits" in claim.expected_figures({"run_digits": True})
    assert set(claim.expected_figures({"run_digits": True})) == set(claim.figure_stems)


def _first_float(tree, kind_ok, cid, prefix=""):
    for path, v in record._leaves(tree):
        if isinstance(v, float) and v != 0 and record.value_kind(cid, path, v, v * 1.5) in kind_ok:
            return path
    return None


def _set(tree, path, value):
    import re

    parts = [p for p in re.split(r"\.|\[|\]", path) if p != ""]
    node = tree
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    last = parts[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def test_compare_fails_naming_a_perturbed_metric():
    cid = "etf"
    rec = _smoke_record(cid)
    fresh = copy.deepcopy(rec)
    path = _first_float(fresh["metrics"], {"float64"}, cid)
    assert path is not None
    _set(fresh["metrics"], path, _get(fresh["metrics"], path) * 1.01)
    rep = record.compare(rec, fresh, CLAIMS[cid])
    assert not rep["ok"] and rep["verdicts_equal"]
    assert rep["failures"][0]["path"] == f"metrics.{path}"
    assert f"metrics.{path}" in record.first_failure(rep)


def _get(tree, path):
    return dict(record._leaves(tree))[path]


def test_compare_fails_on_a_changed_verdict():
    cid = "ntt"
    rec = _smoke_record(cid)
    fresh = copy.deepcopy(rec)
    f = fresh["findings"][0]
    f["verdict"] = "not reproduced" if f["verdict"] != "not reproduced" else "reproduced"
    rep = record.compare(rec, fresh, CLAIMS[cid])
    assert not rep["ok"] and not rep["verdicts_equal"]
    assert f["id"] in record.first_failure(rep) and "verdict changed" in record.first_failure(rep)


def test_tolerances_by_kind():
    c = CLAIMS["etf"]
    base = {"verdict": "v", "findings": [], "checks": [],
            "metrics": {"n": 3, "lam": 1.0, "gram_max_dev": 3.1e-8, "tiny": 1e-9, "t": 1.0}}

    def run(**metrics):
        fresh = copy.deepcopy(base)
        fresh["metrics"].update(metrics)
        return record.compare(base, fresh, c)

    assert not run(n=4)["ok"]                      # integers: exact
    assert run(lam=1.0 + 1e-9)["ok"]               # float64: tight
    assert not run(lam=1.0 + 1e-4)["ok"]
    assert run(gram_max_dev=1.7e-8)["ok"]          # residual: against its gate only
    assert run(tiny=5e-9)["ok"]                    # round-off-level numbers are residuals
    ntt = {**base, "metrics": {"acc": 0.80}}
    fresh = {**ntt, "metrics": {"acc": 0.805}}
    assert record.compare(ntt, fresh, CLAIMS["ntt"])["ok"]  # float32 training: looser
    # values at an optimizer's optimum: to the optimizer's precision (measured across stacks: 1.2e-3)
    assert record.value_kind("etf", "approximation_error.x.sd", 1.775e-4, 1.778e-4) == "optimizer"
    opt = {**base, "metrics": {"approximation_error": {"sd": 1.775e-4}}}
    assert record.compare(opt, {**opt, "metrics": {"approximation_error": {"sd": 1.778e-4}}}, c)["ok"]
    assert not record.compare(opt, {**opt, "metrics": {"approximation_error": {"sd": 2.0e-4}}}, c)["ok"]
    for kind, tol in record.TOLERANCES.items():
        assert tol.why, kind


def test_timings_are_ignored():
    """A claim's ``nondeterministic`` paths (``*`` = any key) are timings: never compared."""
    c = CLAIMS["factorized_ntk"]
    assert "cost_to_eps.*.seconds" in c.nondeterministic
    assert record.value_kind(c.id, "cost_to_eps.dense.seconds", 0.03, 0.14, c.nondeterministic) == "timing"
    assert record.value_kind(c.id, "cost_to_eps.dense.steps", 3, 4, c.nondeterministic) != "timing"
    rec = {"verdict": "v", "findings": [], "checks": [], "metrics": {"cost_to_eps": {"dense": {"seconds": 0.03}}}}
    fresh = copy.deepcopy(rec)
    fresh["metrics"]["cost_to_eps"]["dense"]["seconds"] = 0.14
    assert record.compare(rec, fresh, c)["ok"]


def test_a_residual_check_is_compared_by_its_outcome_only():
    row = {"name": "k", "kind": "implementation", "finding": None, "outcome": "pass", "value": 1e-13,
           "gate": {"op": "<", "bound": 1e-10}}
    rec = {"verdict": "v", "findings": [], "metrics": {}, "checks": [row]}
    fresh = copy.deepcopy(rec)
    fresh["checks"][0]["value"] = 5e-11
    assert record.compare(rec, fresh, CLAIMS["etf"])["ok"]
    fresh["checks"][0]["outcome"] = "fail"
    rep = record.compare(rec, fresh, CLAIMS["etf"])
    assert not rep["ok"] and rep["failures"][0]["path"] == "checks.k.outcome"


def test_verify_cli_on_existing_runs(tmp_path, capsys):
    """verify --fresh DIR: passes on a copy of the committed smoke record, fails naming a perturbed metric."""
    from ntkrepro import cli

    cid = "etf"
    rec = _smoke_record(cid)
    (tmp_path / cid).mkdir()
    (tmp_path / cid / "results.json").write_text(json.dumps(rec))
    assert cli.main(["verify", cid, "--fresh", str(tmp_path)]) == 0
    assert "equal" in capsys.readouterr().out
    path = _first_float(rec["metrics"], {"float64"}, cid)
    _set(rec["metrics"], path, _get(rec["metrics"], path) * 1.01)
    (tmp_path / cid / "results.json").write_text(json.dumps(rec))
    assert cli.main(["verify", cid, "--fresh", str(tmp_path)]) == 1
    assert f"metrics.{path}" in capsys.readouterr().err


def test_verify_names_a_failed_runs_cause_and_tries_it_once_more(tmp_path, monkeypatch):
    """A failed run is run once more (a run is deterministic; a kernel that did not start is not); the report
    names the cause from stderr, not the header line on stdout."""
    import subprocess
    from types import SimpleNamespace

    from ntkrepro import record

    calls = []

    def fake_run(argv, **kw):
        calls.append(argv)
        return SimpleNamespace(returncode=1, stdout="==> etf (smoke)\n", stderr="error: kernel died\n")

    monkeypatch.setattr(subprocess, "run", fake_run)
    monkeypatch.setattr(record, "verify_dir", lambda profile: tmp_path)
    lines = []
    (report,) = record.verify(["etf"], "smoke", jobs=1, echo=lines.append)
    assert len(calls) == 2 and any("running it once more" in ln for ln in lines)
    assert report["error"] == "etf: the run failed: error: kernel died (exit 1)"


# -- skip-unchanged ------------------------------------------------------------------------------------

def test_skip_unchanged_uses_the_record_and_starts_no_kernel(tmp_path, monkeypatch):
    from ntkrepro import runner

    def boom(*a, **k):
        raise AssertionError("a notebook was executed")

    monkeypatch.setattr(runner, "execute", boom)
    c = CLAIMS["factorized_ntk"]
    out = tmp_path / "out"
    params = c.params.resolve({"profile": "smoke", "output_dir": str(out)}, c.default_output_dir)
    out.mkdir()
    (out / "results.json").write_text(json.dumps({"verdict": "v", "provenance": record.provenance_fields(c, params)}))
    res = runner.run_claim(c.id, "smoke", output_dir=out, skip_unchanged=True)
    assert res.skipped and res.results["verdict"] == "v"
    with pytest.raises(AssertionError, match="executed"):  # any input changed: it runs
        runner.run_claim(c.id, "smoke", {"seed": 7}, output_dir=out, skip_unchanged=True)


def test_make_figures_on_an_up_to_date_record_says_up_to_date(monkeypatch, capsys):
    """`make figures` = `run all --profile full --skip-unchanged`: with every committed record up to date,
    each claim prints an "up to date" line and no notebook executes (in-process, --jobs 1)."""
    from ntkrepro import cli, registry, runner

    # a claim without a committed full run (a new one, `python -m ntkrepro new`) would run: left out of `all`
    recorded = {cid: c for cid, c in CLAIMS.items() if record.record_path(cid, "full").exists()}
    monkeypatch.setattr(registry, "_ALL", recorded)
    monkeypatch.setattr(runner, "execute", lambda *a, **k: (_ for _ in ()).throw(AssertionError("executed")))
    monkeypatch.setattr(record, "is_up_to_date", lambda *a, **k: True)
    assert cli.main(["run", "all", "--profile", "full", "--skip-unchanged", "-q"]) == 0
    out = capsys.readouterr().out
    assert out.count("up to date") == len(recorded), out


def test_committed_up_to_date_records_are_skipped_without_a_kernel(monkeypatch):
    """On this checkout (a fresh clone in CI): every claim whose full record `status` calls up to date is
    skipped by `run --skip-unchanged` (what `make figures` runs) without executing anything."""
    from ntkrepro import runner

    monkeypatch.setattr(runner, "execute", lambda *a, **k: (_ for _ in ()).throw(AssertionError("executed")))
    fresh = [c for c in CLAIMS.values() if record.record_status(c, "full").up_to_date]
    if not fresh:
        pytest.skip("no committed full record is up to date with its inputs (python -m ntkrepro status)")
    for c in fresh:
        assert runner.run_claim(c.id, "full", skip_unchanged=True).skipped


def test_kept_notebook_is_small_png_and_text_only(tmp_path):
    import base64

    import nbformat

    from ntkrepro.runner import NOTEBOOK_OUTPUT_MAX_BYTES, slim_notebook

    png = base64.b64encode(b"\x89PNG fake").decode()
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"x": 1}}}
    cell = nbformat.v4.new_code_cell("plot()")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>",
                                                     "application/pdf": "x" * 10}),
        nbformat.v4.new_output("display_data", data={"text/html": "<script>" + "x" * (NOTEBOOK_OUTPUT_MAX_BYTES + 1),
                                                     "text/plain": "table"}),
        nbformat.v4.new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {"model_id": "1"}}),
        nbformat.v4.new_output("stream", name="stdout", text="verdict: ok\n"),
    ]
    cell.metadata["papermill"] = {"duration": 1.0}
    nb.cells = [cell]
    src = tmp_path / "in.ipynb"
    nbformat.write(nb, src)
    out = nbformat.read(slim_notebook(src, tmp_path / "notebook.ipynb"), as_version=4)
    assert "widgets" not in out.metadata and "papermill" not in out.cells[0].metadata
    outs = out.cells[0].outputs
    assert outs[0].data["image/png"] == png and "application/pdf" not in outs[0].data
    assert outs[1].data == {"text/plain": "table"}
    assert len(outs) == 3 and outs[2].text == "verdict: ok\n"


def test_cross_stack_compares_a_chaotic_claim_by_outcomes_only():
    """A claim of CROSS_STACK_OUTCOMES_ONLY (float32 training at the edge of stability) run on another stack:
    values may differ, check outcomes and verdicts may not; on the same stack every tolerance holds."""
    from ntkrepro.ledger import apply_overrides

    cid = "bottleneck"
    assert cid in record.CROSS_STACK_OUTCOMES_ONLY
    rec = read_json(record.record_path(cid, "smoke"))
    fresh = copy.deepcopy(rec)
    fresh["metrics"] = apply_overrides(rec["metrics"], {"bottleneck.*.final_train_rel": lambda v: v * 1.2})
    assert not record.compare(rec, fresh, CLAIMS[cid])["ok"]
    assert record.compare(rec, fresh, CLAIMS[cid], cross_stack=True)["ok"]
    flipped = copy.deepcopy(fresh)
    row = flipped["checks"][0]
    row["outcome"] = "fail" if row["outcome"] != "fail" else "pass"
    assert not record.compare(rec, flipped, CLAIMS[cid], cross_stack=True)["ok"]
    # another claim keeps its tolerances across stacks
    etf = read_json(record.record_path("etf", "smoke"))
    assert record.compare(etf, copy.deepcopy(etf), CLAIMS["etf"], cross_stack=True)["ok"]

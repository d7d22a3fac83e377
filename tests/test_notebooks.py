"""Every claim notebook: stored without outputs, kernel pinned, parameters cell matches the
registry; re-executed once with its smoke profile (the session fixture ``smoke_runs`` of
conftest.py, two claims at a time), its results.json honours the contract and agrees with the
committed smoke record (``figures/<claim>/smoke/results.json``, :func:`ntkrepro.record.compare`):
the same inputs give the same results, on the pinned stack and, within the declared tolerances,
on the modern one."""
import json
import re

import nbformat
import pytest
from PIL import Image

from ntkrepro import CLAIMS
from ntkrepro.ledger import IMPLEMENTATION_ERROR
from ntkrepro.results import STAGE_PARAM
from ntkrepro.runner import KERNEL_NAME
from ntkrepro.spec import FINDING_VERDICTS, KINDS, OUTCOMES

CLAIM_IDS = list(CLAIMS)
CHECK_KEYS = {"name", "kind", "finding", "outcome", "passed", "value", "expected", "gate", "description",
              "arms", "matched", "interval_method", "mde", "seeds_to_decide", "decide_command", "gate_sha", "reason",
              "censored"}
VERDICT = re.compile(r"^\d+ of \d+ (open )?findings reproduced(, \d+ (not reproduced|inconclusive|not run))*"
                     r"(; (\d+ proved cases? consistent|\d+ of \d+ proved cases consistent)"
                     r"(, \d+ (not reproduced|inconclusive|not run))*)?$")


def _parameters_cell(nb):
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    names = {}
    exec(cells[0].source, {}, names)
    return names


@pytest.mark.parametrize("claim_id", CLAIM_IDS)
def test_notebook_pair_agrees(claim_id):
    """The .py (py:percent) and .ipynb of each pair hold the same cells and declare the pairing."""
    import jupytext

    ipynb = CLAIMS[claim_id].notebook_path
    nb, py = nbformat.read(ipynb, as_version=4), jupytext.read(ipynb.with_suffix(".py"))
    cells = lambda n: [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in n.cells]  # noqa: E731
    assert cells(nb) == cells(py), f"{ipynb.name} and its .py disagree: run `make sync`"
    assert nb.metadata["jupytext"]["formats"] == "ipynb,py:percent"


@pytest.mark.notebook
def test_plain_papermill_refuses_unknown_parameter(tmp_path):
    """`papermill ... -p n_typo 3` fails in the notebook's first call, naming the parameter."""
    from ntkrepro.runner import NotebookFailed, execute

    nb = CLAIMS["factorized_ntk"].notebook_path
    with pytest.raises(NotebookFailed, match="n_typo"):
        execute(nb, tmp_path / "out.ipynb", {"n_typo": 3, "output_dir": str(tmp_path)}, progress_bar=False)


@pytest.mark.parametrize("claim_id", CLAIM_IDS)
def test_notebook_is_clean_and_matches_registry(claim_id):
    claim = CLAIMS[claim_id]
    nb = nbformat.read(claim.notebook_path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == KERNEL_NAME
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "strip outputs before committing"
    params = _parameters_cell(nb)
    assert set(params) == set(claim.params.names) | {STAGE_PARAM}  # the runner's staging folder, not a knob
    assert params["profile"] == "smoke"
    assert all(v is None for k, v in params.items() if k != "profile")
    assert "reconstruct" in nb.cells[0].source.lower()


@pytest.mark.notebook
@pytest.mark.parametrize("claim_id", CLAIM_IDS)
def test_smoke_results_contract(smoke_runs, claim_id):
    claim = CLAIMS[claim_id]
    root, runs = smoke_runs
    out, res = root / claim_id, runs[claim_id]
    assert res["claim"] == claim_id and VERDICT.match(res["verdict"]), res["verdict"]
    assert res["verdict"] != IMPLEMENTATION_ERROR
    assert res["parameters"]["profile"] == "smoke"
    assert {"git_commit", "git_dirty", "timestamp", "python", "packages", "wall_time_s"} <= set(res["provenance"])
    assert [c["name"] for c in res["checks"]] == list(claim.check_names("smoke"))
    for c in res["checks"]:
        assert CHECK_KEYS <= set(c) and c["kind"] in KINDS and c["outcome"] in OUTCOMES
        assert isinstance(c["passed"], bool)
    assert [f["id"] for f in res["findings"]] == [f.id for f in claim.findings]
    for f in res["findings"]:
        assert f["verdict"] in FINDING_VERDICTS and f["evidence"]
    must = {s.name for s in claim.check_specs("smoke") if s.smoke_must_pass}
    failed = [c["name"] for c in res["checks"] if c["name"] in must and not c["passed"]]
    assert not failed, f"checks that must pass in the smoke profile failed: {failed}"
    for stem in claim.expected_figures(res["parameters"]):
        for ext in ("png", "pdf"):
            assert (out / f"{stem}.{ext}").stat().st_size > 0
        meta = json.loads(Image.open(out / f"{stem}.png").text["Comment"])
        assert meta["parameters"]["profile"] == "smoke"
    assert not list(out.glob("*.tmp*")), "temporary files left behind"


def _against_record(runs, label):
    from ntkrepro.record import compare, first_failure, record_path, table

    reports = []
    for cid in CLAIM_IDS:
        path = record_path(cid, "smoke")
        assert path.exists(), f"no committed smoke record {path}: make smoke-records"
        reports.append(compare(json.loads(path.read_text()), runs[cid], CLAIMS[cid],
                               cross_stack=label != "pinned stack"))
    print(f"{label}:\n{table(reports)}")
    bad = [first_failure(r) for r in reports if not r["ok"]]
    assert not bad, f"{label}: differs from the committed smoke record: {bad}"


@pytest.mark.notebook
def test_same_inputs_give_the_committed_smoke_record(smoke_runs):
    """Reproducibility, every claim: this session's smoke runs against the committed smoke record made
    by the same runner: equal verdicts, every metric within its kind's tolerance (on the pinned stack
    they are identical but for timings and round-off-level residuals)."""
    from ntkrepro.compat import stack

    if stack() == "modern":
        pytest.skip("on the modern stack: test_modern_stack_matches_pinned_stack")
    _against_record(smoke_runs[1], "pinned stack")


@pytest.mark.notebook
@pytest.mark.stacks
def test_modern_stack_matches_pinned_stack(smoke_runs):
    """On the modern stack: its smoke runs against the committed smoke record of the pinned stack
    (``verify`` with the same tolerances): equal verdicts, metrics within the tolerance of their kind."""
    from ntkrepro.compat import stack

    if stack() != "modern":
        pytest.skip("run on the modern stack (make test STACK=modern); the pinned stack is the reference")
    _against_record(smoke_runs[1], "modern stack")

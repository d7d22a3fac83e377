"""Every claim notebook: stored without outputs, kernel pinned, parameters cell matches the
registry; re-executed with its smoke profile, its results.json honours the contract."""
import json

import nbformat
import pytest
from PIL import Image

from ntkrepro import CLAIMS
from ntkrepro.results import VERDICTS
from ntkrepro.runner import KERNEL_NAME, run_claim

CLAIM_IDS = list(CLAIMS)
CHECK_KEYS = {"name", "passed", "value", "expected", "description"}


def _parameters_cell(nb):
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    names = {}
    exec(cells[0].source, {}, names)
    return names


@pytest.mark.parametrize("claim_id", CLAIM_IDS)
def test_notebook_is_clean_and_matches_registry(claim_id):
    claim = CLAIMS[claim_id]
    nb = nbformat.read(claim.notebook_path, as_version=4)
    assert nb.metadata["kernelspec"]["name"] == KERNEL_NAME
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "strip outputs before committing"
    params = _parameters_cell(nb)
    assert set(params) == set(claim.params.names)
    assert params["profile"] == "smoke"
    assert all(v is None for k, v in params.items() if k != "profile")
    assert "reconstruct" in nb.cells[0].source.lower()


@pytest.fixture(scope="module")
def smoke_runs(tmp_path_factory):
    return {cid: run_claim(cid, "smoke", output_dir=tmp_path_factory.mktemp(cid), progress_bar=False,
                           html=False) for cid in CLAIM_IDS}


@pytest.mark.notebook
@pytest.mark.parametrize("claim_id", CLAIM_IDS)
def test_smoke_results_contract(smoke_runs, claim_id):
    claim, run = CLAIMS[claim_id], smoke_runs[claim_id]
    res = json.loads((run.output_dir / "results.json").read_text())
    assert res["claim"] == claim_id and res["verdict"] in VERDICTS
    assert res["parameters"]["profile"] == "smoke"
    assert {"git_commit", "git_dirty", "timestamp", "python", "packages", "wall_time_s"} <= set(res["provenance"])
    names = [c["name"] for c in res["checks"]]
    assert sorted(names) == sorted(claim.check_names("smoke"))
    for c in res["checks"]:
        assert CHECK_KEYS <= set(c) and ("tolerance" in c) != ("threshold" in c)
        assert isinstance(c["passed"], bool)
    must = {s.name for s in claim.checks if s.smoke and s.smoke_must_pass}
    failed = [c["name"] for c in res["checks"] if c["name"] in must and not c["passed"]]
    assert not failed, f"checks that must pass in the smoke profile failed: {failed}"
    for stem in claim.figures:
        for ext in ("png", "pdf"):
            assert (run.output_dir / f"{stem}.{ext}").stat().st_size > 0
        meta = json.loads(Image.open(run.output_dir / f"{stem}.png").text["Comment"])
        assert meta["parameters"]["profile"] == "smoke"
    assert not list(run.output_dir.glob("*.tmp*")), "temporary files left behind"


@pytest.mark.notebook
def test_same_parameters_give_same_metrics(smoke_runs, tmp_path):
    """Reproducibility: the cheapest claim's smoke notebook run twice gives identical metrics."""
    claim_id = "finite_vs_infinite"
    first = json.loads((smoke_runs[claim_id].output_dir / "results.json").read_text())
    again = run_claim(claim_id, "smoke", output_dir=tmp_path, progress_bar=False, html=False)
    second = json.loads((again.output_dir / "results.json").read_text())
    assert first["metrics"] == second["metrics"]
    assert [c["passed"] for c in first["checks"]] == [c["passed"] for c in second["checks"]]

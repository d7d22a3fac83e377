"""Runner and CLI: fail fast on bad parameters, one-line cell failures, stale README."""
import nbformat
import pytest

from ntkrepro import cli, readme
from ntkrepro.runner import NotebookFailed, execute


def test_cli_rejects_unknown_parameter_before_running(capsys):
    assert cli.main(["run", "finite_vs_infinite", "-p", "widthz", "[1]"]) == 2
    assert "unknown parameter" in capsys.readouterr().err


def test_cli_rejects_bad_value_naming_parameter(capsys):
    assert cli.main(["run", "finite_vs_infinite", "-p", "n_seeds", "-3"]) == 2
    assert "'n_seeds'" in capsys.readouterr().err


def test_cli_rejects_unknown_claim(capsys):
    assert cli.main(["run", "nope"]) == 2
    assert "unknown claim" in capsys.readouterr().err


@pytest.mark.notebook  # starts a kernel
def test_failing_cell_is_one_line_naming_notebook_and_cell(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "ntkrepro", "display_name": "ntkrepro", "language": "python"}
    params = nbformat.v4.new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("y = x / 0")]
    src = tmp_path / "broken.ipynb"
    nbformat.write(nb, src)
    with pytest.raises(NotebookFailed) as err:
        execute(src, tmp_path / "out" / "broken.ipynb", {"x": 2}, progress_bar=False)
    msg = str(err.value)
    assert "\n" not in msg and "broken.ipynb" in msg and "cell [" in msg and "ZeroDivisionError" in msg
    assert not (tmp_path / "out" / "broken.ipynb").exists()
    assert (tmp_path / "out" / "broken.failed.ipynb").exists()


def test_readme_table_is_fresh(monkeypatch):
    """The README's generated blocks are what `make readme` writes. A claim without a committed full run (a
    new one, `python -m ntkrepro new`) may be left out of them until its first `make figures`."""
    from ntkrepro import CLAIMS
    from ntkrepro.record import record_path

    text = readme.README.read_text()
    if readme.render(text) != text:
        recorded = {cid: c for cid, c in CLAIMS.items() if record_path(cid, "full").exists()}
        monkeypatch.setattr(readme, "CLAIMS", recorded)
        assert len(recorded) < len(CLAIMS) and readme.render(text) == text, \
            "README claims table is stale: run `make readme`"


def test_makefile_claim_targets_match_registry():
    import subprocess

    from ntkrepro import CLAIMS
    from ntkrepro.provenance import REPO_ROOT

    out = subprocess.run(["make", "-s", "print-claims"], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert sorted(out.stdout.split()) == sorted(CLAIMS)


def test_cli_exits_nonzero_naming_failed_implementation_check(monkeypatch, tmp_path, capsys):
    from ntkrepro import runner

    results = {"verdict": "implementation error",
               "checks": [{"name": "kernel_matches_closed_form", "kind": "implementation", "outcome": "fail"}]}
    monkeypatch.setattr(runner, "run_plan",
                        lambda *a, **k: runner.RunResult("finite_vs_infinite", False, tmp_path, None, results))
    assert cli.main(["run", "finite_vs_infinite", "-q"]) == 1
    err = capsys.readouterr().err
    assert "implementation check" in err and "kernel_matches_closed_form" in err


def test_parameters_resolved_once_and_staging_folder_passed_as_a_parameter(monkeypatch, tmp_path):
    """The runner resolves the parameters (:func:`plan`) and hands the kernel the resolved set and the
    staging folder as papermill parameters (no environment variable); the staged files land in the
    output directory together and the staging folder is gone."""
    import json
    import os

    from ntkrepro import runner
    from ntkrepro.results import STAGE_PARAM

    out = tmp_path / "out"
    p = runner.plan("etf", "smoke", {"seed": 3}, out)
    assert p.output_dir == out.resolve() and p.notebook_dir == out.resolve() and p.params["seed"] == 3
    assert runner.plan("etf", "smoke").notebook_dir == runner.BUILD_DIR / "notebooks" / "smoke"
    seen = {}

    def fake_execute(notebook, executed, parameters, *args):
        seen.update(parameters=dict(parameters), env=dict(os.environ))
        (executed.parent / "results.json").write_text(json.dumps({"verdict": "x", "parameters": {}}))
        executed.write_text("{}")
        return executed

    monkeypatch.setattr(runner, "execute", fake_execute)
    res = runner.run_plan(p, html=False)
    stage = seen["parameters"].pop(STAGE_PARAM)
    assert seen["parameters"] == dict(p.params)
    assert stage not in seen["env"].values() and not any("STAGE" in k for k in seen["env"])
    assert stage == str(out.resolve().parent / f".out.staging-{os.getpid()}") and not os.path.exists(stage)
    assert (out / "results.json").exists() and res.results["provenance"]["inputs_sha256"]


def test_notebook_start_reads_the_runners_parameters_and_resolves_a_plain_run(tmp_path):
    """``start``: with ``stage_dir`` (the runner's run) the injected values are taken as resolved (no
    profile applied again) and the run writes into the staging folder; without it (JupyterLab's
    defaults) the notebook's knobs are resolved against the profile and the run writes to output_dir."""
    from ntkrepro.notebook import start
    from ntkrepro.registry import resolve_params
    from ntkrepro.results import STAGE_PARAM

    resolved = dict(resolve_params("etf", profile="smoke", output_dir=str(tmp_path / "out"), seed=5))
    P, run = start("etf", {**resolved, STAGE_PARAM: str(tmp_path / "stage")})
    assert P == resolved and run.output_dir == tmp_path / "stage"
    with pytest.raises(ValueError, match="missing"):  # a runner's set is complete: no profile fills a gap
        start("etf", {"profile": "smoke", "output_dir": str(tmp_path), STAGE_PARAM: str(tmp_path / "stage")})
    plain = {n: None for n in resolved} | {"profile": "smoke", "output_dir": str(tmp_path / "plain"),
                                           STAGE_PARAM: None}
    P, run = start("etf", plain)
    assert P == resolve_params("etf", profile="smoke", output_dir=str(tmp_path / "plain"))
    assert run.output_dir == tmp_path / "plain"


def test_default_output_dirs_come_from_the_layout():
    from ntkrepro import layout
    from ntkrepro.registry import get_claim

    claim = get_claim("etf")
    assert claim.default_output_dir("full") == layout.FIGURES_DIR / "etf" == layout.default_output_dir("etf", "full")
    assert claim.default_output_dir("smoke") == layout.BUILD_DIR / "smoke" / "etf"
    assert layout.record_path("etf", "smoke") == layout.FIGURES_DIR / "etf" / "smoke" / "results.json"


def test_committed_notebook_leaves_out_the_staging_folder(tmp_path):
    from ntkrepro.results import STAGE_PARAM
    from ntkrepro.runner import slim_notebook

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f'# Parameters\nprofile = "full"\n{STAGE_PARAM} = "/x/.y.staging-1"\n',
                                          metadata={"tags": ["injected-parameters"]})]
    nb.metadata["papermill"] = {"parameters": {"profile": "full", STAGE_PARAM: "/x/.y.staging-1"}}
    nbformat.write(nb, tmp_path / "src.ipynb")
    out = nbformat.read(slim_notebook(tmp_path / "src.ipynb", tmp_path / "notebook.ipynb"), as_version=4)
    assert out.cells[0].source == '# Parameters\nprofile = "full"'
    assert out.metadata["papermill"]["parameters"] == {"profile": "full"}

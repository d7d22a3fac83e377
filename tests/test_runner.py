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
    monkeypatch.setattr(runner, "run_claim",
                        lambda *a, **k: runner.RunResult("finite_vs_infinite", False, tmp_path, None, results))
    assert cli.main(["run", "finite_vs_infinite", "-q"]) == 1
    err = capsys.readouterr().err
    assert "implementation check" in err and "kernel_matches_closed_form" in err

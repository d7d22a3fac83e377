"""`python -m ntkrepro new <id>` (ntkrepro/scaffold.py): the skeleton it writes into a scratch checkout
imports, runs, has a check that passes under its passes_with and fails under its fails_with, and a
clean notebook pair laid out like the existing ones; a bad or taken id is one error line and exit 2,
before jax is imported. Nothing is written into the repository."""
import importlib
import subprocess
import sys

import nbformat
import numpy as np
import pytest

import ntkrepro.claims
from ntkrepro import CLAIMS, cli, scaffold
from ntkrepro.ledger import apply_overrides, conclude, evaluate_check
from ntkrepro.provenance import REPO_ROOT
from ntkrepro.results import STAGE_PARAM
from ntkrepro.runner import KERNEL_NAME

CID = "scaffold_probe"


@pytest.fixture
def root(tmp_path):
    """A scratch checkout with one claim numbered 5 and its notebook 05."""
    (tmp_path / "ntkrepro" / "claims" / "old").mkdir(parents=True)
    (tmp_path / "ntkrepro" / "claims" / "old" / "claim.py").write_text("CLAIM = Claim(\n    number=5,\n)\n")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "05_old.py").write_text("")
    return tmp_path


@pytest.fixture
def generated(root, capsys, monkeypatch):
    """`new CID` into ``root``, its package importable as ntkrepro.claims.CID for this test only."""
    mine = lambda: sorted([*(REPO_ROOT / "notebooks").glob(f"*{CID}*"), *(REPO_ROOT / "ntkrepro" / "claims").glob(CID)])  # noqa: E731
    before = mine()
    assert cli.main(["new", CID, "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"written ntkrepro/claims/{CID}/claim.py" in out and f"written notebooks/06_{CID}.ipynb" in out
    assert mine() == before == []  # nothing written into the repository
    monkeypatch.setattr(ntkrepro.claims, "__path__", [*ntkrepro.claims.__path__, str(root / "ntkrepro" / "claims")])
    yield root, importlib.import_module(f"ntkrepro.claims.{CID}.claim").CLAIM
    for name in [m for m in sys.modules if m.startswith(f"ntkrepro.claims.{CID}")]:
        del sys.modules[name]


def test_writes_the_claim_folder_and_the_next_notebook_pair(generated):
    root, claim = generated
    names = sorted(p.name for p in (root / "ntkrepro" / "claims" / CID).iterdir() if p.is_file())
    assert names == sorted(["__init__.py", "claim.py", "metrics.py", "science.py", "figures.py", f"test_{CID}.py"])
    assert claim.id == CID and claim.number == 6 and claim.notebook == f"06_{CID}.ipynb"
    assert (root / "notebooks" / f"06_{CID}.py").exists() and (root / "notebooks" / f"06_{CID}.ipynb").exists()
    assert len(claim.findings) == 1 and len(claim.figures) == 1
    assert sorted(c.kind for c in claim.checks) == ["finding", "implementation"]
    assert all(set(claim.params.profiles[p]) == set(claim.params.names) - {"profile", "seed", "output_dir"}
               for p in ("smoke", "full"))


def test_its_checks_pass_and_fail_and_its_smoke_run_reproduces(generated):
    _, claim = generated
    E = importlib.import_module(f"ntkrepro.claims.{CID}.science")
    F = importlib.import_module(f"ntkrepro.claims.{CID}.figures")
    P = claim.params.resolve({"profile": "smoke"}, claim.default_output_dir)
    res = E.study(P, np.random.default_rng(P.seed))
    typed = E.collect(res, P)
    assert isinstance(typed, claim.metrics_type)
    metrics = typed.to_json()
    for spec in claim.checks:  # as tests/test_ledger.py does with a committed record
        good = evaluate_check(spec, apply_overrides(metrics, spec.passes_with), P, claim)
        bad = evaluate_check(spec, apply_overrides(metrics, spec.fails_with), P, claim)
        assert good["outcome"] == "pass", spec.name
        assert bad["outcome"] == "fail", spec.name
    led = conclude(claim, metrics, P)
    assert led["verdict"] == "1 of 1 findings reproduced", led
    assert [f["verdict"] for f in led["findings"]] == ["reproduced"]
    import matplotlib.pyplot as plt

    plt.close(F.convergence(res, P))


def test_its_own_tests_pass(generated):
    T = importlib.import_module(f"ntkrepro.claims.{CID}.test_{CID}")
    tests = [getattr(T, n) for n in dir(T) if n.startswith("test_")]
    assert len(tests) >= 3
    for t in tests:
        t()


def test_its_notebook_pair_is_clean_and_matches_the_declaration(generated):
    import jupytext

    root, claim = generated
    ipynb = root / "notebooks" / claim.notebook
    nb, py = nbformat.read(ipynb, as_version=4), jupytext.read(ipynb.with_suffix(".py"))
    cells = lambda n: [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in n.cells]  # noqa: E731
    assert cells(nb) == cells(py)
    assert nb.metadata["kernelspec"]["name"] == KERNEL_NAME and nb.metadata["language_info"] == {"name": "python"}
    for c in CLAIMS.values():  # the pairing and the kernel exactly as every existing notebook's
        existing = nbformat.read(c.notebook_path, as_version=4)
        assert {k: nb.metadata[k] for k in ("jupytext", "kernelspec")} == \
            {k: existing.metadata[k] for k in ("jupytext", "kernelspec")}, c.notebook
        assert (nb.nbformat, nb.nbformat_minor) == (existing.nbformat, existing.nbformat_minor)
    assert [c.id for c in nb.cells] == [f"cell-{i:02d}" for i in range(len(nb.cells))]
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    params_cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params_cells) == 1
    names = {}
    exec(params_cells[0].source, {}, names)
    assert set(names) == set(claim.params.names) | {STAGE_PARAM} and names["profile"] == "smoke"
    assert all(v is None for k, v in names.items() if k != "profile")
    assert "reconstruct" in nb.cells[0].source.lower()
    assert f'start("{CID}", globals())' in ipynb.with_suffix(".py").read_text()


@pytest.mark.parametrize("bad,why", [("etf", "exists"), ("Bad-Id", "bad claim id"), ("all", "reserved"),
                                     ("9lives", "bad claim id"), ("class", "reserved")])
def test_bad_or_taken_id_is_one_line_and_exit_2(bad, why, capsys):
    assert cli.main(["new", bad]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and why in err[0], err


def test_taken_notebook_name_is_refused_and_nothing_written(root, capsys):
    (root / "notebooks" / f"07_{CID}.py").write_text("")
    assert cli.main(["new", CID, "--root", str(root)]) == 2
    assert "notebooks/07_" in capsys.readouterr().err
    assert not (root / "ntkrepro" / "claims" / CID).exists()


def test_refusal_imports_no_jax():
    code = ("import sys; from ntkrepro import cli; assert cli.main(['new', 'etf']) == 2; "
            "assert not [m for m in sys.modules if m.split('.')[0] in ('jax', 'jaxlib')]")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT)
    assert out.returncode == 0, out.stderr[-2000:]


def test_next_number_follows_the_checkout():
    numbers = [c.number for c in CLAIMS.values()]
    assert scaffold.next_number() == max(numbers + [int(p.name[:2]) for p in (REPO_ROOT / "notebooks").glob(
        "[0-9][0-9]_*.py")]) + 1


def test_the_machinery_probe_is_the_skeleton_hidden_with_a_hold(root, probe):
    """write_probe writes the skeleton as the hidden claim ``_probe`` (plus ``hold_s``, its notebook in its
    folder), rewrites nothing that is up to date, and is never listed: not by the registry, not in the
    numbering of new claims; an explicit id loads it."""
    from ntkrepro.registry import claim_ids, get_claim

    folder = scaffold.write_probe(root)
    assert sorted(p.name for p in folder.iterdir()) == ["__init__.py", "claim.py", "figures.py", "metrics.py",
                                                        "notebook.ipynb", "notebook.py", "science.py"]
    assert 'real("hold_s"' in (folder / "claim.py").read_text()
    assert "sleep(P.hold_s)" in (folder / "notebook.py").read_text()
    stamps = {p: p.stat().st_mtime_ns for p in folder.iterdir()}
    scaffold.write_probe(root)
    assert {p: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps
    assert scaffold.next_number(root) == 6  # the probe's number 99 is not counted
    assert probe not in claim_ids() and probe not in CLAIMS
    claim = get_claim(probe)
    assert claim.id == probe and claim.notebook_path.exists()
    assert claim.params.resolve({"profile": "smoke"}, claim.default_output_dir).hold_s == 0.0
    with pytest.raises(ValueError, match="unknown claim '_nothing'"):
        get_claim("_nothing")

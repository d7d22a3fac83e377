"""`make report`: a static index.html for a reader: every claim, its findings, evidence tables, every
declared figure, stale records and changed gates flagged, the power and deciding command of each
inconclusive finding, verdicts by stack and a reproducibility checklist."""
import copy
import json

from ntkrepro import CLAIMS, record, report
from ntkrepro.report import build


def test_report_lists_every_claim_finding_and_figure(tmp_path):
    index = build(tmp_path)
    text = index.read_text()
    for c in CLAIMS.values():
        assert f"id='{c.id}'" in text and c.title in text
        if not record.record_path(c.id, "full").exists():  # a new claim: no committed full run (make figures)
            continue
        for fig in c.figures:
            assert f"figures/{c.id}/{fig.stem}.png" in text
            assert (tmp_path / "figures" / c.id / f"{fig.stem}.png").exists()
        for f in c.findings:
            assert f"<td>{f.id}</td>" in text
    assert "<th>check</th><th>value</th><th>gate</th><th>outcome</th><th>matched</th><th>n</th>" in text
    assert "Reproducibility checklist" in text and "package versions" in text
    stale = [s for s in record.status(list(CLAIMS.values())) if not s.up_to_date]
    for s in stale:
        assert s.what in text  # each stale record is flagged


def _results(cid="ntt"):
    return json.loads(record.record_path(cid, "full").read_text())


def test_inconclusive_finding_shows_power_and_command():
    res = copy.deepcopy(_results())
    f = res["findings"][0]
    f["verdict"] = "inconclusive"
    row = next(r for r in res["checks"] if r["finding"] == f["id"])
    row.update(outcome="inconclusive", mde=0.031, seeds_to_decide=12,
               decide_command="python -m ntkrepro run ntt --profile full -p n_seeds 12")
    block = report.inconclusive_block(res, "ntt")
    assert "0.031" in block and "12" in block and "python -m ntkrepro run ntt --profile full -p n_seeds 12" in block


def test_changed_gate_is_flagged():
    c = CLAIMS["ntt"]
    res = copy.deepcopy(_results())
    res["checks"][0]["gate_sha"] = "000000000000"  # a declaration other than today's
    assert res["checks"][0]["name"] in " ".join(report.changed_gates(c, res))


def test_verdicts_by_stack_reads_smoke_runs_of_another_stack(tmp_path, monkeypatch):
    c = CLAIMS["etf"]
    full = _results("etf")
    modern = copy.deepcopy(full)
    modern["provenance"]["packages"]["jax"] = "0.9.2"
    modern["provenance"]["python"] = "3.12.3"
    modern["findings"][0]["verdict"] = "inconclusive"
    (tmp_path / "smoke-modern" / "etf").mkdir(parents=True)
    (tmp_path / "smoke-modern" / "etf" / "results.json").write_text(json.dumps(modern))
    monkeypatch.setattr(record, "VERIFY_DIR", tmp_path)
    html = report.verdicts_by_stack(c, full)
    assert "jax 0.9.2, Python 3.12.3" in html and "full record" in html
    assert "class='inconclusive'" in html

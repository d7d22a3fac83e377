"""`make report`: a static index.html with every claim, its findings and every declared figure."""
from ntkrepro import CLAIMS
from ntkrepro.report import build


def test_report_lists_every_claim_finding_and_figure(tmp_path):
    index = build(tmp_path)
    text = index.read_text()
    for c in CLAIMS.values():
        assert f"id='{c.id}'" in text and c.title in text
        for fig in c.figures:
            assert f"figures/{c.id}/{fig.stem}.png" in text
            assert (tmp_path / "figures" / c.id / f"{fig.stem}.png").exists()
        for f in c.findings:
            assert f"<td>{f.id}</td>" in text

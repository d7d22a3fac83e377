"""The README's map agreement per finding (issue 24, item 8): read from a claim map's CSV."""
from ntkrepro.readme import _extras, map_agreement


def test_map_agreement_counts_points_where_the_finding_holds(tmp_path):
    (tmp_path / "ntt.csv").write_text(
        "point,densities,status,verdict,F1,F2,F3,key,error\n"
        "a,[0.1],done,x,reproduced,not run,inconclusive,0.3,\n"
        "b,[0.05],done,x,reproduced,not run,reproduced,0.3,\n"
        "c,[0.03],done,x,not reproduced,not run,not run,0.3,\n"
        "d,[0.02],failed,,,,,,FAILED: boom\n")
    assert map_agreement("ntt", tmp_path) == {"F1": (2, 3), "F3": (1, 2)}
    assert map_agreement("etf", tmp_path) == {}


def test_evidence_extras_are_compact():
    f = {"id": "F1", "verdict": "inconclusive", "reason": "x" * 400}
    res = {"checks": [{"finding": "F1", "matched": ["seeds", "optimizer"], "decide_command": "python -m ntkrepro run c"},
                      {"finding": "F1", "matched": ["seeds"], "decide_command": None}]}
    text = _extras(f, res, {"F1": (3, 4)})
    assert "map: 3 of 4 points" in text and "matched: seeds, optimizer" in text
    assert "to decide: `python -m ntkrepro run c`" in text and len(text) < 400

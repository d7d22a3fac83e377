"""Typed metrics (ntkrepro/metrics.py): parsing names the path of a missing, renamed or mistyped
metric; a record round-trips to the same JSON; every committed record (full and smoke) parses into its
claim's metrics type, so a metric renamed in the science or the declaration fails here."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from ntkrepro import CLAIMS
from ntkrepro.io import read_json
from ntkrepro.metrics import Metrics, MetricsError, optional, parse


@dataclass(frozen=True)
class Row(Metrics):
    loss: float
    steps: int
    note: str | None = optional()


@dataclass(frozen=True)
class Root(Metrics):
    table: dict[str, Row]
    curve: list[float]
    pair: tuple[float, float]
    ok: bool
    free: dict


GOOD = {"table": {"16": {"loss": 0.5, "steps": 3}, "32": {"loss": None, "steps": 4, "note": "diverged"}},
        "curve": [1, 0.5], "pair": [0.1, 0.2], "ok": True, "free": {"anything": [1, {"x": 2}]}}


def test_parse_reads_attributes_and_round_trips():
    m = Root.from_json(GOOD)
    assert m.table["16"].loss == 0.5 and m.table["32"].loss is None and m.table["16"].note is None
    assert m.pair == (0.1, 0.2) and m.curve == [1.0, 0.5] and m.free["anything"][1]["x"] == 2
    assert m.to_json() == GOOD
    assert parse(Root, m) is m and parse(None, GOOD) is GOOD


@pytest.mark.parametrize("bad,where", [
    ({k: v for k, v in GOOD.items() if k != "ok"}, "metrics.ok: missing"),
    ({**GOOD, "okay": True}, "unexpected key 'okay'"),
    ({**GOOD, "table": {"16": {"loss": "x", "steps": 3}}}, "metrics.table.16.loss: expected a number"),
    ({**GOOD, "table": {"16": {"loss": 1.0, "steps": 2.5}}}, "metrics.table.16.steps: expected an integer"),
    ({**GOOD, "pair": [1.0]}, "metrics.pair: expected 2 items"),
    ({**GOOD, "curve": 3.0}, "metrics.curve: expected an array"),
])
def test_parse_names_the_path(bad, where):
    with pytest.raises(MetricsError, match=where.replace(".", r"\.").replace("(", r"\(")):
        Root.from_json(bad)


def test_an_optional_null_is_kept_and_an_absent_one_stays_absent():
    present = {"loss": 1.0, "steps": 1, "note": None}
    assert Row.from_json(present).to_json() == present
    assert Row.from_json({"loss": 1.0, "steps": 1}).to_json() == {"loss": 1.0, "steps": 1}
    assert Row(1.0, 1).to_json() == {"loss": 1.0, "steps": 1}


def test_a_typed_record_refuses_string_keys():
    with pytest.raises(TypeError, match=r"read \.loss"):
        Row.from_json({"loss": 1.0, "steps": 1})["loss"]


TYPED = [cid for cid, c in CLAIMS.items() if c.metrics_type is not None]


@pytest.mark.parametrize("claim_id", TYPED)
@pytest.mark.parametrize("profile", ["full", "smoke"])
def test_committed_records_parse_into_the_claims_metrics_type(claim_id, profile):
    claim = CLAIMS[claim_id]
    path = claim.default_output_dir("full") / ("results.json" if profile == "full" else "smoke/results.json")
    if not path.exists():
        pytest.skip(f"{claim_id}: no committed {profile} record")
    metrics = read_json(path)["metrics"]
    typed = claim.metrics_type.from_json(metrics)
    assert typed.to_json() == metrics


def test_every_claim_declares_its_metrics_type():
    """Each claim's checks read a typed record (issue 25): the declaration names the type."""
    from ntkrepro.metrics import Metrics

    untyped = [cid for cid, c in CLAIMS.items()
               if not (isinstance(c.metrics_type, type) and issubclass(c.metrics_type, Metrics))]
    assert untyped == [], f"claims without a metrics_type: {untyped}"

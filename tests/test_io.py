"""Atomic writes and provenance metadata."""
import json

import matplotlib.pyplot as plt
import pytest
from PIL import Image

from ntkrepro.io import atomic_path, write_json
from ntkrepro.plotting import savefig
from ntkrepro.provenance import provenance


def test_interrupted_write_leaves_nothing(tmp_path):
    target = tmp_path / "fig.png"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half a figure")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_interrupted_overwrite_keeps_old_file(tmp_path):
    target = tmp_path / "results.json"
    write_json(target, {"a": 1})
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("{")
            raise RuntimeError
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_savefig_embeds_provenance(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1])
    prov = provenance("smoke")
    paths = savefig(fig, tmp_path, "line", prov, {"seed": 3})
    assert sorted(p.name for p in paths) == ["line.pdf", "line.png"]
    meta = json.loads(Image.open(tmp_path / "line.png").text["Comment"])
    assert meta["parameters"] == {"seed": 3}
    assert meta["provenance"]["git_commit"] == prov["git_commit"]
    assert b"Keywords" in (tmp_path / "line.pdf").read_bytes()


def test_provenance_has_versions_and_commit_fields():
    prov = provenance("full")
    assert {"git_commit", "git_dirty", "timestamp", "python", "packages"} <= set(prov)
    assert prov["packages"]["neural-tangents"] == "0.6.5"

"""A run's outputs appear together or not at all: SIGTERM mid-run leaves no temporary file, no
staging directory and no kernel process, and the next run works; a second run into the same
output directory is refused; files get the user's umask."""
import json
import os
import signal
import stat
import subprocess
import sys
import time

import psutil
import pytest

from ntkrepro import cli
from ntkrepro.io import write_json
from ntkrepro.runner import OutputBusy, output_lock, run_claim

CLAIM = "factorized_ntk"  # the fastest smoke profile


def _leftovers(parent):
    return [p.name for p in parent.rglob("*") if ".tmp" in p.name or ".staging-" in p.name
            or p.name.endswith(".lock")]


@pytest.mark.notebook
@pytest.mark.slow
def test_sigterm_mid_run_leaves_nothing_and_next_run_works(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "ntkrepro", "run", CLAIM, "--profile", "smoke", "-q",
                             "--no-html", "--output-dir", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 180
    staged = []
    while time.time() < deadline and not staged:  # wait until the notebook has saved its first figure
        staged = list(tmp_path.glob(".out.staging-*/*.png"))
        time.sleep(0.2)
    assert staged, "the run never staged a figure"
    kids = psutil.Process(proc.pid).children(recursive=True)
    assert kids, "no kernel process seen"
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode != 0
    gone, alive = psutil.wait_procs(kids, timeout=20)
    assert not alive, f"kernel processes left running: {alive}"
    assert not (out / "results.json").exists()
    assert not list(out.glob("*.png")) if out.exists() else True
    assert _leftovers(tmp_path) == []
    res = run_claim(CLAIM, "smoke", output_dir=out, progress_bar=False, html=False)
    assert (out / "results.json").exists() and res.results["claim"] == CLAIM
    assert _leftovers(tmp_path) == []


def test_second_run_into_same_directory_is_refused(tmp_path, capsys):
    out = tmp_path / "busy"
    with output_lock(out):
        with pytest.raises(OutputBusy, match="in use by another run"):
            run_claim(CLAIM, "smoke", output_dir=out, progress_bar=False, html=False)
        assert cli.main(["run", CLAIM, "--output-dir", str(out), "-q"]) == 1
        assert "in use by another run" in capsys.readouterr().err
    assert _leftovers(tmp_path) == []


def test_files_get_the_users_umask(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_json(tmp_path / "r.json", {"a": 1})
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert json.loads(path.read_text()) == {"a": 1}

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

from tiny import PROBE  # the numpy-only machinery probe (its hold_s keeps the kernel busy after staging)

pytestmark = pytest.mark.usefixtures("probe")  # the probe is written before any test here


def _leftovers(parent):
    return [p.name for p in parent.rglob("*") if ".tmp" in p.name or ".staging-" in p.name
            or p.name.endswith(".lock")]


@pytest.mark.notebook
@pytest.mark.slow
def test_sigterm_mid_run_leaves_nothing_and_next_run_works(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "ntkrepro", "run", PROBE, "--profile", "smoke", "-q",
                             "--no-html", "--output-dir", str(out), "-p", "hold_s", "60"],
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
    text, _ = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert text.strip().splitlines()[-1] == f"interrupted: {PROBE} stopped, nothing written"
    assert "Traceback" not in text, text
    gone, alive = psutil.wait_procs(kids, timeout=20)
    assert not alive, f"kernel processes left running: {alive}"
    assert not (out / "results.json").exists()
    assert not out.exists() or not list(out.glob("*.png"))
    assert _leftovers(tmp_path) == []
    res = run_claim(PROBE, "smoke", output_dir=out, progress_bar=False, html=False)
    assert (out / "results.json").exists() and res.results["claim"] == PROBE
    assert _leftovers(tmp_path) == []


def test_second_run_into_same_directory_is_refused(tmp_path, capsys):
    out = tmp_path / "busy"
    with output_lock(out):
        with pytest.raises(OutputBusy, match="in use by another run"):
            run_claim(PROBE, "smoke", output_dir=out, progress_bar=False, html=False)
        assert cli.main(["run", PROBE, "--output-dir", str(out), "-q"]) == 1
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


# ----- run all --jobs N: progress lines, and SIGTERM stops every child ----------------------------

DRIVER = """
import sys
from ntkrepro.jobs import Interrupted, run_parallel
argvs = {cid: [sys.executable, "-c", code] for cid, code in eval(sys.argv[1]).items()}
try:
    failures = run_parallel(argvs, 2, heartbeat_s=0.3, poll_s=0.05)
except Interrupted as err:
    sys.exit(128 + err.signum)
print("failures:", failures)
"""


def _driver(children: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", DRIVER, repr(children)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_parallel_runs_print_start_end_and_heartbeat():
    proc = _driver({"quick": "print('quick output')", "slow": "import time; time.sleep(1.5); print('slow output')",
                    "broken": "raise SystemExit(3)"})
    out, err = proc.communicate(timeout=60)
    lines = out.splitlines()
    assert proc.returncode == 0, err
    for cid in ("quick", "slow", "broken"):
        assert any(line.startswith(f"==> {cid} started (") for line in lines), out
        assert any(line.startswith(f"<== {cid} ended after ") for line in lines), out
    assert "<== broken ended after" in out and "FAILED (exit status 3)" in out
    assert "quick output" in out and "slow output" in out
    assert any(line.startswith("... running: slow ") for line in lines), out
    assert lines[-1] == "failures: ['broken']"


def test_sigterm_to_parallel_parent_stops_every_child():
    """SIGTERM to the parent: each running child gets SIGTERM and is waited for, one line per stopped
    claim, exit status 128 + 15, nothing left running (kernel-free: children that only sleep)."""
    sleeper = "import time; print('up', flush=True); time.sleep(120)"
    proc = _driver({"a": sleeper, "b": sleeper, "c": sleeper})
    deadline = time.time() + 60
    kids = []
    while time.time() < deadline and len(kids) < 2:
        kids = psutil.Process(proc.pid).children(recursive=True)
        time.sleep(0.1)
    assert len(kids) == 2, "the two children never started"
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM
    assert sorted(err.strip().splitlines()) == ["interrupted: a stopped, nothing written",
                                                "interrupted: b stopped, nothing written"], err
    assert "==> c started" not in out
    gone, alive = psutil.wait_procs(kids, timeout=10)
    assert not alive


@pytest.mark.notebook
@pytest.mark.slow
def test_sigterm_to_run_all_jobs_2_leaves_no_process_lock_or_staging():
    """``run all --jobs 2`` (what ``make figures`` runs) interrupted by SIGTERM once both children have
    started their kernels: every child and kernel stops, no lock or staging directory is left, nothing
    is written, one line per stopped claim, no traceback."""
    from ntkrepro.registry import CLAIMS

    first_two = list(CLAIMS)[:2]
    outs = {cid: CLAIMS[cid].default_output_dir("smoke") for cid in first_two}
    before = {cid: (out / "results.json").stat().st_mtime if (out / "results.json").exists() else None
              for cid, out in outs.items()}
    proc = subprocess.Popen([sys.executable, "-m", "ntkrepro", "run", "all", "--profile", "smoke", "--jobs", "2",
                             "--no-html"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    parent = psutil.Process(proc.pid)
    deadline = time.time() + 240
    kernels = []
    while time.time() < deadline and len(kernels) < 2:  # each child: its python, and its kernel
        kernels = [p for p in parent.children(recursive=True) if "ipykernel" in " ".join(p.cmdline())]
        time.sleep(0.2)
    assert len(kernels) == 2, "the two kernels never started"
    kids = parent.children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    text, _ = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, text
    assert "Traceback" not in text, text
    assert sorted(line for line in text.splitlines() if line.startswith("interrupted:")) == \
        [f"interrupted: {cid} stopped, nothing written" for cid in sorted(first_two)]
    gone, alive = psutil.wait_procs(kids, timeout=30)
    assert not alive, f"left running: {alive}"
    for cid, out in outs.items():
        assert _leftovers(out.parent) == [], _leftovers(out.parent)
        after = (out / "results.json").stat().st_mtime if (out / "results.json").exists() else None
        assert after == before[cid]

"""Sweeps on Dask: points expanded and validated before anything runs; a two-point sweep on a
LocalCluster and the same sweep sent to a scheduler and a worker started on 127.0.0.1 give
identical results; a failing point is recorded and does not stop the others; a killed sweep
resumes without re-running finished points (shown after SIGTERM); SIGTERM to a sweep stops every process it started (workers,
runners, kernels), leaves no staging directory or lock, prints one line and exits with 128 + 15."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from ntkrepro import get_claim
from ntkrepro.ledger import apply_overrides
from ntkrepro.sweep import expand, point_id, sweep, validate

from tiny import CLAIM, FIXED, HOLD, PROBE  # PROBE: the numpy-only machinery probe; CLAIM: a paper claim

pytestmark = pytest.mark.usefixtures("probe")  # the probe is written before any test here

AXES = {"d": [16, 32]}


def test_expand_grid_and_zip():
    assert expand({"a": [1, 2], "b": [3, 4]}) == [{"a": 1, "b": 3}, {"a": 1, "b": 4}, {"a": 2, "b": 3},
                                                   {"a": 2, "b": 4}]
    assert expand({"a": [1, 2], "b": [3, 4]}, "zip") == [{"a": 1, "b": 3}, {"a": 2, "b": 4}]
    with pytest.raises(ValueError, match="equal length"):
        expand({"a": [1, 2], "b": [3]}, "zip")
    with pytest.raises(ValueError, match="'a'"):
        expand({"a": 3})


def test_every_point_validated_before_anything_runs():
    points = expand({"d": [16, 24]})  # 24 is not a power of 2
    with pytest.raises(ValueError, match=r"sweep point d=24: parameter 'd'"):
        validate(CLAIM, "smoke", points, FIXED)


def _metrics(row_dir: Path):
    res = json.loads((row_dir / "results.json").read_text())
    return apply_overrides(res["metrics"], {p: None for p in get_claim(PROBE).nondeterministic})


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    broken = {"d": 64}
    (out / point_id(broken)).write_text("a file where the point's directory should be\n")
    return out, sweep(PROBE, {"d": [16, 32, 64]}, output_dir=out, workers=2, progress=False)


@pytest.mark.notebook
def test_local_cluster_sweep_and_failing_point(local):
    out, summary = local
    status = {r["point"]: r["status"] for r in summary["rows"]}
    assert status == {"d=16": "done", "d=32": "done", "d=64": "failed"}
    failed = next(r for r in summary["rows"] if r["status"] == "failed")
    assert failed["error"] and "\n" not in failed["error"]
    for name in ("sweep.json", "sweep.csv", "map.png", "map.pdf"):
        assert (out / name).stat().st_size > 0
    csv_rows = (out / "sweep.csv").read_text().splitlines()
    assert len(csv_rows) == 4 and csv_rows[0].startswith("point,d,status,verdict,F1")


@pytest.mark.notebook
def test_scheduler_and_worker_on_localhost_give_identical_results(local, tmp_path):
    out_local, _ = local
    port = _free_port()
    dask = str(Path(sys.executable).with_name("dask"))
    sched = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    worker = subprocess.Popen([dask, "worker", f"tcp://127.0.0.1:{port}", "--nthreads", "1", "--nworkers", "1",
                               "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        # one point is enough to show the scheduler path gives what the LocalCluster gave
        summary = sweep(PROBE, {"d": AXES["d"][:1]}, output_dir=tmp_path, scheduler=f"tcp://127.0.0.1:{port}",
                        progress=False)
        assert [r["status"] for r in summary["rows"]] == ["done"]
        for r in summary["rows"]:
            assert _metrics(tmp_path / r["point"]) == _metrics(out_local / r["point"])
    finally:
        for p in (worker, sched):
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=30)


def _sweep_argv(out: Path) -> list[str]:
    """``python -m ntkrepro sweep`` of the probe's points AXES (each holding its kernel HOLD seconds) on a
    one-worker LocalCluster."""
    argv = [sys.executable, "-m", "ntkrepro", "sweep", PROBE, "-p", "d", json.dumps(AXES["d"]), "--workers", "1",
            "-q", "--output-dir", str(out)]
    for k, v in HOLD.items():
        argv += ["--set", k, json.dumps(v)]
    return argv


def _kernel_of(parent: psutil.Process, point_dir: Path):
    """The notebook kernel that the runner of ``point_dir`` started, or None."""
    for p in parent.children(recursive=True):
        try:
            if "ipykernel" in " ".join(p.cmdline()) and str(point_dir) in " ".join(p.parent().cmdline()):
                return p
        except (psutil.Error, AttributeError):
            continue
    return None


@pytest.mark.notebook
@pytest.mark.slow
def test_sigterm_to_sweep_stops_every_process_and_resumes(tmp_path):
    """SIGTERM to the sweep process alone (not its group) once the first point has finished and the
    second point's kernel runs: exit 128 + 15, one ``interrupted:`` line last, no traceback, every
    worker, runner and kernel gone, no staging directory, lock or half-written point left; the
    finished point is kept and a re-run does not re-run it."""
    proc = subprocess.Popen(_sweep_argv(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    parent = psutil.Process(proc.pid)
    first = tmp_path / "d=16" / "results.json"
    deadline = time.time() + 300
    kernel = None
    while time.time() < deadline and proc.poll() is None and not (first.exists() and kernel):
        kernel = _kernel_of(parent, tmp_path / "d=32")
        time.sleep(0.2)
    assert first.exists() and kernel, "the first point never finished or the second point's kernel never started"
    kids = parent.children(recursive=True)
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    text, _ = proc.communicate(timeout=120)
    stopped_in = time.monotonic() - t0
    assert proc.returncode == 128 + signal.SIGTERM, text
    assert "Traceback" not in text, text
    assert text.strip().splitlines()[-1] == f"interrupted: sweep {PROBE} stopped, 1 of 2 points done, kept", text
    gone, alive = psutil.wait_procs(kids, timeout=20)
    assert not alive, f"left running: {alive}"
    assert stopped_in < 60, f"the sweep took {stopped_in:.0f} s to stop"
    leftovers = [p.name for p in tmp_path.rglob("*") if ".staging-" in p.name or p.name.endswith(".lock")
                 or ".tmp" in p.name]
    assert leftovers == []
    assert not (tmp_path / "d=32").exists() and not (tmp_path / "sweep.json").exists()
    stamp = first.stat().st_mtime
    summary = sweep(PROBE, AXES, output_dir=tmp_path, workers=1, fixed=HOLD, progress=False)
    assert {r["point"]: r["status"] for r in summary["rows"]} == {"d=16": "skipped (unchanged)", "d=32": "done"}
    assert first.stat().st_mtime == stamp

"""Parameter sweeps of a claim notebook on Dask: where does the claim hold?

``python -m ntkrepro sweep <claim> -p NAME "[v1, v2]" [-p NAME2 "[...]"] [--grid | --zip]``: every
point of the cartesian product (``--grid``, the default) or of the zipped lists (``--zip``) is one
execution of the claim's notebook by the runner (``python -m ntkrepro run <claim> --output-dir
<output-dir>/<point-id>``: no second way to execute a notebook), submitted as a task to
dask.distributed: a ``LocalCluster`` (processes, one thread each) by default, or an existing
scheduler (``--scheduler tcp://host:port`` or ``DASK_SCHEDULER_ADDRESS``).

Every point is validated before anything runs. A point whose inputs are unchanged (the runner's
input hash) is not re-run, so an interrupted sweep resumes. A failing point is recorded with its
one-line error and does not stop the others. The sweep writes ``sweep.json`` and ``sweep.csv``
(one row per point: parameters, status, per-finding verdicts, the claim's key metric) and a claim
map figure (``map.png``/``.pdf``): each finding's verdict over one or two swept parameters.

SIGTERM or Ctrl-C to the sweep (or to ``make maps``) cancels its futures, stops every point's runner
(which kills its kernel and removes its staging directory and lock, as a single run does), closes the
client and the LocalCluster, kills whatever is left of the processes the sweep started (workers and
nannies included; with ``--scheduler`` there are none: the scheduler's workers are not ours), removes
what an interrupted point left, keeps the finished points (a re-run resumes from them), prints one
``interrupted: sweep <claim> stopped, N of M points done, kept`` line and raises
:class:`~ntkrepro.jobs.Interrupted` (the CLI exits with 128 + the signal number).
"""
from __future__ import annotations

import contextlib
import csv
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from ntkrepro.jobs import (SINGLE_THREAD_ENV, STOP_GRACE_S, Interrupted, descendants, interrupted_line, kill,
                          signals_as_interrupt)
from ntkrepro.io import to_jsonable, write_json, write_text
from ntkrepro.registry import get_claim
from ntkrepro.spec import FINDING_VERDICTS

VERDICT_CODE = {v: i for i, v in enumerate(FINDING_VERDICTS)}  # for the map's colours


def expand(axes: Mapping[str, Sequence[Any]], mode: str = "grid") -> list[dict[str, Any]]:
    """The points of a sweep: the cartesian product of the axes (``grid``) or their zip (``zip``)."""
    if mode not in ("grid", "zip"):
        raise ValueError(f"sweep mode must be 'grid' or 'zip', got {mode!r}")
    names = list(axes)
    for n in names:
        if not isinstance(axes[n], (list, tuple)) or not axes[n]:
            raise ValueError(f"parameter {n!r}: a sweep needs a non-empty list of values, got {axes[n]!r}")
    if mode == "zip":
        lengths = {n: len(axes[n]) for n in names}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"--zip needs lists of equal length, got {lengths}")
        combos = zip(*(axes[n] for n in names))
    else:
        combos = itertools.product(*(axes[n] for n in names))
    return [dict(zip(names, c)) for c in combos]


def point_id(point: Mapping[str, Any]) -> str:
    """A directory name for a point: ``name=value`` pairs, unsafe characters replaced."""
    parts = [f"{k}={json.dumps(v, separators=(',', ''))}" for k, v in point.items()]
    return re.sub(r"[^A-Za-z0-9=._,-]+", "_", "__".join(parts)).strip("_") or "default"


def validate(claim_id: str, profile: str, points: Sequence[Mapping[str, Any]],
             fixed: Mapping[str, Any] | None = None) -> None:
    """Resolve every point's parameters before anything runs; a bad value names the parameter and
    the point."""
    claim = get_claim(claim_id)
    for p in points:
        try:
            claim.params.resolve({**(fixed or {}), **p, "profile": profile}, claim.default_output_dir)
        except ValueError as err:
            raise ValueError(f"sweep point {point_id(p)}: {err}") from None


RUNNER_ARGV = ("-m", "ntkrepro", "run")  # how a point's runner process is recognised (argv[1:4])


def run_point(claim_id: str, profile: str, overrides: Mapping[str, Any], out: str) -> dict[str, Any]:
    """One point (a dask task): the runner in a subprocess, so that each point has its own kernel,
    staging directory and signal handling; returns the point's row. Never raises."""
    argv = [sys.executable, *RUNNER_ARGV, claim_id, "--profile", profile, "-q", "--no-html",
            "--skip-unchanged", "--output-dir", out]
    for k, v in overrides.items():
        argv += ["-p", k, json.dumps(v)]  # JSON is YAML: the CLI parses it back
    env = {**os.environ, **SINGLE_THREAD_ENV}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    row: dict[str, Any] = {"point": Path(out).name, "parameters": dict(overrides)}
    results = Path(out) / "results.json"
    if proc.returncode == 0 and results.exists():
        res = json.loads(results.read_text())
        row.update(status="skipped (unchanged)" if "up to date" in proc.stdout else "done",
                   verdict=res["verdict"], findings={f["id"]: f["verdict"] for f in res["findings"]},
                   results=res)
    else:
        lines = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()]
        err = next((ln for ln in lines if ln.startswith(("FAILED", "error"))), lines[-1] if lines else "failed")
        row.update(status="failed", error=err.strip()[:500])
    return row


@contextlib.contextmanager
def _sigint_ignored():
    """SIGINT ignored while the LocalCluster starts its worker processes, which keep it ignored (as do
    their runners and kernels): Ctrl-C in a terminal reaches the whole process group, and a worker that
    took it would die with a traceback of its own; this process stops them all (:func:`_stop`)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    yield  # not restored after an exception: an interrupt's cleanup must not be broken by a second Ctrl-C
    signal.signal(signal.SIGINT, old)  # (signals_as_interrupt restores the handlers when the sweep ends)


def _client(scheduler: str | None, workers: int | None):
    from distributed import Client, LocalCluster

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        return Client(address), None
    with _sigint_ignored():  # the workers inherit it: Ctrl-C in a terminal stops them through this process
        cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                               dashboard_address=None)
    try:
        return Client(cluster), cluster
    except BaseException:
        cluster.close()
        raise


def _close(client, cluster) -> None:
    """Close the client and the LocalCluster (if any); closing twice is harmless."""
    if client is not None:
        with contextlib.suppress(Exception):
            client.close(timeout=10)
    if cluster is not None:
        with contextlib.suppress(Exception):
            cluster.close(timeout=10)


def _stop(client, cluster, futures: Sequence[Any], before: set[int]) -> set[str]:
    """After SIGTERM or Ctrl-C: cancel the futures (no point starts any more), SIGTERM every point's
    runner that this process started (it kills its kernel and removes its staging directory and lock)
    and wait for it (SIGKILL, with its kernel, after :data:`~ntkrepro.jobs.STOP_GRACE_S`), close the
    client and the cluster, then SIGKILL every process started since the sweep began that is still
    alive (workers, nannies, anything orphaned below them). Return the output directories of the
    stopped runners."""
    import psutil

    if client is not None and futures:
        with contextlib.suppress(Exception):
            client.cancel(list(futures))
    seen: set[int] = set()  # every process seen below this one: an orphan's new parent would not list it
    stopped: dict[int, set[int]] = {}  # runner -> its processes (its kernel)
    outs: set[str] = set()
    for _ in range(5):  # again, for a runner that a worker started before the cancellation reached it
        seen |= descendants() - before
        new = []
        for pid in seen - set(stopped):
            with contextlib.suppress(psutil.Error):
                p = psutil.Process(pid)
                argv = p.cmdline()
                if tuple(argv[1:4]) == RUNNER_ARGV and "--output-dir" in argv:
                    stopped[pid] = {c.pid for c in p.children(recursive=True)}
                    p.terminate()
                    new.append(p)
                    outs.add(argv[argv.index("--output-dir") + 1])
        if not new:
            break
        gone, alive = psutil.wait_procs(new, timeout=STOP_GRACE_S)
        kill({pid for p in alive for pid in (p.pid, *stopped[p.pid])})
    _close(client, cluster)
    left = (seen | descendants()) - before
    kill(left - _shared(left))
    return outs


def _shared(pids: set[int]) -> set[int]:
    """multiprocessing's resource tracker (started by the first worker, used by this process until it
    exits, and gone with it): not the sweep's to kill."""
    import psutil

    shared = set()
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            if any("multiprocessing.resource_tracker" in a or "multiprocessing.forkserver" in a
                   for a in psutil.Process(pid).cmdline()):
                shared.add(pid)
    return shared


def _remove_unfinished(out: Path, stopped: set[str]) -> None:
    """What a stopped point left: its staging directories and lock, and its output directory when it
    holds no finished record (a finished point, ``results.json`` in place, stays: the resume skips it).
    A point whose lock another live run holds is left alone."""
    from ntkrepro.runner import OutputBusy, output_lock

    for d in sorted({Path(o) for o in stopped}):
        if d.parent != out:
            continue
        with contextlib.suppress(OutputBusy):
            with output_lock(d):  # acquired = nobody runs this point; released = the lock file removed
                for stage in out.glob(f".{d.name}.staging-*"):
                    shutil.rmtree(stage, ignore_errors=True)
                if d.is_dir() and not (d / "results.json").exists():
                    shutil.rmtree(d, ignore_errors=True)


def sweep(claim_id: str, axes: Mapping[str, Sequence[Any]], profile: str = "smoke", mode: str = "grid",
          output_dir: str | Path | None = None, scheduler: str | None = None, workers: int | None = None,
          fixed: Mapping[str, Any] | None = None, metric: str | None = None,
          progress: bool = True) -> dict[str, Any]:
    """Run the sweep; return ``{claim, profile, mode, axes, rows}`` (also written as sweep.json). On
    SIGTERM or Ctrl-C: stop everything it started, keep the finished points, print one line and raise
    :class:`~ntkrepro.jobs.Interrupted`."""
    from distributed import as_completed

    claim = get_claim(claim_id)
    points = expand(axes, mode)
    validate(claim_id, profile, points, fixed)
    out = Path(output_dir or Path("build") / "sweeps" / claim_id).resolve()
    out.mkdir(parents=True, exist_ok=True)
    before = descendants()
    client = cluster = bar = None
    futures: list[Any] = []
    by_key: dict[str, dict[str, Any]] = {}
    with signals_as_interrupt():  # the first signal raises; later ones are ignored while the sweep stops
        try:
            client, cluster = _client(scheduler, workers)
            futures = [client.submit(run_point, claim_id, profile, {**(fixed or {}), **p},
                                     str(out / point_id(p)), pure=False, key=f"{claim_id}-{point_id(p)}")
                       for p in points]
            done = as_completed(futures)
            if progress:
                from tqdm import tqdm

                done = bar = tqdm(done, total=len(futures), desc=f"sweep {claim_id}", unit="point")
            for f in done:
                by_key[f.key] = f.result()
            rows = [by_key[f.key] for f in futures]
        except Interrupted:
            if bar is not None:
                bar.close()
            _remove_unfinished(out, _stop(client, cluster, futures, before))
            kept = sum(r["status"] != "failed" for r in by_key.values())
            print(interrupted_line(f"sweep {claim_id}", f"{kept} of {len(points)} points done, kept"),
                  file=sys.stderr, flush=True)
            raise
        finally:
            _close(client, cluster)
    label, path = claim.key_metric
    metric = metric or path
    for row in rows:
        res = row.pop("results", None)
        value: Any = None
        if res is not None:
            node: Any = res["metrics"]
            try:
                for part in metric.split("."):
                    node = node[part]
                value = node
            except (KeyError, TypeError):
                value = None
        row["metric"] = value
    summary = {"claim": claim_id, "profile": profile, "mode": mode, "axes": dict(axes), "fixed": dict(fixed or {}),
               "metric": metric, "findings": [f.id for f in claim.findings], "rows": rows}
    write_json(out / "sweep.json", summary)
    _write_csv(out / "sweep.csv", summary)
    claim_map(summary, out)
    return to_jsonable(summary)


def _write_csv(path: Path, summary: Mapping[str, Any]) -> None:
    import io

    names = list(summary["axes"])
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["point", *names, "status", "verdict", *summary["findings"], summary["metric"], "error"])
    for r in summary["rows"]:
        w.writerow([r["point"], *(json.dumps(r["parameters"][n]) for n in names), r["status"], r.get("verdict", ""),
                    *(r.get("findings", {}).get(f, "") for f in summary["findings"]),
                    "" if r.get("metric") is None else json.dumps(to_jsonable(r["metric"])), r.get("error", "")])
    write_text(path, buf.getvalue())


def claim_map(summary: Mapping[str, Any], out: Path) -> list[Path]:
    """Each finding's verdict over one or two swept parameters (a heatmap per finding), and the
    chosen metric, stamped with provenance like every figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import ListedColormap

    from ntkrepro.plotting import savefig, set_style
    from ntkrepro.provenance import provenance

    set_style()
    names = list(summary["axes"])[:2]
    xs = [json.dumps(v) for v in summary["axes"][names[0]]]
    ys = [json.dumps(v) for v in summary["axes"][names[1]]] if len(names) > 1 else [""]
    finds = summary["findings"]
    colours = ["#1a7f37", "#b42318", "#d4a72c", "#bbbbbb", "#f4c6d7"]  # reproduced, not, inconclusive, not run, failed
    fig, axes = plt.subplots(1, len(finds) + 1, figsize=(2.4 * (len(finds) + 1) + 1, 0.5 * len(ys) + 2.2),
                             squeeze=False)
    for k, fid in enumerate(finds):
        grid = np.full((len(ys), len(xs)), 4.0)
        for r in summary["rows"]:
            i = ys.index(json.dumps(r["parameters"][names[1]])) if len(names) > 1 else 0
            j = xs.index(json.dumps(r["parameters"][names[0]]))
            v = r.get("findings", {}).get(fid)
            grid[i, j] = VERDICT_CODE.get(v, 4)
        ax = axes[0, k]
        ax.imshow(grid, cmap=ListedColormap(colours), vmin=-0.5, vmax=4.5, aspect="auto")
        ax.set_title(fid)
        ax.set_xticks(range(len(xs)), xs, rotation=45, ha="right", fontsize="small")
        ax.set_yticks(range(len(ys)), ys, fontsize="small")
        ax.set_xlabel(names[0])
        if k == 0 and len(names) > 1:
            ax.set_ylabel(names[1])
        ax.grid(False)
    ax = axes[0, -1]
    for i, yv in enumerate(ys):
        vals = []
        for xv in xs:
            r = next((r for r in summary["rows"] if json.dumps(r["parameters"][names[0]]) == xv
                      and (len(names) == 1 or json.dumps(r["parameters"][names[1]]) == yv)), None)
            m = None if r is None else r.get("metric")
            vals.append(m if isinstance(m, (int, float)) and not isinstance(m, bool) else np.nan)
        ax.plot(range(len(xs)), vals, "o-", label=yv or None)
    ax.set_xticks(range(len(xs)), xs, rotation=45, ha="right", fontsize="small")
    ax.set_xlabel(names[0])
    ax.set_title(summary["metric"], fontsize="small")
    if len(names) > 1:
        ax.legend(title=names[1], fontsize="x-small")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours]
    fig.legend(handles, [*FINDING_VERDICTS, "failed"], loc="lower center", ncol=5, fontsize="small",
               bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(f"{summary['claim']}: findings over the sweep ({summary['profile']} profile)")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    paths = savefig(fig, out, "map", provenance(summary["profile"], claim=summary["claim"], sweep=True),
                    {"axes": summary["axes"], "fixed": summary["fixed"], "mode": summary["mode"]})
    plt.close(fig)
    return paths


def make_maps(claim_ids: Sequence[str], workers: int | None = None, scheduler: str | None = None,
              progress: bool = True) -> list[Path]:
    """``make maps``: each claim's declared ``sweep_map`` (smoke-sized points) swept into
    ``build/maps/<claim>/``; its map (PNG + PDF) and ``sweep.csv`` copied to ``figures/maps/``, with
    ``<claim>.json`` beside them: the map's input hash (:func:`ntkrepro.record.map_inputs`), which
    ``python -m ntkrepro status`` compares with the current inputs."""
    from ntkrepro.layout import BUILD_DIR, MAPS_DIR

    dest = MAPS_DIR
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for cid in claim_ids:
        spec = get_claim(cid).sweep_map
        if not spec:
            continue
        out = BUILD_DIR / "maps" / cid
        from ntkrepro.provenance import git_state
        from ntkrepro.record import inputs_digest, map_inputs, map_record_path

        inputs = map_inputs(get_claim(cid))  # before the sweep: what it was made from
        summary = sweep(cid, spec["axes"], "smoke", "grid", out, scheduler, workers, spec.get("fixed"),
                        progress=progress)
        for name, target in (("map.png", f"{cid}.png"), ("map.pdf", f"{cid}.pdf"), ("sweep.csv", f"{cid}.csv")):
            shutil.copyfile(out / name, dest / target)
            written.append(dest / target)
        failed = [r["point"] for r in summary["rows"] if r["status"] == "failed"]
        write_json(map_record_path(cid), {"claim": cid, "inputs_sha256": inputs_digest(inputs), "inputs": inputs,
                                          "sweep_map": spec, "points": len(summary["rows"]), "failed_points": failed,
                                          **git_state()})
        written.append(map_record_path(cid))
    return written

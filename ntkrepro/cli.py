"""Command line: ``python -m ntkrepro run <claim>|all [--jobs N]``, ``list``, ``ids``, ``readme``, ``envfile``,
``new <id>`` (a claim skeleton, :mod:`ntkrepro.scaffold`).

Every subcommand is a ``_cmd_<name>(args) -> int`` registered in :func:`build_parser`; a ``ValueError``
(bad claim, parameter or params file) becomes one ``error: ...`` line and exit status 2, before jax is
imported (nothing here imports jax; the notebooks' kernels do). Ctrl-C or SIGTERM during a run prints
``interrupted: <claim> stopped, nothing written`` and exits with 128 + the signal number; during ``sweep`` or
``maps`` it prints ``interrupted: sweep <claim> stopped, N of M points done, kept`` (:mod:`ntkrepro.sweep`).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Sequence

from ntkrepro.jobs import SINGLE_THREAD_ENV, Interrupted, interrupted_line  # noqa: F401  (re-exported)
from ntkrepro.params import parse_value, read_params_file


def _child_argv(args: argparse.Namespace, cid: str) -> list[str]:
    from ntkrepro.jobs import run_argv

    argv = ["run", cid, "--profile", args.profile, "-q", "--timeout", str(args.timeout)]
    for name, value in args.param or []:
        argv += ["-p", name, value]
    if args.params_file:
        argv += ["--params-file", args.params_file]
    argv += ["--skip-unchanged"] if args.skip_unchanged else []
    argv += ["--no-html"] if args.no_html else []
    return run_argv(argv)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """``--params-file`` then each ``-p NAME VALUE`` (a ``ValueError`` naming the file or parameter)."""
    overrides: dict[str, Any] = {}
    if args.params_file:
        overrides.update(read_params_file(args.params_file))
    overrides.update({name: parse_value(name, value) for name, value in args.param or []})
    return overrides


def _cmd_run(args: argparse.Namespace) -> int:
    from ntkrepro.registry import CLAIMS, get_claim

    overrides = _overrides(args)
    ids = list(CLAIMS) if args.claim == "all" else [get_claim(args.claim).id]
    if args.claim == "all" and args.output_dir:
        raise ValueError("--output-dir needs a single claim, not 'all'")
    if args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    from ntkrepro.runner import plan

    # every claim's parameters resolved (so validated) before any runs; a serial run hands its plan on as
    # is, a parallel one's child process (its own run) resolves the same arguments again
    plans = {cid: plan(cid, args.profile, overrides, args.output_dir) for cid in ids}
    try:
        if args.jobs > 1 and len(ids) > 1:
            from ntkrepro.jobs import run_parallel

            failures = run_parallel({cid: _child_argv(args, cid) for cid in ids}, args.jobs, args.heartbeat)
        else:
            failures = _run_serial(args, plans)
    except Interrupted as err:  # run_parallel has printed a line per stopped claim
        return 128 + err.signum
    if failures:
        print(f"failed claims: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


def _run_serial(args: argparse.Namespace, plans: dict[str, Any]) -> list[str]:
    """One planned claim (:func:`ntkrepro.runner.plan`) after another in this process; raises
    :class:`Interrupted` (after printing one line) on Ctrl-C or SIGTERM."""
    from ntkrepro.jobs import signals_as_interrupt
    from ntkrepro.ledger import IMPLEMENTATION_ERROR, failed_implementation_checks
    from ntkrepro.runner import NotebookFailed, OutputBusy, run_plan

    failures = []
    for cid, p in plans.items():
        t0 = time.perf_counter()
        print(f"==> {cid} ({args.profile})", flush=True)
        try:
            with signals_as_interrupt():
                res = run_plan(p, skip_unchanged=args.skip_unchanged, progress_bar=not args.quiet,
                               html=not args.no_html, cell_timeout=args.timeout)
        except (NotebookFailed, OutputBusy) as err:
            print(f"FAILED: {err}", file=sys.stderr, flush=True)
            failures.append(cid)
            continue
        except KeyboardInterrupt as err:
            print(interrupted_line(cid), file=sys.stderr, flush=True)
            raise err if isinstance(err, Interrupted) else Interrupted() from None
        state = "up to date (inputs unchanged; skipped)" if res.skipped else \
            f"done in {time.perf_counter() - t0:.0f} s"
        verdict = res.results["verdict"] if res.results else "?"
        print(f"    {cid}: {state}; verdict: {verdict}; outputs in {res.output_dir}", flush=True)
        if verdict == IMPLEMENTATION_ERROR:
            print(f"FAILED: {cid}: implementation check(s) failed: "
                  f"{', '.join(failed_implementation_checks(res.results))}", file=sys.stderr, flush=True)
            failures.append(cid)
    return failures


def _cmd_list(_: argparse.Namespace) -> int:
    from ntkrepro.registry import CLAIMS
    from ntkrepro.results import latest_results

    for c in CLAIMS.values():
        res = latest_results(c)
        print(f"{c.number}. {c.id} ({c.paper.short}), notebooks/{c.notebook}")
        print(f"   verdict: {res['verdict'] if res else 'not run yet'}")
        for f in (res or {}).get("findings", []):
            print(f"   {f['id']:7s} {f['verdict']:15s} {f['statement']}")
    return 0


def _cmd_ids(_: argparse.Namespace) -> int:
    from ntkrepro.registry import CLAIMS

    print(" ".join(CLAIMS))
    return 0


def _cmd_readme(_: argparse.Namespace) -> int:
    from ntkrepro.readme import README, update

    print(f"{README.name}: {'updated' if update() else 'already up to date'}")
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from ntkrepro.sweep import sweep

    axes = {name: parse_value(name, value) for name, value in args.param or []}
    if not axes:
        raise ValueError("a sweep needs at least one -p NAME \"[v1, v2, ...]\"")
    fixed = {name: parse_value(name, value) for name, value in args.set or []}
    summary = sweep(args.claim, axes, args.profile, "zip" if args.zip else "grid", args.output_dir,
                    args.scheduler, args.workers, fixed, args.metric, progress=not args.quiet)
    failed = [r["point"] for r in summary["rows"] if r["status"] == "failed"]
    for r in summary["rows"]:
        print(f"  {r['point']}: {r['status']}; {r.get('verdict', r.get('error', ''))}")
    print(f"sweep of {len(summary['rows'])} points: {len(failed)} failed")
    return 1 if failed else 0


def _cmd_maps(args: argparse.Namespace) -> int:
    from ntkrepro.registry import CLAIMS
    from ntkrepro.sweep import make_maps

    ids = list(CLAIMS) if args.claim == "all" else [args.claim]
    for path in make_maps(ids, args.workers, args.scheduler, progress=not args.quiet):
        print(f"written {path}")
    return 0


def _cmd_report(_: argparse.Namespace) -> int:
    from ntkrepro.provenance import REPO_ROOT
    from ntkrepro.report import build

    print(f"written {build().relative_to(REPO_ROOT)}")
    return 0


def _cmd_status(_: argparse.Namespace) -> int:
    """One line per committed record (full, smoke, claim map); exit 1 when any is stale."""
    from ntkrepro.record import status
    from ntkrepro.registry import CLAIMS

    lines = status(list(CLAIMS.values()))
    for s in lines:
        print(s.line())
    stale = [s.what for s in lines if not s.up_to_date]
    if stale:
        print(f"{len(stale)} of {len(lines)} records stale (make figures / make smoke-records / make maps)",
              file=sys.stderr)
        return 1
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    """Re-run into build/verify/ and compare with the committed record; exit 1 naming the first failure."""
    from ntkrepro.record import first_failure, table, verify
    from ntkrepro.registry import CLAIMS, get_claim

    ids = list(CLAIMS) if not args.claim or "all" in args.claim else [get_claim(c).id for c in args.claim]
    if args.jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
    reports = verify(ids, args.profile, Path(args.record) if args.record else None,
                     Path(args.fresh) if args.fresh else None, jobs=args.jobs)
    print(table([r for r in reports if "error" not in r]))
    problems = [r["error"] for r in reports if "error" in r] + \
        [first_failure(r) for r in reports if "error" not in r and not r["ok"]]
    if problems:
        for p in problems:
            print(f"FAILED: {p}", file=sys.stderr)
        return 1
    print(f"verify ({args.profile}): {len(reports)} claim(s) agree with the committed record")
    return 0


def _cmd_new(args: argparse.Namespace) -> int:
    """Write a working claim skeleton (a bad or taken id: ``ValueError``, exit 2, nothing written)."""
    from ntkrepro.provenance import REPO_ROOT
    from ntkrepro.scaffold import create

    root = Path(args.root).resolve() if args.root else REPO_ROOT
    for path in create(args.id, root):
        print(f"written {path.relative_to(root)}")
    print(f"next: python -m ntkrepro run {args.id} --profile smoke, then replace the example with the claim")
    return 0


def _cmd_envfile(_: argparse.Namespace) -> int:
    from ntkrepro.envfile import LOCK, render

    sys.stdout.write(render(LOCK.read_text()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ntkrepro", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute a claim notebook (or all) through papermill")
    run.add_argument("claim", help="claim id (see `list`) or 'all'")
    run.add_argument("--profile", default="smoke", choices=("smoke", "full"))
    run.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"),
                     help="override one parameter (value parsed as YAML)")
    run.add_argument("--params-file", help="YAML file of parameter overrides")
    run.add_argument("--output-dir", help="where results.json, figures and the executed notebook go")
    run.add_argument("--skip-unchanged", action="store_true",
                     help="skip claims whose notebook, sources and parameters are unchanged")
    run.add_argument("--no-html", action="store_true", help="do not export the executed notebook as HTML")
    run.add_argument("--timeout", type=int, default=1800, help="per-cell timeout in seconds")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.add_argument("-j", "--jobs", type=int, default=1,
                     help="with 'all': run up to N claims side by side (one process and one thread each)")
    run.add_argument("--heartbeat", type=float, default=60.0, metavar="SECONDS",
                     help="with --jobs: how often to print the running claims and their elapsed times")
    run.set_defaults(func=_cmd_run)
    sw = sub.add_parser("sweep", help="run a claim notebook over a grid of parameter values on Dask")
    sw.add_argument("claim", help="claim id (see `list`)")
    sw.add_argument("--profile", default="smoke", choices=("smoke", "full"))
    sw.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUES"),
                    help='a swept parameter and its values as a YAML list, e.g. -p d "[64, 128]"')
    sw.add_argument("--set", nargs=2, action="append", metavar=("NAME", "VALUE"),
                    help="a parameter held fixed at VALUE for every point")
    mode = sw.add_mutually_exclusive_group()
    mode.add_argument("--grid", action="store_true", help="the cartesian product of the lists (default)")
    mode.add_argument("--zip", action="store_true", help="the lists zipped (equal lengths)")
    sw.add_argument("--scheduler", help="address of a running dask scheduler (default: $DASK_SCHEDULER_ADDRESS, "
                                        "else a LocalCluster)")
    sw.add_argument("--workers", type=int, help="LocalCluster workers (default: the number of cores)")
    sw.add_argument("--output-dir", help="where each point's outputs, sweep.json, sweep.csv and map.png go "
                                         "(default build/sweeps/<claim>)")
    sw.add_argument("--metric", help="dotted metric path for the map (default: the claim's key metric)")
    sw.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    sw.set_defaults(func=_cmd_sweep)
    mp = sub.add_parser("maps", help="each claim's declared sweep -> figures/maps/<claim>.png (make maps)")
    mp.add_argument("claim", nargs="?", default="all")
    mp.add_argument("--workers", type=int)
    mp.add_argument("--scheduler")
    mp.add_argument("-q", "--quiet", action="store_true")
    mp.set_defaults(func=_cmd_maps)
    sub.add_parser("list", help="the claims and their last verdicts").set_defaults(func=_cmd_list)
    sub.add_parser("ids", help="the claim ids, space-separated (the Makefile's claim targets)").set_defaults(
        func=_cmd_ids)
    sub.add_parser("readme", help="regenerate the README claims table").set_defaults(func=_cmd_readme)
    sub.add_parser("report", help="write build/report/index.html (static)").set_defaults(func=_cmd_report)
    sub.add_parser("status", help="each committed record: up to date, or stale naming the changed inputs "
                                  "(exit 1 when stale)").set_defaults(func=_cmd_status)
    vf = sub.add_parser("verify", help="re-run into build/verify/ and compare with the committed record")
    vf.add_argument("claim", nargs="*", default=["all"], help="claim id(s) or 'all' (default)")
    vf.add_argument("--profile", default="smoke", choices=("smoke", "full"))
    vf.add_argument("--record", help="a folder laid out like figures/ holding the record (default figures/)")
    vf.add_argument("--fresh", help="compare the runs already in FRESH/<claim>/ instead of re-running")
    vf.add_argument("-j", "--jobs", type=int, default=2, help="claims run side by side (one thread each)")
    vf.set_defaults(func=_cmd_verify)
    nw = sub.add_parser("new", help="write a working claim skeleton: ntkrepro/claims/<id>/ and its notebook pair")
    nw.add_argument("id", help="the new claim's id (a lower-case identifier; its folder name)")
    nw.add_argument("--root", help=argparse.SUPPRESS)  # another checkout's root (tests)
    nw.set_defaults(func=_cmd_new)
    sub.add_parser("envfile", help="print environment.yml from requirements.lock").set_defaults(func=_cmd_envfile)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except Interrupted as err:  # the interrupted run has printed its one line
        return 128 + err.signum


if __name__ == "__main__":
    raise SystemExit(main())

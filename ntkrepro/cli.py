"""Command line: ``python -m ntkrepro run <claim>|all``, ``list``, ``readme``, ``envfile``."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import yaml


def _parse_value(text: str) -> Any:
    """``-p widths "[64, 256]"`` -> [64, 256]; numbers, booleans and lists parse as YAML."""
    return yaml.safe_load(text)


def _cmd_run(args: argparse.Namespace) -> int:
    from ntkrepro.registry import CLAIMS, get_claim
    from ntkrepro.runner import NotebookFailed, run_claim

    overrides: dict[str, Any] = {}
    if args.params_file:
        overrides.update(yaml.safe_load(Path(args.params_file).read_text()) or {})
    overrides.update({name: _parse_value(value) for name, value in args.param or []})
    ids = list(CLAIMS) if args.claim == "all" else [get_claim(args.claim).id]
    if args.claim == "all" and args.output_dir:
        raise ValueError("--output-dir needs a single claim, not 'all'")
    for cid in ids:  # validate every claim's parameters before running any
        get_claim(cid).params.resolve({**overrides, "profile": args.profile},
                                       get_claim(cid).default_output_dir)
    failures = []
    for cid in ids:
        t0 = time.perf_counter()
        print(f"==> {cid} ({args.profile})", flush=True)
        try:
            res = run_claim(cid, args.profile, overrides, args.output_dir,
                            skip_unchanged=args.skip_unchanged, progress_bar=not args.quiet,
                            html=not args.no_html, cell_timeout=args.timeout)
        except NotebookFailed as err:
            print(f"FAILED: {err}", file=sys.stderr, flush=True)
            failures.append(cid)
            continue
        state = "up to date (inputs unchanged; skipped)" if res.skipped else \
            f"done in {time.perf_counter() - t0:.0f} s"
        verdict = res.results["verdict"] if res.results else "?"
        print(f"    {cid}: {state}; verdict: {verdict}; outputs in {res.output_dir}", flush=True)
    if failures:
        print(f"failed notebooks: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


def _cmd_list(_: argparse.Namespace) -> int:
    from ntkrepro.readme import latest_results
    from ntkrepro.registry import CLAIMS

    for c in CLAIMS.values():
        res = latest_results(c)
        verdict = res["verdict"] if res else "not run yet"
        print(f"{c.id:22s} {c.paper.short:28s} {verdict:22s} notebooks/{c.notebook}")
    return 0


def _cmd_readme(_: argparse.Namespace) -> int:
    from ntkrepro.readme import README, update

    print(f"{README.name}: {'updated' if update() else 'already up to date'}")
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
    run.set_defaults(func=_cmd_run)
    sub.add_parser("list", help="the claims and their last verdicts").set_defaults(func=_cmd_list)
    sub.add_parser("readme", help="regenerate the README claims table").set_defaults(func=_cmd_readme)
    sub.add_parser("envfile", help="print environment.yml from requirements.lock").set_defaults(func=_cmd_envfile)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

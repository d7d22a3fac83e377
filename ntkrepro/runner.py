"""Execute claim notebooks through papermill.

The notebook's directory is the working directory, the kernel is the pinned ``ntkrepro``
kernel, each cell has a timeout, parameters are validated before the kernel starts, and a
failing cell becomes one line: notebook, cell number, exception.

Parameters are resolved once, here (:func:`plan`: profile, overrides and output directory merged and
validated, before any kernel starts); the kernel receives the resolved set as its papermill
parameters and only reads it (:func:`ntkrepro.notebook.start`).

A run's outputs appear together or not at all: the notebook writes into a staging directory
beside the output directory, handed to it as the papermill parameter ``stage_dir``
(:data:`~ntkrepro.results.STAGE_PARAM`), and only a run that finished moves its files into place.
Ctrl-C or SIGTERM stops the kernel and removes the staging directory. A lock beside the output
directory refuses a second run into the same directory while one is running.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from ntkrepro.io import atomic_path, write_json, write_text
from ntkrepro.jobs import descendants, kill, signals_as_interrupt
from ntkrepro.layout import BUILD_DIR
from ntkrepro.params import Params
from ntkrepro.provenance import REPO_ROOT
from ntkrepro.registry import get_claim
from ntkrepro.results import STAGE_PARAM
from ntkrepro.spec import Claim

KERNEL_NAME = "ntkrepro"
CELL_TIMEOUT_S = 1800


class NotebookFailed(RuntimeError):
    """A cell raised: the message names the notebook, the cell and the exception."""


class OutputBusy(RuntimeError):
    """Another run is writing the same output directory."""


@contextlib.contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``out`` (a hidden file beside it) for the duration of a run."""
    out.parent.mkdir(parents=True, exist_ok=True)
    path = out.parent / f".{out.name}.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise OutputBusy(f"output directory {out} is in use by another run (pid {holder}); wait for it "
                             "to finish or choose another --output-dir") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        try:
            yield
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
    finally:
        os.close(fd)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Inside the block, the first SIGTERM or Ctrl-C raises :class:`~ntkrepro.jobs.Interrupted` (a
    KeyboardInterrupt), so that papermill shuts the kernel down, the staging directory is removed and
    the lock released; a second one while that cleanup runs is ignored, so the cleanup completes.
    The kernel (and whatever it started) goes first and at once: shut down politely mid-cell, it would
    try to reply on closed sockets and print a traceback; papermill's cleanup then finds a dead kernel."""
    before = descendants()
    with signals_as_interrupt(lambda: kill(descendants() - before)):
        yield


def _commit(stage: Path, out: Path) -> None:
    """Move every file of ``stage`` into ``out`` with signals held back, so that the set lands whole."""
    out.mkdir(parents=True, exist_ok=True)
    mask = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, mask)
    try:
        for f in sorted(stage.iterdir()):
            os.replace(f, out / f.name)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


@dataclass(frozen=True)
class RunResult:
    claim: str
    skipped: bool
    output_dir: Path
    executed_notebook: Path | None
    results: dict[str, Any] | None


def input_hash(claim: Claim, params: Mapping[str, Any]) -> str:
    """Hash of what determines a run (:mod:`ntkrepro.record`): the claim's folder, its notebook
    pair, the ``ntkrepro`` modules it imports, the lock file and the resolved parameters."""
    from ntkrepro.record import claim_inputs, inputs_digest

    return inputs_digest(claim_inputs(claim, params))


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path.resolve())


# An executed notebook kept in the repository (figures/<claim>/notebook.ipynb) stays small: outputs
# larger than this (HTML/JS-heavy displays) are dropped, with a line saying so; figures stay as PNG.
NOTEBOOK_OUTPUT_MAX_BYTES = 200_000
DROP_MIME = ("application/javascript", "application/vnd.jupyter.widget-view+json",
             "application/vnd.jupyter.widget-state+json", "image/svg+xml", "application/pdf")


def slim_notebook(src: Path, dest: Path) -> Path:
    """Write ``src`` (an executed notebook) to ``dest`` without widget state, papermill's per-cell
    timing metadata, the staging folder's parameter (it no longer exists), JavaScript, and any single
    output over :data:`NOTEBOOK_OUTPUT_MAX_BYTES` (PNG figures and text are kept)."""
    import nbformat

    nb = nbformat.read(src, as_version=4)
    nb.metadata.pop("widgets", None)
    nb.metadata.get("papermill", {}).pop("input_path", None)
    nb.metadata.get("papermill", {}).pop("output_path", None)
    nb.metadata.get("papermill", {}).get("parameters", {}).pop(STAGE_PARAM, None)  # gone once committed
    for cell in nb.cells:
        if "injected-parameters" in cell.metadata.get("tags", []):
            cell.source = "\n".join(ln for ln in cell.source.splitlines() if not ln.startswith(f"{STAGE_PARAM} = "))
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        outs = []
        for o in cell.get("outputs", []):
            data = o.get("data")
            if data is not None:
                for m in DROP_MIME:
                    data.pop(m, None)
                if "text/html" in data and len(data["text/html"]) > NOTEBOOK_OUTPUT_MAX_BYTES:
                    data.pop("text/html")
                if not data:
                    continue
            if len(json.dumps(o)) > NOTEBOOK_OUTPUT_MAX_BYTES and "image/png" not in (data or {}):
                o = nbformat.v4.new_output("stream", name="stdout",
                                           text="[output over 200 kB left out of the committed notebook]\n")
            outs.append(o)
        if "outputs" in cell:
            cell.outputs = outs
    with atomic_path(dest) as tmp:
        nbformat.write(nb, tmp)
    return dest


def _format_failure(notebook: str, err: Exception) -> str:
    count = getattr(err, "exec_count", None)
    index = getattr(err, "cell_index", None)
    ename = getattr(err, "ename", type(err).__name__)
    evalue = str(getattr(err, "evalue", err)).strip().splitlines()
    first = evalue[0] if evalue else ""
    return (f"notebook {notebook} failed in cell [{count}] (cell index {index}): "
            f"{ename}: {first}")


def execute(notebook: Path, executed: Path, parameters: Mapping[str, Any],
            progress_bar: bool = True, cell_timeout: int = CELL_TIMEOUT_S) -> Path:
    """Run ``notebook`` with papermill in its own directory on the pinned kernel; write the
    executed copy atomically to ``executed``. A failing cell raises :class:`NotebookFailed`
    and leaves ``<executed stem>.failed.ipynb`` (with the traceback) for inspection."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    from ntkrepro.jobs import SINGLE_THREAD_ENV

    executed.parent.mkdir(parents=True, exist_ok=True)
    # every kernel single-threaded, as `run all --jobs N` children always were: XLA:CPU's multi-threaded reductions
    # change summation order, and claim 3's digits runs amplify it (a check went inconclusive -> fail between the
    # record and a default-threaded run of the same commit); single-threaded, a run alone equals the record bit for
    # bit, at the same speed (claim 3 alone: 290 s single-, 286 s multi-threaded)
    saved = {k: os.environ.get(k) for k in SINGLE_THREAD_ENV}
    os.environ.update(SINGLE_THREAD_ENV)
    with atomic_path(executed) as tmp:
        try:
            pm.execute_notebook(str(notebook), str(tmp), parameters=dict(parameters),
                                kernel_name=KERNEL_NAME, cwd=str(notebook.parent),
                                progress_bar=progress_bar, execution_timeout=cell_timeout,
                                request_save_on_cell_execute=False, log_output=False)
        except PapermillExecutionError as err:
            failed = executed.with_name(executed.stem + ".failed.ipynb")
            tmp.replace(failed)
            raise NotebookFailed(_format_failure(notebook.name, err) + f" (see {_relative(failed)})") from None
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    return executed


def export_html(notebook: Path) -> Path:
    """Write the executed notebook as HTML beside it (atomically)."""
    import nbformat
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    return write_text(notebook.with_suffix(".html"), body)


@dataclass(frozen=True)
class Plan:
    """One run, resolved before any kernel starts: the claim, its parameters (the profile's values with
    the overrides applied, validated, ``output_dir`` set; what the kernel receives, as they are) and the
    folder the executed notebook goes to."""
    claim: Claim
    params: Params
    notebook_dir: Path

    @property
    def output_dir(self) -> Path:
        return Path(self.params["output_dir"])


def plan(claim_id: str, profile: str = "smoke", overrides: Mapping[str, Any] | None = None,
         output_dir: str | Path | None = None) -> Plan:
    """Resolve one run's parameters (the one place they are resolved). Raises ``ValueError`` naming
    the claim or the parameter; imports no jax."""
    claim = get_claim(claim_id)
    explicit = dict(overrides or {})
    explicit["profile"] = profile
    if output_dir is not None:
        explicit["output_dir"] = str(Path(output_dir).resolve())
    params = claim.params.resolve(explicit, claim.default_output_dir)
    # the executed notebook goes beside the outputs when an output directory is given, else to build/
    notebook_dir = Path(params["output_dir"]) if output_dir is not None else BUILD_DIR / "notebooks" / profile
    return Plan(claim, params, notebook_dir)


def run_claim(claim_id: str, profile: str = "smoke", overrides: Mapping[str, Any] | None = None,
              output_dir: str | Path | None = None, skip_unchanged: bool = False,
              progress_bar: bool = True, html: bool = True,
              cell_timeout: int = CELL_TIMEOUT_S) -> RunResult:
    """Validate, execute and export one claim notebook: :func:`plan` then :func:`run_plan`. Raises
    ``ValueError`` on bad parameters (before any compute), :class:`OutputBusy` when another run holds
    the output directory and :class:`NotebookFailed` when a cell fails (then no output is replaced)."""
    return run_plan(plan(claim_id, profile, overrides, output_dir), skip_unchanged, progress_bar, html,
                    cell_timeout)


def run_plan(p: Plan, skip_unchanged: bool = False, progress_bar: bool = True, html: bool = True,
             cell_timeout: int = CELL_TIMEOUT_S) -> RunResult:
    """Execute a planned run: the kernel gets ``p.params`` (every knob, resolved) and the staging
    directory as its papermill parameters; the staged files move into ``p.output_dir`` together."""
    claim, params, notebook_dir = p.claim, p.params, p.notebook_dir
    profile, out = params["profile"], p.output_dir
    from ntkrepro.record import is_up_to_date, provenance_fields

    # up to date = the record in the output directory (the committed one in figures/ for a full run)
    # was made from exactly these inputs: its provenance's input hash matches
    if skip_unchanged and is_up_to_date(claim, params, out / "results.json"):
        return RunResult(claim.id, True, out, None, json.loads((out / "results.json").read_text()))
    fields = provenance_fields(claim, params)  # the inputs as they are when the run starts

    with _sigterm_as_interrupt(), output_lock(out):  # the cleanup below runs whole
        stage = out.parent / f".{out.name}.staging-{os.getpid()}"
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir(parents=True)
        try:
            executed = stage / claim.notebook
            try:
                execute(claim.notebook_path, executed, {**params, STAGE_PARAM: str(stage)}, progress_bar,
                        cell_timeout)
            except NotebookFailed as err:
                failed = executed.with_name(executed.stem + ".failed.ipynb")
                notebook_dir.mkdir(parents=True, exist_ok=True)
                if failed.exists():
                    os.replace(failed, notebook_dir / failed.name)
                raise NotebookFailed(str(err).replace(_relative(failed), _relative(notebook_dir / failed.name))) \
                    from None
            if html:
                export_html(executed)
            results = json.loads((stage / "results.json").read_text())
            results.setdefault("provenance", {}).update(fields)
            write_json(stage / "results.json", results)
            if profile == "full":  # the executed notebook, kept with the record (GitHub renders it)
                slim_notebook(executed, stage / "notebook.ipynb")
            if notebook_dir != out:
                notebook_dir.mkdir(parents=True, exist_ok=True)
                for f in stage.glob(Path(claim.notebook).stem + ".*"):
                    os.replace(f, notebook_dir / f.name)
            _commit(stage, out)
        finally:
            shutil.rmtree(stage, ignore_errors=True)
    return RunResult(claim.id, False, out, notebook_dir / claim.notebook, results)

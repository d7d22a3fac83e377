"""Claims side by side: each in its own child process (``python -m ntkrepro run <claim>``: its own
kernel, staging directory and lock), at most N at a time, with a line when each starts and ends and a
heartbeat for the running ones. SIGTERM or Ctrl-C to the parent stops every child (each stops its
kernel and removes its staging directory and lock, as a single run does) and prints one line per
stopped claim.

Also owns :data:`SINGLE_THREAD_ENV`, the environment of every notebook kernel (:func:`ntkrepro.runner.execute`) and of every child that runs beside others (the CLI's
``run all --jobs N`` and :mod:`ntkrepro.sweep`'s points), and the interrupt helpers that a single run
(:mod:`ntkrepro.runner`), ``run all --jobs N`` and a sweep share: :func:`signals_as_interrupt`,
:func:`descendants`, :func:`kill` and :func:`interrupted_line`.
"""
from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import IO, Callable, Iterator, Mapping, Sequence

from ntkrepro.numerics import SINGLE_THREAD_ENV  # noqa: E402,F401  (re-exported: one thread per process)

STOP_GRACE_S = 60.0  # how long a stopped child may take to shut its kernel down before it is killed


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM; ``signum`` says which (exit status 128 + signum)."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(f"signal {signum}")
        self.signum = int(signum)


def interrupted_line(what: str, kept: str = "nothing written") -> str:
    """The one line printed when ``what`` (a claim id, ``sweep <claim>``) is stopped by a signal."""
    return f"interrupted: {what} stopped, {kept}"


@contextlib.contextmanager
def signals_as_interrupt(on_signal: Callable[[], None] | None = None) -> Iterator[None]:
    """Inside the block (main thread only), the first SIGTERM or SIGINT calls ``on_signal`` (if given)
    and raises :class:`Interrupted`; from then on both signals are ignored until the block ends, so
    that a second Ctrl-C cannot break the cleanup that the ``except``/``finally`` inside runs."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        for s in (signal.SIGTERM, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        if on_signal is not None:
            on_signal()
        raise Interrupted(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def descendants() -> set[int]:
    """The pids of every process below this one (children, grandchildren, ...)."""
    import psutil

    try:
        return {c.pid for c in psutil.Process().children(recursive=True)}
    except psutil.Error:
        return set()


def kill(pids: set[int]) -> None:
    """SIGKILL each process of ``pids`` (those that already exited are skipped) and reap it."""
    import psutil

    procs = []
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(pid)
            p.kill()
            procs.append(p)
    with contextlib.suppress(psutil.Error):
        psutil.wait_procs(procs, timeout=5)


def elapsed(seconds: float) -> str:
    """``75.2`` -> ``1m15s``; ``9.6`` -> ``10s``."""
    s = int(round(seconds))
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


@dataclass
class _Child:
    claim: str
    proc: subprocess.Popen
    log: IO[str]
    started: float = field(default_factory=time.monotonic)


def run_parallel(argvs: Mapping[str, Sequence[str]], jobs: int, heartbeat_s: float = 60.0,
                 echo: Callable[[str], None] = lambda line: print(line, flush=True),
                 poll_s: float = 0.2) -> list[str]:
    """Run ``argvs[claim]`` for every claim, at most ``jobs`` at a time, each child in its own session
    with :data:`SINGLE_THREAD_ENV`; return the claims whose child failed. Prints (through ``echo``) a
    line when a child starts, a line with its elapsed time and its output when it ends, and every
    ``heartbeat_s`` seconds the running ones with their elapsed times. On SIGTERM or Ctrl-C every running
    child gets SIGTERM (it stops its kernel and removes its staging directory and lock), is waited for
    (killed after :data:`STOP_GRACE_S`), one ``interrupted: ...`` line per child is printed and
    :class:`Interrupted` is raised."""
    env = {**os.environ, **SINGLE_THREAD_ENV}
    waiting, running, failures = list(argvs), [], []
    total, done = len(waiting), 0
    last_beat = time.monotonic()
    with signals_as_interrupt():
        try:
            while waiting or running:
                while waiting and len(running) < jobs:
                    cid = waiting.pop(0)
                    log = tempfile.TemporaryFile("w+")
                    proc = subprocess.Popen(list(argvs[cid]), env=env, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, text=True, start_new_session=True)
                    running.append(_Child(cid, proc, log))
                    echo(f"==> {cid} started ({total - len(waiting)} of {total}, up to {jobs} at a time)")
                for child in [c for c in running if c.proc.poll() is not None]:
                    running.remove(child)
                    done += 1
                    code = child.proc.returncode
                    child.log.seek(0)
                    text = child.log.read().rstrip()
                    child.log.close()
                    state = "ok" if code == 0 else f"FAILED (exit status {code})"
                    echo(f"<== {child.claim} ended after {elapsed(time.monotonic() - child.started)}: {state} "
                         f"({done} of {total} done)")
                    if text:
                        echo(text)
                    if code:
                        failures.append(child.claim)
                now = time.monotonic()
                if running and now - last_beat >= heartbeat_s:
                    last_beat = now
                    echo("... running: " + ", ".join(f"{c.claim} {elapsed(now - c.started)}" for c in running)
                         + f"; {done} done, {len(waiting)} waiting")
                time.sleep(poll_s)
        except Interrupted:  # further signals are ignored: a second Ctrl-C must not orphan the children
            for cid in _stop(running):
                print(interrupted_line(cid), file=sys.stderr, flush=True)
            raise
    return failures


def _stop(children: list[_Child]) -> list[str]:
    """SIGTERM to every running child, wait for each (SIGKILL to its session after the grace time);
    return the claims that were stopped."""
    stopped = []
    for child in children:
        if child.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                child.proc.send_signal(signal.SIGTERM)
                stopped.append(child.claim)
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        try:
            child.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.proc.pid, signal.SIGKILL)
            child.proc.wait()
        child.log.close()
    return stopped


def run_argv(args: Sequence[str], python: str | None = None) -> list[str]:
    """``python -m ntkrepro`` with ``args``, in ``python`` (default: this interpreter)."""
    return [python or sys.executable, "-m", "ntkrepro", *args]

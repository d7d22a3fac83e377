"""environment.yml (for conda users) generated from requirements.lock: the same exact pins."""
from __future__ import annotations

import re
from pathlib import Path

from ntkrepro.provenance import REPO_ROOT

LOCKS = {"pinned": REPO_ROOT / "requirements.lock", "modern": REPO_ROOT / "requirements-modern.lock"}
LOCK = LOCKS["pinned"]  # environment.yml carries the pinned (reference) stack


def active_lock() -> Path:
    """The lock of the stack this interpreter runs (see :func:`ntkrepro.compat.stack`)."""
    from ntkrepro.compat import stack

    return LOCKS[stack()]
ENV_FILE = REPO_ROOT / "environment.yml"
_PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)")


def lock_pins(text: str) -> dict[str, str]:
    """``{name: version}`` for every ``name==version`` line of a pip requirements file."""
    pins = {}
    for line in text.splitlines():
        m = _PIN.match(line.strip())
        if m:
            pins[m.group(1).lower()] = m.group(2)
    return pins


def env_yml_pins(text: str) -> dict[str, str]:
    """The pip pins listed in an environment.yml."""
    return lock_pins("\n".join(l.strip().lstrip("- ").strip() for l in text.splitlines()))


def render(lock_text: str) -> str:
    pins = lock_pins(lock_text)
    body = "\n".join(f"      - {n}=={v}" for n, v in sorted(pins.items()))
    return ("# Generated from requirements.lock by `make lock` (python -m ntkrepro envfile).\n"
            "# A test fails when this file and the lock disagree.\n"
            "name: ntkrepro\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - pip\n"
            "  - pip:\n" + body + "\n      - -e .\n")

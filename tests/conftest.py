import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

import ntkrepro  # noqa: E402,F401  (turns on float64 in jax)

# Runs made earlier in the same CI job (`python -m ntkrepro verify all --profile smoke` writes
# build/verify/smoke/<claim>/): point this at them and the session reuses them instead of running again.
SMOKE_RUNS_ENV = "NTKREPRO_SMOKE_RUNS"


def run_smoke(out_dir, python=sys.executable, claim_ids=None):
    """Run every claim's smoke profile into ``out_dir/<claim>``, two processes at a time with one
    thread each (as ``run all --jobs 2`` does); return the results per claim."""
    from ntkrepro import CLAIMS
    from ntkrepro.jobs import SINGLE_THREAD_ENV

    env = {**os.environ, **SINGLE_THREAD_ENV}

    def one(cid):
        proc = subprocess.run([python, "-m", "ntkrepro", "run", cid, "--profile", "smoke", "-q",
                               "--no-html", "--output-dir", str(out_dir / cid)],
                              env=env, capture_output=True, text=True)
        assert proc.returncode == 0, f"{cid}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        return cid, json.loads((out_dir / cid / "results.json").read_text())

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(one, claim_ids or list(CLAIMS)))


@pytest.fixture(scope="session")
def probe():
    """The machinery probe ``_probe`` (numpy only; see ``ntkrepro.scaffold.write_probe``), written (git-ignored)
    before the tests of sweeps and interrupted runs use it."""
    from ntkrepro.scaffold import PROBE_ID, write_probe

    write_probe()
    return PROBE_ID


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory):
    """Every claim's smoke profile, executed once per test session: ``(root, {claim: results})``,
    outputs in ``root/<claim>/``. Shared by the results-contract, reproducibility, cross-stack and
    report tests."""
    from ntkrepro import CLAIMS

    given = os.environ.get(SMOKE_RUNS_ENV)
    if given and all((Path(given) / c / "results.json").exists() for c in CLAIMS):
        root = Path(given)
        return root, {c: json.loads((root / c / "results.json").read_text()) for c in CLAIMS}
    root = tmp_path_factory.mktemp("smoke")
    return root, run_smoke(root)

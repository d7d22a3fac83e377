"""``python -m ntkrepro new <id>``: a working claim skeleton to start a new claim from.

It writes ``ntkrepro/claims/<id>/`` (``__init__.py``, ``claim.py``, ``science.py``, ``figures.py``,
``test_<id>.py``) and the notebook pair ``notebooks/NN_<id>.py`` / ``.ipynb`` (NN: the next free number,
which is also the claim's number), laid out like the existing claims. The skeleton is a small, honest,
runnable example to replace with the claim's science: the ReLU random-features kernel
``E_w[relu(w.x) relu(w.y)]`` estimated by Monte Carlo against its arc-cosine closed form (numpy only, a
second in the smoke profile), with one finding and its check (a z-score gate, with ``passes_with`` and
``fails_with``), one implementation check, smoke and full profiles and one figure. A claim's id is its
folder name; the registry discovers it (no registry edit). Nothing here imports jax.

A bad id, or one that is taken (a folder, a notebook or a claim of that name), is a ``ValueError``
(the CLI prints one ``error: ...`` line and exits with status 2) and nothing is written.
"""
from __future__ import annotations

import keyword
import re
from pathlib import Path

from ntkrepro.provenance import REPO_ROOT
from ntkrepro.runner import KERNEL_NAME

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
RESERVED = {"all", "maps", "claims", "smoke", "full", "test", "tests"}  # CLI words, figures/ folders, pytest

# The notebook metadata every claim notebook carries (tests/test_notebooks.py checks the kernel; the
# jupytext keys pair the .ipynb with its .py, as in notebooks/jupytext.toml).
NOTEBOOK_METADATA = {
    "jupytext": {"cell_metadata_filter": "tags,-all", "formats": "ipynb,py:percent",
                 "notebook_metadata_filter": "kernelspec,jupytext"},
    "kernelspec": {"display_name": f"Python 3 ({KERNEL_NAME})", "language": "python", "name": KERNEL_NAME},
    "language_info": {"name": "python"},
}


def validate_id(claim_id: str, root: Path = REPO_ROOT) -> None:
    """Raise ``ValueError`` (one line) unless ``claim_id`` can name a new claim under ``root``."""
    if not ID_PATTERN.match(claim_id or ""):
        raise ValueError(f"bad claim id {claim_id!r}: a lower-case Python identifier (letters, digits, '_'), "
                         "starting with a letter, at most 40 characters")
    if keyword.iskeyword(claim_id) or claim_id in RESERVED:
        raise ValueError(f"bad claim id {claim_id!r}: a reserved word")
    folder = root / "ntkrepro" / "claims" / claim_id
    if folder.exists():
        raise ValueError(f"claim {claim_id!r} exists: {folder.relative_to(root)} is already there")
    taken = sorted(p.name for p in (root / "notebooks").glob(f"[0-9][0-9]_{claim_id}.*"))
    if taken:
        raise ValueError(f"claim {claim_id!r} exists: notebooks/{taken[0]} is already there")


def next_number(root: Path = REPO_ROOT) -> int:
    """One more than the largest notebook number and claim number (read from the files, no import)."""
    nums = [int(p.name[:2]) for p in (root / "notebooks").glob("[0-9][0-9]_*.py")]
    for f in (root / "ntkrepro" / "claims").glob("[!_]*/claim.py"):  # not the hidden probe
        m = re.search(r"^\s*number\s*=\s*(\d+)", f.read_text(), re.MULTILINE)
        if m:
            nums.append(int(m.group(1)))
    return max(nums, default=0) + 1


def _title(claim_id: str) -> str:
    return claim_id.replace("_", " ").strip().capitalize()


def render(template: str, claim_id: str, number: int) -> str:
    return (template.replace("__ID__", claim_id).replace("__NUMBER__", str(number))
            .replace("__NN__", f"{number:02d}").replace("__TITLE__", _title(claim_id)))


def notebook_from_py(py_text: str):
    """The ``.ipynb`` of a py:percent source: outputs stripped, cell ids ``cell-NN`` and the metadata of
    the existing claim notebooks (what ``make sync`` keeps)."""
    import jupytext
    import nbformat

    nb = jupytext.reads(py_text, fmt="py:percent")
    nb.metadata = nbformat.from_dict(NOTEBOOK_METADATA)
    nb.nbformat, nb.nbformat_minor = 4, 5
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
        cell.metadata = {"tags": list(cell.metadata["tags"])} if cell.metadata.get("tags") else {}
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def create(claim_id: str, root: Path = REPO_ROOT) -> list[Path]:
    """Write the skeleton of claim ``claim_id`` under ``root``; return the paths written."""
    import nbformat

    validate_id(claim_id, root)
    number = next_number(root)
    folder = root / "ntkrepro" / "claims" / claim_id
    files = {
        folder / "__init__.py": INIT,
        folder / "claim.py": CLAIM_PY,
        folder / "metrics.py": METRICS_PY,
        folder / "science.py": SCIENCE_PY,
        folder / "figures.py": FIGURES_PY,
        folder / f"test_{claim_id}.py": TEST_PY,
    }
    py = root / "notebooks" / f"{number:02d}_{claim_id}.py"
    files[py] = NOTEBOOK_PY
    folder.mkdir(parents=True)
    written = []
    for path, template in files.items():
        path.write_text(render(template, claim_id, number))
        written.append(path)
    ipynb = py.with_suffix(".ipynb")
    nbformat.write(notebook_from_py(py.read_text()), str(ipynb))
    written.append(ipynb)
    return written


PROBE_ID = "_probe"

# The machinery probe is the skeleton with one knob more (``hold_s``: the run waits after staging its
# figure, so a test can catch its kernel running) and its notebook kept in its folder (notebooks/ holds the
# papers' claims). Each edit must hit exactly once (a changed template fails here, not in a test far away).
_PROBE_EDITS = {
    "claim.py": (
        ("from ntkrepro.params import Params, ParamSet, int_list, integer, require",
         "from ntkrepro.params import Params, ParamSet, int_list, integer, real, require"),
        ('        int_list("m_list", 10, 10_000_000,',
         '        real("hold_s", 0.0, 600.0, "seconds the run waits after staging its figure (a test catches its "\n'
         '             "kernel running)"),\n'
         '        int_list("m_list", 10, 10_000_000,'),
        ("dict(n=8, d=4, m_list=[100, 1000, 10_000])", "dict(n=8, d=4, m_list=[100, 1000, 10_000], hold_s=0.0)"),
        ("dict(n=16, d=16, m_list=[100, 1000, 10_000, 100_000])",
         "dict(n=16, d=16, m_list=[100, 1000, 10_000, 100_000], hold_s=0.0)"),
        ('notebook="99__probe.ipynb"', 'notebook="../ntkrepro/claims/_probe/notebook.ipynb"'),
    ),
    "notebook.py": (
        ("m_list = None  # Monte Carlo sample sizes (the check reads the largest)\n",
         "m_list = None  # Monte Carlo sample sizes (the check reads the largest)\n"
         "hold_s = None  # seconds the run waits after staging its figure\n"),
        ('run.save(F.convergence(res, P), "convergence")\n',
         'run.save(F.convergence(res, P), "convergence")\n__import__("time").sleep(P.hold_s)\n'),
    ),
}


def write_probe(root: Path = REPO_ROOT) -> Path:
    """Write the machinery probe ``ntkrepro/claims/_probe/`` (git-ignored; the tests of sweeps and
    interrupted runs call this): the skeleton ``new`` writes, as the hidden claim ``_probe`` (number 99,
    never listed by the registry, loaded by its id), plus ``hold_s``. Files already up to date are not
    rewritten. Returns the folder."""
    import nbformat

    folder = root / "ntkrepro" / "claims" / PROBE_ID
    folder.mkdir(parents=True, exist_ok=True)
    files = {"__init__.py": INIT, "claim.py": CLAIM_PY, "metrics.py": METRICS_PY, "science.py": SCIENCE_PY,
             "figures.py": FIGURES_PY, "notebook.py": NOTEBOOK_PY}
    for name, template in files.items():
        text = render(template, PROBE_ID, 99)
        for old, new in _PROBE_EDITS.get(name, ()):
            if text.count(old) != 1:
                raise RuntimeError(f"scaffold.write_probe: the {name} template changed ({old[:40]!r} not found once)")
            text = text.replace(old, new)
        path = folder / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        if name == "notebook.py":
            ipynb = folder / "notebook.ipynb"
            nb = nbformat.writes(notebook_from_py(text))
            if not ipynb.exists() or ipynb.read_text() != nb:
                ipynb.write_text(nb)
    return folder


# --------------------------------------------------------------------------------------------------
# templates (__ID__, __NUMBER__, __NN__, __TITLE__ are replaced)

INIT = '''"""Claim folder: `claim.py` (declaration), `metrics.py` (the typed metrics record), `science.py`,
`figures.py`, `test___ID__.py`."""
from ntkrepro.claims.__ID__.claim import CLAIM

__all__ = ["CLAIM"]
'''

CLAIM_PY = '''"""Declaration of claim __NUMBER__, __ID__: parameters, profiles, findings, checks with their gates,
figure captions.

Written by `python -m ntkrepro new __ID__` as a working example (the ReLU random-features kernel by Monte
Carlo against its arc-cosine closed form): replace the paper, the findings, the checks and the science
with the claim's own. Declare every gate here before the full run that first uses it. This module imports
no jax and no science at module level (reading the registry must stay light).
"""
from __future__ import annotations

from ntkrepro.claims.__ID__.metrics import RunMetrics
from ntkrepro.params import Params, ParamSet, int_list, integer, require
from ntkrepro.spec import CheckSpec, Claim, FigureSpec, Finding, Paper, below, close

# Pre-registered before any run: the largest |Monte Carlo - closed form| / (its standard error) over the
# pairs of points, at the largest m. Under the finding it is the largest of n (n + 1) / 2 correlated
# |N(0, 1)|-like values (about 3 for n = 16); a wrong closed form or estimator gives a z that grows like
# sqrt(m).
Z_GATE = 5.0
ROUND_OFF = 1e-12  # float64 on O(1) numbers


def _rules(p: Params) -> None:
    require(sorted(set(p.m_list)) == list(p.m_list), "m_list", "must be strictly increasing")


PARAMS = ParamSet(
    params=(
        integer("n", 2, 256, "points (on the unit sphere)"),
        integer("d", 1, 1024, "input dimension"),
        int_list("m_list", 10, 10_000_000, "Monte Carlo sample sizes (random features), increasing; the "
                 "check reads the largest", min_len=2),
    ),
    profiles={
        "smoke": dict(n=8, d=4, m_list=[100, 1000, 10_000]),
        "full": dict(n=16, d=16, m_list=[100, 1000, 10_000, 100_000]),
    },
    rules=_rules,
)

FINDINGS = (
    Finding("F1", "The Monte Carlo estimate of the ReLU random-features kernel E_w[relu(w.x) relu(w.y)], "
            "w ~ N(0, I), agrees with the arc-cosine closed form |x| |y| (sin t + (pi - t) cos t) / (2 pi) "
            "within its sampling error.", "reconstruction", "the skeleton's example (replace it)"),
)

CHECKS = (
    CheckSpec("closed_form_diagonal", "implementation",
              "max |k(x, x) - |x|^2 / 2| of the closed form (t = 0 gives E[relu(z)^2] = |x|^2 / 2 for "
              "z ~ N(0, |x|^2)): a code check of the closed form, not evidence for the finding",
              close(0.0, ROUND_OFF), lambda m, P: m.closed_form_diag_err,
              passes_with={"closed_form_diag_err": 0.0}, fails_with={"closed_form_diag_err": 1e-3}),
    CheckSpec("mc_matches_closed_form", "finding",
              f"max over pairs of |Monte Carlo - closed form| / standard error at the largest m (gate {Z_GATE:g})",
              below(Z_GATE), lambda m, P: m.max_z,
              passes_with={"max_z": 1.0}, fails_with={"max_z": 10.0}, finding="F1"),
)

FIGURES = (
    FigureSpec("convergence", "Left: mean and max |Monte Carlo - closed form| over the pairs of points "
               "against the number of random features m, with the m^(-1/2) reference (dotted); right: the "
               "Monte Carlo estimate against the closed form at the largest m."),
)

CLAIM = Claim(
    id="__ID__",
    number=__NUMBER__,
    title="__TITLE__",
    # TODO: the claim's paper (authors, title, year, arXiv id)
    paper=Paper("Cho & Saul", "Kernel Methods for Deep Learning", 2009, "0000.00000", venue="NeurIPS 2009"),
    notebook="__NN_____ID__.ipynb",
    figures=FIGURES,
    params=PARAMS,
    findings=FINDINGS,
    checks=CHECKS,
    metrics_type=RunMetrics,
    key_metric=("max z at the largest m", "max_z"),
    reconstructed=("A skeleton written by `python -m ntkrepro new`: the example (the arc-cosine kernel against "
                   "Monte Carlo) stands in for the claim; no paper number is claimed."),
)
'''

METRICS_PY = '''"""Typed metrics of claim __ID__ (see ntkrepro/metrics.py): the science builds a :class:`RunMetrics`,
the checks in claim.py read its attributes, and results.json's ``metrics`` is its serialisation (a field's
name is its JSON key). Imports no jax and no science. Rename or add fields here first: a metric that the
science no longer produces, or a key that the record does not declare, fails in ``make unit``."""
from __future__ import annotations

from dataclasses import dataclass

from ntkrepro.metrics import Metrics


@dataclass(frozen=True)
class ByM(Metrics):
    """Monte Carlo against the closed form at one number m of random features, over the pairs of points."""

    mean_abs_err: float  # mean |K_mc - K|
    max_abs_err: float  # max |K_mc - K|
    max_z: float  # max |K_mc - K| / se


@dataclass(frozen=True)
class RunMetrics(Metrics):
    """A run's metrics."""

    closed_form_diag_err: float  # max_x |k(x, x) - |x|^2 / 2| of the closed form
    max_z: float  # ``by_m[largest m].max_z``
    error_slope: float  # log-log slope of mean |K_mc - K| against m (theory: -1/2)
    by_m: dict[str, ByM]  # keyed by m
'''

SCIENCE_PY = '''"""Science of claim __ID__ (pure functions, numpy): the arc-cosine closed form of the ReLU
random-features kernel and its Monte Carlo estimate. Replace with the claim's own."""
from __future__ import annotations

from typing import Any

import numpy as np

from ntkrepro.claims.__ID__.metrics import ByM, RunMetrics
from ntkrepro.params import Params


def sphere(n: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points drawn uniformly on the unit sphere of R^d."""
    X = rng.normal(size=(n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def arccos_kernel(X: np.ndarray) -> np.ndarray:
    """E_w[relu(w.x) relu(w.y)], w ~ N(0, I): |x| |y| (sin t + (pi - t) cos t) / (2 pi), t the angle."""
    norms = np.linalg.norm(X, axis=1)
    outer = np.outer(norms, norms)
    cos = np.clip(X @ X.T / outer, -1.0, 1.0)
    t = np.arccos(cos)
    return outer * (np.sin(t) + (np.pi - t) * cos) / (2 * np.pi)


def mc_kernel(X: np.ndarray, m: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The Monte Carlo estimate from ``m`` random features and its standard error, per pair."""
    F = np.maximum(X @ rng.normal(size=(X.shape[1], m)), 0.0)  # n x m
    K = F @ F.T / m
    second = (F**2) @ (F**2).T / m
    se = np.sqrt(np.maximum(second - K**2, 0.0) / (m - 1))
    return K, se


def study(P: Params, rng: np.random.Generator) -> dict[str, Any]:
    """The closed form, and the Monte Carlo estimate at every m of ``P.m_list`` (keys ``_`` are arrays)."""
    X = sphere(P.n, P.d, rng)
    K = arccos_kernel(X)
    iu = np.triu_indices(P.n)
    by_m = {}
    for m in P.m_list:
        Kmc, se = mc_kernel(X, m, rng)
        err = np.abs(Kmc - K)[iu]
        z = err / np.where(se[iu] > 0, se[iu], np.inf)
        by_m[str(m)] = {"mean_abs_err": float(err.mean()), "max_abs_err": float(err.max()),
                        "max_z": float(z.max()), "_mc": Kmc}
    return {"_X": X, "_K": K, "by_m": by_m}


def error_slope(res: dict[str, Any]) -> float:
    """Log-log slope of the mean absolute error against m (the theory: -1/2)."""
    ms = np.array([int(m) for m in res["by_m"]], dtype=float)
    errs = np.array([r["mean_abs_err"] for r in res["by_m"].values()])
    return float(np.polyfit(np.log(ms), np.log(errs), 1)[0])


def collect(res: dict[str, Any], P: Params) -> RunMetrics:
    """The run's typed metrics record (what the checks read; results.json is its serialisation)."""
    X, K = res["_X"], res["_K"]
    largest = res["by_m"][str(P.m_list[-1])]
    return RunMetrics(
        closed_form_diag_err=float(np.abs(np.diag(K) - np.sum(X**2, axis=1) / 2).max()),
        max_z=largest["max_z"],
        error_slope=error_slope(res),
        by_m={m: ByM(r["mean_abs_err"], r["max_abs_err"], r["max_z"]) for m, r in res["by_m"].items()},
    )
'''

FIGURES_PY = '''"""Figures of claim __ID__ (one function per figure)."""
from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from ntkrepro.params import Params
from ntkrepro.plotting import log_ticks


def convergence(res: dict[str, Any], P: Params) -> plt.Figure:
    """Error of the Monte Carlo estimate against m, and the estimate against the closed form."""
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    ms = np.array([int(m) for m in res["by_m"]])
    mean = np.array([r["mean_abs_err"] for r in res["by_m"].values()])
    ax[0].plot(ms, mean, "o-", label="mean over pairs")
    ax[0].plot(ms, [r["max_abs_err"] for r in res["by_m"].values()], "s--", label="max over pairs")
    ax[0].plot(ms, mean[0] * np.sqrt(ms[0] / ms), "k:", label="m^(-1/2)")
    ax[0].set(xscale="log", yscale="log", xlabel="random features m", ylabel="|Monte Carlo - closed form|",
              title=f"Monte Carlo error (n={P.n}, d={P.d})")
    log_ticks(ax[0], ms)
    ax[0].legend()
    iu = np.triu_indices(P.n)
    K, Kmc = res["_K"][iu], res["by_m"][str(ms[-1])]["_mc"][iu]
    ax[1].plot(K, Kmc, "o", ms=4)
    lim = [min(K.min(), Kmc.min()), max(K.max(), Kmc.max())]
    ax[1].plot(lim, lim, "k-", lw=1)
    ax[1].set(xlabel="closed form", ylabel=f"Monte Carlo (m={ms[-1]})", title="Estimate against closed form")
    fig.tight_layout()
    return fig
'''

TEST_PY = '''"""Claim __ID__: the science against independent computations (fast; beside the claim)."""
import numpy as np
import pytest

from ntkrepro.claims.__ID__ import science as E


def test_closed_form_special_values():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [2.0, 0.0]])
    K = E.arccos_kernel(X)
    assert K[0, 0] == pytest.approx(0.5) and K[3, 3] == pytest.approx(2.0)  # |x|^2 / 2
    assert K[0, 1] == pytest.approx(1 / (2 * np.pi))  # orthogonal: 1 / (2 pi)
    assert K[0, 2] == pytest.approx(0.0, abs=1e-15)  # opposite: relu(z) relu(-z) = 0
    np.testing.assert_allclose(K, K.T)


def test_monte_carlo_agrees_within_its_error():
    rng = np.random.default_rng(0)
    X = E.sphere(5, 3, rng)
    Kmc, se = E.mc_kernel(X, 200_000, rng)
    assert np.all(np.abs(Kmc - E.arccos_kernel(X)) < 5 * se)


def test_a_wrong_closed_form_is_caught():
    """The finding's check can fail: the linear kernel x.y / 4 in place of the arc-cosine one gives large z."""
    rng = np.random.default_rng(1)
    X = E.sphere(5, 3, rng)
    Kmc, se = E.mc_kernel(X, 200_000, rng)
    assert np.max(np.abs(Kmc - X @ X.T / 4) / se) > 5
'''

NOTEBOOK_PY = '''# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ntkrepro)
#     language: python
#     name: ntkrepro
# ---

# %% [markdown]
# # Claim __NUMBER__ — __TITLE__ (skeleton)
#
# **Paper.** TODO: the claim's paper (authors, title, venue, arXiv link). The example below follows Y. Cho,
# L. K. Saul, *Kernel Methods for Deep Learning*, NeurIPS 2009.
#
# **Claim.** TODO: the claim in one paragraph. The example: the Monte Carlo estimate of the ReLU random-features
# kernel $k(x,y)=\\mathbb E_w[\\mathrm{relu}(w\\cdot x)\\,\\mathrm{relu}(w\\cdot y)]$, $w\\sim N(0,I_d)$, agrees
# with the arc-cosine closed form $|x||y|(\\sin t+(\\pi-t)\\cos t)/(2\\pi)$, $t$ the angle between $x$ and $y$.
#
# **What is reconstructed.** TODO: what had to be reconstructed where the paper's text was not available. This
# skeleton was written by `python -m ntkrepro new __ID__`; no paper number is claimed.

# %% tags=["parameters"]
# Parameters. None = take the value from the profile ("smoke": seconds, "full": the paper-scale figure).
profile = "smoke"
seed = None
output_dir = None
stage_dir = None  # set by `python -m ntkrepro run` (its staging folder); None: write to output_dir
n = None       # points on the unit sphere
d = None       # input dimension
m_list = None  # Monte Carlo sample sizes (the check reads the largest)

# %%
import numpy as np

from ntkrepro.claims.__ID__ import figures as F, science as E
from ntkrepro.notebook import start

P, run = start("__ID__", globals())  # validates every knob before any compute
rng = np.random.default_rng(P.seed)
dict(P)

# %% [markdown]
# ## 1. Monte Carlo against the closed form
#
# For each $m$ of `m_list`, $m$ random features $w_r\\sim N(0,I_d)$ give the estimate
# $\\hat k(x,y)=\\frac1m\\sum_r\\mathrm{relu}(w_r\\cdot x)\\,\\mathrm{relu}(w_r\\cdot y)$ and its standard error;
# its error should fall like $m^{-1/2}$.

# %%
res = E.study(P, rng)
run.save(F.convergence(res, P), "convergence")
{m: {k: v for k, v in r.items() if not k.startswith("_")} for m, r in res["by_m"].items()}

# %% [markdown]
# ## Checks and verdict

# %%
metrics = E.collect(res, P)
run.conclude(metrics);

# %% [markdown]
# ## Reading the result
#
# The verdict, the findings table and the reading above are generated from this run's numbers; every gate is
# declared in `ntkrepro/claims/__ID__/claim.py`. What would falsify each finding:
#
# - **F1** (Monte Carlo agrees with the closed form): a pair of points whose estimate lies more than 5 standard
#   errors from the closed form at the largest $m$ (`mc_matches_closed_form`). A wrong closed form (e.g. the
#   linear kernel $x\\cdot y/4$) gives a $z$ that grows like $\\sqrt m$, so the check can fail.
'''

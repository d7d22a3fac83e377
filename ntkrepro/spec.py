"""The types of the findings ledger: a leaf module (it imports no other part of ntkrepro but
:mod:`ntkrepro.params` and :mod:`ntkrepro.layout`, which says where a run's outputs go). Each claim's
declaration (``ntkrepro/claims/<id>/claim.py``) builds a :class:`Claim` from these; :mod:`ntkrepro.registry`
collects the claims.

A claim lists the paper's **findings** it tests (:class:`Finding`) and its **checks**
(:class:`CheckSpec`). A check has a kind:

- ``implementation``: our code against a closed form, Monte Carlo or an independent
  implementation. A failure means the code is wrong, not the paper.
- ``finding``: evidence for or against one finding.
- ``control``: the finding's premise removed; it must come out negative, and it must be able not to.
- ``premise``: a condition the finding's test rests on (e.g. the arms converged); for the verdict it
  behaves like a control: if it fails, is inconclusive or is not run, the finding is ``inconclusive``.

A check that compares methods or models declares its ``arms`` and what is held equal between them
(``matched``); an ``interval>`` check needs ``min_seeds`` (default 5) seeds to decide; a censored
value (an arm that never reached its target) makes the check inconclusive unless ``censoring``
says how it is handled; ``seeds_param`` names the parameter that sets the number of seeds.
A value chosen by a search (a learning rate, a ridge, an epsilon, a stopping epoch) is declared
as a :class:`ChoiceSpec`: its grid, the value chosen and what it was chosen on; a choice at the
edge of its grid makes the findings it serves inconclusive unless the edge is a declared bound.

Every check reads one value from the run's metrics (``value(metrics, params)``) and compares it
with a :class:`Gate` declared here, before any run. Every check also declares two metric
overrides, ``passes_with`` and ``fails_with`` (dotted paths into the metrics, ``*`` for every
key at that level): ``tests/test_ledger.py`` applies them to a real run's metrics and requires
the check to pass under the first and fail under the second, so no check can be one that
cannot fail.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from ntkrepro.layout import default_output_dir
from ntkrepro.params import ParamSet
from ntkrepro.provenance import REPO_ROOT

KINDS = ("implementation", "finding", "control", "premise")
DEFAULT_MIN_SEEDS = 5  # interval gates decide only from this many seeds
OUTCOMES = ("pass", "fail", "inconclusive", "not run")
FINDING_VERDICTS = ("reproduced", "not reproduced", "inconclusive", "not run")
SOURCES = ("abstract", "paper", "reconstruction")


@dataclass(frozen=True)
class Paper:
    authors: str
    title: str
    year: int
    arxiv: str
    venue: str = ""

    @property
    def url(self) -> str:
        return f"https://arxiv.org/abs/{self.arxiv}"

    @property
    def short(self) -> str:
        return f"{self.authors} {self.year}"


@dataclass(frozen=True)
class Finding:
    """One finding of the paper: ``id`` (F1, F2, ...), one sentence, and where it comes from
    (``abstract``, ``paper`` with a section in ``where``, or ``reconstruction``)."""

    id: str
    statement: str
    source: str
    where: str = ""
    not_run_reason: str = ""  # set when no check of this profile tests it (the reason is shown)
    proved: bool = False  # a case proved in the notes: checked for consistency, counted apart

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"finding {self.id}: source must be one of {SOURCES}, got {self.source!r}")


def is_finite_number(x: Any) -> bool:
    """A real number (not a bool) that is finite."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


@dataclass(frozen=True)
class Gate:
    """A pre-declared decision rule.

    ``op`` is one of
    - ``"<"`` / ``">"``: value strictly below / above ``bound`` (a tie fails);
    - ``"close"``: |value - ``bound``| <= ``tol`` (``relative``: times |bound|);
    - ``"between"``: ``bound`` <= value <= ``high``;
    - ``"true"``: value is True;
    - ``"empty"``: value is an empty list (the list names the offending cases);
    - ``"interval>"``: value is ``{mean, ci_low, ci_high, ...}``; pass when ``ci_low > bound``,
      fail when ``ci_high < effect`` (the interval excludes the effect of interest), otherwise
      inconclusive (the test cannot decide at this size). A tie is never a pass.
    """

    op: str
    bound: Any = None
    tol: float | None = None
    high: float | None = None
    relative: bool = False
    effect: float | None = None

    def __post_init__(self) -> None:
        if self.op == "interval>" and not (is_finite_number(self.bound) and is_finite_number(self.effect)):
            raise ValueError("an interval> gate declares a finite null (bound) and effect of interest (effect), "
                             f"got bound={self.bound!r}, effect={self.effect!r}")

    def outcome(self, value: Any) -> str:
        op = self.op
        if op == "true":
            return "pass" if value is True else "fail"
        if op == "empty":
            return "pass" if isinstance(value, (list, tuple)) and len(value) == 0 else "fail"
        if op == "interval>":
            lo, hi = (value or {}).get("ci_low"), (value or {}).get("ci_high")
            if not (is_finite_number(lo) and is_finite_number(hi)):
                return "fail"
            if lo > self.bound:
                return "pass"
            return "fail" if hi < self.effect else "inconclusive"
        if isinstance(value, float) and math.isinf(value) and op in ("<", ">"):
            # an infinite value (e.g. a ratio with a level one arm never reached) is compared as it is
            return "pass" if (value < self.bound if op == "<" else value > self.bound) else "fail"
        if not is_finite_number(value):
            return "fail"
        if op == "<":
            ok = value < self.bound
        elif op == ">":
            ok = value > self.bound
        elif op == "close":
            scale = abs(self.bound) if self.relative else 1.0
            ok = abs(value - self.bound) <= self.tol * scale
        elif op == "between":
            ok = self.bound <= value <= self.high
        else:
            raise ValueError(f"unknown gate op {op!r}")
        return "pass" if ok else "fail"

    def describe(self) -> str:
        op = self.op
        if op in ("<", ">"):
            return f"{op} {self.bound:g}"
        if op == "close":
            return f"{self.bound:g} ± {self.tol:.3g}" + (" (relative)" if self.relative else "")
        if op == "between":
            return f"in [{self.bound:g}, {self.high:g}]"
        if op == "true":
            return "True"
        if op == "empty":
            return "[] (no case)"
        return (f"CI low > {self.bound:g} (pass); CI high < {self.effect:g} (fail); else inconclusive")

    def as_dict(self) -> dict[str, Any]:
        d = {"op": self.op, "bound": self.bound}
        for k in ("tol", "high", "effect"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if self.relative:
            d["relative"] = True
        return d


def below(x: float) -> Gate:
    return Gate("<", x)


def above(x: float) -> Gate:
    return Gate(">", x)


def close(x: float, tol: float, relative: bool = False) -> Gate:
    return Gate("close", x, tol=tol, relative=relative)


def between(lo: float, hi: float) -> Gate:
    return Gate("between", lo, high=hi)


def is_true() -> Gate:
    return Gate("true")


def no_cases() -> Gate:
    return Gate("empty")


def interval_above(null: float, effect: float) -> Gate:
    """Paired effect: pass when the CI lies above ``null``; fail when it lies below ``effect``."""
    return Gate("interval>", null, effect=effect)


Overrides = Mapping[Any, Any]  # dotted path (str) or tuple of keys -> value or callable


@dataclass(frozen=True)
class CheckSpec:
    """One check: its kind, its finding, its pre-declared gate, how its value is read from the
    metrics, and the metric overrides under which it must pass and must fail.

    ``profiles``: the profiles it runs in; ``smoke_must_pass``: whether the smoke tests require it
    to pass there (small sizes can make a full-scale effect unreachable; it is still reported);
    ``smoke_decides``: False for a check the smoke sizes cannot decide either way (a trend over sizes
    the smoke profile shrinks, an effect below a smoke-sized run's resolution; declared from the smoke
    and full records disagreeing, a referee's point about smoke-sized claim maps): in the smoke profile
    its pass or fail is recorded as ``inconclusive``, with the outcome it would have had in the reason."""

    name: str
    kind: str
    description: str
    gate: Gate
    value: Callable[[Mapping[str, Any], Mapping[str, Any]], Any]
    passes_with: Overrides
    fails_with: Overrides
    finding: str | None = None
    profiles: tuple[str, ...] = ("smoke", "full")
    smoke_must_pass: bool = True
    smoke_decides: bool = True
    # fair comparisons (issue 24): what is compared, what is held equal between the arms
    arms: tuple[str, ...] = ()
    matched: tuple[str, ...] = ()
    min_seeds: int | None = None  # interval> gates: n below which the outcome is inconclusive (default 5)
    censoring: str = ""  # how a censored value is handled; "" = a censored value makes the check inconclusive
    seeds_param: str = ""  # the claim parameter that sets the number of seeds of this check

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"check {self.name}: kind must be one of {KINDS}, got {self.kind!r}")
        if (self.kind == "implementation") != (self.finding is None):
            raise ValueError(f"check {self.name}: an implementation check has no finding; the others have one")
        for field in ("arms", "matched"):
            if isinstance(getattr(self, field), str):
                raise ValueError(f"check {self.name}: {field} is a tuple of strings, not a string")
        if self.arms and not self.matched:
            raise ValueError(f"check {self.name}: a comparison (arms {self.arms}) must declare what is matched "
                             "between its arms")
        if self.arms and len(self.arms) < 2:
            raise ValueError(f"check {self.name}: a comparison has at least two arms, got {self.arms}")
        if not self.smoke_decides and self.smoke_must_pass:
            raise ValueError(f"check {self.name}: a check smoke sizes do not decide cannot be required to pass there")
        if self.min_seeds is not None and (self.gate.op != "interval>" or self.min_seeds < 2):
            raise ValueError(f"check {self.name}: min_seeds applies to interval> gates and must be >= 2")

    @property
    def required_seeds(self) -> int | None:
        """The seeds an ``interval>`` gate needs to decide (None for other gates)."""
        if self.gate.op != "interval>":
            return None
        return self.min_seeds if self.min_seeds is not None else DEFAULT_MIN_SEEDS


@dataclass(frozen=True)
class ChoiceSpec:
    """A value chosen by a search (learning rate, ridge, epsilon, stopping epoch, width): ``grid`` and
    ``chosen`` read the searched values and the chosen one (a value, or a list of values, e.g. one per
    seed or split) from the metrics, like :attr:`CheckSpec.value`; ``selected_on`` says what it was
    chosen on; ``findings`` the findings it serves. A choice at the edge of its grid (the smallest or
    the largest value) makes those findings inconclusive unless ``edge_is_bound`` (the edge is a
    physical bound, e.g. the stability limit)."""

    name: str
    arm: str
    grid: Callable[[Mapping[str, Any], Mapping[str, Any]], Any]
    chosen: Callable[[Mapping[str, Any], Mapping[str, Any]], Any]
    selected_on: str
    findings: tuple[str, ...]
    edge_is_bound: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.findings, str) or not self.findings:
            raise ValueError(f"choice {self.name}: findings is a non-empty tuple of finding ids")
        if not self.selected_on.strip():
            raise ValueError(f"choice {self.name}: say what the value was selected on")


@dataclass(frozen=True)
class FigureSpec:
    """One figure of a claim; ``when``: the boolean parameter that makes the notebook draw it ("" = always)."""

    stem: str
    caption: str
    when: str = ""


@dataclass(frozen=True)
class Claim:
    id: str
    number: int
    title: str
    paper: Paper
    notebook: str  # file name inside notebooks/
    figures: tuple[FigureSpec, ...]
    params: ParamSet
    findings: tuple[Finding, ...]
    checks: tuple[CheckSpec, ...]
    key_metric: tuple[str, str]  # (label, dotted path into results["metrics"])
    reconstructed: str  # what is reconstructed where the paper's text was not available
    nondeterministic: tuple[str, ...] = ()  # dotted metric paths that are timings (vary run to run)
    # the claim map of `make maps`: a smoke-profile sweep {"axes": {name: [values]}, "fixed": {...}}
    sweep_map: Mapping[str, Any] | None = None
    choices: tuple[ChoiceSpec, ...] = ()  # the values chosen by a search, with their grids
    seeds_param: str = ""  # default seeds parameter of the claim's interval checks
    # the claim's typed metrics record (ntkrepro.metrics.Metrics subclass, in the claim's metrics.py): checks,
    # choices and the results contract read it; None: the checks read the metrics mapping
    metrics_type: type | None = None

    def __post_init__(self) -> None:
        ids = [f.id for f in self.findings]
        for c in self.checks:
            if c.finding is not None and c.finding not in ids:
                raise ValueError(f"claim {self.id}: check {c.name} names unknown finding {c.finding}")
        names = [c.name for c in self.checks]
        if len(names) != len(set(names)):
            raise ValueError(f"claim {self.id}: duplicate check names")
        for ch in self.choices:
            unknown = [f for f in ch.findings if f not in ids]
            if unknown:
                raise ValueError(f"claim {self.id}: choice {ch.name} names unknown findings {unknown}")
        cnames = [ch.name for ch in self.choices]
        if len(cnames) != len(set(cnames)):
            raise ValueError(f"claim {self.id}: duplicate choice names")
        pnames = set(self.params.names)
        for f in self.figures:
            if f.when and f.when not in pnames:
                raise ValueError(f"claim {self.id}: figure {f.stem} is drawn when {f.when!r}, not a parameter")
        for sp in [c.seeds_param for c in self.checks] + [self.seeds_param]:
            if sp and sp not in pnames:
                raise ValueError(f"claim {self.id}: seeds_param {sp!r} is not a parameter of the claim")

    @property
    def notebook_path(self) -> Path:
        return REPO_ROOT / "notebooks" / self.notebook

    def default_output_dir(self, profile: str) -> Path:
        """Where a run writes when no output directory is given (:func:`ntkrepro.layout.default_output_dir`)."""
        return default_output_dir(self.id, profile)

    @property
    def figure_stems(self) -> tuple[str, ...]:
        return tuple(f.stem for f in self.figures)

    def expected_figures(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        """The stems a run with the resolved ``params`` draws (a figure with ``when`` needs that flag on)."""
        return tuple(f.stem for f in self.figures if not f.when or params.get(f.when))

    def check_specs(self, profile: str) -> tuple[CheckSpec, ...]:
        return tuple(c for c in self.checks if profile in c.profiles)

    def check_names(self, profile: str) -> tuple[str, ...]:
        return tuple(c.name for c in self.check_specs(profile))

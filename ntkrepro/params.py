"""Typed parameter specifications, profiles and validation.

Every claim declares its knobs as :class:`Param` objects in its registry entry. A profile
(``smoke`` or ``full``) supplies a value for each knob; a value passed explicitly (papermill
``-p``, the CLI, a YAML file) overrides it. Validation happens before any compute and raises a
``ValueError`` that names the parameter and the allowed values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

PROFILES = ("smoke", "full")


@dataclass(frozen=True)
class Param:
    """One notebook knob: its kind, allowed range and a one-line description."""

    name: str
    kind: str  # int | float | choice | int_list | float_list | choice_list | bool | path
    doc: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    min_len: int = 1

    def allowed(self) -> str:
        if self.kind in ("choice", "choice_list"):
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "bool":
            return "True or False"
        if self.kind == "path":
            return "a directory path or None"
        lo = "-inf" if self.low is None else repr(self.low)
        hi = "inf" if self.high is None else repr(self.high)
        what = {"int": "an integer", "float": "a number", "int_list": "a list of integers",
                "float_list": "a list of numbers"}[self.kind]
        extra = f" (at least {self.min_len} values)" if self.kind.endswith("list") else ""
        return f"{what} in [{lo}, {hi}]{extra}"

    def _fail(self, value: Any) -> ValueError:
        return ValueError(f"parameter {self.name!r}={value!r} is invalid: expected {self.allowed()}")

    def _scalar(self, value: Any, kind: str) -> Any:
        if kind == "int":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
                raise self._fail(value)
            value = int(value)
        elif kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise self._fail(value)
            value = float(value)
        elif kind == "choice":
            if value not in self.choices:
                raise self._fail(value)
            return value
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise self._fail(value)
        return value

    def validate(self, value: Any) -> Any:
        """Return the normalised value or raise ``ValueError`` naming this parameter."""
        if self.kind == "bool":
            if not isinstance(value, bool):
                raise self._fail(value)
            return value
        if self.kind == "path":
            if value is None:
                return None
            if not isinstance(value, (str, Path)) or str(value) == "":
                raise self._fail(value)
            return str(value)
        if self.kind.endswith("_list"):
            if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) < self.min_len:
                raise self._fail(value)
            return [self._scalar(v, self.kind[:-5]) for v in value]
        return self._scalar(value, self.kind)


def integer(name: str, low: int | None, high: int | None, doc: str) -> Param:
    return Param(name, "int", doc, low, high)


def real(name: str, low: float | None, high: float | None, doc: str) -> Param:
    return Param(name, "float", doc, low, high)


def choice(name: str, choices: Sequence[Any], doc: str) -> Param:
    return Param(name, "choice", doc, choices=tuple(choices))


def int_list(name: str, low: int | None, high: int | None, doc: str, min_len: int = 1) -> Param:
    return Param(name, "int_list", doc, low, high, min_len=min_len)


def real_list(name: str, low: float | None, high: float | None, doc: str, min_len: int = 1) -> Param:
    return Param(name, "float_list", doc, low, high, min_len=min_len)


def choice_list(name: str, choices: Sequence[Any], doc: str, min_len: int = 1) -> Param:
    return Param(name, "choice_list", doc, choices=tuple(choices), min_len=min_len)


def boolean(name: str, doc: str) -> Param:
    return Param(name, "bool", doc)


COMMON: tuple[Param, ...] = (
    choice("profile", PROFILES, "parameter set: 'smoke' (seconds, CI) or 'full' (paper-scale figure)"),
    integer("seed", 0, 2**31 - 1, "master random seed"),
    Param("output_dir", "path", "where results.json and figures go (None: the profile's default)"),
)


class Params(dict):
    """Resolved parameters: a dict that also allows attribute access (``P.widths``)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as err:
            raise AttributeError(name) from err

    def replace(self, **changes: Any) -> "Params":
        """A copy with ``changes`` applied (for one experiment that varies a knob; not re-validated)."""
        return Params({**self, **changes})


@dataclass(frozen=True)
class ParamSet:
    """The knobs of one claim, its profiles and its cross-parameter rules."""

    params: tuple[Param, ...]
    profiles: Mapping[str, Mapping[str, Any]]
    rules: Callable[[Params], None] | None = None
    by_name: dict[str, Param] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {p.name: p for p in (*COMMON, *self.params)})

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.by_name)

    def resolve(self, explicit: Mapping[str, Any], default_output_dir: Callable[[str], Path]) -> Params:
        """Merge the profile's values with explicit ones, then validate everything."""
        unknown = sorted(set(explicit) - set(self.by_name))
        if unknown:
            raise ValueError(f"unknown parameter(s) {unknown}; allowed: {sorted(self.by_name)}")
        profile = explicit.get("profile") or "smoke"
        self.by_name["profile"].validate(profile)
        merged: dict[str, Any] = {"seed": 0, "output_dir": None, **self.profiles[profile]}
        merged.update({k: v for k, v in explicit.items() if v is not None})
        merged["profile"] = profile
        missing = [n for n in self.by_name if n not in merged]
        if missing:
            raise ValueError(f"profile {profile!r} gives no value for {missing}")
        out = Params({n: self.by_name[n].validate(merged[n]) for n in self.by_name})
        if out["output_dir"] is None:
            out["output_dir"] = str(default_output_dir(profile))
        if self.rules is not None:
            self.rules(out)
        return out

    def check(self, resolved: Mapping[str, Any]) -> Params:
        """Read a set that :meth:`resolve` produced (the runner hands it to the notebook): every name
        present, none unknown, each value of its kind; no profile is applied and nothing is merged.
        Raises ``ValueError`` naming the parameter."""
        unknown = sorted(set(resolved) - set(self.by_name))
        missing = [n for n in self.by_name if n not in resolved]
        if unknown or missing:
            raise ValueError(f"resolved parameters: unknown {unknown}, missing {missing}")
        out = Params({n: self.by_name[n].validate(resolved[n]) for n in self.by_name})
        if out["output_dir"] is None:
            raise ValueError("resolved parameters: 'output_dir' is None (resolve() sets it)")
        return out


def require(condition: bool, name: str, message: str) -> None:
    """Cross-parameter rule helper: raise ``ValueError`` naming ``name`` unless ``condition``."""
    if not condition:
        raise ValueError(f"parameter {name!r}: {message}")


def _yaml_position(err: Exception) -> str:
    """``line L, column C: problem`` from a PyYAML error (1-based, as editors count)."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or getattr(err, "context", None) or str(err).splitlines()[0]
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown position"
    return f"{where}: {problem}"


def parse_value(name: str, text: str) -> Any:
    """A ``-p NAME VALUE`` value parsed as YAML (``"[64, 256]"`` -> ``[64, 256]``; numbers, booleans and
    lists). Raises ``ValueError`` naming the parameter and the position when ``text`` is not valid YAML."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"-p {name} {text!r} is not valid YAML ({_yaml_position(err)})") from None


def read_params_file(path: str | Path) -> dict[str, Any]:
    """The parameter overrides in a YAML file (a mapping; an empty file gives none). Raises
    ``ValueError`` naming the file (and the position) when it is missing, unreadable, not valid YAML or
    not a mapping of names to values."""
    import yaml

    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise ValueError(f"params file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"params file {path}: cannot be read ({getattr(err, 'strerror', None) or err})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"params file {path}: not valid YAML ({_yaml_position(err)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ValueError(f"params file {path}: expected a mapping of parameter names to values, "
                         f"got {type(data).__name__}")
    return data

"""Typed metrics: each claim's results are a tree of frozen dataclasses (the optax way: small typed
records), built by the claim's science and read by its checks through attributes. ``results.json``'s
``metrics`` is their serialization and keeps the JSON names (a field's name *is* its JSON key).

A claim declares its root type (``Claim(metrics_type=...)``, defined in the claim's ``metrics.py``,
which imports neither jax nor the science). :func:`parse` turns a ``metrics`` mapping (from a run or
from a committed ``results.json``) into that type and fails with the path of the first key that is
missing, unexpected or of the wrong kind, so a renamed or missing metric fails in ``make unit`` (the
committed records are parsed there), not as a check that "could not be evaluated" at run time.

Field annotations understood by :func:`parse`:

- a :class:`Metrics` subclass: a JSON object with exactly its fields (fields declared with
  :func:`optional` may be absent: quantities a profile or a flag does not produce);
- ``dict[str, X]``: an object whose keys are data (a table keyed by width, seed, ``c``...);
- ``list[X]`` / ``tuple[X, ...]``: an array;
- ``float``, ``int``, ``bool``, ``str``: a leaf; every leaf may be ``null`` (JSON's spelling of a run
  that diverged or produced no number: the ledger reports a check that reads it as not run);
  ``float`` accepts integers;
- ``Any`` (or ``dict[str, Any]``): a free-form subtree, kept as parsed JSON.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import sys
import types
import typing
from typing import Any, Mapping, TypeVar

T = TypeVar("T", bound="Metrics")

_OPTIONAL = "ntkrepro.metrics.optional"


class MetricsError(ValueError):
    """A metrics mapping does not match its claim's metrics type (the message names the path)."""


def optional(**kw: Any) -> Any:
    """A field that a profile or flag may not produce: absent in JSON <-> ``None`` here (omitted again
    by :meth:`Metrics.to_json`; one parsed from an explicit ``null`` is written back as ``null``)."""
    return dataclasses.field(default=None, metadata={_OPTIONAL: True}, **kw)


@dataclasses.dataclass(frozen=True)
class Metrics:
    """Base of every metrics record (subclass with ``@dataclasses.dataclass(frozen=True)``)."""

    @classmethod
    def from_json(cls: type[T], data: Mapping[str, Any], path: str = "metrics") -> T:
        return _parse(cls, data, path)

    def to_json(self) -> dict[str, Any]:
        """The JSON mapping (field names as keys; absent optional fields omitted)."""
        out: dict[str, Any] = {}
        nulls = getattr(self, "_json_nulls", frozenset())
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if v is None and f.metadata.get(_OPTIONAL) and f.name not in nulls:
                continue
            out[f.name] = _dump(v)
        return out

    def __getitem__(self, key: str) -> Any:
        raise TypeError(f"{type(self).__name__} is a typed metrics record: read .{key}, not [{key!r}]")


def _dump(v: Any) -> Any:
    if isinstance(v, Metrics):
        return v.to_json()
    if isinstance(v, Mapping):
        return {str(k): _dump(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_dump(x) for x in v]
    return v


@functools.lru_cache(maxsize=None)  # one entry per record class (a fixed, small set)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))


def _kind(x: Any) -> str:
    return type(x).__name__ if x is not None else "null"


def _parse(tp: Any, x: Any, path: str) -> Any:
    if tp is Any:
        return x
    if isinstance(tp, type) and issubclass(tp, Metrics):
        if not isinstance(x, Mapping):
            raise MetricsError(f"{path}: expected an object ({tp.__name__}), got {_kind(x)}")
        hints = _hints(tp)
        fields = {f.name: f for f in dataclasses.fields(tp)}
        unknown = sorted(set(x) - set(fields))
        if unknown:
            raise MetricsError(f"{path}: unexpected key {unknown[0]!r} (not a field of {tp.__name__}; "
                               "a renamed metric? declare it in the claim's metrics.py)")
        kw = {}
        for name, f in fields.items():
            if name not in x:
                if f.metadata.get(_OPTIONAL):
                    continue
                raise MetricsError(f"{path}.{name}: missing (a field of {tp.__name__})")
            kw[name] = _parse(hints[name], x[name], f"{path}.{name}")
        obj = tp(**kw)
        nulls = frozenset(n for n, f in fields.items() if f.metadata.get(_OPTIONAL) and n in x and x[n] is None)
        if nulls:  # an optional field present as null is written back as null, not dropped
            object.__setattr__(obj, "_json_nulls", nulls)
        return obj
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Union or origin is types.UnionType:  # X | None
        if x is None:
            return None
        inner = [a for a in args if a is not type(None)]
        return _parse(inner[0], x, path) if len(inner) == 1 else x
    if x is None:
        return None
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(x, Mapping):
            raise MetricsError(f"{path}: expected an object, got {_kind(x)}")
        val = args[1] if args else Any
        return {k: _parse(val, v, f"{path}.{k}") for k, v in x.items()}
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(x, (list, tuple)):
            raise MetricsError(f"{path}: expected an array, got {_kind(x)}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(args) != len(x):
                raise MetricsError(f"{path}: expected {len(args)} items, got {len(x)}")
            return tuple(_parse(a, v, f"{path}[{i}]") for i, (a, v) in enumerate(zip(args, x)))
        item = args[0] if args else Any
        out = [_parse(item, v, f"{path}[{i}]") for i, v in enumerate(x)]
        return tuple(out) if origin is tuple else out
    if tp is float:
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise MetricsError(f"{path}: expected a number, got {_kind(x)}")
        return float(x)
    if tp is int:
        if isinstance(x, bool) or not isinstance(x, int):
            if isinstance(x, float) and math.isfinite(x) and x == int(x):
                return int(x)
            raise MetricsError(f"{path}: expected an integer, got {_kind(x)}")
        return x
    if tp is bool:
        if not isinstance(x, bool):
            raise MetricsError(f"{path}: expected true/false, got {_kind(x)}")
        return x
    if tp is str:
        if not isinstance(x, str):
            raise MetricsError(f"{path}: expected a string, got {_kind(x)}")
        return x
    raise MetricsError(f"{path}: annotation {tp!r} is not supported by ntkrepro.metrics")


def parse(metrics_type: type[T] | None, metrics: Any) -> Any:
    """``metrics`` as ``metrics_type`` (a typed record passes through; a mapping is parsed); the
    mapping itself when the claim declares no type."""
    if metrics_type is None or isinstance(metrics, Metrics):
        return metrics
    return metrics_type.from_json(metrics)


def to_json(metrics: Any) -> Any:
    """A typed record's JSON mapping; anything else as it is."""
    return metrics.to_json() if isinstance(metrics, Metrics) else metrics

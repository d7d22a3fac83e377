"""Draft a claim's typed metrics record (``ntkrepro/claims/<id>/metrics.py``) from its results files.

    .venv/bin/python scripts/metrics_skeleton.py <results.json> [<results.json> ...] > draft.py

Merges the ``metrics`` of every file given (e.g. the full and the smoke record): a key absent from some
becomes an :func:`ntkrepro.metrics.optional` field; an object whose keys are not identifiers (``"16"``,
``"0.3"``, ``"d=8"``) becomes a table ``dict[str, Row]``. The draft is a start: name the classes, turn
tables keyed by identifiers into ``dict[str, ...]`` by hand, and write the docstrings (what each field
is, its shape and its equation).
"""
from __future__ import annotations

import json
import keyword
import sys
from typing import Any


def camel(s: str) -> str:
    out = "".join(p[:1].upper() + p[1:] for p in s.replace("-", "_").split("_") if p)
    return out if out and out[0].isalpha() else "T" + out


def is_record(objs: list[dict]) -> bool:
    keys = {k for o in objs for k in o}
    return bool(keys) and all(k.isidentifier() and not keyword.iskeyword(k) for k in keys) and not all(
        k.lstrip("kdnmMNs").isdigit() for k in keys)


class Gen:
    def __init__(self) -> None:
        self.classes: dict[str, str] = {}  # name -> source
        self.by_body: dict[str, str] = {}

    def typ(self, values: list[Any], name: str) -> str:
        vals = [v for v in values if v is not None]
        if not vals:
            return "Any"
        if all(isinstance(v, bool) for v in vals):
            return "bool"
        if all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
            return "int"
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
            return "float"
        if all(isinstance(v, str) for v in vals):
            return "str"
        if all(isinstance(v, list) for v in vals):
            return f"list[{self.typ([x for v in vals for x in v], name + '_item')}]"
        if all(isinstance(v, dict) for v in vals):
            if is_record(vals):
                return self.record(vals, name)
            return f"dict[str, {self.typ([x for v in vals for x in v.values()], name + '_row')}]"
        return "Any"

    def record(self, objs: list[dict], name: str) -> str:
        keys: list[str] = []
        for o in objs:
            keys += [k for k in o if k not in keys]
        lines = []
        for k in keys:
            t = self.typ([o[k] for o in objs if k in o], k)
            if all(k in o for o in objs):
                lines.append(f"    {k}: {t}")
            else:
                lines.append(f"    {k}: {t} | None = optional()")
        lines.sort(key=lambda ln: "= optional()" in ln)  # fields with defaults last
        body = "\n".join(lines)
        if body in self.by_body:
            return self.by_body[body]
        cls = camel(name)
        while cls in self.classes:
            cls += "_"
        self.by_body[body] = cls
        self.classes[cls] = (f"@dataclass(frozen=True)\nclass {cls}(Metrics):\n    \"\"\"TODO.\"\"\"\n\n{body}\n")
        return cls


def main(paths: list[str]) -> None:
    metrics = [json.load(open(p))["metrics"] for p in paths]
    g = Gen()
    g.record(metrics, "metrics_root")
    print('"""Typed metrics of this claim (see ntkrepro/metrics.py). Draft by scripts/metrics_skeleton.py."""')
    print("from __future__ import annotations\n\nfrom dataclasses import dataclass\nfrom typing import Any\n")
    print("from ntkrepro.metrics import Metrics, optional\n")
    for src in g.classes.values():
        print()
        print(src)


if __name__ == "__main__":
    main(sys.argv[1:])

"""``make report``: a static, browsable report in ``build/report/index.html`` (no server), written
for a reader: per claim its findings and verdicts, the evidence as a table (check, value, gate,
outcome, what was held equal, n), stale records and changed gates flagged, the power of every
inconclusive finding and the command that would decide it, the verdicts by stack (the full record,
the committed smoke record of the pinned stack and any smoke runs of other stacks under
``build/verify/``), a reproducibility checklist generated from the record, every figure with its
caption and the executed notebook (``figures/<claim>/notebook.ipynb``, converted to HTML).

Built from the registry and the committed records only; imports neither jax nor any claim's science.
"""
from __future__ import annotations

import html
import json
import shutil
from pathlib import Path
from typing import Any, Mapping

from ntkrepro.io import write_text
from ntkrepro.layout import BUILD_DIR, FIGURES_DIR, MAPS_DIR, map_record_path
from ntkrepro.readme import latest_results
from ntkrepro.registry import CLAIMS

REPORT_DIR = BUILD_DIR / "report"
NOTEBOOK_HTML = BUILD_DIR / "notebooks" / "full"  # make figures on this machine (fallback)

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;width:100%}td,th{border:1px solid #ccc;padding:4px 8px;
vertical-align:top;text-align:left;font-size:0.92em}th{background:#f3f3f3}figure{margin:1.5em 0}
img{max-width:100%;border:1px solid #ddd}figcaption{font-size:0.92em;color:#444}
.reproduced,.pass{color:#1a7f37}.not-reproduced,.fail{color:#b42318}.inconclusive{color:#9a6700}
.not-run{color:#666}code{background:#f5f5f5;padding:0 3px}.flag{background:#fff4e5;border-left:4px solid #d4a72c;
padding:0.4em 0.8em;margin:0.8em 0}small{color:#555}"""


def _e(x: object) -> str:
    return html.escape(str(x))


def _cls(verdict: str) -> str:
    return verdict.replace(" ", "-")


def _fmt(v: Any) -> str:
    from ntkrepro.ledger import _fmt as ledger_fmt

    return ledger_fmt(v)


def _n(value: Any) -> str:
    if isinstance(value, dict):
        for k in ("n", "n_seeds"):
            if k in value:
                return str(value[k])
    return ""


def _matched(row: Mapping[str, Any]) -> str:
    m = row.get("matched")
    if not m:
        return ""
    arms = row.get("arms")
    text = ", ".join(m) if isinstance(m, (list, tuple)) else str(m)
    return text + (f" <small>({_e(' vs '.join(arms))})</small>" if arms else "") if arms else _e(text)


def evidence_table(rows: list[Mapping[str, Any]]) -> str:
    """check | value | gate | outcome | matched | n."""
    out = ["<table><tr><th>check</th><th>value</th><th>gate</th><th>outcome</th><th>matched</th><th>n</th></tr>"]
    for r in rows:
        out.append(f"<tr><td><code>{_e(r['name'])}</code><br><small>{_e(r.get('description', ''))}</small></td>"
                   f"<td>{_e(_fmt(r.get('value')))}</td><td>{_e(r.get('expected', ''))}</td>"
                   f"<td class='{_cls(r['outcome'])}'>{_e(r['outcome'])}"
                   f"{'<br><small>' + _e(r['reason']) + '</small>' if r.get('reason') else ''}</td>"
                   f"<td>{_matched(r)}</td><td>{_e(_n(r.get('value')))}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def changed_gates(claim: Any, res: Mapping[str, Any]) -> list[str]:
    """Checks whose declaration changed since the record was made (by gate fingerprint: see
    :func:`ntkrepro.ledger.changed_gates`)."""
    from ntkrepro import ledger

    return ledger.changed_gates(claim, res)


def inconclusive_block(res: Mapping[str, Any], claim_id: str) -> str:
    """For each inconclusive finding: its inconclusive checks, their power (minimum detectable effect),
    the seeds that would decide and the command to run."""
    items = []
    for f in res.get("findings", []):
        if f.get("verdict") != "inconclusive":
            continue
        rows = [r for r in res.get("checks", []) if r.get("finding") == f["id"] and r.get("outcome") != "pass"]
        parts = []
        for r in rows:
            bits = [f"<code>{_e(r['name'])}</code> = {_e(_fmt(r.get('value')))} ({_e(r['outcome'])})"]
            if r.get("reason"):
                bits.append(_e(r["reason"]))
            if r.get("mde") is not None:
                bits.append(f"minimum detectable effect at this n: {_e(_fmt(r['mde']))}")
            if r.get("seeds_to_decide") is not None:
                bits.append(f"seeds that would decide: {_e(r['seeds_to_decide'])}")
            cmd = r.get("decide_command")
            bits.append(f"decide with <code>{_e(cmd)}</code>" if cmd else
                        "power not recorded in this run (re-run the claim with the current ledger)")
            parts.append("<li>" + "; ".join(bits) + "</li>")
        reason = f.get("reason") or ""
        items.append(f"<li><b>{_e(f['id'])}</b> inconclusive{': ' + _e(reason) if reason else ''}"
                     f"<ul>{''.join(parts) or '<li>a control or premise did not pass</li>'}</ul></li>")
    if not items:
        return ""
    return f"<h3>Inconclusive findings: what would decide them</h3><ul>{''.join(items)}</ul>"


def _smoke_runs(claim_id: str) -> list[tuple[str, dict]]:
    """(label, results) of the smoke runs to show side by side: the committed smoke record, then any
    smoke run of another stack or Python under build/verify/ (labelled by its packages)."""
    from ntkrepro.record import VERIFY_DIR, record_path

    out: list[tuple[str, dict]] = []
    seen = set()
    rec = record_path(claim_id, "smoke")
    candidates = [("committed smoke record", rec)] + [
        (None, p / claim_id / "results.json") for p in sorted(VERIFY_DIR.glob("smoke*")) if p.is_dir()]
    for label, path in candidates:
        try:
            res = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        prov = res.get("provenance", {})
        tag = f"jax {prov.get('packages', {}).get('jax')}, Python {prov.get('python')}"
        if label is None:
            if tag in seen:
                continue
            label = f"smoke, {tag} (build/verify)"
        else:
            label = f"{label} ({tag})"
        seen.add(tag)
        out.append((label, res))
    return out


def verdicts_by_stack(claim: Any, full: Mapping[str, Any] | None) -> str:
    runs = ([("full record", full)] if full else []) + _smoke_runs(claim.id)
    if not runs:
        return ""
    head = "".join(f"<th>{_e(label)}</th>" for label, _ in runs)
    lines = [f"<table><tr><th>finding</th>{head}</tr>"]
    for f in claim.findings:
        cells = []
        for _, res in runs:
            v = next((x["verdict"] for x in res.get("findings", []) if x["id"] == f.id), "absent")
            cells.append(f"<td class='{_cls(v)}'>{_e(v)}</td>")
        lines.append(f"<tr><td>{_e(f.id)}</td>{''.join(cells)}</tr>")
    lines.append("</table>")
    return "<h3>Verdicts by profile and stack</h3>" + "\n".join(lines)


def checklist(claim: Any, res: Mapping[str, Any]) -> str:
    """A reproducibility checklist generated from the record."""
    p = res.get("provenance", {})
    params = res.get("parameters", {})
    seeds = {k: v for k, v in params.items() if "seed" in k}
    methods = sorted({r.get("interval_method") or (r.get("value") or {}).get("method")
                      for r in res.get("checks", []) if isinstance(r.get("value"), dict)
                      and (r.get("interval_method") or r["value"].get("method"))})
    intervals = [r["name"] for r in res.get("checks", []) if isinstance(r.get("value"), dict)
                 and {"ci_low", "ci_high"} <= set(r["value"])]
    if methods:
        bars = "; ".join(methods)
    elif intervals:
        bars = (f"{len(intervals)} check(s) read an interval ({', '.join(intervals[:4])}"
                f"{', ...' if len(intervals) > 4 else ''}); the method is named in each check's description")
    else:
        bars = "no interval-valued check (point comparisons against pre-declared gates)"
    omitted = [f"{f['id']}: {f.get('evidence', '')}" for f in res.get("findings", []) if f.get("verdict") == "not run"]
    profile = params.get("profile", p.get("profile"))
    other = [s.name for s in claim.checks if profile not in s.profiles]
    if other:
        omitted.append(f"checks not run in the {profile} profile: {', '.join(other)}")
    pk = ", ".join(f"{k} {v}" for k, v in (p.get("packages") or {}).items())
    items = [
        ("compute used", f"{p.get('wall_time_s', '?')} s wall on {p.get('platform', '?')}, Python {p.get('python', '?')}, "
                         f"profile {profile}"),
        ("seeds", ", ".join(f"{k} = {v}" for k, v in seeds.items()) or "none declared"),
        ("error bars", bars),
        ("omitted experiments", "; ".join(omitted) or "none"),
        ("package versions", pk or "?"),
        ("made at", f"commit {p.get('git_commit')}{' (uncommitted changes)' if p.get('git_dirty') else ''}, "
                    f"{p.get('timestamp')}; input hash {str(p.get('inputs_sha256', 'not recorded'))[:12]}"),
    ]
    rows = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in items)
    return f"<h3>Reproducibility checklist</h3><table>{rows}</table>"


def notebook_link(claim: Any, out: Path) -> str:
    """The executed notebook kept with the record, converted to HTML under the report."""
    src = FIGURES_DIR / claim.id / "notebook.ipynb"
    dest = out / "notebooks" / f"{claim.id}.html"
    if src.exists():
        if not dest.exists() or dest.stat().st_mtime < src.stat().st_mtime:
            import nbformat
            from nbconvert import HTMLExporter

            body, _ = HTMLExporter().from_notebook_node(nbformat.read(src, as_version=4))
            write_text(dest, body)
        return (f"<a href='notebooks/{_e(dest.name)}'>{_e(claim.notebook)} (executed)</a> "
                f"<small>(<a href='../../figures/{_e(claim.id)}/notebook.ipynb'>.ipynb</a>)</small>")
    nb_html = NOTEBOOK_HTML / Path(claim.notebook).with_suffix(".html")
    if nb_html.exists():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(nb_html, dest)
        return f"<a href='notebooks/{_e(dest.name)}'>{_e(claim.notebook)} (executed on this machine)</a>"
    return "no executed notebook in the record (<code>make figures FORCE=1</code> writes one)"


def build(out: Path = REPORT_DIR) -> Path:
    """Write the report; return the path of index.html."""
    from ntkrepro.record import status

    out.mkdir(parents=True, exist_ok=True)
    states = status(list(CLAIMS.values()))
    stale = [s for s in states if not s.up_to_date]
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>ntkrepro report</title>"
             f"<style>{STYLE}</style></head><body><h1>ntkrepro: claims, findings and figures</h1>"]
    if stale:
        parts.append("<div class='flag'><b>Stale records</b> (their inputs changed since they were made; "
                     "<code>python -m ntkrepro status</code>):<ul>"
                     + "".join(f"<li>{_e(s.line())}</li>" for s in stale) + "</ul></div>")
    else:
        parts.append("<p>Every committed record is up to date with its inputs (<code>python -m ntkrepro status</code>).</p>")
    parts.append("<table><tr><th>#</th><th>claim</th><th>paper</th><th>verdict (full profile)</th>"
                 "<th>executed notebook</th></tr>")
    sections = []
    for c in CLAIMS.values():
        res = latest_results(c)
        link = notebook_link(c, out)
        verdict = res["verdict"] if res else "not run yet"
        parts.append(f"<tr><td>{c.number}</td><td><a href='#{c.id}'>{_e(c.title)}</a></td>"
                     f"<td><a href='{_e(c.paper.url)}'>{_e(c.paper.short)}</a></td><td>{_e(verdict)}</td>"
                     f"<td>{link}</td></tr>")
        sec = [f"<h2 id='{c.id}'>{c.number}. {_e(c.title)}</h2>",
               f"<p><a href='{_e(c.paper.url)}'>{_e(c.paper.authors)}, <i>{_e(c.paper.title)}</i> "
               f"({c.paper.year})</a>. {_e(c.reconstructed)}</p>"]
        mine = [s for s in stale if s.what.startswith(f"{c.id} (")]
        if mine:
            sec.append("<div class='flag'><b>Stale:</b> " + "<br>".join(_e(s.line()) for s in mine) + "</div>")
        if res:
            gates = changed_gates(c, res)
            if gates:
                sec.append("<div class='flag'><b>Gates changed since this record was made:</b> "
                           f"{_e(', '.join(gates))}. The verdicts below used the recorded gates.</div>")
            sec.append(f"<p><b>Verdict (full profile):</b> {_e(res['verdict'])}</p>")
            sec.append("<table><tr><th>finding</th><th>verdict</th><th>statement</th></tr>")
            for f in res.get("findings", []):
                sec.append(f"<tr><td>{_e(f['id'])}</td><td class='{_cls(f['verdict'])}'>{_e(f['verdict'])}</td>"
                           f"<td>{_e(f['statement'])}<br><small>{_e(f['source'])}</small></td></tr>")
            sec.append("</table>")
            checks = res.get("checks", [])
            for f in res.get("findings", []):
                rows = [r for r in checks if r.get("finding") == f["id"]]
                if rows:
                    sec.append(f"<h4>Evidence for {_e(f['id'])} ({_e(f['verdict'])})</h4>" + evidence_table(rows))
                elif f.get("verdict") == "not run":
                    sec.append(f"<h4>{_e(f['id'])}: not run</h4><p>{_e(f.get('evidence', ''))}</p>")
            impl = [r for r in checks if r.get("kind") == "implementation"]
            if impl:
                sec.append("<details><summary>Implementation checks "
                           f"({sum(r['outcome'] == 'pass' for r in impl)} of {len(impl)} pass)</summary>"
                           + evidence_table(impl) + "</details>")
            sec.append(inconclusive_block(res, c.id))
        sec.append(verdicts_by_stack(c, res))
        for fig in c.figures:
            png = c.default_output_dir("full") / f"{fig.stem}.png"
            if png.exists():
                (out / "figures" / c.id).mkdir(parents=True, exist_ok=True)
                shutil.copy2(png, out / "figures" / c.id / png.name)
                sec.append(f"<figure><img src='figures/{c.id}/{_e(png.name)}' alt='{_e(fig.stem)}'>"
                           f"<figcaption><b>{_e(fig.stem)}</b>: {_e(fig.caption)}</figcaption></figure>")
        cmap = MAPS_DIR / f"{c.id}.png"
        if cmap.exists() and c.sweep_map:
            (out / "figures" / "maps").mkdir(parents=True, exist_ok=True)
            shutil.copy2(cmap, out / "figures" / "maps" / cmap.name)
            note = ""
            mrec = map_record_path(c.id)
            try:
                failed = json.loads(mrec.read_text()).get("failed_points") or []
                if failed:
                    note = f" {len(failed)} point(s) failed to run: {', '.join(failed)}."
            except (OSError, ValueError):
                note = " (no provenance beside this map: it predates input hashes)"
            sec.append(f"<figure><img src='figures/maps/{c.id}.png' alt='claim map'><figcaption><b>claim map</b>: "
                       f"each finding's verdict over a sweep of {_e(', '.join(c.sweep_map['axes']))} (smoke-sized "
                       f"points, <code>make maps</code>).{_e(note)}</figcaption></figure>")
        if res:
            sec.append(checklist(c, res))
        sections.append("\n".join(s for s in sec if s))
    parts.append("</table>")
    parts += sections
    parts.append("</body></html>")
    return write_text(out / "index.html", "\n".join(parts))

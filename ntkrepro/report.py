"""``make report``: a static, browsable report in ``build/report/index.html`` (no server): the
claims table with findings and verdicts, every figure with its caption, links to each executed
notebook's HTML, and the provenance of each run. Built from the registry and the full-profile
results in ``figures/``; the executed notebooks come from ``build/notebooks/full/`` when
``make figures`` has run on this machine."""
from __future__ import annotations

import html
import shutil
from pathlib import Path

from ntkrepro.io import write_text
from ntkrepro.provenance import REPO_ROOT
from ntkrepro.readme import latest_results
from ntkrepro.registry import CLAIMS

REPORT_DIR = REPO_ROOT / "build" / "report"
NOTEBOOK_HTML = REPO_ROOT / "build" / "notebooks" / "full"

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;width:100%}td,th{border:1px solid #ccc;padding:4px 8px;
vertical-align:top;text-align:left;font-size:0.92em}th{background:#f3f3f3}figure{margin:1.5em 0}
img{max-width:100%;border:1px solid #ddd}figcaption{font-size:0.92em;color:#444}
.reproduced{color:#1a7f37}.not.reproduced,.not-reproduced{color:#b42318}.inconclusive{color:#9a6700}
.not-run{color:#666}code{background:#f5f5f5;padding:0 3px}"""


def _e(x: object) -> str:
    return html.escape(str(x))


def _cls(verdict: str) -> str:
    return verdict.replace(" ", "-")


def build(out: Path = REPORT_DIR) -> Path:
    """Write the report; return the path of index.html."""
    out.mkdir(parents=True, exist_ok=True)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>ntkrepro report</title>"
             f"<style>{STYLE}</style></head><body><h1>ntkrepro: claims, findings and figures</h1>",
             "<table><tr><th>#</th><th>claim</th><th>paper</th><th>verdict (full profile)</th>"
             "<th>notebook</th></tr>"]
    sections = []
    for c in CLAIMS.values():
        res = latest_results(c)
        nb_html = NOTEBOOK_HTML / Path(c.notebook).with_suffix(".html")
        link = "not executed on this machine (run <code>make figures</code>)"
        if nb_html.exists():
            (out / "notebooks").mkdir(exist_ok=True)
            shutil.copy2(nb_html, out / "notebooks" / nb_html.name)
            link = f"<a href='notebooks/{_e(nb_html.name)}'>{_e(c.notebook)} (executed)</a>"
        verdict = res["verdict"] if res else "not run yet"
        parts.append(f"<tr><td>{c.number}</td><td><a href='#{c.id}'>{_e(c.title)}</a></td>"
                     f"<td><a href='{_e(c.paper.url)}'>{_e(c.paper.short)}</a></td><td>{_e(verdict)}</td>"
                     f"<td>{link}</td></tr>")
        sec = [f"<h2 id='{c.id}'>{c.number}. {_e(c.title)}</h2>",
               f"<p><a href='{_e(c.paper.url)}'>{_e(c.paper.authors)}, <i>{_e(c.paper.title)}</i> "
               f"({c.paper.year})</a>. {_e(c.reconstructed)}</p>"]
        if res:
            sec.append("<table><tr><th>finding</th><th>verdict</th><th>statement</th><th>evidence</th></tr>")
            for f in res.get("findings", []):
                sec.append(f"<tr><td>{_e(f['id'])}</td><td class='{_cls(f['verdict'])}'>{_e(f['verdict'])}</td>"
                           f"<td>{_e(f['statement'])}<br><small>{_e(f['source'])}</small></td>"
                           f"<td>{_e(f['evidence'])}</td></tr>")
            sec.append("</table>")
        for fig in c.figures:
            png = c.default_output_dir("full") / f"{fig.stem}.png"
            if png.exists():
                (out / "figures" / c.id).mkdir(parents=True, exist_ok=True)
                shutil.copy2(png, out / "figures" / c.id / png.name)
                sec.append(f"<figure><img src='figures/{c.id}/{_e(png.name)}' alt='{_e(fig.stem)}'>"
                           f"<figcaption><b>{_e(fig.stem)}</b>: {_e(fig.caption)}</figcaption></figure>")
        cmap = REPO_ROOT / "figures" / "maps" / f"{c.id}.png"
        if cmap.exists():
            (out / "figures" / "maps").mkdir(parents=True, exist_ok=True)
            shutil.copy2(cmap, out / "figures" / "maps" / cmap.name)
            sec.append(f"<figure><img src='figures/maps/{c.id}.png' alt='claim map'><figcaption><b>claim map</b>: "
                       f"each finding's verdict over a sweep of {_e(', '.join(c.sweep_map['axes']))} (smoke-sized "
                       "points, <code>make maps</code>).</figcaption></figure>")
        if res:
            p = res["provenance"]
            sec.append(f"<p><small>Provenance: commit <code>{_e(p.get('git_commit'))}</code>"
                       f"{' (dirty)' if p.get('git_dirty') else ''}, {_e(p.get('timestamp'))}, profile "
                       f"{_e(p.get('profile'))}, Python {_e(p.get('python'))}, {_e(p.get('platform'))}, wall time "
                       f"{_e(p.get('wall_time_s'))} s; packages: "
                       f"{_e(', '.join(f'{k} {v}' for k, v in p.get('packages', {}).items()))}.</small></p>")
        sections.append("\n".join(sec))
    parts.append("</table>")
    parts += sections
    parts.append("</body></html>")
    return write_text(out / "index.html", "\n".join(parts))

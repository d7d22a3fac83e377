"""Build a claim notebook from a list of (kind, source) cells: no outputs, kernel pinned.

Used once to author notebooks; afterwards edit them in JupyterLab (strip outputs before
committing: ``python scripts/nbtools.py strip notebooks/*.ipynb``).
"""
from __future__ import annotations

import sys
from pathlib import Path

import nbformat

KERNELSPEC = {"name": "ntkrepro", "display_name": "Python 3 (ntkrepro)", "language": "python"}


def build(cells: list[tuple[str, str]], path: str | Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = KERNELSPEC
    nb.metadata["language_info"] = {"name": "python"}
    for kind, src in cells:
        if kind == "md":
            nb.cells.append(nbformat.v4.new_markdown_cell(src.strip()))
        else:
            cell = nbformat.v4.new_code_cell(src.strip())
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
    strip(nb)
    nbformat.write(nb, str(path))


def strip(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Remove outputs, execution counts and cell ids' volatile metadata."""
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"cell-{i:02d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
    nb.metadata["kernelspec"] = KERNELSPEC
    return nb


if __name__ == "__main__" and sys.argv[1:2] == ["strip"]:
    for p in sys.argv[2:]:
        nbformat.write(strip(nbformat.read(p, as_version=4)), p)

"""Make student copies of the lesson notebooks: solution cells removed, outputs cleared.

Usage, from the repository root::

    .venv/bin/python scripts/strip_solutions.py notebooks/*.ipynb --out handout/
    .venv/bin/python scripts/strip_solutions.py notebooks/01_randomisation.ipynb --out handout/ \\
        --note "Worked solution withheld: ask your trainer."

A cell is a *solution cell* when

* its tags (cell metadata ``tags``) include ``solution`` (or ``solutions``, ``answer``), or
* its first line is a ``# SOLUTION`` comment (``<!-- SOLUTION -->`` in markdown), or
* it is a code cell whose only statements call ``show_solution(...)`` or ``solution(...)``
  (also as ``module.show_solution(...)``): the lessons' "reveal the worked solution" cells.

Self-check cells (``check("ex1", answer_ex1)``) stay, so students still get right/wrong and a
hint. Outputs, execution counts and stored widget state are cleared unless
``--keep-outputs``. The originals are never modified; the copies go to ``--out``.

Note: the lessons' worked solutions also live in the installed package
(:mod:`hlt_replicate.lessons`), so a student who types ``show_solution("ex1")`` still sees one.
Stripping removes the one-click reveal from the handout; it is not a way to keep answers secret.
"""
from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat

SOLUTION_TAGS = frozenset({"solution", "solutions", "answer"})
_MARKER = re.compile(r"^\s*(#\s*SOLUTION\b|<!--\s*SOLUTION\b)", re.IGNORECASE)
_REVEAL_CALL = re.compile(r"^\s*(?:[A-Za-z_][\w.]*\.)?(?:show_solution|solution)\s*\(.*\)\s*;?\s*(#.*)?$")


def is_solution_cell(cell) -> bool:
    """True for a cell that reveals or contains a worked solution (see the module docstring)."""
    tags = {str(t).lower() for t in cell.get("metadata", {}).get("tags", [])}
    if tags & SOLUTION_TAGS:
        return True
    source = cell.get("source", "")
    source = "".join(source) if isinstance(source, list) else source
    lines = source.splitlines()
    if lines and _MARKER.match(lines[0]):
        return True
    if cell.get("cell_type") != "code":
        return False
    statements = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    return bool(statements) and all(_REVEAL_CALL.match(ln) for ln in statements)


def strip_notebook(nb, *, clear_outputs: bool = True, note: str | None = None):
    """A copy of ``nb`` without solution cells (each replaced by a markdown ``note`` if
    given), and the number removed. Outputs, execution counts and widget state are cleared
    unless ``clear_outputs`` is False."""
    out = copy.deepcopy(nb)
    cells, removed = [], 0
    for cell in out.cells:
        if is_solution_cell(cell):
            removed += 1
            if note:
                cells.append(nbformat.v4.new_markdown_cell(note))
            continue
        if clear_outputs and cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    out.cells = cells
    if clear_outputs:
        out.metadata.pop("widgets", None)
    nbformat.validate(out)
    return out, removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Copy notebooks without their solution cells.")
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="folder for the student copies")
    parser.add_argument("--keep-outputs", action="store_true", help="keep stored outputs (default: clear them)")
    parser.add_argument("--note", default=None, help="markdown put where each solution cell was")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.notebooks:
        target = args.out / path.name
        if target.resolve() == path.resolve():
            parser.error(f"--out would overwrite {path}: choose another folder")
        nb = nbformat.read(path, as_version=4)
        stripped, removed = strip_notebook(nb, clear_outputs=not args.keep_outputs, note=args.note)
        nbformat.write(stripped, target)
        print(f"{path} -> {target}: {removed} solution cell(s) removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Use the course with nbgrader: turn a solution notebook into an nbgrader *source* notebook.

``solutions/{vi,en}/NN_*.ipynb`` (lessons 00-08, docs/DESIGN.md "Grading") already mark each
solution cell the nbgrader way (``### BEGIN SOLUTION`` / ``### END SOLUTION`` and
``metadata.nbgrader`` with ``solution: true``). This module adds what nbgrader needs to
award points: every check cell (``result = checks.check_...(fn)``) becomes a locked
*autograder test* cell worth ``points`` that ends with ``assert result, result.message``
(a check result is true when it passes).

    python -m src.grade.nbgrader solutions/en/00_introduction.ipynb course/source/lesson00/

then ``nbgrader generate_assignment lesson00`` and, after collecting, ``nbgrader autograde
lesson00`` (tested in tests/test_grade_nbgrader.py). The kernel that runs the notebooks must
import ``src`` (``pip install -e .`` of this repository).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..i18n import bad_argument, tr

__all__ = ["main", "nbgrader_source"]

_CHECK = re.compile(r"^(?P<indent>[ \t]*)(?P<name>\w+)\s*=\s*(?P<call>(?:src\.)?checks\.check_\w+\(.*\))\s*$", re.M)


def nbgrader_source(notebook: Any, points: float = 1.0) -> Any:
    """A copy of ``notebook`` whose check cells are nbgrader autograder tests worth ``points`` each."""
    import copy

    if not isinstance(points, (int, float)) or isinstance(points, bool) or not points > 0:
        raise bad_argument("nbgrader_source", "points", "một số > 0", "a number > 0", points)
    if not hasattr(notebook, "get") or not isinstance(notebook.get("cells"), list):
        raise bad_argument("nbgrader_source", "notebook", "một notebook", "a notebook", type(notebook).__name__)
    from . import lesson_of

    result = copy.deepcopy(notebook)
    lesson = f"lesson{lesson_of(result) or ''}"
    count = 0
    for cell in result["cells"]:
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if not _CHECK.search(source) or "BEGIN SOLUTION" in source:
            continue
        count += 1
        cell["source"] = _CHECK.sub(
            lambda m: f"{m['indent']}{m['name']} = {m['call']}\n{m['indent']}assert {m['name']}, {m['name']}.message",
            source,
        )
        cell.setdefault("metadata", {})["nbgrader"] = {
            "grade": True,
            "grade_id": f"{lesson}-check{count}",
            "locked": True,
            "points": points,
            "schema_version": 3,
            "solution": False,
            "task": False,
        }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m src.grade.nbgrader SOLUTION.ipynb OUT_FOLDER_OR_FILE [--points P]``."""
    import argparse

    import nbformat

    parser = argparse.ArgumentParser(prog="python -m src.grade.nbgrader")
    parser.add_argument("solution")
    parser.add_argument("out")
    parser.add_argument("--points", type=float, default=1.0)
    args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    notebook = nbformat.read(args.solution, as_version=4)
    out = Path(args.out)
    if out.is_dir() or args.out.endswith("/"):
        out.mkdir(parents=True, exist_ok=True)
        out = out / Path(args.solution).name
    nbformat.write(nbgrader_source(notebook, args.points), out)
    print(tr(f"đã ghi {out}", f"wrote {out}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

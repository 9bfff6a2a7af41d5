"""Reference-call flagging, done in the grader's process on the notebook's JSON (see :mod:`src.grade`).

A learner definition (the exercise's function or class, and every notebook-level
function or class it uses, transitively) is flagged when its source reaches the
course's reference for that exercise (``HiddenSpec.forbidden``) by any alias:
``metrics.confusion_matrix``, ``from src.metrics import confusion_matrix as cm``,
a notebook-level alias ``f = src.metrics.confusion_matrix``, a star import, or
the usual tricks to hide a name (``getattr`` on a course module, ``importlib``,
``__import__``, ``exec`` / ``eval`` / ``compile``, ``sys.modules``, ``vars`` /
``__dict__`` of a course module), ``src.checks`` (the checks hold the references
too) or ``solutions`` (the solution notebooks).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from typing import Any

from ..i18n import tr

_TRICKS = {"importlib", "__import__", "exec", "eval", "compile", "__builtins__", "__loader__", "__spec__"}
_SOLUTIONS = re.compile(r"solutions|\.ipynb|_hidden", re.IGNORECASE)


def _cell_sources(notebook: Any, keep_magics: bool = False) -> list[str]:
    sources = []
    for cell in notebook.get("cells", []) if hasattr(notebook, "get") else []:
        if hasattr(cell, "get") and cell.get("cell_type") == "code":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else str(source)
            # IPython magics and shell escapes are not Python: blank them out
            if not keep_magics:
                lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
                source = "\n".join(lines)
            sources.append(source)
    return sources


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _Notebook:
    """Top-level definitions and the names bound to course objects, over all cells."""

    def __init__(self, notebook: Any) -> None:
        self.defs: dict[str, list[ast.AST]] = {}
        self.aliases: dict[str, str] = {}  # local name -> dotted course name it stands for
        self.star: list[str] = []  # modules imported with *
        self.unparsed = 0
        for source in _cell_sources(notebook):
            try:
                tree = ast.parse(source)
            except SyntaxError:
                self.unparsed += 1
                continue
            for node in tree.body:
                self._top(node)

    def _top(self, node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.defs.setdefault(node.name, []).append(node)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "src" or alias.name.startswith("src."):
                    local = alias.asname or alias.name.split(".")[0]
                    self.aliases[local] = alias.name if alias.asname else "src"
        elif isinstance(node, ast.ImportFrom) and node.module and (node.module + ".").startswith("src."):
            for alias in node.names:
                if alias.name == "*":
                    self.star.append(node.module)
                else:
                    self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.module == "src":
            for alias in node.names:
                self.aliases[alias.asname or alias.name] = f"src.{alias.name}"
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            resolved = self.resolve(node.value)
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and resolved:
                    self.aliases[target.id] = resolved
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    self._top(child)

    def resolve(self, node: ast.AST) -> str | None:
        """The dotted course name an expression stands for (``metrics.confusion_matrix`` -> ``src.metrics...``)."""
        dotted = _dotted(node)
        if not dotted:
            return None
        head, _, rest = dotted.partition(".")
        if head in self.aliases:
            return self.aliases[head] + ("." + rest if rest else "")
        return None


def _uses(owner: str, what: str) -> str:
    return tr(f"{owner} dùng {what}", f"{owner} uses {what}")


def _calls(owner: str, reference: str, alias: str) -> str:
    return tr(
        f"{owner} gọi lời giải tham chiếu {reference} (qua {alias})",
        f"{owner} calls the reference {reference} (as {alias})",
    )


def flag_reasons(notebook: Any, function: str, forbidden: Iterable[str]) -> list[str]:
    """Why the learner's ``function`` reaches a forbidden reference (empty list: not flagged)."""
    forbidden = tuple(forbidden)
    book = _Notebook(notebook)
    reasons: list[str] = []
    seen: set[str] = set()
    todo = [function]
    lasts = {f.rsplit(".", 1)[-1]: f for f in forbidden}
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for definition in book.defs.get(name, []):
            for node in ast.walk(definition):
                reason = _node_reason(node, book, forbidden, lasts, name)
                if reason and reason not in reasons:
                    reasons.append(reason)
                if isinstance(node, ast.Name) and node.id in book.defs and node.id not in seen:
                    todo.append(node.id)
    return reasons


def _node_reason(
    node: ast.AST, book: _Notebook, forbidden: tuple[str, ...], lasts: dict[str, str], owner: str
) -> str | None:
    if isinstance(node, ast.Name):
        if node.id in _TRICKS:
            return _uses(owner, node.id)
        resolved = book.aliases.get(node.id)
        if resolved and (resolved.startswith("src.checks") or any(resolved == f for f in forbidden)):
            return _calls(owner, resolved, node.id)
        if node.id in lasts and node.id not in book.defs and (book.star or node.id in book.aliases):
            return _calls(owner, lasts[node.id], node.id)
        if node.id in ("getattr", "vars", "globals", "locals"):
            return None  # judged at the Call below
    elif isinstance(node, ast.Attribute):
        dotted = _dotted(node)
        resolved = book.resolve(node)
        if resolved and (resolved.startswith("src.checks") or resolved in forbidden):
            return _calls(owner, resolved, dotted or node.attr)
        if node.attr in lasts:
            return _calls(owner, lasts[node.attr], dotted or "…." + node.attr)
        if node.attr in ("modules", "__dict__") and (dotted or "").endswith(("sys.modules", "__dict__")):
            return _uses(owner, str(dotted))
        if dotted and (dotted.startswith("src.checks") or ".checks." in f".{dotted}."):
            return _uses(owner, str(dotted))
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "vars"):
        target = node.args[0] if node.args else None
        if target is not None and (book.resolve(target) or (_dotted(target) or "").split(".")[0] in ("src",)):
            return _uses(owner, f"{node.func.id}() " + tr("trên một mô-đun của khoá học", "on a course module"))
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        if _SOLUTIONS.search(node.value) or node.value in lasts:
            return _uses(owner, repr(node.value[:60]))
    return None


#: names that only code meddling with the grading needs (the hidden specs, the answer channel, frames, ...)
_MEDDLING = re.compile(  # one pattern, searched in each code cell (multi-line)
    r"_hidden|\bHIDDEN\b|hidden_spec|register_hidden|_plain\b|\bto_plain\b|compare_plain|x-src-grade|_src_grade"
    r"|SRC_GRADE|_getframe|\bf_back\b|\bf_locals\b|\bf_globals\b|gc\.get_objects|get_referrers|get_referents"
    r"|sys\.modules|importlib|__import__|\bsetitimer\b|SIGALRM|\bclear_output\b|\b_thread\b|\bthreading\b"
    r"|\bctypes\b|__builtins__|\bbuiltins\b|(?<![.\w])(?:exec|eval|compile)\s*\(|/proc/|\bptrace\b"
    r"|\bsolutions\b|\.ipynb\b|\brun_cell\b|^\s*%run\b|\bnbformat\b|\bnbclient\b",
    re.MULTILINE,
)


def _course_cells(lesson: str | None, root: Any) -> set[str]:
    """The code cells of the handed-out lesson and of its solution (any language): never meddling."""
    import json as _json

    cells: set[str] = set()
    if not lesson:
        return cells
    for kind in ("lessons", "solutions"):
        for path in sorted(root.glob(f"{kind}/*/{lesson}_*.ipynb")):
            try:
                notebook = _json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            cells.update(source.strip() for source in _cell_sources(notebook))
    return cells


def meddling_cells(notebook: Any, lesson: str | None, root: Any) -> list[int]:
    """1-based numbers (among code cells) of the cells, not from the course, that touch the grading machinery."""
    known = _course_cells(lesson, root)
    found = []
    for number, source in enumerate(_cell_sources(notebook, keep_magics=True), start=1):
        if source.strip() not in known and _MEDDLING.search(source):
            found.append(number)
    return found

"""Tests that can fail: the test suite itself keeps the project's rules (issue 12, "tests that can fail").

- no test module sets torch's thread count at import time (tests/conftest.py does it once);
- no unit test asserts on wall-clock time (a busy machine fails it for no reason: benchmarks/ measure speed).
  A test of a time limit itself may bound the clock generously; its assert line says ``# wall-clock-ok: why``.
"""

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
TEST_FILES = sorted(p for p in TESTS.glob("test_*.py"))
CLOCKS = {"time.perf_counter", "time.time", "time.monotonic", "time.process_time", "perf_counter", "monotonic"}


def dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return "?"


def module_level_thread_settings(tree: ast.Module) -> list[int]:
    """Line numbers of ``torch.set_num_threads(...)`` executed on import (outside any function or class)."""
    lines = []
    for statement in tree.body:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        for node in ast.walk(statement):
            if isinstance(node, ast.Call) and dotted(node.func).endswith("set_num_threads"):
                lines.append(node.lineno)
    return lines


def clock_assertions(tree: ast.Module, lines: list[str]) -> list[int]:
    """Line numbers of ``assert`` statements that read a clock (unless marked ``# wall-clock-ok``)."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Assert)
        and any(isinstance(n, ast.Call) and dotted(n.func) in CLOCKS for n in ast.walk(node.test))
        and "# wall-clock-ok" not in lines[node.lineno - 1]
    ]


@pytest.mark.parametrize("path", TEST_FILES, ids=[p.stem for p in TEST_FILES])
def test_no_thread_setting_at_import_and_no_wall_clock_assertion(path):
    text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, str(path))
    assert not module_level_thread_settings(tree), f"{path.name}: torch.set_num_threads at import time"
    assert not clock_assertions(tree, text.splitlines()), (
        f"{path.name}: an assertion on wall-clock time (move it to benchmarks/)"
    )


def test_the_scans_find_what_they_look_for():
    text = (
        "import time, torch\ntorch.set_num_threads(2)\n"
        "def test_fast():\n    torch.set_num_threads(1)  # inside a test: restored by conftest\n"
        "    start = time.perf_counter()\n    assert time.perf_counter() - start < 1.0\n"
        "    assert time.monotonic() - start < 5  # wall-clock-ok: a time limit's own test\n"
    )
    bad = ast.parse(text)
    assert module_level_thread_settings(bad) == [2]
    assert clock_assertions(bad, text.splitlines()) == [6]

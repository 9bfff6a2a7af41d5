"""Tests of ``python -m src.grade`` (grading submitted notebooks).

Fixture notebooks of a made-up lesson 99 register their own two exercises
(``99-1`` double a number, ``99-2`` square it), so that these tests do not depend
on any lesson's content; the same ids are registered in this process, where the
grader looks up the expected exercises. The real lesson 00 (solutions score full
marks, untouched lessons score zero) is tested at the end.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import src
from src import grade
from src.checks import EXERCISES, exercise, run_check

ROOT = Path(__file__).resolve().parent.parent

SETUP = """import src
import src.checks
from src.checks import exercise, run_check

@exercise("99-1", "double")
def check_double(fn):
    return run_check("99-1", fn, [((3,), {}), ((-2.5,), {})], lambda x: 2 * x)

@exercise("99-2", "square")
def check_square(fn):
    return run_check("99-2", fn, [((3,), {}), ((-2.5,), {})], lambda x: x * x)"""

DOUBLE = "def double(x):\n    return 2 * x"
SQUARE = "def square(x):\n    return x * x"
WRONG_SQUARE = "def square(x):\n    return x + x"
TODO_DOUBLE = "def double(x):\n    # TODO\n    raise NotImplementedError"
CHECK_DOUBLE = "result = check_double(double)"
CHECK_SQUARE = "result = check_square(square)"


@contextlib.contextmanager
def lesson_99():
    """Register 99-1 and 99-2 in this process (where the grader looks them up), then forget them."""

    @exercise("99-1", "double")
    def check_double(fn):
        return run_check("99-1", fn, [((3,), {})], lambda x: 2 * x)

    @exercise("99-2", "square")
    def check_square(fn):
        return run_check("99-2", fn, [((3,), {})], lambda x: x * x)

    try:
        yield {"check_double": check_double, "check_square": check_square}
    finally:
        EXERCISES.pop("99-1", None)
        EXERCISES.pop("99-2", None)


def _write(path: Path, cells: list[str], lesson_source: str | None = None) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    if lesson_source:
        nb.metadata["course"] = {"source": lesson_source, "lang": "en", "kind": "lesson"}
    nbformat.write(nb, path)
    return path


@pytest.fixture(autouse=True)
def _language():
    yield
    src.set_language("vi")


# --------------------------------------------------------------------------- pure functions, no kernel
def test_lesson_of_metadata_then_file_name():
    nb = nbformat.v4.new_notebook()
    nb.metadata["course"] = {"source": "source/03_aspp.py"}
    assert grade.lesson_of(nb, "whatever.ipynb") == "03"
    assert grade.lesson_of(nbformat.v4.new_notebook(), "submissions/an/05_refinenet.ipynb") == "05"
    assert grade.lesson_of(nbformat.v4.new_notebook(), "homework.ipynb") is None


def test_read_log_keeps_last_verdict_and_ignores_garbage(tmp_path):
    log = tmp_path / "log.jsonl"
    lines = [
        json.dumps({"exercise": "99-1", "passed": False}),
        "not json",
        json.dumps({"exercise": "99-1", "passed": True}),
        json.dumps({"exercise": "99-2", "passed": "yes"}),
    ]
    log.write_text("\n".join(lines) + "\n")
    assert grade._read_log(log) == {"99-1": True}
    assert grade._read_log(tmp_path / "absent.jsonl") == {}


def test_integrity_finds_edited_check_cells_and_meddling(monkeypatch):
    with lesson_99() as checks:
        monkeypatch.setattr(src.checks, "check_square", checks["check_square"], raising=False)
        _integrity_cases()


def _integrity_cases():
    check_double, check_square = "src.checks.check_double(double)", "src.checks.check_square(square)"
    original = nbformat.v4.new_notebook()
    original.cells = [nbformat.v4.new_code_cell(c) for c in (DOUBLE, check_double, SQUARE, check_square)]
    intact = nbformat.v4.new_notebook()
    intact.cells = [nbformat.v4.new_code_cell(c) for c in ("x = 1", DOUBLE, check_double, SQUARE, check_square)]
    assert grade._integrity(intact, original) == ([], [])
    edited = nbformat.v4.new_notebook()
    edited.cells = [
        nbformat.v4.new_code_cell(c)
        for c in (DOUBLE, check_double, SQUARE, "import os\nopen(os.environ['SRC_GRADE_LOG'], 'a')")
    ]
    src.set_language("en")
    reasons, meddling = grade._integrity(edited, original)
    assert reasons == ["check cell of 99-2 was edited or deleted"]
    assert meddling == ["cell 4 meddles with the grading machinery (look at it)"]


def test_table_and_csv_from_results(tmp_path):
    results = [
        grade.GradeResult("an.ipynb", "99", ["99-1", "99-2"], {"99-1": "passed", "99-2": "failed"}, [], 3.0),
        grade.GradeResult("binh.ipynb", "99", ["99-1", "99-2"], {"99-1": "passed", "99-2": "not run"}, ["x"], 1.0),
        grade.GradeResult("nobody.ipynb", None, [], {}, ["?"], 0.0),
    ]
    src.set_language("vi")
    table = grade.format_table(results)
    assert "Bài 99" in table and "chưa đạt" in table and "không chạy" in table and "1/2 (50%)" in table
    assert "3 notebook, điểm trung bình 50%" in table
    src.set_language("en")
    assert "Lesson 99" in grade.format_table(results) and "mean score 50%" in grade.format_table(results)
    grade.write_csv(results, tmp_path / "s.csv")
    rows = list(csv.DictReader(open(tmp_path / "s.csv", encoding="utf-8")))
    assert [r["notebook"] for r in rows] == ["an.ipynb", "binh.ipynb", "nobody.ipynb"]
    assert (rows[0]["99-1"], rows[0]["99-2"], rows[0]["score"]) == ("1", "0", "0.500")
    assert (rows[1]["99-2"], rows[1]["reason"]) == ("", "x")
    assert rows[2]["score"] == "" and rows[2]["lesson"] == ""


def test_bad_arguments(tmp_path):
    src.set_language("en")
    with pytest.raises(ValueError, match="timeout_per_cell"):
        grade.grade_notebook(tmp_path / "x.ipynb", timeout_per_cell=0)
    with pytest.raises(ValueError, match="paths"):
        grade.find_notebooks([tmp_path / "missing.ipynb"])
    with pytest.raises(SystemExit) as exit_info:
        grade.main([str(tmp_path)])  # a folder without notebooks
    assert exit_info.value.code == 2
    _write(tmp_path / "99_x.ipynb", ["1"])
    with pytest.raises(SystemExit) as exit_info:
        grade.main([str(tmp_path), "--csv", str(tmp_path / "no" / "such" / "folder.csv")])
    assert exit_info.value.code == 2


# --------------------------------------------------------------------------- one class, graded for real
@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """Grade a folder of fixture submissions once, with the command line (in process)."""
    folder = tmp_path_factory.mktemp("class")
    pid_file = folder.parent / "loop_kernel.pid"
    _write(folder / "99_an.ipynb", [SETUP, DOUBLE, CHECK_DOUBLE, SQUARE, CHECK_SQUARE])
    _write(folder / "99_binh.ipynb", [SETUP, DOUBLE, CHECK_DOUBLE, WRONG_SQUARE, CHECK_SQUARE])
    _write(folder / "99_chi.ipynb", [SETUP, DOUBLE, CHECK_DOUBLE, "1 / 0", SQUARE, CHECK_SQUARE])
    loop = f"import os\nopen({str(pid_file)!r}, 'w').write(str(os.getpid()))\nwhile True:\n    pass"
    _write(folder / "99_dung.ipynb", [SETUP, DOUBLE, CHECK_DOUBLE, loop, SQUARE, CHECK_SQUARE])
    _write(folder / "99_em.ipynb", [SETUP, DOUBLE, CHECK_DOUBLE, SQUARE])  # check cell deleted
    _write(folder / "99_giang.ipynb", [SETUP, TODO_DOUBLE, CHECK_DOUBLE, SQUARE, CHECK_SQUARE])
    network = (
        "import socket\ntry:\n    socket.create_connection(('192.0.2.1', 80), timeout=5)\n"
        "    blocked = False\nexcept OSError as exc:\n    blocked = 'disabled' in str(exc)\nassert blocked"
    )
    # child processes (pip, curl) do not get the socket guard: their proxies point at a closed loopback port
    child = (
        "import subprocess, sys\n"
        "code = 'import os, urllib.request; print(urllib.request.getproxies(), os.environ.get(\"PIP_NO_INDEX\"))'\n"
        "out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=120).stdout\n"
        "assert \"'https': 'http://127.0.0.1:9'\" in out and out.strip().endswith('1'), out"
    )
    _write(folder / "99_hoa.ipynb", [SETUP, network, child, DOUBLE, CHECK_DOUBLE, SQUARE, CHECK_SQUARE])
    (folder / "99_khoa.ipynb").write_text("{ this is not a notebook")
    _write(folder / "homework.ipynb", [SETUP, DOUBLE, CHECK_DOUBLE])  # no lesson
    sub = folder / "lan"
    (sub / ".ipynb_checkpoints").mkdir(parents=True)
    _write(sub / "anything.ipynb", [SETUP, DOUBLE, CHECK_DOUBLE, SQUARE, CHECK_SQUARE], "source/99_fixture.py")
    _write(sub / ".ipynb_checkpoints" / "99_an-checkpoint.ipynb", [SETUP])
    out = folder.parent / "class.csv"
    src.set_language("en")
    buffer = io.StringIO()
    with lesson_99(), contextlib.redirect_stdout(buffer):
        code = grade.main([str(folder), "--csv", str(out), "--timeout-per-cell", "20", "--lang", "en"])
    src.set_language("vi")
    rows = {r["notebook"]: r for r in csv.DictReader(open(out, encoding="utf-8"))}
    return {"code": code, "stdout": buffer.getvalue(), "rows": rows, "pid_file": pid_file}


def test_exit_code_zero_and_every_notebook_has_a_row(graded_class):
    assert graded_class["code"] == 0
    assert sorted(graded_class["rows"]) == sorted(
        [
            "99_an.ipynb",
            "99_binh.ipynb",
            "99_chi.ipynb",
            "99_dung.ipynb",
            "99_em.ipynb",
            "99_giang.ipynb",
            "99_hoa.ipynb",
            "99_khoa.ipynb",
            "homework.ipynb",
            os.path.join("lan", "anything.ipynb"),
        ]
    )
    assert "Lesson 99" in graded_class["stdout"]


def _row(graded_class, name):
    row = graded_class["rows"][name]
    return row["99-1"], row["99-2"], row["passed"], row["expected"], row["score"], row["reason"]


def test_full_marks_and_wrong_answer(graded_class):
    assert _row(graded_class, "99_an.ipynb") == ("1", "1", "2", "2", "1.000", "")
    assert _row(graded_class, "99_binh.ipynb") == ("1", "0", "1", "2", "0.500", "")
    # the lesson comes from the metadata when the file name says nothing
    assert _row(graded_class, os.path.join("lan", "anything.ipynb")) == ("1", "1", "2", "2", "1.000", "")


def test_crash_keeps_the_checks_before_it(graded_class):
    assert _row(graded_class, "99_chi.ipynb") == (
        "1",
        "",
        "1",
        "2",
        "0.500",
        "crashed at cell 4 with ZeroDivisionError",
    )


def test_infinite_loop_times_out_and_the_kernel_is_gone(graded_class):
    assert _row(graded_class, "99_dung.ipynb") == ("1", "", "1", "2", "0.500", "timed out at cell 4 (> 20 s)")
    pid = int(graded_class["pid_file"].read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_deleted_check_cell_and_unsolved_exercise(graded_class):
    assert _row(graded_class, "99_em.ipynb") == (
        "1",
        "",
        "1",
        "2",
        "0.500",
        "checks missing: 99-2 (edited to skip checks?)",
    )
    assert _row(graded_class, "99_giang.ipynb") == ("0", "1", "1", "2", "0.500", "")


def test_network_is_refused_in_the_kernel(graded_class):
    assert _row(graded_class, "99_hoa.ipynb") == ("1", "1", "2", "2", "1.000", "")


def test_unreadable_and_unknown_notebooks_still_get_a_row(graded_class):
    assert _row(graded_class, "99_khoa.ipynb")[2:] == ("0", "2", "0.000", "not a readable notebook (NotJSONError)")
    row = graded_class["rows"]["homework.ipynb"]
    assert row["lesson"] == "" and row["score"] == "" and row["reason"].startswith("cannot tell the lesson")


def test_command_line_in_vietnamese_by_default(tmp_path):
    _write(tmp_path / "99_an.ipynb", [SETUP, DOUBLE, CHECK_DOUBLE, WRONG_SQUARE, CHECK_SQUARE])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SRC_LANG", None)
    done = subprocess.run(
        [sys.executable, "-m", "src.grade", str(tmp_path / "99_an.ipynb")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    # lesson 99 is not registered in that fresh process: no expected exercise, no score
    assert "Bài 99" in done.stdout and "điểm" in done.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "src.grade", str(tmp_path / "nothing.ipynb")],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert bad.returncode == 2 and "paths" in bad.stderr


# --------------------------------------------------------------------------- the real lesson 00
def _one(pattern: str) -> Path:
    found = sorted(ROOT.glob(pattern))
    if not found:
        pytest.skip(f"{pattern} is not built yet")
    return found[0]


@pytest.mark.slow
def test_lesson_00_solution_full_marks_and_untouched_lesson_zero():
    solution = _one("solutions/vi/00_*.ipynb")
    lesson = _one("lessons/vi/00_*.ipynb")
    expected = src.checks.exercises_of("00")
    assert len(expected) >= 2
    results = {r.notebook: r for r in grade.grade_notebooks([solution, lesson], timeout_per_cell=600, progress=False)}
    solved, untouched = results[str(solution)], results[str(lesson)]
    assert solved.expected == expected and untouched.expected == expected
    assert solved.score == 1.0 and solved.reasons == [], solved
    assert untouched.score == 0.0 and untouched.reasons == [], untouched
    assert set(untouched.status.values()) == {"failed"}

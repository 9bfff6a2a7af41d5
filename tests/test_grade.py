"""Tests of ``python -m src.grade`` that need no kernel: lesson lookup, safe reading, the answer
channel's decoding, reference-call flagging, bad usage, reports. The graded-for-real tests (a class of
hostile submissions, the real lessons) are in tests/test_grade_hostile.py.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import nbformat
import numpy as np
import pytest

import src
from src import grade
from src.grade import _flag, _harness, _report

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _language():
    yield
    src.set_language("vi")


def _nb(cells: list[str], source: str | None = None) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    if source:
        nb.metadata["course"] = {"source": source, "lang": "en", "kind": "lesson"}
    return nb


# --------------------------------------------------------------------------- which lesson, safe reading
def test_lesson_of_metadata_then_file_name():
    assert grade.lesson_of(_nb([], "source/03_aspp.py"), "whatever.ipynb") == "03"
    assert grade.lesson_of(_nb([]), "submissions/an/05_refinenet.ipynb") == "05"
    assert grade.lesson_of(_nb([]), "homework.ipynb") is None
    assert grade.lesson_of({"metadata": "garbage"}, "homework.ipynb") is None


def test_read_notebook_refuses_fifo_folder_garbage_without_hanging(tmp_path):
    src.set_language("en")
    fifo = tmp_path / "99_fifo.ipynb"
    os.mkfifo(fifo)  # opening it for reading would block forever
    assert grade.read_notebook(fifo) == (None, "not a regular file")
    (tmp_path / "99_dir.ipynb").mkdir()
    assert grade.read_notebook(tmp_path / "99_dir.ipynb") == (None, "not a regular file")
    (tmp_path / "99_bad.ipynb").write_text("{ not json")
    assert grade.read_notebook(tmp_path / "99_bad.ipynb")[1].startswith("not a readable notebook")
    (tmp_path / "99_list.ipynb").write_text(json.dumps({"cells": 3, "metadata": {}, "nbformat": 4}))
    assert grade.read_notebook(tmp_path / "99_list.ipynb")[0] is None
    nbformat.write(_nb(["1 + 1"]), tmp_path / "99_ok.ipynb")
    notebook, why = grade.read_notebook(tmp_path / "99_ok.ipynb")
    assert why == "" and notebook.cells[0].source == "1 + 1"


# --------------------------------------------------------------------------- the answer channel
def _npy(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode()


def test_decode_plain_values_keep_types():
    assert _harness.decode({"b": True}) is True
    assert type(_harness.decode({"i": "12345678901234567890123"})) is int
    assert _harness.decode({"f": "nan"}) != _harness.decode({"f": "nan"})  # a real NaN
    assert _harness.decode({"t": [{"i": "1"}, {"s": "x"}]}) == (1, "x")
    assert _harness.decode({"d": [[{"s": "k"}, {"none": 1}]]}) == {"k": None}
    array = _harness.decode({"a": _npy(np.arange(6, dtype=np.int16).reshape(2, 3))})
    assert array.dtype == np.int16 and array.shape == (2, 3)
    scalar = _harness.decode({"g": _npy(np.asarray(np.float32(1.5)))})
    assert type(scalar) is np.float32
    assert repr(_harness.decode({"other": "generator"})) == "<generator>"


def test_decode_never_unpickles_and_rejects_malformed():
    class Boom:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    buffer = io.BytesIO()
    np.save(buffer, np.array([Boom()], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError):  # numpy refuses object arrays without allow_pickle
        _harness.decode({"a": base64.b64encode(buffer.getvalue()).decode()})
    raw = base64.b64encode(pickle.dumps(Boom())).decode()
    with pytest.raises(ValueError):
        _harness.decode({"a": raw})
    for bad in ({"x": 1}, {"i": 3}, {"b": "yes"}, [], {"d": [[{"l": []}, {"none": 1}]]}, {"i": "1", "s": "2"}):
        with pytest.raises(ValueError):
            _harness.decode(bad)


def test_read_answer_needs_the_nonce():
    answer = {"nonce": "abc", "exercises": {"99-1": {"cases": []}}}
    outputs = [{"output_type": "display_data", "data": {_harness.MIME: json.dumps(answer)}}]
    assert _harness.read_answer(outputs, "abc") == answer
    assert _harness.read_answer(outputs, "other") is None
    assert _harness.read_answer([{"output_type": "stream", "text": json.dumps(answer)}], "abc") is None


def test_harness_cell_is_python_with_its_config():
    source = _harness.harness_cell({"exercises": ["00-1"], "spec_files": [], "nonce": "n"})
    compile(source, "harness", "exec")
    assert '"nonce": "n"' in source.replace('\\"', '"')


# --------------------------------------------------------------------------- reference-call flagging
FORBIDDEN = ("src.metrics.confusion_matrix",)
HONEST = (
    "import torch\n"
    "def my_confusion_matrix(pred, target, num_classes):\n"
    "    idx = target.flatten() * num_classes + pred.flatten()\n"
    "    return torch.bincount(idx, minlength=num_classes**2).reshape(num_classes, num_classes)"
)


@pytest.mark.parametrize(
    "cells",
    [
        ["from src import metrics", "def my_confusion_matrix(p, t, c):\n    return metrics.confusion_matrix(p, t, c)"],
        ["import src.metrics", "def my_confusion_matrix(p, t, c):\n    return src.metrics.confusion_matrix(p, t, c)"],
        ["import src.metrics as m", "def my_confusion_matrix(p, t, c):\n    return m.confusion_matrix(p, t, c)"],
        ["from src.metrics import confusion_matrix as cm", "def my_confusion_matrix(p, t, c):\n    return cm(p, t, c)"],
        ["from src.metrics import *", "def my_confusion_matrix(p, t, c):\n    return confusion_matrix(p, t, c)"],
        [
            "import src\nref = src.metrics.confusion_matrix",
            "def my_confusion_matrix(p, t, c):\n    return ref(p, t, c)",
        ],
        [
            "import src",
            "def my_confusion_matrix(p, t, c):\n    return getattr(src.metrics, 'confusion' + '_matrix')(p, t, c)",
        ],
        ["import importlib", "def my_confusion_matrix(p, t, c):\n    return importlib.import_module('src.metrics')"],
        ["", "def my_confusion_matrix(p, t, c):\n    return __import__('src.me' + 'trics').metrics"],
        ["import src.checks", "def my_confusion_matrix(p, t, c):\n    return src.checks._hidden.HIDDEN"],
        ["", "def my_confusion_matrix(p, t, c):\n    return exec(open('../solutions/en/00_x.ipynb').read())"],
        # through a helper defined elsewhere in the notebook
        [
            "from src import metrics\ndef helper(p, t, c):\n    return metrics.confusion_matrix(p, t, c)",
            "def my_confusion_matrix(p, t, c):\n    return helper(p, t, c)",
        ],
    ],
)
def test_reference_calls_are_flagged_by_any_alias(cells):
    src.set_language("en")
    reasons = _flag.flag_reasons(_nb(cells), "my_confusion_matrix", FORBIDDEN)
    assert reasons and all(r.startswith(("my_confusion_matrix", "helper")) for r in reasons), reasons


def test_honest_solutions_are_not_flagged():
    later = "from src import metrics\ncm = metrics.confusion_matrix(p, t, 3)  # later cells use the reference"
    assert _flag.flag_reasons(_nb([HONEST, later, "%timeit 1", "!ls"]), "my_confusion_matrix", FORBIDDEN) == []
    assert _flag.flag_reasons(_nb(["def f(:\n  pass", HONEST]), "my_confusion_matrix", FORBIDDEN) == []
    assert _flag.flag_reasons(_nb([HONEST]), "missing_function", FORBIDDEN) == []


def test_the_solution_notebooks_are_not_flagged():
    from src.checks import _hidden

    for path in sorted((ROOT / "solutions" / "en").glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        lesson = grade.lesson_of(notebook, path)
        for exercise_id in _hidden.hidden_exercises_of(lesson or ""):
            spec = _hidden.HIDDEN[exercise_id]
            assert _flag.flag_reasons(notebook, spec.function, spec.forbidden) == [], (path.name, exercise_id)


# --------------------------------------------------------------------------- bad usage: one line, exit 2
def _cli(args: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        grade.main(args)
    return info.value.code, capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-3", "inf", "nan", "abc", "-inf", ""])
def test_bad_timeouts_are_one_line_usage_errors(value, tmp_path, capsys):
    nbformat.write(_nb(["1"], "source/00_intro.py"), tmp_path / "00_x.ipynb")
    code, err = _cli([str(tmp_path), "--timeout-per-cell", value, "--lang", "en"], capsys)
    assert code == 2 and err.count("\n") == 1 and "--timeout-per-cell needs a finite number" in err
    src.set_language("vi")
    code, err = _cli([str(tmp_path), "--timeout-per-cell", value], capsys)
    assert code == 2 and "--timeout-per-cell cần một số giây" in err


def test_bad_paths_are_one_line_usage_errors(tmp_path, capsys):
    src.set_language("en")
    cases = {}
    cases["missing folder"] = [str(tmp_path / "no_such_folder")]
    (tmp_path / "empty").mkdir()
    cases["no notebook"] = [str(tmp_path / "empty")]
    (tmp_path / "00_bad.ipynb").write_text("{ not json")
    cases["unreadable"] = [str(tmp_path / "00_bad.ipynb")]
    locked = tmp_path / "00_locked.ipynb"
    nbformat.write(_nb(["1"]), locked)
    locked.chmod(0)
    if os.geteuid() != 0:
        cases["permission"] = [str(locked)]
    nbformat.write(_nb(["1"]), tmp_path / "42_unknown.ipynb")
    cases["unknown lesson"] = [str(tmp_path / "42_unknown.ipynb")]
    nbformat.write(_nb(["1"]), tmp_path / "homework.ipynb")
    cases["no lesson"] = [str(tmp_path / "homework.ipynb")]
    cases["csv folder"] = [str(tmp_path / "empty"), "--csv", str(tmp_path / "no" / "x.csv")]
    messages = {}
    for what, args in cases.items():
        code, err = _cli([*args, "--lang", "en"], capsys)
        assert code == 2 and err.count("\n") == 1 and err.startswith("python -m src.grade: "), (what, err)
        messages[what] = err
    assert "paths" in messages["missing folder"] and "no notebook found" in messages["no notebook"]
    assert "not a readable notebook" in messages["unreadable"]
    assert "unknown lesson (42)" in messages["unknown lesson"]
    assert "unknown lesson (no lesson number)" in messages["no lesson"]
    src.set_language("vi")  # the default language of the course
    code, err = _cli([str(tmp_path / "42_unknown.ipynb")], capsys)
    assert code == 2 and "không rõ bài học" in err


def test_fractional_timeout_is_accepted(tmp_path, monkeypatch, capsys):
    nbformat.write(_nb(["1"], "source/00_intro.py"), tmp_path / "00_x.ipynb")
    seen = {}

    def fake(paths, timeout, **kwargs):
        seen["timeout"] = timeout
        return []

    monkeypatch.setattr(grade, "grade_notebooks", fake)
    assert grade.main([str(tmp_path / "00_x.ipynb"), "--timeout-per-cell", "2.5"]) == 0
    assert seen["timeout"] == 2.5


def _fake_execute(calls, death):
    """An execute() that dies (noticed ``late`` cells after the kill cell) whenever the kill cell is run."""

    def fake(cells, *args):
        calls.append(len(cells))
        if "KILL" in cells:
            return grade._run.Run(stopped=death[0], stopped_at=min(cells.index("KILL") + death[1], len(cells)))
        return grade._run.Run(answer={"exercises": {}})

    return fake


@pytest.mark.parametrize(
    ("death", "calls"),
    [
        (("dead", 1), [3, 2, 1]),  # noticed at the next cell: the retry on cells 1-2 dies too, then cell 1 alone
        (("dead", 0), [3, 1]),  # noticed in the killing cell itself
        (("dead", 2), [3, 2, 1]),  # noticed only at the grading step (as on a slow CI machine)
        (("timeout", 2), [3]),  # a learner function that never returns while graded: no retry
    ],
)
def test_a_dead_kernel_is_regraded_on_the_cells_before_the_kill(tmp_path, monkeypatch, death, calls):
    src.set_language("en")
    nbformat.write(_nb(["a = 1", "KILL", "b = 2"]), tmp_path / "99_x.ipynb")
    seen: list[int] = []
    monkeypatch.setattr(grade._run, "execute", _fake_execute(seen, death))
    result = grade.grade_notebook(tmp_path / "99_x.ipynb", expected=[], isolation="rlimits")
    assert seen == calls
    if death[0] == "dead":
        assert any("the kernel died" in r for r in result.reasons)
        assert "retry" in result.timing


def test_grade_notebook_bad_arguments(tmp_path):
    src.set_language("en")
    for bad in (0, -3, float("inf"), float("nan"), "120", True):
        with pytest.raises(ValueError, match="timeout_per_cell"):
            grade.grade_notebook(tmp_path / "x.ipynb", timeout_per_cell=bad)
    with pytest.raises(ValueError, match="isolation"):
        grade.grade_notebook(tmp_path / "x.ipynb", isolation="docker")
    with pytest.raises(ValueError, match="paths"):
        grade.find_notebooks([tmp_path / "missing.ipynb"])


def test_command_line_module_runs(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "src.grade", str(tmp_path / "nothing.ipynb"), "--lang", "en"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "paths" in done.stderr


# --------------------------------------------------------------------------- output: table, CSV, JSON, reports
def _results() -> list[grade.GradeResult]:
    return [
        grade.GradeResult(
            "an.ipynb",
            "99",
            ["99-1", "99-2"],
            {"99-1": "passed", "99-2": "failed"},
            [],
            3.0,
            detail={"99-2": "hidden case 1/2 (3): got 6, expected 9."},
            hints={"99-2": "square it"},
        ),
        grade.GradeResult(
            "binh.ipynb",
            "99",
            ["99-1", "99-2"],
            {"99-1": "flagged", "99-2": "failed"},
            ["x"],
            1.0,
            detail={"99-1": "double calls the reference", "99-2": "hidden case 2/2 (-2.5): got 6, expected 9."},
        ),
        grade.GradeResult("nobody.ipynb", None, [], {}, ["?"], 0.0),
    ]


def test_table_csv_and_json(tmp_path):
    results = _results()
    src.set_language("vi")
    table = grade.format_table(results)
    assert "Bài 99" in table and "chưa đạt" in table and "gọi lời giải mẫu" in table and "1/2 (50%)" in table
    assert "3 notebook, điểm trung bình 25%" in table
    src.set_language("en")
    assert "Lesson 99" in grade.format_table(results) and "mean score 25%" in grade.format_table(results)
    grade.write_csv(results, tmp_path / "s.csv")
    rows = list(csv.DictReader(open(tmp_path / "s.csv", encoding="utf-8")))
    assert [r["notebook"] for r in rows] == ["an.ipynb", "binh.ipynb", "nobody.ipynb"]
    assert (rows[0]["99-1"], rows[0]["99-2"], rows[0]["score"]) == ("1", "0", "0.500")
    assert (rows[1]["99-1"], rows[1]["score"], rows[1]["reason"]) == ("0", "0.000", "x")
    assert rows[2]["score"] == "" and rows[2]["lesson"] == ""
    grade.write_json(results, tmp_path / "s.json")
    records = json.loads((tmp_path / "s.json").read_text())
    assert records[1]["exercises"]["99-1"] == {"status": "flagged", "detail": "double calls the reference", "hint": ""}
    assert not list(tmp_path.glob(".*.tmp"))  # written through a temporary file, renamed


def test_student_report_and_class_summary_in_the_class_language():
    results = _results()
    src.set_language("en")
    report = grade.student_report(results[0])
    assert "# Grading report: an.ipynb" in report and "| 99-2 | failed | hidden case 1/2 (3)" in report
    assert "square it" in report and "| 99-1 | passed |  |  |" in report
    summary = grade.class_summary(results)
    assert "| 99-2 | 0/2 | got 6, expected 9. (2) |" in summary  # the two failures are alike
    assert "| 99-1 | 1/2 | double calls the reference (1) |" in summary
    src.set_language("vi")
    assert "# Kết quả chấm" in grade.student_report(results[0]) and "chưa đạt" in grade.student_report(results[0])
    assert "# Tổng kết lớp" in grade.class_summary(results) and "Lỗi thường gặp nhất" in grade.class_summary(results)
    assert _report._failure_kind("plain reason") == "plain reason"


def test_private_tmp_is_mounted_before_the_python_prefixes(monkeypatch):
    # bwrap mounts in order, a later mount on top of an earlier one: a venv under /tmp (a CI clone) must be
    # bound after the private /tmp, else the tmpfs hides it and bubblewrap is unusable there
    from src.grade import _sandbox

    venv = Path("/tmp/clone/.venv")
    monkeypatch.setattr(_sandbox, "_python_prefixes", lambda: [Path("/usr"), venv])
    args = _sandbox._system_binds()
    assert args[:6] == ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    assert args.count("--tmpfs") == 1 and args[args.index(str(venv)) - 1] == "--ro-bind"
    assert args.index("/tmp") < args.index(str(venv))

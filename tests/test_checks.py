import json

import numpy as np
import torch

import src
from src.checks import _core as core


def reference(x):
    return x * 2


def test_pass_fail_and_messages(capsys):
    ok = core.run_check("99-1", lambda x: x * 2, [((torch.ones(3),), {})], reference)
    assert ok.passed and "correct" in capsys.readouterr().out
    bad = core.run_check("99-1", lambda x: x * 3, [((torch.ones(3),), {})], reference, hint=("nhân hai", "times two"))
    out = capsys.readouterr().out
    assert not bad.passed and "wrong values" in out and "Hint: times two" in out


def test_shape_dtype_and_type_mismatches():
    assert not core.run_check("99-1", lambda x: x[:2] * 2, [((torch.ones(3),), {})], reference).passed
    assert "shape" in core.run_check("99-1", lambda x: (x * 2)[None], [((torch.ones(3),), {})], reference).message
    assert "dtype" in core.run_check("99-1", lambda x: (x * 2).long(), [((torch.ones(3),), {})], reference).message
    assert not core.run_check("99-1", lambda x: 2.0, [((torch.ones(3),), {})], reference).passed
    assert core.run_check("99-1", lambda x: x * 2, [((np.ones(2),), {})], reference).passed


def test_a_check_never_raises():
    def boom(x):
        raise KeyError("oops")

    def todo(x):
        raise NotImplementedError

    r = core.run_check("99-1", boom, [((1,), {})], reference)
    assert not r.passed and "KeyError" in r.message
    r = core.run_check("99-1", todo, [((1,), {})], reference)
    assert not r.passed and "NotImplementedError" in r.message
    assert not core.run_check("99-1", "not a function", [((1,), {})], reference).passed


def test_vietnamese_verdict(capsys):
    src.set_language("vi")
    core.run_check("99-1", lambda x: x * 2, [((1,), {})], reference)
    assert "đúng" in capsys.readouterr().out


def test_verdicts_are_logged_for_the_grader(tmp_path, monkeypatch):
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv("SRC_GRADE_LOG", str(log))
    core.run_check("99-1", lambda x: x * 2, [((1,), {})], reference)
    core.run_check("99-1", lambda x: x, [((1,), {})], reference)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines == [{"exercise": "99-1", "passed": True}, {"exercise": "99-1", "passed": False}]


def test_compare_nested():
    core.compare({"a": (1, 2.0)}, {"a": (1, 2.0)})
    for got in ({"a": (1, 2.5)}, {"b": (1, 2.0)}, {"a": (1,)}):
        try:
            core.compare(got, {"a": (1, 2.0)})
        except core.Mismatch:
            continue
        raise AssertionError(f"{got} should not match")


def test_every_lesson_registers_its_exercises():
    lessons = {lesson for lesson, _ in src.checks.EXERCISES.values()}
    assert "00" in lessons
    for exercise_id in src.checks.EXERCISES:
        assert exercise_id in src.checks.exercises_of(exercise_id.split("-")[0])

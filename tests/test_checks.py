"""The check framework (src.checks._core, _limits, _plain) and the hidden-case interface for the grader."""

import itertools
import json
import re
import threading
import time

import numpy as np
import pytest
import torch

import src
from src.checks import _core as core
from src.checks import _hidden, _limits, _plain


@pytest.fixture(autouse=True)
def _fresh_hint_ladder():
    core.ATTEMPTS.clear()


def reference(x):
    return x * 2


def cases():
    return [((torch.ones(3),), {})]


def run(fn, **kw):
    return core.run_check("99-1", fn, cases, reference, **kw)


# ------------------------------------------------------------------------------------------ verdicts
def test_pass_fail_and_messages(capsys):
    ok = run(lambda x: x * 2)
    assert ok.passed and "correct" in capsys.readouterr().out
    bad = run(lambda x: x * 3, hint=("nhân hai", "times two"))
    out = capsys.readouterr().out
    assert not bad.passed and "elements are wrong" in out and "Hint: times two" in out


def test_shape_dtype_and_type_mismatches():
    assert "shape" in run(lambda x: x[:2] * 2).message
    assert "shape" in run(lambda x: (x * 2)[None]).message
    assert "dtype" in run(lambda x: (x * 2).long()).message
    assert not run(lambda x: 2.0).passed
    assert core.run_check("99-1", lambda x: x * 2, [((np.ones(2),), {})], reference).passed


def test_bool_is_not_int_and_complex_is_not_real():
    ints = [((torch.tensor([1, 0, 1]),), {})]
    assert core.run_check("99-1", lambda x: x, ints, lambda x: x).passed
    assert "dtype bool" in core.run_check("99-1", lambda x: x.bool(), ints, lambda x: x).message
    assert not core.run_check("99-1", lambda x: np.bool_(True), [((1,), {})], lambda x: 1).passed
    assert not core.run_check("99-1", lambda x: True, [((1,), {})], lambda x: 1).passed
    assert not core.run_check("99-1", lambda x: 1 + 0j, [((1,), {})], lambda x: 1.0).passed
    assert not core.run_check("99-1", lambda x: x.to(torch.complex64), cases, lambda x: x).passed
    assert not core.run_check("99-1", lambda x: 3.0, [((1,), {})], lambda x: 3).passed  # float is not int
    assert core.run_check("99-1", lambda x: 3, [((1,), {})], lambda x: 3.0).passed  # an int is a real number


def test_numpy_vs_torch_is_explicit():
    r = run(lambda x: (x * 2).numpy())
    assert not r.passed and "numpy.ndarray where a torch.Tensor is expected" in r.message
    r = core.run_check("99-1", lambda x: torch.from_numpy(x * 2), [((np.ones(2),), {})], reference)
    assert not r.passed and "torch.Tensor where a numpy.ndarray is expected" in r.message
    # a 0-d tensor is accepted where a Python number is expected (same kind)
    assert core.run_check("99-1", lambda x: torch.tensor(2), [((1,), {})], reference).passed


@pytest.mark.parametrize(
    "answer",
    [
        None,
        "text",
        2**4000,
        -(2**70),
        float("nan"),
        (i for i in range(3)),
        {1, 2},
        object(),
        [[[[]]]],
        torch.ones(3, dtype=torch.bfloat16) * 2,
        torch.ones(3, dtype=torch.float16) * 2,
        torch.ones(3).to_sparse() * 2,
        np.array(["a", "b", "c"]),
        np.ones(3, dtype=object) * 2,
    ],
    ids=repr,
)
def test_whatever_the_learner_returns_the_check_gives_a_verdict(answer, capsys):
    r = run(lambda x: answer)
    assert isinstance(r, core.CheckResult) and not r.passed
    assert "Exercise 99-1" in capsys.readouterr().out


def test_a_pandas_series_is_a_wrong_type_not_a_crash():
    pd = pytest.importorskip("pandas")
    r = run(lambda x: pd.Series([2.0, 2.0, 2.0]))
    assert not r.passed and "pandas" in r.message


def test_a_self_referencing_list_and_a_hostile_object():
    loop = []
    loop.append(loop)

    class Hostile:
        def __eq__(self, other):
            return True

        def __len__(self):
            raise RuntimeError("no")

    class ForgedInt(int):
        def __eq__(self, other):
            return True

    assert not run(lambda x: loop).passed
    assert not run(lambda x: Hostile()).passed
    assert not core.run_check("99-1", lambda x: ForgedInt(5), [((1,), {})], reference).passed


def test_a_check_never_raises():
    def boom(x):
        raise KeyError("oops")

    def todo(x):
        raise NotImplementedError

    def leave(x):
        raise SystemExit(3)

    class BadMessage(Exception):
        def __str__(self):
            raise RuntimeError

    def bad_message(x):
        raise BadMessage

    r = core.run_check("99-1", boom, [((1,), {})], reference)
    assert not r.passed and "KeyError" in r.message
    r = core.run_check("99-1", todo, [((1,), {})], reference)
    assert not r.passed and "raise NotImplementedError" in r.message
    assert not core.run_check("99-1", leave, [((1,), {})], reference).passed
    assert not core.run_check("99-1", bad_message, [((1,), {})], reference).passed
    assert not core.run_check("99-1", "not a function", [((1,), {})], reference).passed
    assert not core.run_check("99-1", reference, [((1,), {})], lambda x: 1 / 0).passed  # a broken reference


def test_a_registered_check_with_an_internal_error_does_not_raise():
    @core.exercise("98-9", ("thử", "trial"))
    def check_broken(fn):
        raise RuntimeError("bug in the check")

    try:
        r = check_broken(reference)
        assert not r.passed and "the check itself failed" in r.message
    finally:
        core.EXERCISES.pop("98-9")


def test_none_says_return_is_missing():
    r = run(lambda x: None)
    assert "forget `return`" in r.message


# -------------------------------------------------------------------------------------- time limits
def spin(x):
    while True:
        pass


def sleeper(x):
    time.sleep(60)


def swallowing_loop(x):  # the usual `except Exception` inside the loop cannot keep it alive
    while True:
        try:
            while True:
                pass
        except Exception:
            pass


@pytest.mark.parametrize("fn", [spin, sleeper, swallowing_loop])
def test_a_runaway_function_ends_with_took_too_long(fn):
    start = time.monotonic()
    r = run(fn, time_limit_s=0.3)
    assert time.monotonic() - start < 5  # wall-clock-ok: tests the time limit itself, 16x margin
    assert not r.passed and "took too long" in r.message and r.details.get("timeout")


def test_the_time_limit_also_works_outside_the_main_thread():
    stop = threading.Event()

    def spin_until_stopped(x):  # abandoned by the check; ends when the test ends
        while not stop.is_set():
            pass

    def slow_sleep(x):
        stop.wait(30)

    box = {}

    def worker():
        box["spin"] = run(spin_until_stopped, time_limit_s=0.3)
        box["sleep"] = run(slow_sleep, time_limit_s=0.3)

    thread = threading.Thread(target=worker)
    start = time.monotonic()
    try:
        thread.start()
        thread.join(20)
        assert time.monotonic() - start < 10  # wall-clock-ok: tests the time limit itself (0.3 s limits)
        assert "took too long" in box["spin"].message and "took too long" in box["sleep"].message
    finally:
        stop.set()


def test_the_time_limit_restores_an_outer_timer():
    import signal

    fired = []
    old = signal.signal(signal.SIGALRM, lambda *a: fired.append(1))
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)
        assert _limits.call_with_time_limit(lambda: 5, seconds=0.2) == 5
        remaining = signal.getitimer(signal.ITIMER_REAL)[0]
        assert 0 < remaining <= 1.0
        time.sleep(remaining + 0.2)
        assert fired == [1]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_the_thread_fallback_keeps_the_callers_grad_mode():
    box = {}

    def worker():
        with torch.no_grad():
            box["grad"] = _limits._with_thread(torch.is_grad_enabled, (), {}, 5.0)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    assert box["grad"] is False


def test_the_default_time_limit_follows_the_environment(monkeypatch):
    for value, expected in (("12", 12.0), ("0", 5.0), ("-3", 5.0), ("abc", 5.0), ("inf", 5.0), ("nan", 5.0)):
        monkeypatch.setenv("SRC_CHECK_TIME_LIMIT", value)
        assert core._default_time_limit() == expected, value


def test_a_fast_function_is_not_disturbed_by_the_time_limit():
    assert _limits.call_with_time_limit(sum, ([1, 2, 3],), seconds=1) == 6
    with pytest.raises(ZeroDivisionError):
        _limits.call_with_time_limit(lambda: 1 / 0, seconds=1)


# ---------------------------------------------------------------------------- private references
def test_a_learner_mutating_its_inputs_does_not_change_the_reference():
    def cheat(x):
        x.zero_()  # the reference would give 0 on the same tensor
        return torch.zeros(3)

    assert not run(cheat).passed


def test_a_learner_mutating_a_shared_table_does_not_make_later_checks_pass():
    table = [{"v": 1}, {"v": 5}]

    def cheat(rows):
        rows.clear()
        rows.append({"v": 0})
        return 0

    def honest(rows):
        return max(r["v"] for r in rows)

    ref = lambda rows: max(r["v"] for r in rows)  # noqa: E731
    assert not core.run_check("99-1", cheat, [((table,), {}), ((table,), {})], ref).passed
    assert core.run_check("99-1", honest, [((table,), {})], ref).passed


def test_no_expected_value_exists_while_the_learner_runs():
    import sys

    seen = []

    def peek(x):
        for frame_locals in (sys._getframe(i).f_locals for i in range(1, 6)):
            seen.extend(k for k in frame_locals if k == "expected")
        return x * 3

    assert not run(peek).passed and seen == []


# --------------------------------------------------------------------------- tracebacks and hints
def test_the_error_points_at_the_learners_line_not_torch():
    def learner(x):
        conv = torch.nn.Conv2d(3, 4, 3)
        return conv(x)  # wrong shape: torch raises inside its own module

    r = run(learner)
    assert "return conv(x)" in r.message and "conv.py" not in r.message


def test_hint_ladder_no_hint_before_an_attempt_then_conceptual_then_specific():
    def todo(x):
        raise NotImplementedError

    ladder = (("khái niệm", "conceptual idea"), ("cụ thể hơn", "more specific"))
    first = run(todo, hints=ladder)
    assert "Hint" not in first.message and "hint" not in first.message
    second = run(lambda x: x * 3, hints=ladder)
    assert "conceptual idea" in second.message and "more specific" not in second.message
    third = run(lambda x: x * 3, hints=ladder)
    assert "more specific" in third.message and "conceptual idea" not in third.message
    assert "more specific" in run(lambda x: x * 4, hints=ladder).message


def test_hand_computed_answers_get_not_yet_and_never_the_value():
    truth = {"A": 13, "B": 18}
    r = core.run_check("99-1", lambda: {"A": 13, "B": 17}, [((), {})], lambda: truth, hand_computed=True)
    assert not r.passed and "not yet: B" in r.message and "18" not in r.message and "13" not in r.message
    r = core.run_check("99-1", lambda: 41, [((), {})], lambda: 42, hand_computed=True)
    assert "not yet" in r.message and "42" not in r.message


def test_vietnamese_verdict(capsys):
    src.set_language("vi")
    core.run_check("99-1", lambda x: x * 2, [((1,), {})], reference)
    assert "đúng" in capsys.readouterr().out
    r = run(spin, time_limit_s=0.2)
    assert "quá lâu" in r.message


def test_every_title_is_in_both_languages():
    for exercise_id, (_, title) in src.checks.EXERCISES.items():
        assert isinstance(title, tuple) and len(title) == 2 and all(title), exercise_id


def test_verdicts_are_logged_for_the_notebook_record(tmp_path, monkeypatch):
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv("SRC_GRADE_LOG", str(log))
    core.run_check("99-1", lambda x: x * 2, [((1,), {})], reference)
    core.run_check("99-1", lambda x: x, [((1,), {})], reference)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines == [{"exercise": "99-1", "passed": True}, {"exercise": "99-1", "passed": False}]


def test_compare_nested():
    core.compare({"a": (1, 2.0)}, {"a": (1, 2.0)})
    for got in ({"a": (1, 2.5)}, {"b": (1, 2.0)}, {"a": (1,)}, {"a": (True, 2.0)}):
        with pytest.raises(core.Mismatch):
            core.compare(got, {"a": (1, 2.0)})


# ------------------------------------------------------------------------------- discovery, hidden
def test_every_lesson_registers_its_exercises_by_discovery():
    assert src.checks.lesson_modules()[:8] == [f"l{n:02d}" for n in range(8)]
    lessons = {lesson for lesson, _ in src.checks.EXERCISES.values()}
    assert {f"{n:02d}" for n in range(8)} <= lessons
    for exercise_id in src.checks.EXERCISES:
        assert exercise_id in src.checks.exercises_of(exercise_id.split("-")[0])
    assert callable(src.checks.check_confusion_matrix) and callable(src.checks.check_most_confused)


def test_to_plain_keeps_dtypes_and_never_raises():
    assert _plain.to_plain(np.bool_(True)) is True
    assert type(_plain.to_plain(np.int64(3))) is int and type(_plain.to_plain(np.float32(0.5))) is float
    assert _plain.to_plain(torch.tensor([1, 2])).dtype == np.int64
    assert _plain.to_plain(torch.tensor([True])).dtype == np.bool_
    assert _plain.to_plain((1, [2.0, {"a": None}])) == [1, [2.0, {"a": None}]]
    assert _plain.is_unplain(_plain.to_plain(torch.ones(2, dtype=torch.bfloat16)))
    assert _plain.is_unplain(_plain.to_plain(3 + 2j))
    assert _plain.is_unplain(_plain.to_plain(itertools.count()))
    assert _plain.to_plain(torch.ones(2, requires_grad=True) * 2).tolist() == [2.0, 2.0]


def _fingerprint(value):
    if isinstance(value, torch.nn.Module):
        return [(k, _plain.to_plain(v).tolist()) for k, v in value.state_dict().items()]
    plain = _plain.to_plain(value)
    if isinstance(plain, np.ndarray):
        return (plain.dtype.str, plain.shape, plain.tolist())
    if type(value) in (list, tuple):
        return [_fingerprint(v) for v in value]
    if type(value) is dict:
        return {k: _fingerprint(v) for k, v in value.items()}
    return repr(plain)


def test_every_exercise_has_a_hidden_spec_that_its_reference_passes():
    assert set(_hidden.HIDDEN) == set(src.checks.EXERCISES)
    for exercise_id, spec in _hidden.HIDDEN.items():
        assert spec.exercise == exercise_id and spec.function.isidentifier()
        assert all(spec.hint) and spec.time_limit_s > 0 and spec.forbidden
        hidden = spec.cases()
        assert hidden == hidden or True
        for args, kwargs in hidden:
            expected = spec.reference(args, kwargs)
            assert not _plain.is_unplain(expected)
            assert spec.compare(expected, spec.reference(args, kwargs)) is None  # deterministic
        assert _hidden.hidden_spec(exercise_id) is spec
        assert exercise_id in _hidden.hidden_exercises_of(exercise_id.split("-")[0])


def test_hidden_cases_differ_from_the_visible_ones():
    for exercise_id, spec in _hidden.HIDDEN.items():
        if exercise_id == "01-2":  # a fixed question worked out by hand: no input at all
            continue
        visible = [_fingerprint(case) for case in core.VISIBLE_CASES[exercise_id]()]
        for case in spec.cases():
            assert _fingerprint(case) not in visible, exercise_id


def test_forbidden_names_exist():
    import importlib

    for spec in _hidden.HIDDEN.values():
        for dotted in spec.forbidden:
            parts = dotted.split(".")
            for cut in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
                try:
                    obj = importlib.import_module(".".join(parts[:cut]))
                    break
                except ImportError:
                    continue
            for attribute in parts[cut:]:
                obj = getattr(obj, attribute)
            assert obj is not None, dotted


def test_hidden_spec_of_an_unknown_exercise_is_a_clear_error():
    with pytest.raises(ValueError, match="exercise_id"):
        _hidden.hidden_spec("99-9")


# ------------------------------------------------------------------- the lessons' own solutions
def _solution_cells():
    """(lesson source, namespace after its solution cell, the check call of the next cell) for every exercise."""
    import pathlib
    import re

    import torch.nn as nn
    import torch.nn.functional as F

    from src import crf, metrics
    from src.aspp import ASPP

    root = pathlib.Path(__file__).resolve().parents[1] / "source"
    for path in sorted(root.glob("[0-9][0-9]_*.py")):
        cells = re.split(r"^# %%.*$", path.read_text(encoding="utf-8"), flags=re.M)
        ns = {"torch": torch, "nn": nn, "F": F, "np": np, "crf": crf, "metrics": metrics, "ASPP": ASPP}
        for i, cell in enumerate(cells):
            if "### BEGIN SOLUTION" in cell:
                exec(cell, ns)
                match = re.search(r"checks\.(check_\w+)\((\w+)\)", cells[i + 1])
                yield path.name, ns, match.group(1), match.group(2), cell


def test_every_source_solution_passes_its_check_and_its_hidden_cases():
    seen = set()
    for name, ns, check_name, function, _ in _solution_cells():
        result = getattr(src.checks, check_name)(ns[function])
        assert result.passed, (name, check_name, result.message)
        spec = _hidden.hidden_spec(result.exercise)
        assert spec.function == function, (name, spec.function, function)
        for (args, kwargs), (ref_args, ref_kwargs) in zip(spec.cases(), spec.cases(), strict=True):
            assert spec.compare(spec.call(ns[function], args, kwargs), spec.reference(ref_args, ref_kwargs)) is None
        seen.add(result.exercise)
    assert seen == set(src.checks.EXERCISES)


def test_every_unsolved_stub_gets_not_done_yet_and_no_hint():
    for name, ns, check_name, function, cell in _solution_cells():
        stub = re.sub(r"### BEGIN SOLUTION.*?### END SOLUTION", "raise NotImplementedError", cell, flags=re.S)
        exec(stub, ns)
        result = getattr(src.checks, check_name)(ns[function])
        assert not result.passed and "not done yet" in result.message, (name, result.message)
        assert "Hint" not in result.message, name

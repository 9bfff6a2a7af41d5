"""The exercise-check framework (see DESIGN.md, "Exercises and checks").

A check runs a learner's function on a few cases, compares each answer with
the reference from ``src`` (shape, dtype, values within a tolerance), catches
every exception, prints a verdict with a hint in the current language and
returns a :class:`CheckResult`. It never raises into the notebook.

When the environment variable ``SRC_GRADE_LOG`` names a file, every verdict is
also appended to it as one JSON line: that is how ``python -m src.grade``
reads a submitted notebook's results.
"""

from __future__ import annotations

import json
import math
import os
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..i18n import tr

#: every registered exercise: id -> (lesson number, short title: a string or a (vi, en) pair)
EXERCISES: dict[str, tuple[str, str | tuple[str, str]]] = {}


@dataclass
class CheckResult:
    """What a check found: the exercise id, pass / fail, and the message shown."""

    exercise: str
    passed: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"CheckResult(exercise={self.exercise!r}, passed={self.passed})"


class Mismatch(Exception):
    """Raised inside a comparison; its text (already translated) becomes the verdict."""


def exercise(
    exercise_id: str, title: str | tuple[str, str]
) -> Callable[[Callable[..., CheckResult]], Callable[..., CheckResult]]:
    """Register a check function under ``exercise_id`` (``"LL-N"``, LL the lesson number)."""
    lesson = exercise_id.split("-")[0]

    def register(fn: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        if exercise_id in EXERCISES:
            raise RuntimeError(f"exercise {exercise_id} registered twice")
        EXERCISES[exercise_id] = (lesson, title)
        fn.exercise_id = exercise_id  # type: ignore[attr-defined]
        return fn

    return register


def exercises_of(lesson: str) -> list[str]:
    """The exercise ids of one lesson (``"01"``), in order."""
    return sorted(k for k, (les, _) in EXERCISES.items() if les == lesson)


def _to_numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _is_array(value: Any) -> bool:
    return isinstance(value, (torch.Tensor, np.ndarray))


def compare(got: Any, expected: Any, rtol: float = 1e-4, atol: float = 1e-5, where: str = "") -> None:
    """Raise :class:`Mismatch` with a translated explanation when ``got`` differs from ``expected``."""
    label = f" ({where})" if where else ""
    if _is_array(expected):
        if not _is_array(got):
            raise Mismatch(
                tr(
                    f"cần trả về một {type(expected).__name__}, nhưng nhận được {type(got).__name__}{label}.",
                    f"expected a {type(expected).__name__}, got {type(got).__name__}{label}.",
                )
            )
        g, e = _to_numpy(got), _to_numpy(expected)
        if g.shape != e.shape:
            raise Mismatch(
                tr(
                    f"kích thước (shape) {tuple(g.shape)} khác với kích thước cần có {tuple(e.shape)}{label}.",
                    f"shape {tuple(g.shape)} differs from the expected shape {tuple(e.shape)}{label}.",
                )
            )
        if isinstance(expected, torch.Tensor) and isinstance(got, torch.Tensor):
            if expected.dtype.is_floating_point != got.dtype.is_floating_point:
                raise Mismatch(
                    tr(
                        f"kiểu dữ liệu {got.dtype} không phù hợp, cần {expected.dtype}{label}.",
                        f"dtype {got.dtype} does not fit, expected {expected.dtype}{label}.",
                    )
                )
        if e.size == 0:
            return
        if e.dtype == bool or g.dtype == bool:
            wrong = int(np.sum(g.astype(bool) != e.astype(bool)))
            if wrong:
                raise Mismatch(tr(f"{wrong} phần tử sai{label}.", f"{wrong} elements are wrong{label}."))
            return
        g64, e64 = g.astype(np.float64), e.astype(np.float64)
        if not np.allclose(g64, e64, rtol=rtol, atol=atol, equal_nan=True):
            diff = np.abs(g64 - e64)
            diff = np.where(np.isnan(diff), np.inf, diff)
            idx = np.unravel_index(int(np.argmax(diff)), diff.shape)
            rel = float(np.max(diff) / (np.max(np.abs(e64)) + 1e-12))
            raise Mismatch(
                tr(
                    f"giá trị sai: sai số tương đối lớn nhất {rel:.2e}, tại vị trí {tuple(int(i) for i in idx)} "
                    f"nhận được {g64[idx]:.6g} thay vì {e64[idx]:.6g}{label}.",
                    f"wrong values: largest relative error {rel:.2e}, at index {tuple(int(i) for i in idx)} "
                    f"got {g64[idx]:.6g} instead of {e64[idx]:.6g}{label}.",
                )
            )
        return
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            raise Mismatch(tr(f"cần trả về một dict{label}.", f"expected a dict{label}."))
        if set(got) != set(expected):
            raise Mismatch(
                tr(
                    f"các khoá {sorted(got)} khác với các khoá cần có {sorted(expected)}{label}.",
                    f"keys {sorted(got)} differ from the expected keys {sorted(expected)}{label}.",
                )
            )
        for key in expected:
            compare(got[key], expected[key], rtol, atol, where=f"{where}[{key!r}]" if where else f"[{key!r}]")
        return
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            raise Mismatch(
                tr(
                    f"cần một dãy gồm {len(expected)} phần tử, nhận được {got!r}{label}.",
                    f"expected a sequence of {len(expected)} items, got {got!r}{label}.",
                )
            )
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            compare(g, e, rtol, atol, where=f"{where}[{i}]")
        return
    if isinstance(expected, (int, float, np.integer, np.floating)) and not isinstance(expected, bool):
        if _is_array(got) and _to_numpy(got).size == 1:
            got = _to_numpy(got).item()
        if not isinstance(got, (int, float, np.integer, np.floating)) or isinstance(got, bool):
            raise Mismatch(
                tr(
                    f"cần một số, nhận được {type(got).__name__}{label}.",
                    f"expected a number, got {type(got).__name__}{label}.",
                )
            )
        if not math.isclose(float(got), float(expected), rel_tol=rtol, abs_tol=atol):
            raise Mismatch(
                tr(
                    f"nhận được {float(got):.6g}, cần {float(expected):.6g}{label}.",
                    f"got {float(got):.6g}, expected {float(expected):.6g}{label}.",
                )
            )
        return
    if got != expected:
        raise Mismatch(
            tr(f"nhận được {got!r}, cần {expected!r}{label}.", f"got {got!r}, expected {expected!r}{label}.")
        )


def _log(result: CheckResult) -> None:
    path = os.environ.get("SRC_GRADE_LOG")
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"exercise": result.exercise, "passed": result.passed}) + "\n")
    except OSError:
        pass


def report(exercise_id: str, passed: bool, message: str, **details: Any) -> CheckResult:
    """Print the verdict, log it for the grader, and return it."""
    title = EXERCISES.get(exercise_id, ("", ""))[1]
    if isinstance(title, tuple):
        title = tr(*title)
    mark = "✅" if passed else "❌"
    head = tr("Bài tập", "Exercise")
    print(f"{mark} {head} {exercise_id} ({title}): {message}")
    result = CheckResult(exercise_id, passed, message, dict(details))
    _log(result)
    return result


def run_check(
    exercise_id: str,
    learner: Any,
    cases: Iterable[tuple[tuple[Any, ...], dict[str, Any]]],
    reference: Callable[..., Any],
    *,
    hint: tuple[str, str] = ("", ""),
    rtol: float = 1e-4,
    atol: float = 1e-5,
    compare_fn: Callable[[Any, Any], None] | None = None,
) -> CheckResult:
    """Run ``learner(*args, **kwargs)`` against ``reference`` on every case.

    ``hint`` is a (vi, en) pair shown when the check fails. Exceptions from the
    learner's code (``NotImplementedError`` included) become a failing verdict.
    """
    hint_text = tr(*hint) if any(hint) else ""
    hint_suffix = (" " + tr("Gợi ý: ", "Hint: ") + hint_text) if hint_text else ""
    if not callable(learner):
        return report(
            exercise_id,
            False,
            tr(
                f"cần truyền vào một hàm, nhưng nhận được {type(learner).__name__}.",
                f"expected a function, but got {type(learner).__name__}.",
            ),
        )
    cases = list(cases)
    for number, (args, kwargs) in enumerate(cases, start=1):
        expected = reference(*args, **kwargs)
        try:
            got = learner(*args, **kwargs)
        except NotImplementedError:
            return report(
                exercise_id,
                False,
                tr(
                    "chưa làm — hãy thay `raise NotImplementedError` bằng lời giải của bạn.",
                    "not done yet — replace `raise NotImplementedError` with your solution.",
                )
                + hint_suffix,
            )
        except Exception as exc:
            last = traceback.extract_tb(exc.__traceback__)[-1]
            return report(
                exercise_id,
                False,
                tr(
                    f"hàm của bạn báo lỗi ở trường hợp {number}: {type(exc).__name__}: {exc} (dòng {last.lineno}).",
                    f"your function raised in case {number}: {type(exc).__name__}: {exc} (line {last.lineno}).",
                )
                + hint_suffix,
            )
        try:
            (compare_fn or (lambda g, e: compare(g, e, rtol, atol)))(got, expected)
        except Mismatch as mismatch:
            return report(
                exercise_id,
                False,
                tr(f"trường hợp {number}/{len(cases)}: ", f"case {number}/{len(cases)}: ")
                + str(mismatch)
                + hint_suffix,
            )
    return report(
        exercise_id,
        True,
        tr(
            f"đúng! Cả {len(cases)} trường hợp đều khớp với lời giải tham chiếu.",
            f"correct! All {len(cases)} cases match the reference.",
        ),
    )

"""The exercise-check framework (docs/DESIGN.md, "Exercises and checks"; every lesson 00-07 uses it).

A check runs a learner's function on a few cases and compares each answer
with the reference from ``src``:

* each call runs under a time limit (:mod:`src.checks._limits`): a runaway
  loop ends with a "took too long" verdict;
* the reference is computed *after* the learner's call, on inputs built
  afresh (or deep-copied), so a learner that mutates its inputs or a shared
  table cannot change what is expected, and no expected value exists while
  the learner's code runs;
* answers are compared as plain data (:mod:`src.checks._plain`), strictly
  (``bool`` is not ``int``, an integer array is not a float array, a numpy
  array where a torch tensor is expected is named as such);
* a failing case is shown compactly (inputs, got, expected, what differs),
  except for answers worked out by hand, which get "not yet" and a hint;
* an exception shows the learner's own line, not torch internals;
* hints come as a ladder: none before a real attempt (``NotImplementedError``
  is no attempt), then a conceptual hint, then a more specific one.

A check never raises into the notebook. When the environment variable
``SRC_GRADE_LOG`` names a file, each verdict is also appended to it as a JSON
line (in-notebook feedback only: the grader computes its own verdicts on
hidden cases, see :mod:`src.checks._hidden`).
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import os
import sysconfig
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ..i18n import tr
from ._limits import TimeLimitExceeded, call_with_time_limit
from ._plain import compare_plain, is_unplain, short, to_plain

#: every registered exercise: id -> (lesson number, short title: a string or a (vi, en) pair)
EXERCISES: dict[str, tuple[str, str | tuple[str, str]]] = {}
#: the visible cases of every exercise (a function that builds them), for tests and the grader's checks
VISIBLE_CASES: dict[str, Callable[[], list[Any]]] = {}
#: failed real attempts per exercise, for the hint ladder
ATTEMPTS: dict[str, int] = {}


def _default_time_limit() -> float:
    """5 s, or the environment variable ``SRC_CHECK_TIME_LIMIT`` (seconds > 0) on a slow machine."""
    try:
        value = float(os.environ.get("SRC_CHECK_TIME_LIMIT", "5"))
    except ValueError:
        return 5.0
    return value if 0 < value < float("inf") else 5.0


#: default time limit of one learner call, in seconds
DEFAULT_TIME_LIMIT_S = _default_time_limit()

Case = tuple[tuple[Any, ...], dict[str, Any]]


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
    exercise_id: str, title: str | tuple[str, str], cases: Callable[[], list[Any]] | None = None
) -> Callable[[Callable[..., CheckResult]], Callable[..., CheckResult]]:
    """Register a check function under ``exercise_id`` (``"LL-N"``, LL the lesson number).

    ``title`` is a (vi, en) pair; ``cases`` the function that builds the visible cases (recorded in
    :data:`VISIBLE_CASES`). The registered function never raises: an error inside the check itself
    becomes a failing verdict that says so.
    """
    lesson = exercise_id.split("-")[0]

    def register(fn: Callable[..., CheckResult]) -> Callable[..., CheckResult]:
        if exercise_id in EXERCISES:
            raise RuntimeError(f"exercise {exercise_id} registered twice")
        EXERCISES[exercise_id] = (lesson, title)
        if cases is not None:
            VISIBLE_CASES[exercise_id] = cases

        @functools.wraps(fn)
        def safe(*args: Any, **kwargs: Any) -> CheckResult:
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # a bug in the check, not in the learner's code
                return report(
                    exercise_id,
                    False,
                    tr(
                        f"lỗi bên trong bài kiểm tra ({type(exc).__name__}: {exc}); hãy báo cho giáo viên.",
                        f"the check itself failed ({type(exc).__name__}: {exc}); please tell the teacher.",
                    ),
                )

        safe.exercise_id = exercise_id  # type: ignore[attr-defined]
        return safe

    return register


def exercises_of(lesson: str) -> list[str]:
    """The exercise ids of one lesson (``"01"``), in order."""
    return sorted(k for k, (les, _) in EXERCISES.items() if les == lesson)


def title_of(exercise_id: str) -> str:
    """The exercise's title in the current language."""
    title = EXERCISES.get(exercise_id, ("", ""))[1]
    return tr(*title) if isinstance(title, tuple) else title


# ------------------------------------------------------------------------------------------- comparison
def _container_reason(got: Any, expected: Any, where: str = "") -> str | None:
    """numpy vs torch, decided explicitly: the answer must be the same kind of array as the reference."""
    at = tr(f" (tại {where})", f" (at {where})") if where else ""
    if isinstance(expected, torch.Tensor) and expected.dim() > 0 and isinstance(got, np.ndarray):
        return tr(
            f"hàm trả về một numpy.ndarray, nhưng cần một torch.Tensor{at} (dùng các phép của torch, "
            "hoặc torch.from_numpy).",
            f"your function returns a numpy.ndarray where a torch.Tensor is expected{at} (use torch operations, "
            "or torch.from_numpy).",
        )
    if isinstance(expected, np.ndarray) and expected.ndim > 0 and isinstance(got, torch.Tensor):
        return tr(
            f"hàm trả về một torch.Tensor, nhưng cần một numpy.ndarray{at} (dùng .numpy()).",
            f"your function returns a torch.Tensor where a numpy.ndarray is expected{at} (use .numpy()).",
        )
    if type(expected) in (list, tuple) and type(got) in (list, tuple):
        for i, (g, e) in enumerate(zip(got, expected, strict=False)):
            reason = _container_reason(g, e, f"{where}[{i}]")
            if reason:
                return reason
    if type(expected) is dict and type(got) is dict:
        for key in expected:
            if key in got:
                reason = _container_reason(got[key], expected[key], f"{where}[{key!r}]")
                if reason:
                    return reason
    return None


def compare_values(got: Any, expected: Any, rtol: float = 1e-4, atol: float = 1e-5) -> str | None:
    """``None`` when the learner's ``got`` matches ``expected`` (raw values), else the reason; never raises."""
    try:
        reason = _container_reason(got, expected)
    except Exception:
        reason = None
    return reason or compare_plain(to_plain(got), to_plain(expected), rtol=rtol, atol=atol)


def compare(got: Any, expected: Any, rtol: float = 1e-4, atol: float = 1e-5, where: str = "") -> None:
    """Raise :class:`Mismatch` with a translated explanation when ``got`` differs from ``expected``."""
    reason = compare_values(got, expected, rtol, atol)
    if reason:
        raise Mismatch(f"{reason} ({where})" if where else reason)


# ---------------------------------------------------------------------------------------------- verdicts
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
    """Print the verdict, log it for the in-notebook record, and return it."""
    mark = "✅" if passed else "❌"
    head = tr("Bài tập", "Exercise")
    title = title_of(exercise_id)
    print(f"{mark} {head} {exercise_id}" + (f" ({title})" if title else "") + f": {message}")
    result = CheckResult(exercise_id, passed, message, dict(details))
    _log(result)
    return result


_LIBRARY_DIRS = tuple(
    {os.path.realpath(p) + os.sep for p in (sysconfig.get_paths().get("stdlib"), sysconfig.get_paths().get("purelib"))}
    | {os.path.realpath(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep}
)


def _is_library(filename: str) -> bool:
    if filename.startswith("<frozen") or "site-packages" in filename or "dist-packages" in filename:
        return True
    try:
        real = os.path.realpath(filename)
    except (OSError, ValueError):
        return False
    return real.startswith(_LIBRARY_DIRS)


def learner_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The deepest traceback frame in the learner's own code (not torch, numpy, Python or ``src``)."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if not _is_library(f.filename)]
    return own[-1] if own else None


def _where(exc: BaseException) -> str:
    frame = learner_frame(exc)
    if frame is None:
        return ""
    code = (frame.line or "").strip()
    return tr(f" (dòng {frame.lineno}: `{code}`)", f" (line {frame.lineno}: `{code}`)") if code else ""


def _inputs(learner: Any, args: tuple, kwargs: dict) -> str:
    try:
        bound = inspect.signature(learner).bind(*args, **kwargs)
        items = list(bound.arguments.items())
    except (TypeError, ValueError):
        items = [(f"arg{i + 1}", a) for i, a in enumerate(args)] + list(kwargs.items())
    return ", ".join(f"{name}={short(value, 70)}" for name, value in items) or tr("(không có)", "(none)")


def _hint_text(exercise_id: str, hints: tuple[tuple[str, str], ...]) -> str:
    hints = tuple(h for h in hints if any(h))
    if not hints:
        return ""
    level = min(ATTEMPTS.get(exercise_id, 1), len(hints))
    prefix = tr("Gợi ý: ", "Hint: ") if level == 1 else tr("Gợi ý thêm: ", "A closer hint: ")
    return "\n   " + prefix + tr(*hints[level - 1])


def _fail_attempt(exercise_id: str, hints: tuple[tuple[str, str], ...], message: str, **details: Any) -> CheckResult:
    ATTEMPTS[exercise_id] = ATTEMPTS.get(exercise_id, 0) + 1
    return report(exercise_id, False, message + _hint_text(exercise_id, hints), **details)


def _hand_reason(got: Any, expected: Any, rtol: float, atol: float) -> str:
    """For answers worked out by hand: which entries are not right yet, never their values."""
    plain_got, plain_expected = to_plain(got), to_plain(expected)
    if type(plain_got) is dict and type(plain_expected) is dict and set(plain_got) == set(plain_expected):
        wrong = [str(k) for k in plain_expected if compare_plain(plain_got[k], plain_expected[k], rtol, atol)]
        return tr(f"chưa đúng: {', '.join(wrong)}.", f"not yet: {', '.join(wrong)}.")
    return tr("chưa đúng.", "not yet.")


def run_check(
    exercise_id: str,
    learner: Any,
    cases: Iterable[Case] | Callable[[], Iterable[Case]],
    reference: Callable[..., Any],
    *,
    hint: tuple[str, str] = ("", ""),
    hints: tuple[tuple[str, str], ...] = (),
    rtol: float = 1e-4,
    atol: float = 1e-5,
    compare_fn: Callable[[Any, Any], None] | None = None,
    time_limit_s: float | None = None,
    hand_computed: bool = False,
) -> CheckResult:
    """Run ``learner(*args, **kwargs)`` against ``reference`` on every case; print and return the verdict.

    ``cases`` is best a function that builds the cases: it is called again for the reference, after the
    learner's call, so nothing the learner does to its inputs reaches the expected values (a plain list is
    deep-copied). ``hints`` is the ladder of (vi, en) hints: the first after the first failed real attempt,
    the next ones after further failures (``hint`` alone is a one-step ladder). ``compare_fn(got, expected)``
    raises :class:`Mismatch` to replace the default strict comparison. ``time_limit_s`` bounds each call
    (default :data:`DEFAULT_TIME_LIMIT_S`). ``hand_computed``: the answer is a number worked out by hand, so a
    wrong one gets "not yet" and a hint, never the expected value.
    """
    ladder = tuple(hints) or ((hint,) if any(hint) else ())
    limit = DEFAULT_TIME_LIMIT_S if time_limit_s is None else time_limit_s
    if not callable(learner):
        return report(
            exercise_id,
            False,
            tr(
                f"cần truyền vào một hàm, nhưng nhận được {short(learner, 50)}.",
                f"expected a function, but got {short(learner, 50)}.",
            ),
        )
    try:
        if callable(cases):
            factory = cases
            learner_cases = list(factory())
        else:
            frozen = copy.deepcopy(list(cases))
            learner_cases = copy.deepcopy(frozen)

            def factory() -> list[Case]:
                return copy.deepcopy(frozen)

    except Exception as exc:
        return report(
            exercise_id, False, tr(f"lỗi khi tạo các trường hợp: {exc!r}", f"could not build the cases: {exc!r}")
        )
    total = len(learner_cases)
    answers: list[tuple[Any, str]] = []
    for number, (args, kwargs) in enumerate(learner_cases, start=1):
        shown_inputs = _inputs(learner, args, kwargs)  # before the call: the learner may mutate its inputs
        case_label = tr(f"trường hợp {number}/{total}", f"case {number}/{total}")
        try:
            got = call_with_time_limit(learner, args, kwargs, limit)
        except NotImplementedError:
            return report(
                exercise_id,
                False,
                tr(
                    "chưa làm — hãy thay `raise NotImplementedError` bằng lời giải của bạn.",
                    "not done yet — replace `raise NotImplementedError` with your solution.",
                ),
                attempted=False,
            )
        except TimeLimitExceeded:
            return _fail_attempt(
                exercise_id,
                ladder,
                tr(
                    f"{case_label}: hàm chạy quá lâu (hơn {limit:g} giây) nên đã bị dừng — có vòng lặp nào không "
                    f"bao giờ kết thúc không?\n   đầu vào: {shown_inputs}",
                    f"{case_label}: your function took too long (over {limit:g} s) and was stopped — is there a "
                    f"loop that never ends?\n   inputs: {shown_inputs}",
                ),
                timeout=True,
            )
        except KeyboardInterrupt:
            return report(exercise_id, False, tr("đã bị ngắt.", "interrupted."))
        except BaseException as exc:  # everything a learner can throw, SystemExit included
            text = _safe_str(exc)
            text = text if len(text) <= 160 else text[:157] + "..."
            return _fail_attempt(
                exercise_id,
                ladder,
                tr(
                    f"{case_label}: hàm của bạn báo lỗi {type(exc).__name__}"
                    f"{': ' + text if text else ''}{_where(exc)}.\n   đầu vào: {shown_inputs}",
                    f"{case_label}: your function raised {type(exc).__name__}"
                    f"{': ' + text if text else ''}{_where(exc)}.\n   inputs: {shown_inputs}",
                ),
            )
        answers.append((_snapshot(got), shown_inputs))
    # the reference: after every learner call, on inputs built afresh
    try:
        reference_cases = list(factory())
    except Exception as exc:
        return report(
            exercise_id, False, tr(f"lỗi khi tạo các trường hợp: {exc!r}", f"could not build the cases: {exc!r}")
        )
    for number, ((got, shown_inputs), (ref_args, ref_kwargs)) in enumerate(
        zip(answers, reference_cases, strict=False), start=1
    ):
        case_label = tr(f"trường hợp {number}/{total}", f"case {number}/{total}")
        try:
            expected = reference(*ref_args, **ref_kwargs)
        except Exception as exc:
            return report(
                exercise_id,
                False,
                tr(f"lỗi khi tính lời giải tham chiếu: {exc!r}", f"the reference failed: {exc!r}"),
            )
        reason = _reason(got, expected, compare_fn, rtol, atol)
        if reason is None:
            continue
        if got is None and expected is not None:
            reason = tr(
                "hàm trả về None — bạn có quên `return` không?",
                "your function returned None — did you forget `return`?",
            )
        if hand_computed:
            wrong = _hand_reason(got, expected, rtol, atol) if not _type_only(got, expected) else reason
            return _fail_attempt(exercise_id, ladder, wrong)
        return _fail_attempt(
            exercise_id,
            ladder,
            tr(
                f"{case_label} chưa đúng: {reason}\n   đầu vào:   {shown_inputs}\n   nhận được: {short(to_plain(got))}"
                f"\n   cần:       {short(to_plain(expected))}",
                f"{case_label} is not right: {reason}\n   inputs:   {shown_inputs}\n   got:      {short(to_plain(got))}"
                f"\n   expected: {short(to_plain(expected))}",
            ),
            case=number,
        )
    return report(
        exercise_id,
        True,
        tr(
            f"đúng! Cả {total} trường hợp đều khớp với lời giải tham chiếu.",
            f"correct! All {total} cases match the reference.",
        ),
    )


def _safe_str(exc: BaseException) -> str:
    try:
        return " ".join(str(exc).split())
    except Exception:
        return ""


def _snapshot(value: Any) -> Any:
    """A private copy of the learner's answer (it may alias a buffer the learner changes later)."""
    if isinstance(value, torch.Tensor):
        try:
            return value.clone()  # keeps the autograd graph: some checks look at it
        except Exception:
            return value
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) in (list, tuple, dict):
        try:
            return copy.deepcopy(value)
        except Exception:
            return value
    return value


def _reason(got: Any, expected: Any, compare_fn: Callable | None, rtol: float, atol: float) -> str | None:
    if compare_fn is None:
        return compare_values(got, expected, rtol, atol)
    try:
        compare_fn(got, expected)
    except Mismatch as mismatch:
        return str(mismatch)
    except Exception as exc:
        return tr(f"không so sánh được ({type(exc).__name__}).", f"could not compare ({type(exc).__name__}).")
    return None


def _type_only(got: Any, expected: Any) -> bool:
    """True when the answer is of the wrong type or shape altogether (saying so reveals no value)."""
    plain_got, plain_expected = to_plain(got), to_plain(expected)
    if is_unplain(plain_got) or type(plain_got) is not type(plain_expected):
        return not (isinstance(plain_got, (int, float)) and isinstance(plain_expected, (int, float)))
    if type(plain_expected) is dict:
        return set(plain_got) != set(plain_expected)
    return False


__all__ = [
    "ATTEMPTS",
    "DEFAULT_TIME_LIMIT_S",
    "EXERCISES",
    "VISIBLE_CASES",
    "CheckResult",
    "Mismatch",
    "compare",
    "compare_values",
    "exercise",
    "exercises_of",
    "learner_frame",
    "report",
    "run_check",
    "title_of",
]

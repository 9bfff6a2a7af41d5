"""Hidden cases for the grader (``python -m src.grade``): one :class:`HiddenSpec` per exercise.

The interface agreed between the checks and the grader (docs/DESIGN.md, "Grading"):
the grader runs the learner's notebook in an isolated child, looks up
``spec.function`` in the kernel's namespace and, in the child, calls
``spec.call(obj, args, kwargs)`` on every case of ``spec.cases()`` (under
``spec.time_limit_s``). ``call`` returns *plain* data (:func:`to_plain`),
which the grader serialises without pickle. In its own process the grader
computes ``spec.reference(args, kwargs)`` (already plain) and decides with
``spec.compare(got, expected)`` (``None`` = equal, else a short reason in the
current language). The hidden cases differ from the visible checks' cases.

Each ``src/checks/lNN.py`` registers its specs with :func:`register_hidden`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..i18n import bad_argument
from ._plain import compare_plain, is_unplain, short, to_plain

__all__ = [
    "HIDDEN",
    "HiddenSpec",
    "compare_plain",
    "default_call",
    "hidden_exercises_of",
    "hidden_spec",
    "is_unplain",
    "register_hidden",
    "short",
    "to_plain",
]

Case = tuple[tuple, dict]


def default_call(obj: Any, args: tuple, kwargs: dict) -> Any:
    """Call the learner's function on one case and return its answer as plain data."""
    return to_plain(obj(*args, **kwargs))


@dataclass(frozen=True)
class HiddenSpec:
    """What the grader needs to grade one exercise on hidden cases."""

    exercise: str  # "00-1"
    function: str  # name of the learner's function/class in the notebook
    cases: Callable[[], list[Case]]  # hidden inputs; deterministic; different from the visible check's
    call: Callable[[Any, tuple, dict], Any]  # runs the learner's object on one case (in the child) -> plain
    reference: Callable[[tuple, dict], Any]  # expected plain output for one case (in the grader)
    compare: Callable[[Any, Any], str | None]  # None if equal, else a short reason (current language)
    forbidden: tuple[str, ...] = ()  # dotted names of the course's reference objects the learner may not call
    hint: tuple[str, str] = ("", "")  # (vi, en) conceptual hint for the teacher's report
    time_limit_s: float = 5.0  # per case


#: every registered hidden spec, by exercise id
HIDDEN: dict[str, HiddenSpec] = {}


def register_hidden(
    exercise: str,
    function: str,
    cases: Callable[[], list[Case]],
    reference: Callable[..., Any],
    *,
    call: Callable[[Any, tuple, dict], Any] = default_call,
    compare: Callable[[Any, Any], str | None] | None = None,
    rtol: float = 1e-4,
    atol: float = 1e-5,
    forbidden: tuple[str, ...] = (),
    hint: tuple[str, str] = ("", ""),
    time_limit_s: float = 5.0,
) -> HiddenSpec:
    """Register the hidden spec of ``exercise``; ``reference(*args, **kwargs)`` is the raw reference.

    The stored ``spec.reference`` wraps it: ``to_plain(reference(*args, **kwargs))``; the default
    ``compare`` is :func:`compare_plain` with ``rtol``/``atol``.
    """
    if exercise in HIDDEN:
        raise RuntimeError(f"hidden spec {exercise} registered twice")

    def plain_reference(args: tuple, kwargs: dict) -> Any:
        return to_plain(reference(*args, **kwargs))

    def default_compare(got: Any, expected: Any) -> str | None:
        return compare_plain(got, expected, rtol=rtol, atol=atol)

    spec = HiddenSpec(
        exercise=exercise,
        function=function,
        cases=cases,
        call=call,
        reference=plain_reference,
        compare=compare or default_compare,
        forbidden=tuple(forbidden),
        hint=hint,
        time_limit_s=float(time_limit_s),
    )
    HIDDEN[exercise] = spec
    return spec


def hidden_spec(exercise_id: str) -> HiddenSpec:
    """The hidden spec of one exercise (``"00-1"``); ValueError for an unknown id."""
    if exercise_id not in HIDDEN:
        raise bad_argument(
            "hidden_spec", "exercise_id", f"một trong {sorted(HIDDEN)}", f"one of {sorted(HIDDEN)}", exercise_id
        )
    return HIDDEN[exercise_id]


def hidden_exercises_of(lesson: str) -> list[str]:
    """The exercise ids of one lesson (``"01"``) that have a hidden spec, in order."""
    return sorted(k for k in HIDDEN if k.split("-")[0] == lesson)

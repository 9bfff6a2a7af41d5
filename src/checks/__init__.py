"""Exercise checks, one module per lesson (``l00`` ... ``lNN``), found by discovery.

Each ``check_*`` function takes the learner's function, runs it against the
reference in ``src`` (on private copies, under a time limit), prints a verdict
in the current language and returns a :class:`CheckResult`. See
:mod:`src.checks._core` for the framework and :mod:`src.checks._hidden` for
the hidden cases the grader uses. Adding a lesson = adding ``src/checks/lNN.py``
(every name in its ``__all__`` is re-exported here).
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from ._core import EXERCISES, CheckResult, Mismatch, compare, exercise, exercises_of, report, run_check
from ._hidden import HIDDEN, HiddenSpec, hidden_exercises_of, hidden_spec, to_plain

__all__ = [
    "EXERCISES",
    "HIDDEN",
    "CheckResult",
    "HiddenSpec",
    "Mismatch",
    "compare",
    "exercise",
    "exercises_of",
    "hidden_exercises_of",
    "hidden_spec",
    "lesson_modules",
    "report",
    "run_check",
    "to_plain",
]

_LESSON_MODULE = re.compile(r"l\d\d$")


def lesson_modules() -> list[str]:
    """The names of the lesson check modules (``l00``, ``l01``, ...) in this package, in order."""
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if _LESSON_MODULE.match(info.name))


for _name in lesson_modules():
    _module = importlib.import_module(f"{__name__}.{_name}")
    for _public in getattr(_module, "__all__", ()):
        globals()[_public] = getattr(_module, _public)
        __all__.append(_public)
del _name, _module, _public

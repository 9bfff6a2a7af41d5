"""Exercise checks, one module per lesson (``l00`` ... ``l07``).

Each ``check_*`` function takes the learner's function, runs it against the
reference in ``src``, prints a verdict in the current language and returns a
:class:`CheckResult`. See :mod:`src.checks._core` for the framework.
"""

from ._core import EXERCISES, CheckResult, Mismatch, compare, exercise, exercises_of, report, run_check
from .l00 import *  # noqa: F403
from .l01 import *  # noqa: F403
from .l02 import *  # noqa: F403
from .l03 import *  # noqa: F403
from .l04 import *  # noqa: F403
from .l05 import *  # noqa: F403
from .l06 import *  # noqa: F403
from .l07 import *  # noqa: F403

__all__ = ["EXERCISES", "CheckResult", "Mismatch", "compare", "exercise", "exercises_of", "report", "run_check"]

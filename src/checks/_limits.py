"""A per-call time limit for learner functions (the checks of every lesson, docs/DESIGN.md "Exercises and checks").

A learner function that loops forever must end with a "took too long" verdict
rather than hang the notebook. Python cannot kill a thread, so two strategies:

* in the main thread on POSIX (a Jupyter kernel runs cells there),
  ``signal.setitimer`` raises :class:`TimeLimitExceeded` inside the learner's
  code (a BaseException, so the usual ``except Exception`` does not catch
  it); the timer repeats every 50 ms until control is back. A single long C
  call (one huge torch operation) is interrupted only when it returns, and a
  loop that catches ``BaseException`` (or uses a bare ``except:``) on every
  iteration cannot be stopped from inside the process at all: that is the
  grader's job (it kills the whole child).
* elsewhere (another thread, Windows), the call runs in a daemon thread that
  is abandoned when the time is up: the verdict comes on time, the runaway
  thread keeps running in the background until it ends (or the kernel does).
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["TimeLimitExceeded", "call_with_time_limit"]


class TimeLimitExceeded(BaseException):
    """The learner's call ran past its time limit (derives from BaseException, like KeyboardInterrupt)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(seconds)
        self.seconds = seconds


def _can_use_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


def call_with_time_limit(fn: Callable[..., Any], args: tuple = (), kwargs: dict | None = None, seconds: float = 5.0):
    """Return ``fn(*args, **kwargs)``, or raise :class:`TimeLimitExceeded` after ``seconds``.

    Exceptions raised by ``fn`` propagate unchanged. ``seconds <= 0`` or ``None`` means no limit.
    """
    kwargs = kwargs or {}
    if not seconds or seconds <= 0:
        return fn(*args, **kwargs)
    if _can_use_alarm():
        return _with_alarm(fn, args, kwargs, float(seconds))
    return _with_thread(fn, args, kwargs, float(seconds))


def _with_alarm(fn: Callable[..., Any], args: tuple, kwargs: dict, seconds: float) -> Any:
    state = {"active": True}

    def handler(signum: int, frame: Any) -> None:
        if state["active"]:
            raise TimeLimitExceeded(seconds)

    start = time.monotonic()
    previous_handler = signal.signal(signal.SIGALRM, handler)
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        return fn(*args, **kwargs)
    finally:
        state["active"] = False  # from here on the handler is a no-op, whatever fires
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous_handler)
        if previous_delay > 0:  # someone else's timer was running: give it back what is left
            left = max(previous_delay - (time.monotonic() - start), 0.001)
            signal.setitimer(signal.ITIMER_REAL, left, previous_interval)


def _with_thread(fn: Callable[..., Any], args: tuple, kwargs: dict, seconds: float) -> Any:
    box: dict[str, Any] = {}
    torch = sys.modules.get("torch")
    grad_enabled = torch.is_grad_enabled() if torch is not None else None  # grad mode is per thread

    def target() -> None:
        try:
            if torch is not None:
                torch.set_grad_enabled(grad_enabled)
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller below
            box["error"] = exc

    thread = threading.Thread(target=target, name="learner-call", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        raise TimeLimitExceeded(seconds)  # the thread is abandoned: Python cannot stop it
    if "error" in box:
        raise box["error"]
    return box.get("value")

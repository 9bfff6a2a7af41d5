"""``python -m src.selfcheck``: run the core of every lesson on ``src.get_device()`` and time it.

One line per lesson: the device, the seconds it took and a short summary. It
is the quick way to see that the course runs on a GPU (or MPS) exactly as on
the CPU: set ``SRC_DEVICE=cpu`` to compare both on one machine.

The cores are found, not listed: every module of ``src`` is imported and each
function decorated with ``@src.registry.register_core("NN")`` is lesson NN's
core (see :mod:`src.registry`). A core fails by raising; the run then exits
with status 1 and names every failed lesson on stderr. A module that cannot be
imported is a failure too (it may hold a lesson's core).
"""

from __future__ import annotations

import argparse
import re
import sys
import time

import torch

from . import get_device, set_language
from ._rng import seeded
from .i18n import tr
from .registry import Core, discover_cores

#: words that, in a core's summary, mean it found a problem it did not raise for (a safety net)
FAILURE_WORDS = re.compile(r"\b(FAILED|BROKEN|LỖI)\b")


def __getattr__(name: str):  # keep ``selfcheck.LESSONS`` / ``selfcheck.core_00`` for old callers
    if name == "LESSONS":
        cores, _ = discover_cores()
        return {lesson: fn.__module__ for lesson, fn in cores.items()}
    if name == "core_00":
        from .train import selfcheck_core

        return selfcheck_core
    raise AttributeError(name)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_core(lesson: str, fn: Core, device: torch.device) -> tuple[str, bool, float, str]:
    """Run one core seeded with 0 (the caller's RNG state is left as it was): (lesson, ok, seconds, summary)."""
    try:
        with seeded(0):
            _sync(device)
            start = time.perf_counter()
            summary = fn(device)
            _sync(device)
            seconds = time.perf_counter() - start
    except Exception as exc:
        return lesson, False, 0.0, f"{type(exc).__name__}: {exc}"
    if not isinstance(summary, str):
        return (
            lesson,
            False,
            seconds,
            tr(
                f"lõi phải trả về một chuỗi tóm tắt, nhưng trả về {type(summary).__name__}",
                f"the core must return a summary string, but returned {type(summary).__name__}",
            ),
        )
    if FAILURE_WORDS.search(summary):
        return lesson, False, seconds, summary
    return lesson, True, seconds, summary


def run(lessons: list[str] | None, device: torch.device) -> list[tuple[str, bool, float, str]]:
    """Run the cores of ``lessons`` (default: every registered one) on ``device``; one row per lesson.

    A module of ``src`` that fails to import adds a failed row named after the module.
    """
    cores, errors = discover_cores()
    rows = [(module, False, 0.0, message) for module, message in errors.items()]
    for lesson in sorted(cores) if lessons is None else lessons:
        if lesson not in cores:
            rows.append((lesson, False, 0.0, tr("không có lõi nào cho bài này", "no core registered for this lesson")))
            continue
        rows.append(run_core(lesson, cores[lesson], device))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("lessons", nargs="*", help="lesson numbers (default: all)")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: src.get_device())")
    parser.add_argument("--lang", choices=("vi", "en"), default=None)
    args = parser.parse_args(argv)
    if args.lang:
        set_language(args.lang)
    cores, _ = discover_cores()
    unknown = [lesson for lesson in args.lessons if lesson not in cores]
    if unknown:
        parser.error(f"unknown lessons: {unknown} (known: {sorted(cores)})")
    device = get_device(args.device)
    total = time.perf_counter()
    rows = run(args.lessons or None, device)
    for lesson, ok, seconds, summary in rows:
        status = "ok" if ok else tr("LỖI", "FAIL")
        label = tr("bài", "lesson") if lesson.isdigit() else tr("mô-đun", "module")
        print(f"{label} {lesson}  {device.type:5s} {seconds:7.2f} s  {status:4s} {summary}")
    print(
        tr(
            f"tổng: {time.perf_counter() - total:.1f} s trên {device}",
            f"total: {time.perf_counter() - total:.1f} s on {device}",
        )
    )
    failed = [lesson for lesson, ok, _, _ in rows if not ok]
    if failed:
        print(tr(f"thất bại: {', '.join(failed)}", f"failed: {', '.join(failed)}"), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The command line of ``python -m src.grade`` (see :mod:`src.grade`): bad usage is one line, exit 2."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from ..i18n import set_language, tr


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"python -m src.grade: {message}".replace("\n", " "), file=sys.stderr)
        raise SystemExit(2)


def _seconds(text: str) -> float | str:
    """The number of seconds, or the (translated) reason it is not one."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        return tr(
            f"--timeout-per-cell cần một số giây hữu hạn > 0 (ví dụ 120 hoặc 2.5), nhận được {text!r}",
            f"--timeout-per-cell needs a finite number of seconds > 0 (e.g. 120 or 2.5), got {text!r}",
        )
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Returns 0 when grading ran (whatever the scores), exits 2 for bad usage."""
    from . import (
        DEFAULT_TIMEOUT,
        _load_spec_files,
        find_notebooks,
        format_table,
        grade_notebooks,
        known_lessons,
        lesson_of,
        read_notebook,
    )

    argv = list(sys.argv[1:] if argv is None else argv)
    joined, i = [], 0
    while i < len(argv):  # "--timeout-per-cell -inf" is a value, not an option
        if argv[i] == "--timeout-per-cell" and i + 1 < len(argv):
            joined.append(f"--timeout-per-cell={argv[i + 1]}")
            i += 2
        else:
            joined.append(argv[i])
            i += 1
    argv = joined
    for i, arg in enumerate(argv):  # the language first, so that every message uses it
        if arg == "--lang" and i + 1 < len(argv) and argv[i + 1] in ("vi", "en"):
            set_language(argv[i + 1])
        elif arg in ("--lang=vi", "--lang=en"):
            set_language(arg[-2:])
    parser = _Parser(
        prog="python -m src.grade",
        description=tr(
            "Chấm các notebook bài tập đã nộp trong một môi trường cách ly, trên các trường hợp ẩn.",
            "Grade submitted notebooks in an isolated child, on hidden cases.",
        ),
    )
    parser.add_argument("paths", nargs="+", help=tr("các tệp .ipynb hoặc thư mục", ".ipynb files or folders"))
    parser.add_argument("--csv", metavar="FILE", help=tr("ghi bảng điểm ra tệp CSV", "write the scores to a CSV"))
    parser.add_argument(
        "--out", metavar="DIR", help=tr("thư mục cho báo cáo từng học viên và tổng kết", "folder for the reports")
    )
    parser.add_argument(
        "--timeout-per-cell",
        default=str(DEFAULT_TIMEOUT),
        metavar="S",
        help=tr(f"giới hạn giây cho mỗi ô (mặc định {DEFAULT_TIMEOUT:g})", f"seconds per cell ({DEFAULT_TIMEOUT:g})"),
    )
    parser.add_argument(
        "--isolation",
        choices=("auto", "bubblewrap", "rlimits"),
        default="auto",
        help=tr("mức cách ly (mặc định auto)", "isolation level (default auto)"),
    )
    parser.add_argument(
        "--spec-file",
        action="append",
        default=[],
        metavar="FILE",
        help=tr("tệp Python đăng ký thêm trường hợp ẩn", "a Python file registering extra hidden specs"),
    )
    parser.add_argument("--lang", choices=("vi", "en"), help=tr("ngôn ngữ của thông báo", "language of the messages"))
    args = parser.parse_args(argv)
    if args.lang:
        set_language(args.lang)
    args.timeout_per_cell = _seconds(args.timeout_per_cell)
    if isinstance(args.timeout_per_cell, str):
        parser.error(args.timeout_per_cell)
    for target in [args.csv] if args.csv else []:
        if not Path(target).resolve().parent.is_dir():
            parser.error(tr(f"không có thư mục để ghi {target}", f"no folder to write {target} in"))
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        parser.error(tr(f"--out {args.out} không phải một thư mục", f"--out {args.out} is not a folder"))
    try:
        notebooks = find_notebooks(args.paths)
    except ValueError as exc:
        parser.error(str(exc))
    if not notebooks:
        parser.error(tr("không tìm thấy notebook nào", "no notebook found"))
    for item in args.spec_file:
        if not Path(item).is_file():
            parser.error(tr(f"--spec-file {item}: không có tệp này", f"--spec-file {item}: no such file"))
    try:
        _load_spec_files(args.spec_file)
    except Exception as exc:
        parser.error(f"--spec-file: {type(exc).__name__}: {exc}")
    lessons = known_lessons()
    for item in args.paths:  # a notebook named on the command line must be gradable; in a folder it gets a row
        if Path(item).is_dir():
            continue
        notebook, why = read_notebook(item)
        if notebook is None:
            parser.error(f"{item}: {why}")
        lesson = lesson_of(notebook, item)
        if lesson not in lessons:
            parser.error(
                tr(
                    f"{item}: không rõ bài học ({lesson or 'không có số bài'}); các bài có bài tập: {sorted(lessons)}",
                    f"{item}: unknown lesson ({lesson or 'no lesson number'}); lessons with exercises: "
                    f"{sorted(lessons)}",
                )
            )
    try:
        results = grade_notebooks(
            args.paths,
            args.timeout_per_cell,
            out=args.out,
            csv_path=args.csv,
            isolation=args.isolation,
            spec_files=args.spec_file,
        )
    except RuntimeError as exc:  # --isolation bubblewrap where it cannot work
        parser.error(str(exc))
    print(format_table(results))
    for target in filter(None, [args.csv, args.out]):
        print(tr(f"đã ghi {target}", f"wrote {target}"))
    return 0

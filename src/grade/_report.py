"""What the grader writes: the table, the CSV, the JSON record, a report per student, the class summary.

Every file is written to a temporary name and then renamed, so a reader (or a
crash) never sees half a file; the CSV and the JSON are rewritten after each
notebook (see :mod:`src.grade`). Reports are markdown in the class's language
(``--lang``, :func:`src.i18n.tr`).
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..i18n import tr


def _status_word(status: str) -> str:
    return {
        "passed": tr("đạt", "passed"),
        "failed": tr("chưa đạt", "failed"),
        "not run": tr("không chạy", "not run"),
        "flagged": tr("gọi lời giải mẫu", "flagged"),
    }.get(status, status)


def _score_text(result: Any) -> str:
    if result.score is None:
        return "—"
    return f"{result.passed}/{len(result.expected)} ({100 * result.score:.0f}%)"


def _replace(path: str | Path, text: str) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8", newline="")
    os.replace(tmp, path)


def format_table(results: Sequence[Any]) -> str:
    """One table per lesson: notebook, each exercise, score, time, reason."""
    blocks = []
    for lesson in sorted({r.lesson or "??" for r in results}):
        rows = [r for r in results if (r.lesson or "??") == lesson]
        exercises = sorted({e for r in rows for e in r.expected})
        header = ["notebook", *exercises, tr("điểm", "score"), tr("thời gian", "time"), tr("lý do", "reason")]
        body = [
            [
                r.notebook,
                *[_status_word(r.status[e]) if e in r.status else "" for e in exercises],
                _score_text(r),
                f"{r.seconds:.0f} s",
                r.reason or "",
            ]
            for r in rows
        ]
        widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
        lines = [tr(f"Bài {lesson}", f"Lesson {lesson}")]
        for row in [header, None, *body]:
            if row is None:
                lines.append("  ".join("-" * w for w in widths))
            else:
                lines.append("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        blocks.append("\n".join(lines))
    scored = [r.score for r in results if r.score is not None]
    summary = tr(f"{len(results)} notebook", f"{len(results)} notebook(s)")
    if scored:
        mean = 100 * sum(scored) / len(scored)
        summary += tr(f", điểm trung bình {mean:.0f}%", f", mean score {mean:.0f}%")
    return "\n\n".join([*blocks, summary])


def write_csv(results: Sequence[Any], path: str | Path) -> None:
    """One row per notebook; per exercise 1 (passed), 0 (failed or flagged) or empty (not run)."""
    exercises = sorted({e for r in results for e in r.expected})
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    header = ["notebook", "lesson", *exercises, "passed", "expected", "score", "seconds", "isolation", "reason"]
    writer.writerow(header)
    for r in results:
        cells = []
        for e in exercises:
            status = r.status.get(e)
            cells.append("1" if status == "passed" else "0" if status in ("failed", "flagged") else "")
        score = "" if r.score is None else f"{r.score:.3f}"
        row = [
            r.notebook,
            r.lesson or "",
            *cells,
            r.passed,
            len(r.expected),
            score,
            f"{r.seconds:.1f}",
            r.isolation,
            r.reason,
        ]
        writer.writerow(row)
    _replace(path, buffer.getvalue())


def record(result: Any) -> dict[str, Any]:
    """The JSON record of one notebook."""
    return {
        "notebook": result.notebook,
        "lesson": result.lesson,
        "score": result.score,
        "passed": result.passed,
        "expected": list(result.expected),
        "exercises": {
            e: {
                "status": result.status.get(e),
                "detail": result.detail.get(e, ""),
                "hint": result.hints.get(e, ""),
            }
            for e in result.expected
        },
        "reasons": list(result.reasons),
        "seconds": round(result.seconds, 2),
        "isolation": result.isolation,
    }


def write_json(results: Sequence[Any], path: str | Path) -> None:
    """Every notebook's record, as one JSON list."""
    _replace(path, json.dumps([record(r) for r in results], ensure_ascii=False, indent=1))


def _title(exercise_id: str) -> str:
    try:
        from ..checks import EXERCISES

        title = EXERCISES.get(exercise_id, ("", ""))[1]
    except Exception:
        title = ""
    return tr(*title) if isinstance(title, tuple) else str(title)


def student_report(result: Any) -> str:
    """A short markdown report to hand back to one student."""
    lines = [
        f"# {tr('Kết quả chấm', 'Grading report')}: {result.notebook}",
        "",
        f"- {tr('Bài', 'Lesson')}: {result.lesson or '?'}",
        f"- {tr('Điểm', 'Score')}: {_score_text(result)}",
    ]
    if result.reasons:
        lines.append(f"- {tr('Ghi chú', 'Notes')}: {result.reason}")
    lines += [
        "",
        f"| {tr('Bài tập', 'Exercise')} | {tr('Kết quả', 'Verdict')} | {tr('Chi tiết', 'Detail')} |"
        f" {tr('Gợi ý', 'Hint')} |",
        "|---|---|---|---|",
    ]
    for e in result.expected:
        status = result.status.get(e, "not run")
        detail = result.detail.get(e, "") if status != "passed" else ""
        hint = result.hints.get(e, "") if status != "passed" else ""
        cells = [f"{e} {_title(e)}".strip(), _status_word(status), detail, hint]
        lines.append("| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |")
    lines += ["", f"_{tr('Cách ly', 'Isolation')}: {result.isolation}_", ""]
    return "\n".join(lines)


def _failure_kind(detail: str) -> str:
    """The failing hidden case's reason without the case number and inputs (to count alike failures)."""
    _head, sep, tail = detail.partition("): ")
    return tail if sep else detail


def class_summary(results: Sequence[Any]) -> str:
    """Markdown: per exercise, how many passed and the most common failure."""
    lines = [f"# {tr('Tổng kết lớp', 'Class summary')}", "", format_table(results).split("\n\n")[-1], ""]
    lines += [
        f"| {tr('Bài tập', 'Exercise')} | {tr('Đạt', 'Passed')} | {tr('Lỗi thường gặp nhất', 'Most common failure')} |",
        "|---|---|---|",
    ]
    for e in sorted({e for r in results for e in r.expected}):
        graded = [r for r in results if e in r.expected]
        passed = sum(1 for r in graded if r.status.get(e) == "passed")
        failures = Counter(_failure_kind(r.detail.get(e, "")) for r in graded if r.status.get(e) != "passed")
        common = ""
        if failures:
            kind, count = failures.most_common(1)[0]
            common = f"{kind or _status_word('not run')} ({count})"
        lines.append(
            f"| {f'{e} {_title(e)}'.strip()} | {passed}/{len(graded)} | {common.replace('|', chr(92) + '|')} |"
        )
    return "\n".join(lines) + "\n"

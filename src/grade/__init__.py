"""Grade a class's submitted notebooks: ``python -m src.grade SUBMISSION.ipynb... | FOLDER``.

For teachers who hand out ``lessons/`` as assignments (docs/DESIGN.md, "Grading"; the
exercises are those of ``src.checks``, lessons 00-08). A verdict a teacher can trust:

1. Each notebook runs in an isolated child (:mod:`src.grade._sandbox`): its own
   session and process group, resource limits, no network (bubblewrap namespaces
   when the machine allows them, else a documented fallback), a private home, a
   fresh working dir, no view of ``solutions/``, of the grader or of the other
   submissions. Everything the child started is killed at the end.
2. After the last cell, a harness (:mod:`src.grade._harness`) calls the learner's
   functions on the hidden cases of ``src.checks._hidden`` and sends the plain
   answers back as JSON (no pickle). The grader computes the references and
   compares in its own process; what the notebook's own check cells printed or
   logged does not count.
3. A learner definition that reaches the course's reference implementation for
   its exercise is flagged (:mod:`src.grade._flag`) and scores 0, with the reason.
4. Results are written as each notebook finishes (CSV with the ``notebook`` and
   ``score`` columns, a JSON record, a report per student and a class summary:
   :mod:`src.grade._report`), so one bad submission loses nothing else.

    python -m src.grade submissions/ --out graded/ --lang en
    python -m src.grade a.ipynb b.ipynb --csv class.csv --timeout-per-cell 120

The exit code is 0 whenever the grading ran, however badly the students did; 2
means bad usage (one line on stderr). Threat model: see README ("Grading").
"""

from __future__ import annotations

import copy
import importlib.util
import os
import re
import stat
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..i18n import bad_argument, tr
from . import _flag, _harness, _run, _sandbox
from ._report import class_summary, format_table, student_report, write_csv, write_json

__all__ = [
    "GradeResult",
    "class_summary",
    "find_notebooks",
    "format_table",
    "grade_notebook",
    "grade_notebooks",
    "lesson_of",
    "main",
    "student_report",
    "write_csv",
    "write_json",
]

ROOT = _sandbox.ROOT
DEFAULT_TIMEOUT = 120.0
MAX_NOTEBOOK_BYTES = 64 * 2**20
_LESSON_NAME = re.compile(r"^(\d\d)_")

PASSED, FAILED, NOT_RUN, FLAGGED = "passed", "failed", "not run", "flagged"


@dataclass
class GradeResult:
    """The grade of one notebook: each expected exercise's status and why, the score, how it ran."""

    notebook: str
    lesson: str | None
    expected: list[str]
    status: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    detail: dict[str, str] = field(default_factory=dict)  # exercise -> failing hidden case / flag reason
    hints: dict[str, str] = field(default_factory=dict)  # exercise -> hint (current language)
    isolation: str = ""
    #: seconds per phase of the run(s): startup, cells, harness, shutdown (and "retry" when re-run)
    timing: dict[str, float] = field(default_factory=dict)

    @property
    def passed(self) -> int:
        return sum(1 for e in self.expected if self.status.get(e) == PASSED)

    @property
    def score(self) -> float | None:
        """``passed / expected`` in [0, 1]; None when the lesson has no exercise (or is unknown)."""
        return self.passed / len(self.expected) if self.expected else None

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


# --------------------------------------------------------------------------- which lesson, which exercises
def lesson_of(notebook: Any, path: str | Path = "") -> str | None:
    """The lesson number ``"NN"`` of a notebook: ``metadata.course.source`` first, then the file name."""
    metadata = notebook.get("metadata", {}) if hasattr(notebook, "get") else {}
    course = metadata.get("course", {}) if hasattr(metadata, "get") else {}
    source = course.get("source") if isinstance(course, dict) else None
    if isinstance(source, str):
        match = _LESSON_NAME.match(Path(source).name)
        if match:
            return match.group(1)
    match = _LESSON_NAME.match(Path(path).name)
    return match.group(1) if match else None


_LOADED: dict[str, Any] = {}


def _load_spec_files(spec_files: Sequence[str | Path]) -> list[Path]:
    """Import extra hidden-spec files in the grader (once each); they are imported in the child too."""
    paths = []
    for item in spec_files:
        path = Path(item).resolve()
        if str(path) not in _LOADED:
            spec = importlib.util.spec_from_file_location(f"_src_grade_specs_{len(_LOADED)}", path)
            if spec is None or spec.loader is None:
                raise bad_argument("grade_notebook", "spec_files", "tệp Python", "Python files", str(item))
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            _LOADED[str(path)] = module
        paths.append(path)
    return paths


def _exercises(lesson: str) -> list[str]:
    from .. import checks
    from ..checks import _hidden

    return sorted(set(checks.exercises_of(lesson)) | set(_hidden.hidden_exercises_of(lesson)))


def known_lessons() -> set[str]:
    """Lessons that have at least one exercise."""
    from .. import checks
    from ..checks import _hidden

    return {k.split("-")[0] for k in [*checks.EXERCISES, *_hidden.HIDDEN]}


def read_notebook(path: str | Path) -> tuple[Any | None, str]:
    """The notebook, or None and why (a FIFO, a folder or a huge file is refused without opening it)."""
    import nbformat

    path = Path(path)
    try:
        info = os.stat(path, follow_symlinks=True)
        if not stat.S_ISREG(info.st_mode):
            return None, tr("không phải một tệp thường", "not a regular file")
        if info.st_size > MAX_NOTEBOOK_BYTES:
            return None, tr(f"tệp quá lớn ({info.st_size} byte)", f"file too large ({info.st_size} bytes)")
        with open(path, "rb") as fh:
            data = fh.read(MAX_NOTEBOOK_BYTES + 1)
        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
        if not isinstance(notebook.get("cells"), list):
            raise ValueError("no cells")
        return notebook, ""
    except Exception as exc:
        return None, tr(
            f"không đọc được notebook ({type(exc).__name__})", f"not a readable notebook ({type(exc).__name__})"
        )


# --------------------------------------------------------------------------- grading
def _specs(expected: list[str]) -> dict[str, Any]:
    from ..checks import _hidden

    return {e: _hidden.HIDDEN[e] for e in expected if e in _hidden.HIDDEN}


def _hint(spec: Any) -> str:
    hint = getattr(spec, "hint", ("", ""))
    return tr(*hint) if isinstance(hint, tuple) and len(hint) == 2 and any(hint) else ""


def _judge(spec: Any, record: Any) -> tuple[str, str]:
    """(status, detail) of one exercise from its harness record; references computed here."""
    from ..checks._plain import short

    if not isinstance(record, dict):
        return NOT_RUN, tr("không có kết quả từ notebook", "no answer came back from the notebook")
    if "missing" in record:
        return FAILED, tr(f"không tìm thấy hàm {spec.function} trong notebook", f"no {spec.function} in the notebook")
    if "missing_spec" in record or "cases_error" in record:
        return NOT_RUN, tr("không lấy được các trường hợp ẩn", "the hidden cases could not be built")
    cases = list(spec.cases())
    answers = record.get("cases")
    if not isinstance(answers, list) or len(answers) != len(cases):
        return FAILED, tr("số câu trả lời không khớp số trường hợp ẩn", "answers do not match the hidden cases")
    for number, ((args, kwargs), answer) in enumerate(zip(cases, answers, strict=True), start=1):
        where = tr(f"trường hợp ẩn {number}/{len(cases)}", f"hidden case {number}/{len(cases)}")
        inputs = ", ".join([short(a, 60) for a in args] + [f"{k}={short(v, 40)}" for k, v in kwargs.items()])
        if not isinstance(answer, dict):
            return FAILED, f"{where}: " + tr("câu trả lời hỏng", "malformed answer")
        if "timeout" in answer:
            return FAILED, f"{where} ({inputs}): " + tr(
                f"chạy quá {spec.time_limit_s:g} s", f"took longer than {spec.time_limit_s:g} s"
            )
        if "error" in answer:
            error = str(answer["error"])[:200]
            if error.startswith("NotImplementedError"):
                return FAILED, tr("chưa làm (NotImplementedError)", "not done yet (NotImplementedError)")
            return FAILED, f"{where} ({inputs}): " + tr(f"hàm báo lỗi {error}", f"raised {error}")
        try:
            got = _harness.decode(answer.get("ok"))
        except Exception:
            return FAILED, f"{where}: " + tr("câu trả lời không phải dữ liệu thuần", "the answer is not plain data")
        if isinstance(got, _harness.NotPlain):
            got = {"__unplain__": got.name}
        expected = spec.reference(copy.deepcopy(args), copy.deepcopy(kwargs))
        try:
            why = spec.compare(got, expected)
        except Exception as exc:  # a comparison must not take the grader down
            why = tr(f"không so sánh được ({type(exc).__name__})", f"cannot be compared ({type(exc).__name__})")
        if why is not None:
            return FAILED, f"{where} ({inputs}): {why}"
    return PASSED, ""


def _should_retry(run: _run.Run, n_cells: int) -> bool:
    """A run that stopped inside the learner's cells, or whose kernel died while grading, is graded again
    on the cells before the stop. A timeout in the grading step is the learner's function: not retried."""
    if run.answer is not None or run.stopped is None or run.stopped_at <= 0:
        return False
    if run.stopped_at < n_cells:
        return True
    return run.stopped == "dead" and n_cells > 1


def grade_notebook(
    path: str | Path,
    timeout_per_cell: float = DEFAULT_TIMEOUT,
    *,
    name: str | None = None,
    expected: Sequence[str] | None = None,
    isolation: str | _sandbox.Isolation = "auto",
    spec_files: Sequence[str | Path] = (),
) -> GradeResult:
    """Execute one submitted notebook in the isolated child and grade it; never raises for a bad submission.

    ``expected`` (exercise ids) defaults to the exercises of the notebook's lesson; ``isolation`` is
    ``"auto"`` (bubblewrap when usable), ``"bubblewrap"`` or ``"rlimits"``; ``spec_files`` are extra
    Python files that register hidden specs (imported here and in the child).
    """
    if (
        not isinstance(timeout_per_cell, (int, float))
        or isinstance(timeout_per_cell, bool)
        or not timeout_per_cell > 0
        or timeout_per_cell == float("inf")
    ):
        raise bad_argument(
            "grade_notebook",
            "timeout_per_cell",
            "một số giây hữu hạn > 0",
            "a finite number of seconds > 0",
            timeout_per_cell,
        )
    if isinstance(isolation, str):
        if isolation not in ("auto", "bubblewrap", "rlimits"):
            raise bad_argument(
                "grade_notebook",
                "isolation",
                "'auto', 'bubblewrap' hoặc 'rlimits'",
                "'auto', 'bubblewrap' or 'rlimits'",
                isolation,
            )
        isolation = _sandbox.choose_isolation(isolation)
    extra = _load_spec_files(spec_files)
    path = Path(path)
    result = GradeResult(name or str(path), None, [], isolation=_sandbox.describe(isolation))
    notebook, why = read_notebook(path)
    result.lesson = lesson_of(notebook or {}, path)
    if expected is not None:
        result.expected = list(expected)
    elif result.lesson is not None:
        result.expected = _exercises(result.lesson)
    result.status = dict.fromkeys(result.expected, NOT_RUN)
    if notebook is None:
        result.reasons.append(why)
        return result
    if result.lesson is None and expected is None:
        result.reasons.append(
            tr(
                "không xác định được bài học (thiếu metadata course.source và tên tệp không bắt đầu bằng NN_)",
                "cannot tell the lesson (no metadata course.source and the file name does not start with NN_)",
            )
        )
        return result
    specs = _specs(result.expected)
    for exercise_id in result.expected:
        if exercise_id in specs:
            result.hints[exercise_id] = _hint(specs[exercise_id])
    flagged = {}
    for exercise_id, spec in specs.items():
        reasons = _flag.flag_reasons(notebook, spec.function, spec.forbidden)
        if reasons:
            flagged[exercise_id] = reasons
    meddling = _flag.meddling_cells(notebook, result.lesson, ROOT)
    if meddling:
        cells_text = ", ".join(map(str, meddling[:8]))
        why = tr(
            f"ô mã {cells_text} can thiệp vào cơ chế chấm điểm",
            f"code cell(s) {cells_text} meddle with the grading machinery",
        )
        for exercise_id in specs:
            flagged.setdefault(exercise_id, []).append(why)
        result.reasons.append(why)

    cells, numbers = [], []
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            cells.append("".join(source) if isinstance(source, list) else str(source))
            numbers.append(number)
    # a notebook graded under Vietnamese or English keeps its own first cell (src.set_language)
    config = {"exercises": sorted(specs), "spec_files": [str(p) for p in extra]}
    harness_timeout = sum(float(s.time_limit_s) * max(1, len(s.cases())) for s in specs.values()) + 120
    start = time.perf_counter()
    run = _run.execute(cells, config, timeout_per_cell, isolation, [p.parent for p in extra], harness_timeout)
    if _should_retry(run, len(cells)):
        # the notebook stopped at cell K: grade what cells 1..K-1 defined, in a fresh child. A kernel killed
        # from outside (its launcher killed by the notebook) may be noticed a cell or more late, even at the
        # grading step, so a retry can die again: each retry goes back at least one cell, at most three times.
        # Grading a prefix of the learner's own cells gives nothing they could not have submitted themselves.
        result.reasons.append(_run.stop_reason(run, numbers, timeout_per_cell))
        limit, retry_seconds = min(run.stopped_at, len(cells) - 1), 0.0
        for _attempt in range(3):
            retry = _run.execute(
                cells[:limit], config, timeout_per_cell, isolation, [p.parent for p in extra], harness_timeout
            )
            run.leftovers += retry.leftovers
            retry_seconds += retry.seconds + retry.timing.get("shutdown", 0.0)
            if retry.answer is not None or retry.stopped is None:
                break
            result.reasons.append(_run.stop_reason(retry, numbers, timeout_per_cell))
            limit = min(retry.stopped_at, limit - 1)
            if limit <= 0:
                break
        run.answer = retry.answer
        run.timing["retry"] = retry_seconds
    elif run.stopped is not None:
        result.reasons.append(_run.stop_reason(run, numbers, timeout_per_cell))
    result.seconds = time.perf_counter() - start
    result.timing = {k: round(v, 3) for k, v in run.timing.items()}
    if run.errors:
        listed = ", ".join(f"{numbers[i]} ({name})" for i, name in run.errors[:5])
        result.reasons.append(tr(f"ô báo lỗi: {listed}", f"cells that raised: {listed}"))
    if run.output_dropped:
        result.reasons.append(tr("đầu ra quá lớn, phần thừa đã bị bỏ", "too much output, the rest was dropped"))
    if run.leftovers:
        result.reasons.append(
            tr(f"đã dừng {run.leftovers} tiến trình còn sót lại", f"killed {run.leftovers} leftover process(es)")
        )
    answers = run.answer["exercises"] if run.answer else {}
    for exercise_id in result.expected:
        if exercise_id in flagged:
            result.status[exercise_id] = FLAGGED
            result.detail[exercise_id] = "; ".join(flagged[exercise_id])
        elif exercise_id not in specs:
            result.status[exercise_id] = NOT_RUN
            result.detail[exercise_id] = tr("bài tập này chưa có trường hợp ẩn", "this exercise has no hidden cases")
        elif run.answer is None:
            result.status[exercise_id] = NOT_RUN
            result.detail[exercise_id] = tr("không có kết quả từ notebook", "no answer came back from the notebook")
        else:
            result.status[exercise_id], result.detail[exercise_id] = _judge(
                specs[exercise_id], answers.get(exercise_id)
            )
    if flagged:
        result.reasons.append(
            tr(
                f"bị đánh dấu (0 điểm): {', '.join(sorted(flagged))}",
                f"flagged (scored 0): {', '.join(sorted(flagged))}",
            )
        )
    if run.answer is not None and run.answer.get("tampered"):
        result.reasons.append(
            tr("câu trả lời gửi về bộ chấm đã bị can thiệp", "the answer sent to the grader was tampered with")
        )
    return result


def find_notebooks(paths: Sequence[str | Path]) -> list[tuple[Path, str]]:
    """(path, display name) of every notebook named, or below a folder named (checkpoints skipped)."""
    found: list[tuple[Path, str]] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            for nb in sorted(path.rglob("*.ipynb")):
                if ".ipynb_checkpoints" not in nb.parts:
                    found.append((nb, str(nb.relative_to(path))))
        elif path.exists() and path.suffix == ".ipynb":
            found.append((path, str(path)))
        else:
            raise bad_argument(
                "src.grade",
                "paths",
                "các tệp .ipynb hoặc thư mục có sẵn",
                "existing .ipynb files or folders",
                str(item),
            )
    return found


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name.replace(os.sep, "__")).strip("._") or "notebook"


def grade_notebooks(
    paths: Sequence[str | Path],
    timeout_per_cell: float = DEFAULT_TIMEOUT,
    progress: bool = True,
    *,
    out: str | Path | None = None,
    csv_path: str | Path | None = None,
    isolation: str = "auto",
    spec_files: Sequence[str | Path] = (),
) -> list[GradeResult]:
    """Grade every notebook named (or below a folder named), one after the other.

    After each notebook the CSV (``csv_path``, else ``out/scores.csv`` when ``out`` is given) and the JSON
    record are rewritten, and ``out/reports/<notebook>.md`` is written; ``out/summary.md`` at the end.
    """
    chosen = _sandbox.choose_isolation(isolation)
    out = Path(out) if out is not None else None
    if out is not None:
        (out / "reports").mkdir(parents=True, exist_ok=True)
    csv_file = Path(csv_path) if csv_path else (out / "scores.csv" if out else None)
    results: list[GradeResult] = []
    for path, name in find_notebooks(paths):
        if progress:
            print(tr(f"đang chấm {name} ...", f"grading {name} ..."), file=sys.stderr, flush=True)
        try:
            done = grade_notebook(path, timeout_per_cell, name=name, isolation=chosen, spec_files=spec_files)
        except Exception as exc:  # the grader itself failed on this one: it still gets a row
            done = GradeResult(name, None, [], reasons=[f"grader error: {type(exc).__name__}: {exc}"])
        results.append(done)
        if csv_file is not None:
            write_csv(results, csv_file)
            write_json(results, csv_file.with_suffix(".json"))
        if out is not None:
            (out / "reports" / (_safe_name(name) + ".md")).write_text(student_report(done), encoding="utf-8")
        if progress:
            score = "—" if done.score is None else f"{done.passed}/{len(done.expected)}"
            print(f"  -> {score}, {done.seconds:.0f} s  {done.reason}".rstrip(), file=sys.stderr, flush=True)
    # once more at the end, from memory: in the fallback isolation a notebook ran with the teacher's file
    # rights and may have overwritten what was written before it
    if csv_file is not None:
        write_csv(results, csv_file)
        write_json(results, csv_file.with_suffix(".json"))
    if out is not None:
        for done in results:
            (out / "reports" / (_safe_name(done.notebook) + ".md")).write_text(student_report(done), encoding="utf-8")
        (out / "summary.md").write_text(class_summary(results), encoding="utf-8")
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (see :mod:`src.grade._cli`)."""
    from ._cli import main as cli_main

    return cli_main(argv)

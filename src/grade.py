"""Grade a class's submitted notebooks: ``python -m src.grade SUBMISSION.ipynb... | FOLDER``.

For teachers who hand out ``lessons/`` as assignments (DESIGN.md, "Who uses it").
Each notebook is executed from top to bottom with nbclient in a fresh kernel
(a timeout per cell, widgets off, network refused outside loopback); every
``src.checks`` verdict is appended by the checks to the file named by
``SRC_GRADE_LOG`` (see :mod:`src.checks._core`). The grader reads that log and
prints, per notebook, each exercise as passed / failed / not run, the score
``passed / expected`` and the reason when something went wrong: the notebook
crashed or timed out at cell K, the kernel died, a check cell was edited or
deleted, or a cell touches the grading machinery.

    python -m src.grade submissions/                 # every .ipynb below a folder
    python -m src.grade a.ipynb b.ipynb --csv class.csv --timeout-per-cell 120 --lang en

The lesson of a notebook comes from its metadata (``metadata.course.source``,
written by tools/build.py) or else from its file name (``NN_...ipynb``); the
expected exercises are ``src.checks.exercises_of(NN)``. The exit code is 0
whenever the grading itself ran, however badly the students did; 2 means bad
usage (no notebook found, a path that does not exist).

Not a sandbox: submitted code runs with the teacher's rights. The network guard
blocks Python-level sockets to non-loopback hosts in the kernel, which stops
downloads through urllib, requests or torch.hub; child processes (``%pip``,
``!curl``) get proxies that point at a closed loopback port and ``PIP_NO_INDEX``.
A C extension that opens its own sockets is not stopped.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .i18n import bad_argument, set_language, tr

__all__ = ["GradeResult", "find_notebooks", "grade_notebook", "grade_notebooks", "lesson_of", "main", "write_csv"]

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TIMEOUT = 120
_LESSON_NAME = re.compile(r"^(\d\d)_")
_CHECK_CALL = re.compile(r"src\.checks\.(check_\w+)\s*\(")
_TAMPER = re.compile(
    r"SRC_GRADE_LOG|checks\._core|_core\._log|checks\.report\s*\(|\bEXERCISES\b|src\.checks\.\w+\s*=(?!=)"
)

PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"


@dataclass
class GradeResult:
    """The grade of one notebook: each expected exercise's status, the score and why it is not full."""

    notebook: str
    lesson: str | None
    expected: list[str]
    status: dict[str, str] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0

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


def _status_word(status: str) -> str:
    return {
        PASSED: tr("đạt", "passed"),
        FAILED: tr("chưa đạt", "failed"),
        NOT_RUN: tr("không chạy", "not run"),
    }[status]


# --------------------------------------------------------------------------- which lesson, which exercises
def lesson_of(notebook: Any, path: str | Path = "") -> str | None:
    """The lesson number ``"NN"`` of a notebook: ``metadata.course.source`` first, then the file name."""
    course = notebook.get("metadata", {}).get("course", {}) if hasattr(notebook, "get") else {}
    source = course.get("source") if isinstance(course, dict) else None
    if isinstance(source, str):
        match = _LESSON_NAME.match(Path(source).name)
        if match:
            return match.group(1)
    match = _LESSON_NAME.match(Path(path).name)
    return match.group(1) if match else None


def _expected_exercises(lesson: str) -> list[str]:
    from . import checks

    return checks.exercises_of(lesson)


def _exercise_of_check(name: str) -> str | None:
    from . import checks

    return getattr(getattr(checks, name, None), "exercise_id", None)


def _original_lesson(notebook: Any, lesson: str) -> Path | None:
    """The untouched lesson notebook the submission was handed out as (lessons/<lang>/NN_*.ipynb)."""
    course = notebook.get("metadata", {}).get("course", {})
    lang = course.get("lang") if isinstance(course, dict) else None
    source = course.get("source") if isinstance(course, dict) else None
    for folder in [lang] if lang in ("vi", "en") else ["vi", "en"]:
        if isinstance(source, str):
            candidate = ROOT / "lessons" / folder / (Path(source).stem + ".ipynb")
            if candidate.is_file():
                return candidate
        found = sorted((ROOT / "lessons" / folder).glob(f"{lesson}_*.ipynb"))
        if found:
            return found[0]
    return None


def _code_cells(notebook: Any) -> list[tuple[int, str]]:
    return [
        (i, "".join(c.get("source", "")))
        for i, c in enumerate(notebook.get("cells", []))
        if c.get("cell_type") == "code"
    ]


def _integrity(notebook: Any, original: Any | None) -> tuple[list[str], list[str]]:
    """Reasons: check cells edited or deleted (compared with the original lesson); cells that meddle."""
    reasons, meddling = [], []
    submitted = _code_cells(notebook)
    if original is not None:
        present = {src.strip() for _, src in submitted}
        for _, source in _code_cells(original):
            names = _CHECK_CALL.findall(source)
            if not names or source.strip() in present:
                continue
            ids = [e for e in (_exercise_of_check(n) for n in names) if e] or names
            reasons.append(
                tr(
                    f"ô kiểm tra của {', '.join(ids)} đã bị sửa hoặc xoá",
                    f"check cell of {', '.join(ids)} was edited or deleted",
                )
            )
    originals = {src.strip() for _, src in _code_cells(original)} if original is not None else set()
    for index, source in submitted:
        if source.strip() not in originals and _TAMPER.search(source):
            meddling.append(
                tr(
                    f"ô {index + 1} can thiệp vào cơ chế chấm điểm (cần xem lại)",
                    f"cell {index + 1} meddles with the grading machinery (look at it)",
                )
            )
    return reasons, meddling


# --------------------------------------------------------------------------- the kernel
def _network_guard() -> None:
    """Refuse Python-level sockets to anything but loopback (and DNS look-ups of other hosts)."""
    import errno
    import ipaddress
    import socket

    def loopback(host: Any) -> bool:
        if host is None or host in ("", "localhost", b"localhost"):
            return True
        if isinstance(host, bytes):
            host = host.decode(errors="replace")
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False

    def refuse(address: Any) -> OSError:
        return OSError(errno.ENETUNREACH, f"network access is disabled while grading ({address!r})")

    def allowed(sock: socket.socket, address: Any) -> bool:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            return True
        return isinstance(address, tuple) and loopback(address[0])

    connect, connect_ex, sendto = socket.socket.connect, socket.socket.connect_ex, socket.socket.sendto
    getaddrinfo = socket.getaddrinfo

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if not allowed(self, address):
            raise refuse(address)
        return connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> Any:
        if not allowed(self, address):
            return errno.ENETUNREACH
        return connect_ex(self, address)

    def guarded_sendto(self: socket.socket, data: Any, *args: Any) -> Any:
        if not allowed(self, args[-1]):
            raise refuse(args[-1])
        return sendto(self, data, *args)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"network access is disabled while grading ({host!r})")
        return getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign]
    socket.socket.sendto = guarded_sendto  # type: ignore[method-assign]
    socket.getaddrinfo = guarded_getaddrinfo


def _kernel_main() -> None:
    """Entry point of the grading kernel: the network guard, then a normal ipykernel."""
    _network_guard()
    from ipykernel import kernelapp

    kernelapp.launch_new_instance()


def _kernel_manager_class() -> type:
    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from traitlets import default

    class GradingSpecs(KernelSpecManager):
        """Always the python of this environment, wrapped by :func:`_kernel_main`."""

        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            argv = [
                sys.executable,
                "-c",
                "from src.grade import _kernel_main; _kernel_main()",
                "-f",
                "{connection_file}",
            ]
            return KernelSpec(argv=argv, display_name="Python 3 (grading)", language="python", resource_dir=str(ROOT))

    class GradingKernelManager(AsyncKernelManager):
        @default("kernel_spec_manager")
        def _default_specs(self) -> KernelSpecManager:
            return GradingSpecs()

    return GradingKernelManager


def _kernel_env(log: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SRC_NO_WIDGETS="1",
        SRC_GRADE_LOG=str(log),
        MPLBACKEND="Agg",
        TQDM_DISABLE="1",
        PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])]),
        PYDEVD_DISABLE_FILE_VALIDATION="1",
        no_proxy="127.0.0.1,localhost,::1",
        NO_PROXY="127.0.0.1,localhost,::1",
        PIP_NO_INDEX="1",
    )
    # child processes (pip, curl, ...) do not get the socket guard: point their proxies at a closed port
    for name in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = "http://127.0.0.1:9"
    env.pop("SRC_LANG", None)  # the notebook's first cell picks its language
    return env


def _read_log(log: Path) -> dict[str, bool]:
    """The last verdict logged for each exercise (malformed lines are ignored)."""
    verdicts: dict[str, bool] = {}
    if not log.exists():
        return verdicts
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and isinstance(item.get("exercise"), str) and isinstance(item.get("passed"), bool):
            verdicts[item["exercise"]] = item["passed"]
    return verdicts


# --------------------------------------------------------------------------- grading
def grade_notebook(
    path: str | Path,
    timeout_per_cell: float = DEFAULT_TIMEOUT,
    *,
    name: str | None = None,
    expected: Sequence[str] | None = None,
    original: str | Path | None = None,
) -> GradeResult:
    """Execute one submitted notebook and grade it; never raises for a bad submission.

    ``expected`` (the exercise ids) and ``original`` (the handed-out lesson notebook
    that check cells are compared with) default to what the notebook's lesson says.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    if not isinstance(timeout_per_cell, (int, float)) or isinstance(timeout_per_cell, bool) or timeout_per_cell <= 0:
        raise bad_argument(
            "grade_notebook", "timeout_per_cell", "một số giây > 0", "a number of seconds > 0", timeout_per_cell
        )
    path = Path(path)
    name = name or str(path)
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as exc:  # a broken file still gets a row
        result = GradeResult(name, lesson_of({}, path), [])
        result.expected = (
            list(expected) if expected is not None else (_expected_exercises(result.lesson) if result.lesson else [])
        )
        result.status = dict.fromkeys(result.expected, NOT_RUN)
        result.reasons.append(
            tr(f"không đọc được notebook ({type(exc).__name__})", f"not a readable notebook ({type(exc).__name__})")
        )
        return result

    lesson = lesson_of(notebook, path)
    result = GradeResult(name, lesson, [])
    if expected is not None:
        result.expected = list(expected)
    elif lesson is not None:
        result.expected = _expected_exercises(lesson)
    else:
        result.reasons.append(
            tr(
                "không xác định được bài học (thiếu metadata course.source và tên tệp không bắt đầu bằng NN_)",
                "cannot tell the lesson (no metadata course.source and the file name does not start with NN_)",
            )
        )
        return result
    if original is None and lesson is not None:
        original = _original_lesson(notebook, lesson)
    original_nb = None
    if original is not None:
        try:
            original_nb = nbformat.read(Path(original), as_version=4)
        except Exception:  # no comparison then
            original_nb = None

    current = {"index": -1}

    def on_cell_start(cell: Any, cell_index: int) -> None:
        current["index"] = cell_index

    with tempfile.TemporaryDirectory(prefix="src-grade-") as tmp:
        log = Path(tmp) / "verdicts.jsonl"
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        client = NotebookClient(
            notebook,
            timeout=timeout_per_cell,
            kernel_name="python3",
            kernel_manager_class=_kernel_manager_class(),
            shutdown_kernel="immediate",
            startup_timeout=120,
            resources={"metadata": {"path": str(workdir)}},
            on_cell_start=on_cell_start,
        )
        start = time.perf_counter()
        try:
            client.execute(env=_kernel_env(log), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except CellTimeoutError:
            result.reasons.append(
                tr(
                    f"quá thời gian ở ô {current['index'] + 1} (> {timeout_per_cell:g} s)",
                    f"timed out at cell {current['index'] + 1} (> {timeout_per_cell:g} s)",
                )
            )
        except CellExecutionError as exc:
            result.reasons.append(
                tr(
                    f"lỗi ở ô {current['index'] + 1}: {exc.ename}",
                    f"crashed at cell {current['index'] + 1} with {exc.ename}",
                )
            )
        except DeadKernelError:
            result.reasons.append(
                tr(
                    f"kernel bị dừng đột ngột ở ô {current['index'] + 1}",
                    f"the kernel died at cell {current['index'] + 1}",
                )
            )
        except Exception as exc:  # the grader goes on with the next notebook
            result.reasons.append(
                tr(
                    f"không chạy được notebook: {type(exc).__name__}: {exc}",
                    f"could not run the notebook: {type(exc).__name__}: {exc}",
                )
            )
        result.seconds = time.perf_counter() - start
        verdicts = _read_log(log)

    completed = not result.reasons
    for exercise_id in result.expected:
        if exercise_id in verdicts:
            result.status[exercise_id] = PASSED if verdicts[exercise_id] else FAILED
        else:
            result.status[exercise_id] = NOT_RUN
    edited, meddling = _integrity(notebook, original_nb)
    missing = [e for e in result.expected if result.status[e] == NOT_RUN]
    if completed and missing and not edited:
        result.reasons.append(
            tr(
                f"thiếu kết quả kiểm tra của {', '.join(missing)} (ô kiểm tra bị sửa để bỏ qua?)",
                f"checks missing: {', '.join(missing)} (edited to skip checks?)",
            )
        )
    result.reasons.extend(edited + meddling)
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
        elif path.is_file() and path.suffix == ".ipynb":
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


def grade_notebooks(
    paths: Sequence[str | Path], timeout_per_cell: float = DEFAULT_TIMEOUT, progress: bool = True
) -> list[GradeResult]:
    """Grade every notebook named (or below a folder named), one after the other."""
    results = []
    for path, name in find_notebooks(paths):
        if progress:
            print(tr(f"đang chấm {name} ...", f"grading {name} ..."), file=sys.stderr, flush=True)
        results.append(grade_notebook(path, timeout_per_cell, name=name))
        if progress:
            done = results[-1]
            print(
                f"  -> {_score_text(done)}, {done.seconds:.0f} s  {done.reason}".rstrip(), file=sys.stderr, flush=True
            )
    return results


# --------------------------------------------------------------------------- output
def _score_text(result: GradeResult) -> str:
    if result.score is None:
        return "—"
    return f"{result.passed}/{len(result.expected)} ({100 * result.score:.0f}%)"


def format_table(results: Sequence[GradeResult]) -> str:
    """One table per lesson: notebook, each exercise, score, time, reason."""
    blocks = []
    lessons = sorted({r.lesson or "??" for r in results})
    for lesson in lessons:
        rows = [r for r in results if (r.lesson or "??") == lesson]
        exercises = sorted({e for r in rows for e in r.expected})
        header = [
            tr("notebook", "notebook"),
            *exercises,
            tr("điểm", "score"),
            tr("thời gian", "time"),
            tr("lý do", "reason"),
        ]
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
                lines.append("  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip())
        blocks.append("\n".join(lines))
    scored = [r.score for r in results if r.score is not None]
    summary = tr(f"{len(results)} notebook", f"{len(results)} notebook(s)")
    if scored:
        mean = 100 * sum(scored) / len(scored)
        summary += tr(f", điểm trung bình {mean:.0f}%", f", mean score {mean:.0f}%")
    return "\n\n".join([*blocks, summary])


def write_csv(results: Sequence[GradeResult], path: str | Path) -> None:
    """The class's scores: one row per notebook; per exercise 1 (passed), 0 (failed) or empty (not run)."""
    exercises = sorted({e for r in results for e in r.expected})
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["notebook", "lesson", *exercises, "passed", "expected", "score", "seconds", "reason"])
        for r in results:
            cells = []
            for e in exercises:
                status = r.status.get(e)
                cells.append("1" if status == PASSED else "0" if status == FAILED else "")
            score = "" if r.score is None else f"{r.score:.3f}"
            writer.writerow(
                [r.notebook, r.lesson or "", *cells, r.passed, len(r.expected), score, f"{r.seconds:.1f}", r.reason]
            )


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; returns 0 when grading ran (whatever the scores), 2 for bad usage."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--lang" in argv and argv.index("--lang") + 1 < len(argv) and argv[argv.index("--lang") + 1] in ("vi", "en"):
        set_language(argv[argv.index("--lang") + 1])
    parser = argparse.ArgumentParser(
        prog="python -m src.grade",
        description=tr(
            "Chấm các notebook bài tập đã nộp: chạy từng notebook, đọc kết quả của src.checks, in bảng điểm.",
            "Grade submitted notebooks: run each one, read its src.checks verdicts, print the scores.",
        ),
    )
    parser.add_argument("paths", nargs="+", help=tr("các tệp .ipynb hoặc thư mục", ".ipynb files or folders"))
    parser.add_argument("--csv", metavar="FILE", help=tr("ghi bảng điểm ra tệp CSV", "write the scores to a CSV file"))
    parser.add_argument(
        "--timeout-per-cell",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help=tr(
            f"giới hạn giây cho mỗi ô (mặc định {DEFAULT_TIMEOUT})",
            f"seconds allowed per cell (default {DEFAULT_TIMEOUT})",
        ),
    )
    parser.add_argument("--lang", choices=("vi", "en"), help=tr("ngôn ngữ của thông báo", "language of the messages"))
    args = parser.parse_args(argv)
    if args.lang:
        set_language(args.lang)
    if args.timeout_per_cell <= 0:
        parser.error(tr("--timeout-per-cell cần một số > 0", "--timeout-per-cell needs a number > 0"))
    if args.csv and not Path(args.csv).resolve().parent.is_dir():
        parser.error(tr(f"không có thư mục để ghi {args.csv}", f"no folder to write {args.csv} in"))
    try:
        notebooks = find_notebooks(args.paths)
    except ValueError as exc:
        parser.error(str(exc))
    if not notebooks:
        parser.error(tr("không tìm thấy notebook nào", "no notebook found"))
    results = grade_notebooks(args.paths, args.timeout_per_cell)
    print(format_table(results))
    if args.csv:
        write_csv(results, args.csv)
        print(tr(f"đã ghi {args.csv}", f"wrote {args.csv}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

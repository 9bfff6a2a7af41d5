"""Execute one notebook in the isolated child and bring back the harness answer (see :mod:`src.grade`)."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..i18n import tr
from . import _harness, _sandbox

#: all cell outputs of a notebook together may not exceed this (bytes of JSON); the rest is dropped
MAX_OUTPUT = 16 * 2**20


@dataclass
class Run:
    """What one execution gave: the harness answer (or None), where and why it stopped, cell errors."""

    answer: dict[str, Any] | None = None
    stopped: str | None = None  # "timeout", "dead", "error"
    stopped_at: int = -1  # index of the cell (in the executed list)
    message: str = ""
    errors: list[tuple[int, str]] = field(default_factory=list)  # (cell index, exception name)
    output_dropped: bool = False
    seconds: float = 0.0
    leftovers: int = 0  # processes still carrying the token after the kernel was shut down
    #: where the time went (seconds): "startup" (sandbox + kernel start, until the first cell starts),
    #: "cells" (the notebook's own cells), "harness" (the hidden cases, then the kernel's shutdown),
    #: "shutdown" (killing what is left, removing the private folder)
    timing: dict[str, float] = field(default_factory=dict)


def _client_class() -> type:
    from nbclient import NotebookClient

    class Client(NotebookClient):
        """nbclient with a cap on the outputs it keeps (a notebook may print gigabytes)."""

        harness_index = -1
        output_bytes = 0
        dropped = False
        harness_cleared = False

        def clear_output(self, outs: list, msg: dict, cell_index: int) -> None:
            if cell_index == self.harness_index:
                self.harness_cleared = True
            return super().clear_output(outs, msg, cell_index)

        def output(self, outs: list, msg: dict, display_id: str | None, cell_index: int) -> Any:
            if cell_index != self.harness_index:
                try:
                    size = len(json.dumps(msg.get("content", {}), default=str))
                except (TypeError, ValueError):
                    size = MAX_OUTPUT
                self.output_bytes += size
                if self.output_bytes > MAX_OUTPUT:
                    self.dropped = True
                    return None
            return super().output(outs, msg, display_id, cell_index)

    return Client


def _seed_home(home: Path) -> None:
    """Copy matplotlib's font list into the private home (else every child rebuilds it: seconds)."""
    fonts = Path.home() / ".cache" / "matplotlib"
    try:
        if fonts.is_dir():
            (home / ".cache" / "matplotlib").mkdir(parents=True)
            for item in fonts.glob("fontlist-*.json"):
                if item.is_file() and not item.is_symlink():
                    shutil.copyfile(item, home / ".cache" / "matplotlib" / item.name)
    except OSError:
        pass
    cache = _numba_cache()
    if cache is not None:
        try:
            shutil.copytree(cache, home / ".cache" / "numba", symlinks=False)
        except OSError:
            pass


@functools.lru_cache(maxsize=1)
def _numba_cache() -> Path | None:
    """A numba cache of the dense CRF's compiled loops (``src/_lattice_numba.py``), compiled once by the grader.

    The child's ``src/`` is read-only, so numba cannot keep its cache there and would compile the loops again in
    every child that runs a CRF (lessons 04, 07: tens of seconds each). The grader compiles them once per version
    of that file (in a subprocess, into the grader user's own cache folder) and :func:`_seed_home` copies the
    result into each child's private home; what one child does to its copy reaches no other child.
    """
    from .. import _lattice_numba

    if not _lattice_numba.available():
        return None
    source = Path(_lattice_numba.__file__)
    digest = hashlib.sha256(source.read_bytes() + sys.version.encode()).hexdigest()[:16]
    folder = Path.home() / ".cache" / "segmentation-course" / f"numba-{digest}"
    if folder.is_dir():
        return folder
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
    except OSError:  # no cache folder: every child compiles for itself
        return None
    scratch = Path(tempfile.mkdtemp(prefix="numba-", dir=folder.parent))
    env = {**os.environ, "NUMBA_CACHE_DIR": str(scratch)}
    code = "from src._lattice_numba import warm_up; warm_up()"
    try:
        subprocess.run(
            [sys.executable, "-c", code], cwd=_sandbox.ROOT, env=env, timeout=600, check=True, capture_output=True
        )
        scratch.rename(folder)
    except (OSError, subprocess.SubprocessError):
        shutil.rmtree(scratch, ignore_errors=True)
        return folder if folder.is_dir() else None
    return folder


def execute(
    cells: list[str],
    config: dict[str, Any],
    timeout_per_cell: float,
    isolation: _sandbox.Isolation,
    extra_ro: list[Path],
    harness_timeout: float,
) -> Run:
    """Run ``cells`` then the harness in a fresh child; never raises for what the cells do."""
    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    run = Run()
    box = Path(tempfile.mkdtemp(prefix="sg-"))
    token = secrets.token_hex(16)
    nonce = secrets.token_hex(16)
    for sub in ("ipc", "home", "work"):
        (box / sub).mkdir()
    _seed_home(box / "home")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.cells.append(nbformat.v4.new_code_cell(_harness.harness_cell({**config, "nonce": nonce})))
    pids: list[int] = []
    argv = _sandbox.kernel_argv(isolation, box, box / "work", extra_ro, token)
    manager = _sandbox.kernel_manager_class(argv, _sandbox.kernel_env(box, token), pids, box / "ipc" / "k.json")
    current = {"index": -1}
    harness_index = len(cells)
    marks: dict[str, float] = {}

    def on_cell_start(cell: Any, cell_index: int) -> None:
        current["index"] = cell_index
        marks.setdefault("first_cell", time.perf_counter())
        if cell_index == harness_index:
            marks["harness"] = time.perf_counter()

    def timeout_of(cell: Any) -> float:
        # nbclient takes a float deadline: a fractional --timeout-per-cell (2.5) is kept as it is, not rounded
        return float(harness_timeout if current["index"] == harness_index else timeout_per_cell)

    client = _client_class()(
        notebook,
        timeout=None,
        timeout_func=timeout_of,
        kernel_name="python3",
        kernel_manager_class=manager,
        shutdown_kernel="immediate",
        allow_errors=True,
        startup_timeout=180,
        resources={"metadata": {"path": str(box / "work")}},
        on_cell_start=on_cell_start,
    )
    client.harness_index = harness_index
    start = time.perf_counter()
    try:
        client.execute()
    except CellTimeoutError:
        run.stopped, run.stopped_at = "timeout", current["index"]
    except DeadKernelError:
        run.stopped, run.stopped_at = "dead", current["index"]
    except Exception as exc:  # the kernel did not start, a protocol error, ...
        run.stopped, run.stopped_at = "error", current["index"]
        run.message = f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        end = time.perf_counter()
        run.seconds = end - start
        run.leftovers = _sandbox.kill_everything(pids[0] if pids else None, token)
        shutil.rmtree(box, ignore_errors=True)
        first = marks.get("first_cell", end)
        harness = marks.get("harness", end)
        run.timing = {
            "startup": first - start,
            "cells": harness - first,
            "harness": end - harness,
            "shutdown": time.perf_counter() - end,
        }
    run.output_dropped = client.dropped
    for index, cell in enumerate(notebook.cells[:harness_index]):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                run.errors.append((index, str(output.get("ename", "?"))[:80]))
                break
    if run.stopped is None or run.stopped_at >= harness_index:
        outputs = notebook.cells[harness_index].get("outputs", [])
        run.answer = _harness.read_answer(outputs, nonce, client.harness_cleared)
    if run.stopped_at >= harness_index:
        run.stopped = run.stopped or "error"
    return run


def stop_reason(run: Run, cell_numbers: list[int], timeout_per_cell: float) -> str:
    """Why the execution stopped, naming the notebook's cell number (1-based)."""
    if run.stopped_at >= len(cell_numbers) or run.stopped_at < 0:
        where = tr("ở bước chấm điểm", "while grading the answers")
    else:
        where = tr(f"ở ô {cell_numbers[run.stopped_at]}", f"at cell {cell_numbers[run.stopped_at]}")
    if run.stopped == "timeout":
        return tr(f"quá thời gian {where} (> {timeout_per_cell:g} s)", f"timed out {where} (> {timeout_per_cell:g} s)")
    if run.stopped == "dead":
        return tr(f"kernel bị dừng đột ngột {where}", f"the kernel died {where}")
    return tr(f"không chạy được notebook {where}: {run.message}", f"could not run the notebook {where}: {run.message}")

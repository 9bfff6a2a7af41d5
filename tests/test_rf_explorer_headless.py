"""Lesson 01's explorer cell executed headless by nbclient (as nbval and the grader do), 20 times, within a bound.

The defect (issue 15): ``ui = rf.explorer()`` sometimes blocked for the client's whole cell timeout and
then went on without an error. The old explorer was ``ipywidgets.interactive``, whose ``Output``
widget nbclient mirrors as a frontend would: on every output captured by it, nbclient's
``OutputWidget`` sends a ``comm_msg`` on the *shell* channel from its IOPub task while its reply
task is waiting on that same socket (the upstream report is jupyter/nbclient#312); now and then the
``execute_reply`` is only seen when that wait times out. The explorer now uses no ``Output`` widget
(an anywidget panel and ``HTML`` widgets), and creates no widget at all when ``SRC_NO_WIDGETS`` is
set; this test runs both ways in one kernel and fails on any cell that needs the timeout.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
nbclient = pytest.importorskip("nbclient")


def _explorer_cell() -> str:
    text = (ROOT / "source" / "01_receptive_field.py").read_text(encoding="utf-8")
    match = re.search(r'^# %% tags=\["explorer"\]\n(.*?)(?=^# %%|\Z)', text, re.S | re.M)
    assert match, "lesson 01 has no cell tagged explorer"
    return match[1].strip()


def _cheap(cell: str) -> str:
    """The same call on a small input (the cell itself is run once at full size)."""
    assert "rf.explorer(" in cell
    return cell.replace('model="resnet50"', 'model="resnet18"').replace("rf.explorer(", "rf.explorer(size=64, ", 1)


@pytest.mark.parametrize("widgets", [False, True], ids=["static", "widgets"])
def test_explorer_cell_headless_20_times(widgets: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbclient.exceptions import CellTimeoutError

    if widgets:
        pytest.importorskip("anywidget")
        monkeypatch.delenv("SRC_NO_WIDGETS", raising=False)
    else:
        monkeypatch.setenv("SRC_NO_WIDGETS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # as the build does
    cell = _explorer_cell()
    nb = nbformat.v4.new_notebook()
    setup = "import matplotlib\nimport src\nsrc.set_language('vi')\nfrom src import receptive_field as rf"
    nb.cells = [nbformat.v4.new_code_cell(setup), nbformat.v4.new_code_cell(cell)]
    nb.cells += [nbformat.v4.new_code_cell(_cheap(cell)) for _ in range(19)]
    client = nbclient.NotebookClient(
        nb, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )  # fmt: skip
    client.interrupt_on_timeout = False  # a stall is a CellTimeoutError, not a silent carry-on
    seconds = []
    with client.setup_kernel():
        for index, c in enumerate(nb.cells):
            start = time.perf_counter()
            try:
                client.execute_cell(c, index)
            except CellTimeoutError:
                pytest.fail(f"explorer cell {index} stalled for the whole {client.timeout} s timeout")
            seconds.append(time.perf_counter() - start)
    runs = seconds[2:]  # the 19 repeated small runs (the setup and the full-size cell come first)
    # the bound issue 15 asks for; generous (a stall lasts the client's whole timeout, 60 s or more)
    assert len(runs) == 19 and all(c.outputs for c in nb.cells[1:]), "every explorer cell shows something"
    slowest = max(runs)
    assert slowest < 30, (
        f"a repeated explorer cell took {slowest:.1f} s: {[round(s, 1) for s in seconds]}"
    )  # wall-clock-ok

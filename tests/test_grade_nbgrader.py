"""nbgrader for real: ``generate_assignment`` from ``solutions/`` (through ``src.grade.nbgrader``), then
``autograde`` a correct and a wrong submission; the points are those expected (README, "Grading")."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from src.grade.nbgrader import nbgrader_source

ROOT = Path(__file__).resolve().parent.parent
NBGRADER = Path(sys.executable).parent / "nbgrader"


def test_check_cells_become_autograder_tests():
    solution = sorted((ROOT / "solutions" / "en").glob("00_*.ipynb"))
    if not solution:
        pytest.skip("lesson 00 is not built")
    original = nbformat.read(solution[0], as_version=4)
    converted = nbgrader_source(original, points=2)
    tests = [c for c in converted.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(tests) >= 2 and all(c.metadata.nbgrader["points"] == 2 for c in tests)
    assert all(c.source.rstrip().endswith("assert result, result.message") for c in tests)
    assert [c.metadata.nbgrader["grade_id"] for c in tests][:2] == ["lesson00-check1", "lesson00-check2"]
    assert len({c.metadata.nbgrader["grade_id"] for c in converted.cells if "nbgrader" in c.metadata}) == len(
        [c for c in converted.cells if "nbgrader" in c.metadata]
    )  # nbgrader needs unique ids
    assert original.cells[0].source == converted.cells[0].source  # the original is not modified
    with pytest.raises(ValueError, match="points"):
        nbgrader_source(original, points=0)
    with pytest.raises(ValueError, match="notebook"):
        nbgrader_source("not a notebook")


@pytest.mark.slow
@pytest.mark.skipif(not NBGRADER.exists(), reason="nbgrader is not installed (requirements.txt)")
def test_nbgrader_round_trip(tmp_path):
    solution = sorted((ROOT / "solutions" / "en").glob("00_*.ipynb"))
    if not solution:
        pytest.skip("lesson 00 is not built")
    name = solution[0].name
    course = tmp_path / "course"
    (course / "source" / "lesson00").mkdir(parents=True)
    db = f"sqlite:///{course / 'gradebook.db'}"
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        "c.CourseDirectory.course_id = 'segmentation'\n"
        f"c.CourseDirectory.db_url = {db!r}\n"
        "c.ExecutePreprocessor.timeout = 600\n"
        # nbgrader raises when a cell's output is late by more than iopub_timeout (4 s): on a loaded machine a
        # training cell is (seen at load ~25: the round trip failed there with 'Timeout waiting for IOPub output')
        "c.Execute.iopub_timeout = 120\n"
    )
    source = nbgrader_source(nbformat.read(solution[0], as_version=4))
    nbformat.write(source, course / "source" / "lesson00" / name)
    path = os.pathsep.join([str(NBGRADER.parent), os.environ.get("PATH", "")])  # nbgrader runs alembic
    env = {**os.environ, "PATH": path, "SRC_NO_WIDGETS": "1", "MPLBACKEND": "Agg", "TQDM_DISABLE": "1"}

    def nbgrader(*args: str) -> None:
        done = subprocess.run([str(NBGRADER), *args], cwd=course, env=env, capture_output=True, text=True, timeout=3600)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    nbgrader("db", "assignment", "add", "lesson00")
    for student in ("alice", "bob", "carol"):
        nbgrader("db", "student", "add", student)
    nbgrader("generate_assignment", "lesson00", "--force")
    released = nbformat.read(course / "release" / "lesson00" / name, as_version=4)
    assert "raise NotImplementedError" in "".join(c.source for c in released.cells)
    assert "### BEGIN SOLUTION" not in "".join(c.source for c in released.cells)

    # alice hands in the solutions, bob the notebook as released (nothing done), carol the solutions with
    # a classic bug in my_iou (per-class recall tp / row sum instead of IoU): she loses that check's points
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells if "nbgrader" in c.metadata}
    correct = nbformat.read(course / "release" / "lesson00" / name, as_version=4)
    wrong = nbformat.read(course / "release" / "lesson00" / name, as_version=4)
    for notebook in (correct, wrong):
        for cell in notebook.cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution"):
                cell.source = answers[meta["grade_id"]]  # the markers are comments: the code runs as it is
    recall = "def my_iou(cm):\n    cm = cm.float()\n    return cm.diag() / cm.sum(1)\n"
    bugged = [c for c in wrong.cells if c.metadata.get("nbgrader", {}).get("solution") and "def my_iou" in c.source]
    assert len(bugged) == 1
    bugged[0].source = recall
    for student, notebook in (("alice", correct), ("bob", released), ("carol", wrong)):
        folder = course / "submitted" / student / "lesson00"
        folder.mkdir(parents=True)
        nbformat.write(notebook, folder / name)
        (folder / "timestamp.txt").write_text("2026-12-01 12:00:00.000000 UTC")
    nbgrader("autograde", "lesson00", "--force")

    from nbgrader.api import Gradebook

    with Gradebook(db) as gradebook:
        alice = gradebook.find_submission("lesson00", "alice")
        bob = gradebook.find_submission("lesson00", "bob")
        carol = gradebook.find_submission("lesson00", "carol")
        checks = [c for c in source.cells if c.metadata.get("nbgrader", {}).get("grade")]
        iou_checks = [c for c in checks if "my_iou" in c.source]
        assert len(iou_checks) == 1
        assert alice.max_score == len(checks) == bob.max_score == carol.max_score
        assert alice.score == len(checks), alice.score
        assert bob.score == 0, bob.score
        assert carol.score == len(checks) - 1, carol.score
        iou_id = iou_checks[0].metadata["nbgrader"]["grade_id"]
        assert gradebook.find_grade(iou_id, name[:-6], "lesson00", "carol").score == 0
    shutil.rmtree(course / "autograded", ignore_errors=True)

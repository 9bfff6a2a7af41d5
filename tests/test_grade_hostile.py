"""Hostile submissions against ``python -m src.grade``: each attack forges nothing, the grader survives,
every notebook gets a row, and the honest submission graded after them keeps full marks.

The submissions are small notebooks of a made-up lesson 99 whose hidden specs (``99-1`` double a number,
``99-2`` square it) live in a spec file written to a temporary folder and passed with ``--spec-file``
(imported by the grader and by the harness in the child). The class is graded once per isolation level
with the command line, in this process: a submission that killed the grader would kill the test run.
The real lessons (solutions score 100 %, untouched lessons 0 %) are graded at the end.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import time
from pathlib import Path

import nbformat
import pytest

import src
from src import grade
from src.grade import _sandbox

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

SPECS = """
from src.checks._hidden import HIDDEN, register_hidden

if "99-1" not in HIDDEN:
    register_hidden("99-1", "double", lambda: [((3,), {}), ((-2.5,), {}), ((10**20,), {})], lambda x: 2 * x,
                    forbidden=("src.metrics.pixel_accuracy",), hint=("nhân đôi", "double it"), time_limit_s=3)
    register_hidden("99-2", "square", lambda: [((3,), {}), ((-2.5,), {}), ((7,), {})], lambda x: x * x,
                    hint=("bình phương", "square it"), time_limit_s=3)
"""
DOUBLE = "def double(x):\n    return 2 * x"
SQUARE = "def square(x):\n    return x * x"
WRONG_SQUARE = "def square(x):\n    return x + x"
LEFTOVER_MARK = "SRC_LEFTOVER_MARK_7f3a"

ATTACKS: dict[str, list[str]] = {
    # reads `expected` from the frames of whoever calls it (there is none in the child)
    "99_c_frames": [
        DOUBLE,
        "def square(x):\n    import sys\n    f = sys._getframe(1)\n    while f is not None:\n"
        "        for k in ('expected', 'reference', 'ref'):\n            if k in f.f_locals:\n"
        "                return f.f_locals[k]\n        f = f.f_back\n    return x + x",
    ],
    # patches numpy / math / torch comparisons in the kernel (the grader compares in its own process)
    "99_d_patch_numpy": [
        "import math, numpy as np, torch\nnp.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
        "np.isclose = lambda *a, **k: True\nmath.isclose = lambda *a, **k: True\ntorch.allclose = lambda *a, **k: True",
        DOUBLE,
        WRONG_SQUARE,
    ],
    # patches the hidden specs in the kernel so that anything passes
    "99_e_patch_specs": [
        "import dataclasses, src.checks._hidden as h\nfor k, s in list(h.HIDDEN.items()):\n"
        "    h.HIDDEN[k] = dataclasses.replace(s, compare=lambda g, e: None, call=lambda o, a, kw: s.reference(a, kw))",
        DOUBLE,
        WRONG_SQUARE,
    ],
    # forged answers: a display of the grader's MIME type, self-reported verdict logs
    "99_f_forge": [
        "import json, os\nfrom IPython.display import display\nmime = 'application/x-src-' + 'gra' + 'de'\n"
        "fake = {'nonce': 'guess', 'exercises': {'99-2': {'cases': [{'ok': {'i': '9'}}] * 3}}}\n"
        "display({mime: json.dumps(fake)}, raw=True)\n"
        "for p in [os.environ.get('SRC_' + 'GRADE_LOG') or 'log.jsonl', 'verdicts.jsonl', '/tmp/verdicts.jsonl']:\n"
        "    open(p, 'a').write(json.dumps({'exercise': '99-2', 'passed': True}) + '\\n')",
        DOUBLE,
        WRONG_SQUARE,
    ],
    # calls the course's reference for its exercise (forbidden: src.metrics.pixel_accuracy)
    "99_g_reference": [
        "from src import metrics as m",
        "def double(x):\n    m.pixel_accuracy\n    return 2 * x",
        SQUARE,
    ],
    # kills its parent process
    "99_h_kill_parent": [DOUBLE, "import os\nos.kill(os.getppid(), 9)", SQUARE],
    # a fork bomb, within the process limit (children sleep, the cell ends when fork fails)
    "99_i_fork_bomb": [
        DOUBLE,
        SQUARE,
        "import os, time\nn = 0\ntry:\n    for n in range(100000):\n        if os.fork() == 0:\n"
        "            time.sleep(300)\n            os._exit(0)\nexcept OSError:\n    pass\nprint('forked', n)",
    ],
    # a leftover background process that tries to rewrite later verdicts
    "99_j_leftover": [
        DOUBLE,
        SQUARE,
        "import subprocess, sys\ncode = '''\nimport glob, os, time\nfor _ in range(1200):\n"
        "    for p in glob.glob('BASETEMP/**/*.csv', recursive=True) + glob.glob('BASETEMP/**/*.json', recursive=True):\n"
        "        try:\n            open(p, 'w').write('notebook,score\\\\n99_z_honest.ipy' + 'nb,0\\\\n')\n"
        "        except OSError:\n            pass\n    time.sleep(0.2)\n'''\n"
        f"subprocess.Popen([sys.executable, '-c', code, '{LEFTOVER_MARK}'], start_new_session=True,\n"
        "                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)",
    ],
    # hangs in a top-level cell (timed out; what the cells before it defined is still graded)
    "99_k_hang": [DOUBLE, "while True:\n    pass", SQUARE],
    # a learner function that never returns (per-case time limit)
    "99_l_slow_function": [DOUBLE, "def square(x):\n    while True:\n        pass"],
    # floods the output
    "99_m_output": [DOUBLE, SQUARE, "for _ in range(400):\n    print('x' * 100_000)"],
    # the kernel exits
    "99_n_exit": [DOUBLE, "import os\nos._exit(3)", SQUARE],
}


def _write(path: Path, cells: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, path)
    return path


def _probe(folder: Path, out: Path, kind: str) -> list[str]:
    """Cells that assert the isolation; a failing one shows up as 'cells that raised: N (AssertionError)'."""
    strong = kind == "bubblewrap"
    network = (
        "import socket, importlib\nimportlib.reload(socket)\ns = socket.socket()\ns.settimeout(3)\n"
        "try:\n    s.connect(('192.0.2.1', 80))\n    reached = True\nexcept OSError:\n    reached = False\n"
        "assert not reached\ntry:\n    socket.getaddrinfo('example.org', 80)\n    resolved = True\n"
        "except OSError:\n    resolved = False\nassert not resolved"
    )
    files = (
        "import os\nassert 'SRC_GRADE_LOG' not in os.environ\nassert os.listdir('.') == []\n"
        f"assert os.environ['HOME'] not in ('/root', {os.path.expanduser('~')!r})\n"
        "open(os.path.join(os.environ['HOME'], 'x'), 'w').write('ok')\n"
    )
    if strong:
        files += (
            f"assert not os.path.exists({str(ROOT / 'solutions')!r})\n"
            f"assert not os.path.exists({str(ROOT / 'tests')!r})\n"
            f"assert os.listdir({str(ROOT / 'src' / 'grade')!r}) == []\n"
            f"assert not os.path.exists({str(folder)!r}) and not os.path.exists({str(out)!r})\n"
            f"try:\n    open({str(ROOT / 'src' / 'x.py')!r}, 'w')\n    wrote = True\n"
            "except OSError:\n    wrote = False\nassert not wrote\n"
            "assert os.getuid() == 65534\n"
            "assert len([p for p in os.listdir('/proc') if p.isdigit()]) < 30\n"
            "assert [l.split(':')[0].strip() for l in open('/proc/net/dev').readlines()[2:]] == ['lo']"
        )
    return [network, files, DOUBLE, SQUARE]


def _grade_class(tmp_path_factory, kind: str, names: list[str] | None) -> dict:
    folder = tmp_path_factory.mktemp(f"class_{kind}")
    out = tmp_path_factory.mktemp(f"out_{kind}")
    spec_file = tmp_path_factory.mktemp("specs") / "specs99.py"
    spec_file.write_text(SPECS)
    _write(folder / "99_a_honest.ipynb", [DOUBLE, SQUARE])
    _write(folder / "99_b_wrong.ipynb", [DOUBLE, WRONG_SQUARE])
    base = str(tmp_path_factory.getbasetemp())  # the leftover writer aims at this session's files only
    for name, cells in ATTACKS.items():
        if names is None or name in names:
            _write(folder / f"{name}.ipynb", [c.replace("BASETEMP", base) for c in cells])
    _write(folder / "99_o_probe.ipynb", _probe(folder, out, kind))
    os.mkfifo(folder / "99_p_fifo.ipynb")
    (folder / "99_q_garbage.ipynb").write_text("{ not a notebook")
    _write(folder / "99_z_honest.ipynb", [DOUBLE, SQUARE])
    src.set_language("en")
    buffer = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(buffer):
        args = [str(folder), "--out", str(out), "--timeout-per-cell", "45", "--lang", "en", "--isolation", kind]
        code = grade.main([*args, "--spec-file", str(spec_file)])
    seconds = time.perf_counter() - start
    src.set_language("vi")
    time.sleep(1.0)  # a leftover writer, were one alive, would have rewritten the CSV by now
    rows = {r["notebook"]: r for r in csv.DictReader(open(out / "scores.csv", encoding="utf-8"))}
    # read everything now: the fallback class's leftover writer (teacher's rights) may hit these files later
    records = {r["notebook"]: r for r in json.loads((out / "scores.json").read_text())}
    reports = {p.name: p.read_text() for p in (out / "reports").glob("*.md")}
    summary = (out / "summary.md").read_text()
    return {"code": code, "rows": rows, "records": records, "reports": reports, "summary": summary, "seconds": seconds}


def _survivors() -> list[int]:
    """Processes that still carry a grading token or the leftover's mark."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as fh:
                environ = fh.read()
            with open(f"/proc/{entry.name}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        if b"SRC_GRADE_TOKEN=" in environ or LEFTOVER_MARK.encode() in cmdline:
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def strong(tmp_path_factory):
    usable, why = _sandbox.bwrap_usable()
    if not usable:
        pytest.skip(f"bubblewrap not usable here: {why}")
    return _grade_class(tmp_path_factory, "bubblewrap", None)


@pytest.fixture(scope="module")
def fallback(tmp_path_factory):
    names = ["99_d_patch_numpy", "99_h_kill_parent", "99_j_leftover", "99_n_exit"]
    return _grade_class(tmp_path_factory, "rlimits", names)


def _row(graded, name):
    row = graded["rows"][name]
    return row["99-1"], row["99-2"], row["score"], row["reason"]


@pytest.fixture(params=["strong", "fallback"])
def graded(request):
    return request.getfixturevalue(request.param)


def test_every_notebook_gets_a_row_and_exit_code_zero(graded):
    assert graded["code"] == 0
    names = set(graded["rows"])
    assert {"99_a_honest.ipynb", "99_z_honest.ipynb", "99_p_fifo.ipynb", "99_q_garbage.ipynb"} <= names
    assert len(names) == len(graded["reports"])
    assert _row(graded, "99_p_fifo.ipynb") == ("", "", "0.000", "not a regular file")
    assert _row(graded, "99_q_garbage.ipynb")[2:] == ("0.000", "not a readable notebook (NotJSONError)")
    assert "Class summary" in graded["summary"]


def test_honest_submissions_keep_full_marks_after_the_attacks(graded):
    assert _row(graded, "99_a_honest.ipynb") == ("1", "1", "1.000", "")
    assert _row(graded, "99_z_honest.ipynb") == ("1", "1", "1.000", "")
    assert graded["records"]["99_z_honest.ipynb"]["score"] == 1.0


def test_a_wrong_answer_fails_with_the_hidden_case_and_the_hint(graded):
    one, two, score, reason = _row(graded, "99_b_wrong.ipynb")
    assert (one, two, score, reason) == ("1", "0", "0.500", "")
    report = graded["reports"]["99_b_wrong.ipynb.md"]
    assert "hidden case 1/3 (3): got 6, expected 9" in report.replace("got int 6", "got 6") or "(3)" in report
    assert "square it" in report


def test_patching_numpy_in_the_kernel_forges_nothing(graded):
    assert _row(graded, "99_d_patch_numpy.ipynb")[:3] == ("1", "0", "0.500")


def test_no_process_survives_the_grading(graded):
    assert _survivors() == []


def test_the_kernel_killing_its_parent_does_not_kill_the_grader(graded):
    # this test runs in the grader's process: were the grader killed, the session would be gone
    one, _, score, reason = _row(graded, "99_h_kill_parent.ipynb")
    assert "the kernel died" in reason
    # the cells before the kill are graded in a fresh child, however late the death is noticed (under
    # rlimits the launcher dies and the orphaned kernel runs on: the death shows at the grading step)
    assert (one, score) == ("1", "0.500")


def test_a_leftover_process_rewrites_nothing(graded):
    assert _row(graded, "99_j_leftover.ipynb")[:3] == ("1", "1", "1.000")
    assert _row(graded, "99_z_honest.ipynb")[2] == "1.000"  # read after the sleep: not rewritten


def test_an_exiting_kernel_keeps_what_came_before(graded):
    one, _, score, reason = _row(graded, "99_n_exit.ipynb")
    assert (one, score) == ("1", "0.500") and reason.startswith("the kernel died at cell 2"), reason


def test_isolation_is_reported(graded, request):
    isolation = {r["isolation"] for r in graded["rows"].values()}
    assert len(isolation) == 1
    assert isolation.pop().startswith("bubblewrap" if graded is request.getfixturevalue("strong") else "rlimits")


def test_the_probe_finds_the_isolation_it_expects(graded):
    score, reason = _row(graded, "99_o_probe.ipynb")[2:]
    # the probe's cells touch the grading machinery (importlib): flagged, and none of its assertions failed
    assert "raised" not in reason, reason
    assert "meddle with the grading machinery" in reason and score == "0.000"


# --------------------------------------------------------------------------- attacks checked once (bubblewrap)
def test_reading_frames_and_patching_specs_forge_nothing(strong):
    assert _row(strong, "99_c_frames.ipynb")[2] == "0.000"  # flagged: frames are grading machinery
    assert _row(strong, "99_e_patch_specs.ipynb")[2] == "0.000"
    assert "meddle" in _row(strong, "99_e_patch_specs.ipynb")[3]


def test_forged_displays_and_logs_forge_nothing(strong):
    assert _row(strong, "99_f_forge.ipynb")[:3] == ("1", "0", "0.500")


def test_calling_the_reference_scores_zero_with_the_reason(strong):
    one, two, score, reason = _row(strong, "99_g_reference.ipynb")
    assert (one, two, score) == ("0", "1", "0.500") and "flagged (scored 0): 99-1" in reason
    detail = strong["records"]["99_g_reference.ipynb"]["exercises"]["99-1"]
    assert detail["status"] == "flagged" and "src.metrics.pixel_accuracy" in detail["detail"]


def test_fork_bomb_and_output_flood_are_contained(strong):
    assert _row(strong, "99_i_fork_bomb.ipynb")[:3] == ("1", "1", "1.000")
    score, reason = _row(strong, "99_m_output.ipynb")[2:]
    assert score == "1.000" and "too much output" in reason


def test_hangs_time_out(strong):
    one, two, score, reason = _row(strong, "99_k_hang.ipynb")
    assert (one, two, score) == ("1", "0", "0.500") and reason.startswith("timed out at cell 2 (> 45 s)")
    one, two, score, reason = _row(strong, "99_l_slow_function.ipynb")
    assert (one, two) == ("1", "0")
    assert "took longer than 3 s" in strong["records"]["99_l_slow_function.ipynb"]["exercises"]["99-2"]["detail"]


def test_patched_specs_without_the_telltale_names_forge_nothing(tmp_path):
    """The meddling scan misses this cell (no telltale name); the harness's fresh spec modules still win."""
    spec_file = tmp_path / "specs99.py"
    spec_file.write_text(SPECS)
    patch = (
        "import dataclasses, src.checks as c\nh = getattr(c, '_hid' + 'den')\nspecs = getattr(h, 'HID' + 'DEN')\n"
        "for k, s in list(specs.items()):\n"
        "    specs[k] = dataclasses.replace(s, call=lambda o, a, kw, s=s: s.reference(a, kw))"
    )
    _write(tmp_path / "99_patch.ipynb", [patch, DOUBLE, WRONG_SQUARE])
    results = grade.grade_notebooks(
        [tmp_path / "99_patch.ipynb"], 60, progress=False, spec_files=[spec_file], isolation="auto"
    )
    assert results[0].status == {"99-1": "passed", "99-2": "failed"}, results[0]
    assert "meddle" not in results[0].reason


# --------------------------------------------------------------------------- the real lessons
def _one(pattern: str) -> Path:
    found = sorted(ROOT.glob(pattern))
    if not found:
        pytest.skip(f"{pattern} is not built yet")
    return found[0]


def test_lesson_00_solution_full_marks_and_untouched_lesson_zero(tmp_path):
    import shutil

    from src.checks import _hidden

    if not _hidden.hidden_exercises_of("00"):
        pytest.skip("lesson 00 has no hidden specs yet")
    folder = tmp_path / "class"
    folder.mkdir()
    shutil.copy(_one("solutions/vi/00_*.ipynb"), folder / "00_solution.ipynb")
    shutil.copy(_one("lessons/en/00_*.ipynb"), folder / "00_untouched.ipynb")
    results = {r.notebook: r for r in grade.grade_notebooks([folder], timeout_per_cell=1800, progress=False)}
    solved, untouched = results["00_solution.ipynb"], results["00_untouched.ipynb"]
    assert solved.score == 1.0 and solved.reasons == [], solved
    assert untouched.score == 0.0, untouched
    assert set(untouched.status.values()) == {"failed"}
    assert all("NotImplementedError" in untouched.detail[e] for e in untouched.expected), untouched.detail


# every lesson, both languages: the solution copied out of the repository grades 100 %, the untouched
# lesson 0 % (issue 14, "Done when"). 32 gradings (~25 min on an idle 2-core machine): opt in with
# SRC_GRADE_ALL=1; lesson 00 above runs in every slow suite. Lessons are found on disk (08 when built).
_ALL_LESSONS = sorted({p.name[:2] for p in (ROOT / "solutions" / "en").glob("[0-9][0-9]_*.ipynb")})


@pytest.mark.skipif(os.environ.get("SRC_GRADE_ALL") != "1", reason="grades all 32 notebooks: set SRC_GRADE_ALL=1")
@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("kind", ["solutions", "lessons"])
@pytest.mark.parametrize("lesson", _ALL_LESSONS)
def test_every_lesson_solution_full_marks_untouched_zero(lesson, kind, lang, tmp_path):
    import shutil

    from src.checks import _hidden

    original = _one(f"{kind}/{lang}/{lesson}_*.ipynb")
    assert _hidden.hidden_exercises_of(lesson), f"lesson {lesson} has no hidden specs"
    copy = tmp_path / "class" / original.name  # outside the repository, as a teacher's folder would be
    copy.parent.mkdir()
    shutil.copy(original, copy)
    assert ROOT not in copy.resolve().parents
    result = grade.grade_notebook(copy, timeout_per_cell=1800)
    print(f"{kind}/{lang}/{original.name}: {result.passed}/{len(result.expected)} in {result.seconds:.0f} s")
    assert result.expected == sorted(_hidden.hidden_exercises_of(lesson)), result.expected
    if kind == "solutions":
        assert result.score == 1.0 and result.reasons == [], (result.status, result.detail, result.reasons)
    else:
        assert result.score == 0.0, (result.status, result.detail)
        assert set(result.status.values()) == {"failed"}, result.status
        assert all("NotImplementedError" in result.detail[e] for e in result.expected), result.detail
        assert not any(r.startswith(("timed out", "the kernel died", "quá thời gian")) for r in result.reasons)

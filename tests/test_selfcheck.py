import pytest
import torch

from src import selfcheck


def test_every_lesson_has_a_core_that_runs_on_the_cpu(capsys):
    rows = selfcheck.run(sorted(selfcheck.LESSONS), torch.device("cpu"))
    failures = [(lesson, summary) for lesson, ok, _, summary in rows if not ok]
    assert not failures, failures
    assert [lesson for lesson, *_ in rows] == sorted(selfcheck.LESSONS)


def test_main_prints_one_line_per_lesson(capsys):
    assert selfcheck.main(["00", "--device", "cpu", "--lang", "en"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("lesson 00  cpu") and out[-1].startswith("total:")


def test_runs_as_a_module():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "src.selfcheck", "00", "07", "--device", "cpu", "--lang", "en"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(" ok ") == 2


def test_unknown_lesson_is_a_usage_error():
    with pytest.raises(SystemExit):
        selfcheck.main(["42"])

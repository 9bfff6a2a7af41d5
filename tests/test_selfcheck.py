import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from src import registry, selfcheck

ROOT = Path(__file__).resolve().parent.parent
LESSONS_WITH_SOURCE = sorted(p.name[:2] for p in (ROOT / "source").glob("[0-9][0-9]_*.py"))


@pytest.fixture
def private_registry(monkeypatch):
    """A copy of the registry, so fake cores registered by a test vanish afterwards."""
    monkeypatch.setattr(registry, "CORES", dict(registry.CORES))
    return registry.CORES


def test_every_lesson_with_a_source_has_a_core_found_by_discovery():
    cores, errors = registry.discover_cores()
    assert not errors, errors
    assert LESSONS_WITH_SOURCE, "no source/NN_*.py"
    missing = [lesson for lesson in LESSONS_WITH_SOURCE if lesson not in cores]
    assert not missing, f"lessons without a @register_core function: {missing}"
    assert all(fn.selfcheck_lesson == lesson for lesson, fn in cores.items())


def test_discovery_derives_module_names_from_the_package():
    names = registry.lesson_modules()
    assert "src.train" in names and "src.selfcheck" in names and "src.receptive_field.selfcheck" in names
    assert not [n for n in names if n.rsplit(".", 1)[-1].startswith("_")], "private modules are not imported"


@pytest.mark.slow
def test_every_lesson_has_a_core_that_runs_on_the_cpu():
    rows = selfcheck.run(None, torch.device("cpu"))
    failures = [(lesson, summary) for lesson, ok, _, summary in rows if not ok]
    assert not failures, failures
    assert [lesson for lesson, *_ in rows] == sorted(registry.CORES)


def test_main_prints_one_line_per_lesson(capsys):
    assert selfcheck.main(["00", "--device", "cpu", "--lang", "en"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("lesson 00  cpu") and " ok " in out[0] and out[-1].startswith("total:")


@pytest.mark.parametrize(
    ("core", "why"),
    [
        (lambda device: 1 / 0, "ZeroDivisionError"),
        (lambda device: "model: logits (2, 4) FAILED on cpu", "FAILED"),
        (lambda device: "se: gradients BROKEN", "BROKEN"),
        (lambda device: None, "summary string"),
    ],
    ids=["raises", "says-failed", "says-broken", "returns-none"],
)
def test_a_failing_core_fails_the_run_and_is_named(private_registry, capsys, core, why):
    registry.register_core("98")(core)
    assert selfcheck.main(["98", "--device", "cpu", "--lang", "en"]) == 1
    captured = capsys.readouterr()
    assert "lesson 98" in captured.out and "FAIL" in captured.out and why in captured.out
    assert "failed: 98" in captured.err


def test_a_summary_that_merely_contains_fail_as_part_of_a_word_is_ok(private_registry):
    registry.register_core("98")(lambda device: "no failures, all gradients finite")
    assert selfcheck.run_core("98", registry.CORES["98"], torch.device("cpu"))[1]


def test_a_module_that_cannot_be_imported_is_a_failure(tmp_path, monkeypatch, private_registry):
    package = tmp_path / "fakecourse"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "broken.py").write_text("raise ImportError('a missing dependency')\n")
    (package / "good.py").write_text(
        textwrap.dedent(
            """
            from src.registry import register_core

            @register_core("97")
            def selfcheck_core(device):
                return "ok"
            """
        )
    )
    (package / "_private.py").write_text("raise RuntimeError('private modules are not imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    cores, errors = registry.discover_cores("fakecourse")
    assert list(errors) == ["fakecourse.broken"] and "a missing dependency" in errors["fakecourse.broken"]
    assert cores["97"].__module__ == "fakecourse.good"


def test_register_core_rejects_bad_lessons_and_a_second_core(private_registry):
    with pytest.raises(ValueError, match="lesson"):
        registry.register_core("3")
    with pytest.raises(TypeError, match="lesson"):
        registry.register_core(3)
    with pytest.raises(TypeError, match="fn"):
        registry.register_core("96")("not a function")

    def first(device):
        return "a"

    def second(device):
        return "b"

    registry.register_core("96")(first)
    registry.register_core("96")(first)  # the same function again (a module re-imported) is fine
    with pytest.raises(ValueError, match="96"):
        registry.register_core("96")(second)


def test_a_core_runs_seeded_and_leaves_the_callers_rng_alone(private_registry):
    registry.register_core("95")(lambda device: f"draw {torch.rand(1).item():.6f}")
    torch.manual_seed(123)
    state = torch.get_rng_state()
    first = selfcheck.run_core("95", registry.CORES["95"], torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), state)
    torch.rand(5)  # whatever the caller drew before, the core sees the same numbers
    second = selfcheck.run_core("95", registry.CORES["95"], torch.device("cpu"))
    assert first[3] == second[3]


def test_old_names_still_work():
    assert selfcheck.LESSONS["00"] == "src.train"
    assert selfcheck.core_00 is registry.CORES["00"]


def test_unknown_lesson_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        selfcheck.main(["42"])
    assert "42" in capsys.readouterr().err


@pytest.mark.slow
def test_runs_as_a_module():
    done = subprocess.run(
        [sys.executable, "-m", "src.selfcheck", "00", "07", "--device", "cpu", "--lang", "en"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(" ok ") == 2

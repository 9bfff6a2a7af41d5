"""The notebook build: sources are bilingual, generated notebooks are fresh, lessons hold no solutions.

Execution of the notebooks themselves is checked by nbval (see the Makefile's `test` target).
"""

import re
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import build  # noqa: E402

SOURCES = build.sources()
IDS = [s.stem for s in SOURCES]


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_there_are_lessons():
    assert SOURCES, "no source/NN_*.py found"
    assert SOURCES[0].name.startswith("00_")


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_prose_comes_in_vi_en_pairs(source):
    cells = jupytext.read(source, fmt="py:percent").cells
    markdown = [(i, c) for i, c in enumerate(cells) if c.cell_type == "markdown"]
    for i, cell in markdown:
        lang = cell.metadata.get("lang")
        assert lang in ("vi", "en"), f"{source.name}: markdown cell {i} has no lang=vi/en"
        if lang == "vi":
            nxt = cells[i + 1] if i + 1 < len(cells) else None
            assert nxt is not None and nxt.cell_type == "markdown" and nxt.metadata.get("lang") == "en", (
                f"{source.name}: Vietnamese cell {i} is not followed by its English twin"
            )
        else:
            prev = cells[i - 1]
            assert prev.cell_type == "markdown" and prev.metadata.get("lang") == "vi", (
                f"{source.name}: English cell {i} has no Vietnamese twin before it"
            )
        assert cell.source.strip(), f"{source.name}: empty {lang} cell {i}"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_vietnamese_prose_has_diacritics(source):
    cells = jupytext.read(source, fmt="py:percent").cells
    for i, cell in enumerate(cells):
        if cell.metadata.get("lang") == "vi" and len(cell.source) > 80:
            assert re.search(r"[ăâđêôơưáàảãạéèẻẽẹíìỉĩịóòỏõọúùủũụýỳỷỹỵ]", cell.source, re.I), (
                f"{source.name}: Vietnamese cell {i} has no diacritics"
            )


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_solutions_sit_inside_functions_and_are_checked(source):
    text = source.read_text(encoding="utf-8")
    begins = re.findall(r"^([ \t]*)### BEGIN SOLUTION", text, re.M)
    ends = re.findall(r"^[ \t]*### END SOLUTION", text, re.M)
    assert len(begins) == len(ends) >= 2, f"{source.name}: expected >= 2 balanced solution regions"
    assert all(indent for indent in begins), f"{source.name}: a solution region is not inside a function body"
    assert len(re.findall(r"checks\.check_\w+\(", text)) >= 2, f"{source.name}: fewer than two check calls"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
@pytest.mark.parametrize("lang", build.LANGS)
def test_lesson_notebooks_are_fresh_and_hold_no_solution(source, lang):
    path = build.output_path(source, lang, "lesson")
    assert path.exists(), f"{path.relative_to(ROOT)} missing: run `make lessons`"
    fresh = build.build(source, lang, "lesson")
    on_disk = read(path)
    assert on_disk.metadata == fresh.metadata, f"{path.relative_to(ROOT)} is stale: run `make notebooks`"
    assert [c.source for c in on_disk.cells] == [c.source for c in fresh.cells], f"{path.name} is stale"
    assert all(not c.get("outputs") for c in on_disk.cells if c.cell_type == "code"), f"{path.name} has outputs"
    text = "\n".join(c.source for c in on_disk.cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    solution_lines = re.findall(
        r"### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION", source.read_text(encoding="utf-8"), re.S | re.M
    )
    for region in solution_lines:
        for line in region.strip().splitlines():
            line = line.strip()
            if len(line) > 25:  # long enough to be a real line of the solution
                assert line not in text, f"{path.name} leaks solution text: {line!r}"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
@pytest.mark.parametrize("lang", build.LANGS)
def test_solution_notebooks_are_fresh_and_executed(source, lang):
    path = build.output_path(source, lang, "solution")
    assert path.exists(), f"{path.relative_to(ROOT)} missing: run `make notebooks`"
    on_disk = read(path)
    fresh = build.build(source, lang, "solution")
    assert on_disk.metadata.get("course") == fresh.metadata["course"], (
        f"{path.relative_to(ROOT)} is stale (its source changed): run `make notebooks`"
    )
    assert [c.source for c in on_disk.cells] == [c.source for c in fresh.cells], f"{path.name} is stale"
    code = [c for c in on_disk.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"{path.name} was not fully executed"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name} holds an error output"
    assert any("image/png" in o.get("data", {}) for c in code for o in c.outputs), f"{path.name} has no figure"


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
@pytest.mark.parametrize("kind", ["lesson", "solution"])
def test_vi_and_en_share_the_same_code(source, kind):
    vi = read(build.output_path(source, "vi", kind))
    en = read(build.output_path(source, "en", kind))
    code_vi = [c.source for c in vi.cells if c.cell_type == "code"][1:]  # first cell sets the language
    code_en = [c.source for c in en.cells if c.cell_type == "code"][1:]
    assert code_vi == code_en
    assert vi.cells[0].source.endswith('set_language("vi")') and en.cells[0].source.endswith('set_language("en")')


def test_no_orphan_notebooks():
    stems = {s.stem for s in SOURCES}
    for folder in ("solutions/vi", "solutions/en", "lessons/vi", "lessons/en"):
        for nb in (ROOT / folder).glob("*.ipynb"):
            assert nb.stem in stems, f"{folder}/{nb.name} has no source"


def test_strip_solutions_keeps_indentation():
    code = "def f(x):\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION\n\ny = 1\n"
    stripped = build.strip_solutions(code)
    assert "return x" not in stripped
    assert "    raise NotImplementedError\n" in stripped and stripped.endswith("y = 1\n")
    compile(stripped, "<lesson>", "exec")


@pytest.mark.parametrize("source", SOURCES, ids=IDS)
def test_lessons_have_goals_takeaways_and_references(source):
    """Per language, in the prose (not anywhere in the file); the rules live in build.check_source."""
    build.check_source(source)  # raises build.SourceError naming file and line

"""The Vietnamese notebooks use the course glossary's terms (GLOSSARY.md)."""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent


def glossary() -> list[tuple[str, list[str], list[str]]]:
    rows = []
    for line in (ROOT / "GLOSSARY.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or cells[0] in ("English", "") or set(cells[0]) <= {"-"}:
            continue
        english, vietnamese, avoid = cells
        rows.append(
            (english, [v.strip() for v in vietnamese.split(" / ")], [a.strip() for a in avoid.split(";") if a.strip()])
        )
    return rows


def prose(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


LESSONS = sorted((ROOT / "lessons" / "vi").glob("*.ipynb"))


def test_glossary_is_complete_enough():
    rows = glossary()
    assert len(rows) >= 50
    english = [e.lower() for e, _, _ in rows]
    assert len(english) == len(set(english)), "an English term is listed twice"
    terms = (ROOT.parent / "shared" / "TERMS.md", ROOT / "GLOSSARY.md")
    assert terms[1].exists()


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_vietnamese_lessons_use_the_glossary_terms(lesson):
    vi = prose(lesson).lower()
    en = prose(ROOT / "lessons" / "en" / lesson.name).lower()
    missing, avoided = [], []
    for english, vietnamese, avoid in glossary():
        if re.search(rf"\b{re.escape(english.lower())}(s|es)?\b", en) and not any(v.lower() in vi for v in vietnamese):
            missing.append(f"{english} -> {' / '.join(vietnamese)}")
        avoided += [f"{a} (use {vietnamese[0]})" for a in avoid if a.lower() in vi]
    assert not missing, f"{lesson.name}: the English text uses these terms but the Vietnamese one lacks them: {missing}"
    assert not avoided, f"{lesson.name}: avoided translations found: {avoided}"

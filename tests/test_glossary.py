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
    empty = [e for e, vietnamese, _ in rows if not all(vietnamese)]
    assert not empty, f"terms without a Vietnamese form: {empty}"


def test_no_accepted_form_contains_an_avoided_one():
    """Otherwise the lesson test below would flag the glossary's own term as an avoided translation."""
    rows = glossary()
    accepted = [v.lower() for _, vietnamese, _ in rows for v in vietnamese]
    clashes = [
        f"{english}: avoid {a!r} is inside the accepted {v!r}"
        for english, _, avoid in rows
        for a in avoid
        for v in accepted
        if a.lower() in v
    ]
    assert not clashes, clashes


def english_uses(term: str, text: str, longer: list[str]) -> bool:
    """Whether ``text`` uses ``term`` on its own (not only inside a longer glossary term such as "output stride")."""
    for other in longer:
        text = text.replace(other, " ")
    return re.search(rf"\b{re.escape(term)}(s|es)?\b", text) is not None


@pytest.mark.parametrize("lesson", LESSONS, ids=[p.stem for p in LESSONS])
def test_vietnamese_lessons_use_the_glossary_terms(lesson):
    vi = prose(lesson).lower()
    en = prose(ROOT / "lessons" / "en" / lesson.name).lower()
    en = re.sub(r"\*[^*\n]+\*", " ", en)  # italics: paper titles and emphasised names, not running prose
    rows = glossary()
    terms = [e.lower() for e, _, _ in rows]
    missing, avoided = [], []
    for english, vietnamese, avoid in rows:
        longer = [t for t in terms if t != english.lower() and english.lower() in t]
        if english_uses(english.lower(), en, longer) and not any(v.lower() in vi for v in vietnamese):
            missing.append(f"{english} -> {' / '.join(vietnamese)}")
        avoided += [f"{a} (use {vietnamese[0]})" for a in avoid if a.lower() in vi]
    assert not missing, f"{lesson.name}: the English text uses these terms but the Vietnamese one lacks them: {missing}"
    assert not avoided, f"{lesson.name}: avoided translations found: {avoided}"

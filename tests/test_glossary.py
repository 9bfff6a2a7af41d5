"""The lessons' prose follows the course glossary (GLOSSARY.md) and the course's language rules (issue 19).

Every check reads the lesson *sources* (``source/NN_*.py``: the vi/en markdown pairs), so it holds as soon as
a source is fixed, before the notebooks are rebuilt. Each rule is a small function that returns what it
found; the rules are tested on the bad examples they must catch and on good text they must leave alone.

Rules (CONTRIBUTING, issue 19):
- no control character (a TAB written where ``\\t`` of ``\\times`` was meant) in any markdown cell;
- no "et al." in a Vietnamese cell (Vietnamese writes "và cộng sự");
- decimal commas in Vietnamese prose and inline math (``0,16``, ``$0{,}16$``), not points;
- no English-only sentence in a Vietnamese cell (outside italics, quotes, code, math and the references);
- one Vietnamese term per glossary concept: the glossary's form wherever the English twin uses the term, the
  "avoid" forms nowhere, no two concepts with the same Vietnamese word (e.g. *refine* and *fine-tune*), and
  "tinh chỉnh" (*fine-tune*) only where the English twin speaks of tuning.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "source").glob("[0-9][0-9]_*.py"))

# English terms that are true synonyms and may share their Vietnamese form
SYNONYMS = [{"dilated convolution", "atrous convolution"}, {"peak memory", "peak activation memory"}]

# A Vietnamese word that belongs to one English concept only: the English twin cell must name that concept.
# (The classic confusion: *refine* and *fine-tune* both written "tinh chỉnh".)
REQUIRES_ENGLISH = {"tinh chỉnh": r"\btun(e|es|ed|ing)\b|fine-tun"}

VIETNAMESE_LETTER = re.compile(r"[àáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ]", re.IGNORECASE)
ENGLISH_FUNCTION_WORDS = {
    "the", "of", "and", "is", "are", "to", "in", "with", "for", "that", "this", "it", "on", "by", "an", "as", "be",
    "from", "which", "not", "we", "its", "at", "or", "each", "every", "than", "when", "what", "how", "only",
}  # fmt: skip


# ---------------------------------------------------------------------------------------------- the sources
def markdown_pairs(path: Path) -> list[tuple[int, str, str]]:
    """``(line, vi, en)`` for each vi/en markdown pair of a lesson source (the build checks the pairing)."""
    cells: list[dict] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        header = re.match(r"^# %%(.*)$", line)
        if header:
            lang = re.search(r'\blang="([^"]*)"', header.group(1))
            kind = "markdown" if re.search(r"\[(markdown|md)\]", header.group(1)) else "code"
            cells.append({"kind": kind, "lang": lang.group(1) if lang else None, "line": number, "body": []})
        elif cells:
            cells[-1]["body"].append(line[2:] if line.startswith("# ") else line[1:] if line.startswith("#") else line)
    markdown = [c for c in cells if c["kind"] == "markdown"]
    pairs = []
    for vi, en in zip(markdown[::2], markdown[1::2]):
        assert (vi["lang"], en["lang"]) == ("vi", "en"), f"{path.name}:{vi['line']}: cells not in vi/en pairs"
        pairs.append((vi["line"], "\n".join(vi["body"]), "\n".join(en["body"])))
    return pairs


def without_code_and_links(text: str) -> str:
    text = re.sub(r"```.*?```", " ", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", " ", text)
    text = re.sub(r"\]\([^)\s]*\)", "]", text)  # keep a link's text, drop its address
    return re.sub(r"https?://\S+", " ", text)


def without_math(text: str) -> str:
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    return re.sub(r"\$[^$\n]*\$", " ", text)


def without_italics_and_quotes(text: str) -> str:
    text = re.sub(r"(?<!\*)\*(?!\*)[^*\n]+?(?<!\*)\*(?!\*)", " ", text)  # *italics*, not **bold**
    text = re.sub(r"(?<![\w*])_[^_\n]+_(?![\w*])", " ", text)
    return re.sub(r"\"[^\"\n]*\"|“[^”\n]*”", " ", text)


def without_references(text: str) -> str:
    """The cell up to its references heading (paper titles and author lists are not Vietnamese prose)."""
    return re.split(r"^#+\s*(Tài liệu tham khảo|References)\b", text, flags=re.M)[0]


# ------------------------------------------------------------------------------------------------ the rules
def control_characters(text: str) -> list[str]:
    """Control characters other than the newline, e.g. the TAB of a mistyped ``\\times``."""
    return [f"{ch!r} in {text[max(0, i - 12) : i + 12]!r}" for i, ch in enumerate(text) if ord(ch) < 32 and ch != "\n"]


def et_al(text: str) -> list[str]:
    return re.findall(r"\b\w+ et al\b\.?", without_code_and_links(text))


_NOT_DECIMALS = re.compile(
    r"\b\d{4}\.\d{4,5}\b"  # arXiv ids
    r"|(?:mục|hình|bảng|phần|công thức|thuật toán|sec\.|fig\.|eq\.|table|§)\s*\d+(?:\.\d+)+"  # numbered parts
    r"|\bv?\d+\.\d+\.\d+\b"  # versions such as 2.1.0
    r"|\b(?:python|torch|pytorch|numpy|cuda|jupyterlab|ipywidgets)\s*\d+(?:\.\d+)+",
    re.IGNORECASE,
)


def decimal_points(text: str) -> list[str]:
    """Numbers written with a decimal point in Vietnamese prose or inline math (Vietnamese uses a comma)."""
    text = _NOT_DECIMALS.sub(" ", without_code_and_links(text))
    return [m.group(0) for m in re.finditer(r"(?<![\w.{])\d+\.\d+(?![\w.])", text)]


def new_style_tone_marks(text: str) -> list[str]:
    """Open syllables with the tone mark on the first vowel ("hóa", "khóa", "tùy"): the course writes the
    traditional "hoá", "khoá", "tuỳ" everywhere (GLOSSARY conventions)."""
    text = without_code_and_links(text)
    return re.findall(r"\w*(?:[óòỏõọ][ae]|[úùủũụ]y)(?!\w)", text, flags=re.IGNORECASE)


def ampersand_authors(text: str) -> list[str]:
    """' & ' between two names in Vietnamese prose ("Krähenbühl & Koltun"): the course writes "và".

    Code, math, italics (paper titles such as *"Squeeze & Excitation"*) and quotes are left out.
    """
    text = without_italics_and_quotes(without_math(without_code_and_links(text)))
    return [
        m.group(0)
        for m in re.finditer(r"([^\W\d_][\w.'-]*)\s*&\s*([^\W\d_][\w'-]*)", text)
        if m.group(1)[0].isupper() and m.group(2)[0].isupper()
    ]


def english_sentences(text: str) -> list[str]:
    """Sentences of a Vietnamese cell written in English only (6+ words, 2+ English function words)."""
    text = without_italics_and_quotes(without_math(without_code_and_links(without_references(text))))
    found = []
    for sentence in re.split(r"(?<=[.!?:;])\s+|\n|\|", text):
        words = re.findall(r"[A-Za-z][A-Za-z'-]*", sentence)
        function_words = [w for w in words if w.lower() in ENGLISH_FUNCTION_WORDS]
        if len(words) >= 6 and len(function_words) >= 2 and not VIETNAMESE_LETTER.search(sentence):
            found.append(sentence.strip())
    return found


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


def contains(term: str, text: str) -> bool:
    """Whether ``text`` contains ``term`` as whole words (case-insensitive; Vietnamese letters are word letters)."""
    return re.search(rf"(?<!\w){re.escape(term.lower())}(?!\w)", text.lower()) is not None


def avoided_forms(vi: str, rows: list[tuple[str, list[str], list[str]]]) -> list[str]:
    """The glossary's "avoid" forms used in Vietnamese prose (the English in italics or code does not count)."""
    prose = without_italics_and_quotes(without_code_and_links(vi))
    return [f"{a} (use {vietnamese[0]})" for _, vietnamese, avoid in rows for a in avoid if contains(a, prose)]


def english_uses(term: str, text: str, longer: list[str]) -> bool:
    """Whether ``text`` uses ``term`` on its own (not only inside a longer glossary term such as "output stride")."""
    for other in longer:
        text = text.replace(other, " ")
    return re.search(rf"\b{re.escape(term)}(s|es)?\b", text) is not None


def missing_terms(vi: str, en: str, rows: list[tuple[str, list[str], list[str]]]) -> list[str]:
    """Glossary terms the English text uses whose Vietnamese form the Vietnamese text lacks."""
    en = re.sub(r"\*[^*\n]+\*", " ", without_code_and_links(en).lower())  # italics: titles, emphasised names
    vi = vi.lower()
    terms = [e.lower() for e, _, _ in rows]
    missing = []
    for english, vietnamese, _ in rows:
        longer = [t for t in terms if t != english.lower() and english.lower() in t]
        if english_uses(english.lower(), en, longer) and not any(v.lower() in vi for v in vietnamese):
            missing.append(f"{english} -> {' / '.join(vietnamese)}")
    return missing


def glossed_another_way(vi: str, rows: list[tuple[str, list[str], list[str]]]) -> list[str]:
    """A glossary term glossed in italics after a Vietnamese word that is not the glossary's form.

    "dòng thác (*cascade*)" is flagged (the glossary says "xếp tầng"); "trường tiếp nhận (*receptive field*, RF)"
    is not.
    """
    forms = {english.lower(): vietnamese for english, vietnamese, _ in rows}
    found = []
    for match in re.finditer(r"\(\*([^*\n]+)\*", vi):
        before = vi[max(0, match.start() - 60) : match.start()].lower()
        for term in re.split(r"\s*/\s*|,\s*", match.group(1).lower()):
            if term.strip() in forms and not any(f.lower() in before for f in forms[term.strip()]):
                found.append(f"{before[-30:].strip()} (*{term.strip()}*): use {' / '.join(forms[term.strip()])}")
    return found


def false_friends(vi: str, en: str) -> list[str]:
    """A Vietnamese word used in a cell whose English twin does not name the concept it belongs to."""
    prose = without_code_and_links(vi)
    return [
        f"{word!r} without its English concept in the twin cell"
        for word, english in REQUIRES_ENGLISH.items()
        if contains(word, prose) and not re.search(english, en, re.IGNORECASE)
    ]


# ---------------------------------------------------------------------------------------- the glossary itself
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
        if contains(a, v)
    ]
    assert not clashes, clashes


def test_no_two_concepts_share_a_vietnamese_form():
    """One Vietnamese word per concept: e.g. *refine* and *fine-tune* must not both be "tinh chỉnh"."""
    owners: dict[str, set[str]] = {}
    for english, vietnamese, _ in glossary():
        for form in vietnamese:
            owners.setdefault(form.lower(), set()).add(english.lower())
    shared = {
        form: names
        for form, names in owners.items()
        if len(names) > 1 and not any(names <= group for group in SYNONYMS)
    }
    assert not shared, f"Vietnamese forms used for several English concepts: {shared}"


def test_the_course_decisions_are_in_the_glossary():
    """Issue 19's decisions: batch stays "batch", seed is "hạt giống", cascade is "xếp tầng", refine is not
    fine-tune."""
    rows = {english: (vietnamese, avoid) for english, vietnamese, avoid in glossary()}
    assert rows["batch"][0] == ["batch"] and "lô" in rows["batch"][1]
    assert "hạt giống" in rows["seed"][0] and "seed" in rows["seed"][1]
    assert "xếp tầng" in rows["cascade"][0] and "dòng thác" in rows["cascade"][1]
    assert rows["fine-tune"][0] == ["tinh chỉnh"] and "tinh chỉnh" not in rows["refine"][0]


# ------------------------------------------------------------------------ the rules catch what they must catch
@pytest.mark.parametrize(
    ("rule", "bad"),
    [
        (control_characters, "a $3\times 3$ convolution"),  # \t of \times: a literal TAB
        (control_characters, "x\x0by"),
        (et_al, "Luo et al. (arXiv 1701.04128) đo mức ảnh hưởng"),
        (et_al, "- L.-C. Chen et al. *DeepLab*"),
        (decimal_points, "tăng từ 77.21% lên 78.51%"),
        (decimal_points, "bán kính $0.16$–$0.24$ lần cạnh ảnh"),
        (decimal_points, "ngưỡng 0.5 khi có"),
        (english_sentences, "Mô hình học nhanh. The model learns the texture of each region quickly."),
        (english_sentences, "| the price of dilation is in the table |"),
        (new_style_tone_marks, "chuẩn hóa softmax"),
        (new_style_tone_marks, "khóa học, tùy theo"),
        (ampersand_authors, "CRF kết nối đầy đủ của Krähenbühl & Koltun (arXiv 1210.5644)"),
        (ampersand_authors, "V-Net (Milletari&Navab) dùng Dice"),
        (ampersand_authors, "- P. Krähenbühl & V. Koltun. *Efficient Inference in Fully Connected CRFs*."),
    ],
)
def test_a_rule_catches_its_bad_example(rule, bad):
    assert rule(bad), f"{rule.__name__} missed {bad!r}"


@pytest.mark.parametrize(
    ("rule", "good"),
    [
        (control_characters, "a $3\\times 3$ convolution\nnext line"),
        (et_al, "Luo và cộng sự (arXiv 1701.04128) đo mức ảnh hưởng; `et al.` in code is fine"),
        (decimal_points, "tăng từ 77,21% lên 78,51%; $0{,}16$; arXiv 1606.00915, 1706.05587; mục 3.2; Hình 4"),
        (decimal_points, "`lr=0.01` in code, torch 2.1, https://example.org/v1.5/page"),
        (english_sentences, "Ta dùng *Atrous Spatial Pyramid Pooling* (ASPP) của DeepLab."),
        (
            english_sentences,
            "Bài báo *Rethinking Atrous Convolution for Semantic Image Segmentation* (Chen và cộng sự).",
        ),
        (
            english_sentences,
            "## Tài liệu tham khảo\n- L.-C. Chen, G. Papandreou, F. Schroff, H. Adam. The title of the paper.",
        ),
        (english_sentences, "Tên cột `boundary F`: điểm F trên biên."),
        (new_style_tone_marks, "chuẩn hoá, khoá học, tuỳ theo, toàn bộ, hoàn toàn, đoán, quý"),
        (ampersand_authors, "CRF kết nối đầy đủ của Krähenbühl và Koltun (arXiv 1210.5644)"),
        (ampersand_authors, '`mask & valid` trong mã; $A \\& B$; bài báo *Squeeze & Excitation*; "R & D"'),
    ],
)
def test_a_rule_leaves_good_text_alone(rule, good):
    assert not rule(good), f"{rule.__name__} flagged {good!r}: {rule(good)}"


def test_glossary_rules_catch_a_term_translated_another_way():
    rows = glossary()
    assert "dòng thác (use xếp tầng)" in avoided_forms("Toàn mạng là một dòng thác 4 tầng.", rows)
    assert any(a.startswith("seed") for a in avoided_forms("mức nhiễu giữa các seed.", rows))
    assert any(a.startswith("lô") for a in avoided_forms("kích thước lô sai", rows))
    assert not avoided_forms("hạt giống ngẫu nhiên (*seed*); `seed=0`; batch", rows)
    assert not avoided_forms("lôi cuốn, lốm đốm", rows)  # whole words only
    assert missing_terms("Toàn mạng là một dòng thác.", "The whole network is a cascade.", rows)
    assert not missing_terms("Toàn mạng là một chuỗi xếp tầng.", "The whole network is a cascade.", rows)
    assert glossed_another_way("Toàn mạng là một dòng thác (*cascade*).", rows)
    assert glossed_another_way("vùng cảm nhận (*receptive field*)", rows)
    assert not glossed_another_way("trường tiếp nhận (*receptive field*, RF); chuỗi xếp tầng (*cascade*)", rows)
    assert false_friends("đặc trưng thô được tinh chỉnh", "the coarse features are refined")
    assert not false_friends("tinh chỉnh toàn mạng", "the whole network is fine-tuned")


# ---------------------------------------------------------------------------------------------- the lessons
@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_markdown_has_no_control_characters(source):
    found = [
        f"{source.name}:{line} ({lang}): {c}"
        for line, vi, en in markdown_pairs(source)
        for lang, text in (("vi", vi), ("en", en))
        for c in control_characters(text)
    ]
    assert not found, found


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_vietnamese_cells_follow_the_language_rules(source):
    problems = []
    for line, vi, _ in markdown_pairs(source):
        problems += [f"{source.name}:{line}: 'et al.' (write 'và cộng sự'): {x!r}" for x in et_al(vi)]
        problems += [f"{source.name}:{line}: decimal point (write a comma): {x!r}" for x in decimal_points(vi)]
        problems += [f"{source.name}:{line}: English-only sentence: {x[:80]!r}" for x in english_sentences(vi)]
        problems += [f"{source.name}:{line}: tone mark (write hoá, khoá, tuỳ): {x!r}" for x in new_style_tone_marks(vi)]
        problems += [f"{source.name}:{line}: '&' between names (write 'và'): {x!r}" for x in ampersand_authors(vi)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_vietnamese_lessons_use_the_glossary_terms(source):
    rows = glossary()
    pairs = markdown_pairs(source)
    vi = "\n".join(v for _, v, _ in pairs)
    en = "\n".join(e for _, _, e in pairs)
    missing = missing_terms(vi, en, rows)
    assert not missing, f"{source.name}: the English text uses these terms but the Vietnamese one lacks them: {missing}"
    avoided = avoided_forms(vi, rows)
    assert not avoided, f"{source.name}: avoided translations found: {avoided}"
    glossed = [f"{source.name}:{line}: {x}" for line, v, _ in pairs for x in glossed_another_way(v, rows)]
    assert not glossed, glossed
    friends = [f"{source.name}:{line}: {x}" for line, v, e in pairs for x in false_friends(v, e)]
    assert not friends, friends

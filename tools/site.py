"""Build the course's static bilingual website into ``_site/`` (``make site``).

    python tools/site.py                  # -> _site/
    python tools/site.py --out /tmp/site  # elsewhere
    python tools/site.py --no-explorer    # skip the receptive-field explorer pages
    python tools/site.py --readme         # only rewrite README.md's table of "Open in Colab" links

What it builds, from the executed notebooks in ``solutions/{vi,en}/``:

- ``index.html`` (pick a language) and ``{vi,en}/index.html`` (the lessons, one-line summaries);
- ``{vi,en}/NN_slug.html``: one page per lesson per language, with its figures (PNG outputs are
  embedded), maths typeset by MathJax 3 **bundled** from the ``django-static-mathjax`` package (plain
  static files, no Django needed; copied to ``_static/mathjax/``: no CDN, works offline from
  ``file://`` or a loopback server), a
  language switch to the same lesson in the other language, an "Open in Colab" link and a link
  to the student notebook (``lessons/{vi,en}/`` copied to ``notebooks/{vi,en}/``);
- ``{vi,en}/glossary.html``: GLOSSARY.md;
- ``{vi,en}/explorer.html``: the kernel-free receptive-field explorer of lesson 01 (its own
  self-contained page ``explorer/{vi,en}/rf.html``, embedded), when ``src.receptive_field.export``
  exists at build time; linked from lesson 01's page and the home pages.

Why nbconvert with a template rather than Jupyter Book / MyST: nbconvert is already pinned for the
notebook build, renders the *executed* notebooks as they are (no re-execution), needs no node.js
and nothing from the network (Jupyter Book 2 / mystmd runs on node and fetches its theme at build
time; Jupyter Book 1 pulls in Sphinx and loads MathJax from a CDN), and builds the whole site in
seconds. Every page requests files of the site only: the template drops nbconvert's require.js,
mermaid and widget scripts (all CDN URLs), and ``tests/test_site.py`` checks that no page refers
to another host for anything it loads.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import build  # noqa: E402  (LANGS, sources, summaries, the Colab repo slug)

TEMPLATE_DIR = Path(__file__).resolve().parent / "site_template"
LANGS = build.LANGS
MATHJAX_URL = "../_static/mathjax/tex-chtml-full.js"
TEXT = {
    "vi": {
        "course": "Phân vùng ngữ nghĩa từ các khối cơ bản",
        "lessons": "Các bài học",
        "glossary": "Thuật ngữ",
        "other": "English",
        "colab": "Mở trong Colab",
        "notebook": "Notebook cho học viên (.ipynb)",
        "explorer": "Trình khám phá trường tiếp nhận (không cần kernel)",
        "home": "Trang chủ",
        "lesson": "Bài",
        "intro": (
            "Khoá học Jupyter song ngữ về các khối xây dựng nên mô hình phân vùng ngữ nghĩa với PyTorch. "
            "Mỗi trang dưới đây là bài giảng đã chạy (kèm lời giải); notebook cho học viên tải về được, "
            "hoặc mở thẳng trong Colab."
        ),
    },
    "en": {
        "course": "Semantic segmentation from its building blocks",
        "lessons": "Lessons",
        "glossary": "Glossary",
        "other": "Tiếng Việt",
        "colab": "Open in Colab",
        "notebook": "Student notebook (.ipynb)",
        "explorer": "Receptive-field explorer (no kernel needed)",
        "home": "Home",
        "lesson": "Lesson",
        "intro": (
            "A bilingual Jupyter course on the building blocks of semantic segmentation with PyTorch. "
            "Each page below is an executed lesson (with its solutions); the student notebooks can be "
            "downloaded or opened straight in Colab."
        ),
    },
}


def other(lang: str) -> str:
    return LANGS[1 - LANGS.index(lang)]


def mathjax_source() -> Path:
    """MathJax 3 (``es5/``) as shipped by the ``django-static-mathjax`` package (plain static files)."""
    try:
        import mathjax
    except ImportError as exc:  # pragma: no cover - requirements.txt installs it
        raise SystemExit("site: django-static-mathjax is missing: pip install -r requirements.txt") from exc
    static = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
    if not (static / "tex-chtml-full.js").is_file():
        raise SystemExit(f"site: no tex-chtml-full.js under {static}")
    return static


def colab_url(lang: str, stem: str) -> str:
    """The "Open in Colab" URL of a student notebook (repository slug: ``build.github_repo()``)."""
    return f"https://colab.research.google.com/github/{build.github_repo()}/blob/{build.github_branch()}/lessons/{lang}/{stem}.ipynb"


def _page(lang: str, title: str, body: str, switch: str, depth: str = "../") -> str:
    """A plain site page (index, glossary) with the same header as the lessons."""
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8" />
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="{depth}_static/site.css">
</head>
<body class="course-page">
{_nav(lang, switch, depth)}
<main class="course-main">
<h1>{html.escape(title)}</h1>
{body}
</main>
</body>
</html>
"""


def _nav(lang: str, switch: str, depth: str = "../", extra: str = "") -> str:
    t = TEXT[lang]
    return (
        f'<nav class="course-nav"><a href="{depth}{lang}/index.html" data-role="home">{html.escape(t["course"])}</a>'
        f' · <a href="{depth}{lang}/glossary.html">{html.escape(t["glossary"])}</a>{extra}'
        f' <a class="course-switch" href="{switch}" hreflang="{other(lang)}" data-role="lang-switch">'
        f"{html.escape(t['other'])}</a></nav>"
    )


def _title(nb: nbformat.NotebookNode, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.search(r"^#\s+(.+)$", cell.source, re.M)
            if match:
                return match.group(1).strip()
    return fallback


def _summary(number: str) -> tuple[str, str]:
    """The lesson's one-line (vi, en) summary, from its source's header (``build.summary``)."""
    for source in build.sources():
        if source.name[:2] == number:
            if hasattr(build, "summary"):
                return build.summary(source)
            return getattr(build, "SUMMARIES", {}).get(number, ("", ""))
    return ("", "")


def _exporter():
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(template_name="course", extra_template_basedirs=[str(TEMPLATE_DIR)])
    exporter.mathjax_url = MATHJAX_URL
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    return exporter


def build_explorer(out: Path) -> dict[str, str]:
    """Lesson 01's kernel-free explorer, when ``src.receptive_field.export`` exists at build time.

    The explorer's data (ResNet-18 on scikit-image's astronaut, 160 px, ERFs on a 3 x 3 grid of units)
    is computed once; the page is written once per language (it carries both languages and starts in
    ``lang``), under ``explorer/{vi,en}/rf.html``, and embedded (an iframe) in ``{vi,en}/explorer.html``,
    a site page with the usual header and language switch.
    """
    try:
        import src
        from src.receptive_field import export
    except ImportError:
        return {}
    import torch

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    data = export.page_data("resnet18", None, "astronaut", 160, None, 3)
    pages = {}
    for lang in LANGS:
        src.set_language(lang)
        target = out / "explorer" / lang / "rf.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(export.render({**data, "lang": lang}), encoding="utf-8")
        t = TEXT[lang]
        body = (
            f'<iframe class="explorer" src="../explorer/{lang}/rf.html" title="{html.escape(t["explorer"])}"></iframe>'
        )
        (out / lang / "explorer.html").parent.mkdir(parents=True, exist_ok=True)
        (out / lang / "explorer.html").write_text(
            _page(lang, t["explorer"], body, f"../{other(lang)}/explorer.html"), encoding="utf-8"
        )
        pages[lang] = "explorer.html"
    return pages


def build_site(out: Path, explorer: bool = True) -> dict[str, object]:
    """Write the whole site into ``out`` (emptied first); return what was built and how long it took."""
    start = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)
    (out / "_static").mkdir(parents=True)
    # the one combined component (TeX input with every extension, CHTML output) and its fonts: 1.7 MB
    mathjax = mathjax_source()
    (out / "_static" / "mathjax").mkdir()
    shutil.copy(mathjax / "tex-chtml-full.js", out / "_static" / "mathjax")
    shutil.copytree(
        mathjax / "output" / "chtml" / "fonts" / "woff-v2",
        out / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2",
    )
    shutil.copy(TEMPLATE_DIR / "site.css", out / "_static" / "site.css")
    explorer_pages = build_explorer(out) if explorer else {}
    pages: list[str] = [f"{lang}/{page}" for lang, page in explorer_pages.items()]
    exporter = _exporter()
    lessons: dict[str, list[tuple[str, str, str]]] = {lang: [] for lang in LANGS}
    for source in build.sources():
        stem, number = source.stem, source.name[:2]
        for lang in LANGS:
            path = ROOT / "solutions" / lang / f"{stem}.ipynb"
            if not path.exists():
                continue
            nb = nbformat.read(path, as_version=4)
            # the first cell (Colab bootstrap + language) is for running the notebook, not for reading it
            nb.cells = [c for c in nb.cells if "language" not in c.get("metadata", {}).get("tags", [])]
            title = _title(nb, stem)
            student = ROOT / "lessons" / lang / f"{stem}.ipynb"
            links = []
            if student.exists():
                target = out / "notebooks" / lang / student.name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(student, target)
                links.append(
                    f'<a href="../notebooks/{lang}/{student.name}" download data-role="student-notebook">'
                    f"{html.escape(TEXT[lang]['notebook'])}</a>"
                )
            links.append(
                f'<a href="{colab_url(lang, stem)}" data-role="colab">'
                f'<img src="../_static/colab-badge.svg" alt="{html.escape(TEXT[lang]["colab"])}"></a>'
            )
            if number == "01" and lang in explorer_pages:
                links.append(
                    f'<a href="{explorer_pages[lang]}" data-role="explorer">{html.escape(TEXT[lang]["explorer"])}</a>'
                )
            resources = {
                "metadata": {"name": title},
                "language_code": lang,
                "course": {
                    "nav": _nav(lang, f"../{other(lang)}/{stem}.html"),
                    "links": " · ".join(links),
                    "css": "../_static/site.css",
                },
            }
            exporter.language_code = lang  # <html lang=...>
            body, _ = exporter.from_notebook_node(nb, resources=resources)
            (out / lang).mkdir(parents=True, exist_ok=True)
            (out / lang / f"{stem}.html").write_text(body, encoding="utf-8")
            pages.append(f"{lang}/{stem}.html")
            lessons[lang].append((number, stem, title))
    (out / "_static" / "colab-badge.svg").write_text(COLAB_BADGE, encoding="utf-8")
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    glossary = markdown2html_mistune((ROOT / "GLOSSARY.md").read_text(encoding="utf-8"))
    glossary = re.sub(r"^<h1[^>]*>.*?</h1>", "", glossary.strip(), count=1, flags=re.S)
    for lang in LANGS:
        t = TEXT[lang]
        rows = []
        for number, stem, title in lessons[lang]:
            summary = _summary(number)[LANGS.index(lang)]
            rows.append(
                f'<li><a href="{stem}.html">{html.escape(title)}</a><br><span class="summary">'
                f"{html.escape(summary)}</span></li>"
            )
        extra = (
            f'<p><a href="{explorer_pages[lang]}" data-role="explorer">{html.escape(t["explorer"])}</a></p>'
            if lang in explorer_pages
            else ""
        )
        body = f"<p>{html.escape(t['intro'])}</p>\n<h2>{t['lessons']}</h2>\n<ul class='lessons'>{''.join(rows)}</ul>{extra}"
        (out / lang).mkdir(parents=True, exist_ok=True)
        (out / lang / "index.html").write_text(_page(lang, t["course"], body, f"../{other(lang)}/index.html"))
        (out / lang / "glossary.html").write_text(
            _page(lang, t["glossary"], glossary, f"../{other(lang)}/glossary.html"), encoding="utf-8"
        )
        pages += [f"{lang}/index.html", f"{lang}/glossary.html"]
    choose = "".join(f'<li><a href="{lang}/index.html">{TEXT[lang]["course"]}</a></li>' for lang in LANGS)
    (out / "index.html").write_text(
        _page("vi", f"{TEXT['vi']['course']} / {TEXT['en']['course']}", f"<ul>{choose}</ul>", "en/index.html", ""),
        encoding="utf-8",
    )
    (out / ".nojekyll").write_text("")
    seconds = time.perf_counter() - start
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    summary = {"pages": sorted(pages), "explorer": explorer_pages, "seconds": round(seconds, 1), "bytes": size}
    (out / "_static" / "build.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary


README_START, README_END = "<!-- colab-links:start -->", "<!-- colab-links:end -->"


def colab_table() -> str:
    """The README's table of "Open in Colab" links, one row per lesson (between the colab-links markers)."""
    rows = ["| # | Colab (vi) | Colab (en) |", "|---|---|---|"]
    for source in build.sources():
        links = [f"[{source.stem} ({lang})]({colab_url(lang, source.stem)})" for lang in LANGS]
        rows.append(f"| {source.name[:2]} | {links[0]} | {links[1]} |")
    return "\n".join(rows)


def update_readme(readme: Path = ROOT / "README.md") -> bool:
    """Rewrite the Colab table between the README's markers; True when it changed."""
    text = readme.read_text(encoding="utf-8")
    if README_START not in text or README_END not in text:
        return False
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    new = head + README_START + "\n" + colab_table() + "\n" + README_END + tail
    if new != text:
        readme.write_text(new, encoding="utf-8")
    return new != text


COLAB_BADGE = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="117" height="20" role="img" aria-label="Open in Colab">'
    '<rect width="117" height="20" rx="3" fill="#555"/><rect x="24" width="93" height="20" rx="3" fill="#f9ab00"/>'
    '<circle cx="12" cy="10" r="6" fill="none" stroke="#f9ab00" stroke-width="3"/>'
    '<text x="70" y="14" font-family="DejaVu Sans,Verdana,sans-serif" font-size="11" fill="#000" '
    'text-anchor="middle">Open in Colab</text></svg>'
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "_site")
    parser.add_argument("--no-explorer", action="store_true", help="skip lesson 01's explorer pages")
    parser.add_argument("--readme", action="store_true", help="only rewrite README.md's table of Colab links")
    args = parser.parse_args(argv)
    if args.readme:
        print("README.md:", "updated" if update_readme() else "already up to date")
        return 0
    os.environ.setdefault("SRC_NO_WIDGETS", "1")
    summary = build_site(args.out, explorer=not args.no_explorer)
    print(
        f"site: {len(summary['pages'])} pages, {summary['bytes'] / 2**20:.1f} MiB in {args.out} "
        f"({summary['seconds']} s); open {args.out / 'index.html'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

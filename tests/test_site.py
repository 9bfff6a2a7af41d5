"""The static website (``make site``, tools/site.py): built pages, offline assets, and a real browser.

The site is built once into a temporary folder (from the committed, executed
``solutions/`` notebooks), then:

- every lesson has a page in each language, and each page's language switch
  leads to the same lesson in the other language;
- no page loads anything from another host (scripts, styles, images, fonts):
  MathJax is the copy bundled under ``_static/``;
- headless Chromium (Debian's ``/usr/bin/chromium`` through Playwright), on a
  loopback HTTP server, opens a lesson in Vietnamese, checks that MathJax
  typeset its formulas and that its figures decoded, follows the language
  switch to the English page of the same lesson and checks it again; any
  request beyond 127.0.0.1 is aborted and fails the test.

``SRC_SITE_SCREENSHOTS=<folder>`` keeps screenshots of the pages it opened.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import build  # noqa: E402

CHROMIUM = os.environ.get("SRC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]


def _load_site_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("course_site", ROOT / "tools" / "site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


course_site = _load_site_module()
LESSONS = [
    s.stem
    for s in build.sources()
    if all((ROOT / "solutions" / lang / f"{s.stem}.ipynb").exists() for lang in build.LANGS)
]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built into a temporary folder (or ``SRC_SITE_DIR``: a site ``make site`` already built)."""
    prebuilt = os.environ.get("SRC_SITE_DIR")
    if prebuilt:
        out = Path(prebuilt)
        return out, json.loads((out / "_static" / "build.json").read_text(encoding="utf-8"))
    out = tmp_path_factory.mktemp("site") / "_site"
    summary = course_site.build_site(out, explorer=os.environ.get("SRC_SITE_EXPLORER", "1") != "0")
    return out, summary


@pytest.mark.slow  # builds the site (about 20 s on an idle 2-core CPU)
def test_every_lesson_has_a_page_in_each_language(site):
    out, summary = site
    assert LESSONS, "no executed lesson in solutions/"
    for stem in LESSONS:
        for lang in build.LANGS:
            page = out / lang / f"{stem}.html"
            assert page.is_file(), f"{page} missing"
            assert f"{lang}/{stem}.html" in summary["pages"]
    for name in ("index.html", "vi/index.html", "en/index.html", "vi/glossary.html", "en/glossary.html"):
        assert (out / name).is_file(), name


@pytest.mark.slow  # builds the site (about 20 s on an idle 2-core CPU)
def test_language_switch_leads_to_the_same_lesson(site):
    out, _ = site
    for lang in build.LANGS:
        other = course_site.other(lang)
        for page in (out / lang).glob("*.html"):
            text = page.read_text(encoding="utf-8")
            tag = re.search(r'<a\b[^>]*data-role="lang-switch"[^>]*>', text)
            assert tag, f"{page.name} ({lang}) has no language switch"
            href = re.search(r'href="([^"]+)"', tag.group(0)).group(1)
            assert href == f"../{other}/{page.name}", href
            assert (page.parent / href).resolve().is_file()


_LOADS = re.compile(r"""<(script|img|link|source|iframe)\b[^>]*?\b(src|href)=["']([^"']+)["']""", re.I)


def _external_loads(text: str) -> list[str]:
    bad = []
    for tag, _, url in _LOADS.findall(text):
        if tag.lower() == "link" and "stylesheet" not in text:  # pragma: no cover - defensive
            continue
        if url.startswith(("data:", "#")):
            continue
        parsed = urlparse(url)
        if parsed.scheme or parsed.netloc or url.startswith("//"):
            bad.append(f"<{tag}> {url}")
    bad += [f"css url({u})" for u in re.findall(r"url\((['\"]?)(https?:)?//[^)]*\)", text) if u]
    return bad


@pytest.mark.slow  # builds the site (about 20 s on an idle 2-core CPU)
def test_no_page_loads_anything_from_another_host(site):
    out, _ = site
    for page in out.rglob("*.html"):
        bad = _external_loads(page.read_text(encoding="utf-8", errors="replace"))
        assert not bad, f"{page.relative_to(out)} loads from another host: {bad[:5]}"
    assert (out / "_static" / "mathjax" / "tex-chtml-full.js").is_file()


def test_the_external_load_check_catches_cdn_scripts():
    assert _external_loads('<script src="https://cdn.example.org/x.js"></script>')
    assert _external_loads('<link rel="stylesheet" href="//cdn.example.org/x.css">')
    assert not _external_loads(
        '<script src="../_static/mathjax/MathJax.js?config=X"></script><img src="data:image/png;base64,AA">'
    )


@pytest.mark.slow  # builds the site (about 20 s on an idle 2-core CPU)
def test_lesson_pages_link_the_student_notebook_and_colab(site):
    out, _ = site
    for stem in LESSONS:
        for lang in build.LANGS:
            text = (out / lang / f"{stem}.html").read_text(encoding="utf-8")
            assert f'href="../notebooks/{lang}/{stem}.ipynb"' in text
            assert (out / "notebooks" / lang / f"{stem}.ipynb").is_file()
            assert f'href="{course_site.colab_url(lang, stem)}"' in text
            assert course_site.colab_url(lang, stem).endswith(
                f"/blob/{build.github_branch()}/lessons/{lang}/{stem}.ipynb"
            )


def test_readme_lists_a_colab_link_per_lesson():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = course_site.README_START, course_site.README_END
    assert start in text and end in text, "README.md lacks the colab-links markers"
    block = text.split(start, 1)[1].split(end, 1)[0].strip()
    assert block == course_site.colab_table(), "README's Colab table is stale: python tools/site.py --readme"
    for source in build.sources():
        for lang in build.LANGS:
            assert course_site.colab_url(lang, source.stem) in block


def test_colab_slug_is_configurable(monkeypatch):
    monkeypatch.setenv("SRC_GITHUB_REPO", "someone/course")
    assert course_site.colab_url("en", "00_introduction").startswith(
        "https://colab.research.google.com/github/someone/course/blob/"
    )


@pytest.mark.slow  # builds the site (about 20 s on an idle 2-core CPU)
def test_explorer_pages_are_embedded_when_src_exports_them(site):
    out, _ = site
    try:
        from src.receptive_field import export  # noqa: F401
    except ImportError:
        pytest.skip("src.receptive_field.export is not there: the site links no explorer")
    if os.environ.get("SRC_SITE_EXPLORER") == "0":
        pytest.skip("SRC_SITE_EXPLORER=0")
    for lang in build.LANGS:
        page = out / "explorer" / lang / "rf.html"
        text = page.read_text(encoding="utf-8")
        assert 'data-role="rf-photo"' in text and f'<html lang="{lang}"' in text
        assert not _external_loads(text)
        assert f'src="../explorer/{lang}/rf.html"' in (out / lang / "explorer.html").read_text(encoding="utf-8")
        lesson01 = [s for s in LESSONS if s.startswith("01_")]
        if lesson01:
            assert 'href="explorer.html"' in (out / lang / f"{lesson01[0]}.html").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------- the real browser
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(site):
    out, _ = site

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(out))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def page(server, tmp_path_factory):
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing although tools/browser_setup.sh ran")
        pytest.skip(f"{CHROMIUM} is missing: run tools/browser_setup.sh")
    blocked: list[str] = []
    missing: list[str] = []  # files of the site that a page asked for and the server did not have

    def guard(route):
        url = route.request.url
        if url.startswith(("data:", "blob:")) or urlparse(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            context.route("**/*", guard)
            tab = context.new_page()
            tab.set_default_timeout(60_000)
            tab.on("response", lambda r: missing.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            yield tab, blocked
        finally:
            browser.close()
    assert not blocked, f"requests beyond loopback: {blocked}"
    assert not missing, f"the site lacks files its pages load: {missing}"


def _check_rendered(tab, lang: str, stem: str, shots: str | None) -> None:
    # MathJax 3 finished typesetting: formulas became <mjx-container> elements, none is a TeX error
    tab.wait_for_function(
        "() => window.MathJax && MathJax.startup && MathJax.startup.promise"
        " && document.querySelectorAll('mjx-container').length > 0",
        timeout=120_000,
    )
    tab.evaluate("() => MathJax.startup.promise")
    counts = tab.evaluate(
        """() => ({
            math: document.querySelectorAll('mjx-container').length,
            errors: document.querySelectorAll('mjx-merror, [data-mjx-error]').length,
            raw: Array.from(document.querySelectorAll('.jp-RenderedMarkdown p, .jp-RenderedMarkdown li'))
                 .filter(p => /\\$[^$\\s][^$]*\\\\[a-zA-Z]+[^$]*\\$/.test(p.textContent)).length,
            figures: Array.from(document.querySelectorAll('.jp-OutputArea-output img'))
                     .filter(i => i.complete && i.naturalWidth > 0).length,
            fonts: Array.from(document.fonts).filter(f => f.family.includes('MJX') && f.status === 'loaded').length,
            lang: document.documentElement.lang,
        })"""
    )
    assert counts["math"] > 0 and counts["errors"] == 0, counts
    assert counts["fonts"] > 0, f"MathJax's fonts did not load: {counts}"
    assert counts["raw"] == 0, f"formulas left as raw TeX: {counts}"
    assert counts["figures"] > 0, counts
    assert counts["lang"] == lang
    title = tab.locator(".jp-RenderedMarkdown h1").first.inner_text()
    prefix = {"vi": "Bài", "en": "Lesson"}[lang]
    assert title.startswith(f"{prefix} {stem[:2]}"), title
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(Path(shots) / f"{lang}_{stem}.png"))


@pytest.mark.slow
@pytest.mark.browser
def test_browser_lesson_page_maths_and_language_switch(server, page):
    tab, blocked = page
    stem = next((s for s in LESSONS if s.startswith("01_")), LESSONS[0])
    shots = os.environ.get("SRC_SITE_SCREENSHOTS")
    tab.goto(f"{server}/vi/{stem}.html")
    _check_rendered(tab, "vi", stem, shots)
    switch = tab.locator("[data-role=lang-switch]")
    assert switch.inner_text().strip() == "English"
    switch.click()
    tab.wait_for_url(f"{server}/en/{stem}.html")
    _check_rendered(tab, "en", stem, shots)
    tab.locator("[data-role=lang-switch]").click()
    tab.wait_for_url(f"{server}/vi/{stem}.html")
    # the student notebook link is served by the site
    href = tab.locator("[data-role=student-notebook]").get_attribute("href")
    response = tab.request.get(f"{server}/vi/{href}")
    assert response.ok and b'"cells"' in response.body()
    assert not blocked


@pytest.mark.slow
@pytest.mark.browser
def test_browser_home_lists_every_lesson(server, page):
    tab, _ = page
    tab.goto(f"{server}/en/index.html")
    links = tab.locator("ul.lessons a").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    assert links == [f"{stem}.html" for stem in LESSONS]
    tab.locator("[data-role=lang-switch]").click()
    tab.wait_for_url(f"{server}/vi/index.html")
    assert tab.locator("h1").first.inner_text().startswith("Phân vùng")

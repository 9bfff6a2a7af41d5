"""The real-browser test: JupyterLab on loopback, driven by headless Chromium.

Starts JupyterLab from this environment on 127.0.0.1 (a random token, a free
port, temporary Jupyter config/data/runtime directories, no browser opened,
update checks and news off), then drives Debian's Chromium (``/usr/bin/chromium``,
installed by ``tools/browser_setup.sh``) with Python Playwright:

- opens lesson 01 in JupyterLab, runs the cells up to the receptive-field
  explorer (the cell tagged ``explorer``) and the explorer itself, moves its
  first slider with the keyboard and checks that the figure changed (the image
  data and a screenshot of the output area both differ);
- the same on a small fixture notebook of its own (an IntSlider driving a
  matplotlib figure), which checks the harness even before lesson 01 exists;
- opens a lesson in each language and reads its title.

The browser may only talk to 127.0.0.1: every other request is aborted (and
reported), and Chromium's own background traffic is switched off by flags.
The server is stopped and its temporary directories are removed at the end.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("SRC_CHROMIUM", "/usr/bin/chromium")
# the lessons folder to serve (override to try a build made elsewhere)
LESSONS = Path(os.environ.get("SRC_BROWSER_LESSONS", ROOT / "lessons"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
FIXTURE_EXPLORER = """import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
%matplotlib inline


def show(size=3):
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.imshow(np.arange(64).reshape(8, 8) < size * 8, cmap="gray")
    ax.set_title(f"size = {size}")
    plt.show()


widgets.interactive(show, size=widgets.IntSlider(value=3, min=1, max=8))"""

sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _lesson(lang: str, number: str) -> Path | None:
    found = sorted((LESSONS / lang).glob(f"{number}_*.ipynb"))
    return found[0] if found else None


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """The folder JupyterLab serves: links to lessons/ plus a fixture notebook."""
    root = tmp_path_factory.mktemp("lab")
    (root / "lessons").symlink_to(LESSONS, target_is_directory=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Widget fixture"),
        nbformat.v4.new_code_cell(FIXTURE_EXPLORER, metadata={"tags": ["explorer"]}),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "fixture_explorer.ipynb")
    return root


@pytest.fixture(scope="module")
def lab(workspace, tmp_path_factory):
    """A JupyterLab server on 127.0.0.1 with a token; yields its base URL and token; always stopped."""
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI"):  # .ci/run installs it: in CI a missing browser is a failure, not a skip
            pytest.fail(f"{CHROMIUM} is missing although tools/browser_setup.sh ran")
        pytest.skip(f"{CHROMIUM} is missing: run tools/browser_setup.sh")
    home = tmp_path_factory.mktemp("jupyter")
    port, token = _free_port(), secrets.token_hex(16)
    settings = home / "settings"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "SRC_NO_WIDGETS", "SRC_GRADE_LOG"))}
    env.update(
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        IPYTHONDIR=str(home / "ipython"),
        JUPYTER_PLATFORM_DIRS="1",
        PYTHONPATH=os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        no_proxy="127.0.0.1,localhost",
        NO_PROXY="127.0.0.1,localhost",
    )
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={workspace}",
        "--ServerApp.allow_remote_access=False",
        "--ServerApp.open_browser=False",
        "--LabApp.expose_app_in_browser=True",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        "--LabApp.extension_manager=readonly",
        *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
    ]
    for name, values in {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
    }.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    log = open(home / "server.log", "wb")  # closed in the finally below
    server = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workspace, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                raise RuntimeError("JupyterLab exited:\n" + (home / "server.log").read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as response:
                    json.load(response)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not answer within 90 s") from None
                time.sleep(0.5)
        yield {"base": base, "token": token, "log": home / "server.log"}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait(timeout=10)
        log.close()
        # kernels are children of the server, in its session: stop any left behind
        try:
            os.killpg(server.pid, 9)
        except ProcessLookupError:
            pass
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def browser_page(lab, tmp_path_factory):
    """A fresh headless Chromium page that may only reach 127.0.0.1."""
    profile = tmp_path_factory.mktemp("chromium-profile")
    blocked: list[str] = []

    def guard(route):
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1",):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            context.route("**/*", guard)
            page = context.new_page()
            page.set_default_timeout(60_000)
            yield page, blocked
        finally:
            context.close()
    assert not [u for u in blocked if not u.startswith("ws://127.0.0.1")], f"requests beyond loopback: {blocked}"


def _open(page, lab, relative: str) -> None:
    page.goto(f"{lab['base']}/lab/tree/{relative}?token={lab['token']}&reset")
    page.wait_for_function(
        "() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
        " && window.jupyterapp.shell.currentWidget.content"
        " && window.jupyterapp.shell.currentWidget.content.widgets.length > 0"
    )


def _wait_idle(page, timeout_ms: int = 300_000) -> None:
    page.wait_for_function(
        "() => { const w = window.jupyterapp.shell.currentWidget;"
        " return w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel"
        " && w.sessionContext.session.kernel.status === 'idle'; }",
        timeout=timeout_ms,
    )


def _title(page) -> str:
    heading = page.locator(".jp-Notebook .jp-MarkdownOutput h1").first
    heading.wait_for()
    return heading.inner_text()


def _run_explorer(page) -> object:
    """Run every cell above the cell tagged "explorer", then it; return the locator of its output."""
    _wait_idle(page)
    index = page.evaluate(
        """() => {
        const nb = window.jupyterapp.shell.currentWidget.content;
        const i = nb.widgets.findIndex(c => (c.model.getMetadata('tags') || []).includes('explorer'));
        nb.activeCellIndex = i;
        return i;
    }"""
    )
    assert index >= 0, "no cell tagged 'explorer'"
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-above')")
    _wait_idle(page)
    page.evaluate(
        f"() => {{ const nb = window.jupyterapp.shell.currentWidget.content; nb.activeCellIndex = {index};"
        " return window.jupyterapp.commands.execute('notebook:run-cell'); }"
    )
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    cell.scroll_into_view_if_needed()
    output = cell.locator(".jp-Cell-outputArea")
    output.locator(".widget-slider").first.wait_for(timeout=90_000)
    output.locator("img").first.wait_for(timeout=90_000)
    return output


def _image_sources(output) -> list[str]:
    return [img.get_attribute("src") or "" for img in output.locator("img").all()]


def _move_first_slider_and_compare(page, output) -> None:
    images_before = _image_sources(output)
    shot_before = output.screenshot()
    slider = output.locator(".widget-slider").first
    readout = slider.locator(".widget-readout")
    value_before = readout.inner_text()
    handle = slider.locator(".noUi-handle").first
    handle.focus()
    for _ in range(2):
        handle.press("ArrowRight")
    page.wait_for_function(
        "([el, old]) => el.innerText !== old", arg=[readout.element_handle(), value_before], timeout=30_000
    )
    page.wait_for_function(
        "([el, old]) => Array.from(el.querySelectorAll('img')).map(i => i.src).join('|') !== old"
        " && el.querySelectorAll('img').length > 0",
        arg=[output.element_handle(), "|".join(images_before)],
        timeout=60_000,
    )
    page.wait_for_timeout(300)  # let the new image paint
    assert readout.inner_text() != value_before
    assert _image_sources(output) != images_before
    assert output.screenshot() != shot_before


def test_fixture_explorer_slider_changes_the_figure(lab, browser_page):
    page, _ = browser_page
    _open(page, lab, "fixture_explorer.ipynb")
    output = _run_explorer(page)
    _move_first_slider_and_compare(page, output)


def test_lesson_01_receptive_field_explorer(lab, browser_page):
    if _lesson("vi", "01") is None:
        pytest.skip("lessons/vi/01_*.ipynb is not built yet")
    page, _ = browser_page
    _open(page, lab, f"lessons/vi/{_lesson('vi', '01').name}")
    output = _run_explorer(page)
    _move_first_slider_and_compare(page, output)


@pytest.mark.parametrize(("lang", "prefix"), [("vi", "Bài"), ("en", "Lesson")])
def test_lesson_title_in_each_language(lab, browser_page, lang, prefix):
    candidates = [p for p in (_lesson(lang, n) for n in ("01", "00")) if p is not None]
    if not candidates:
        pytest.skip(f"no lesson built in lessons/{lang}/")
    lesson = candidates[0]
    page, _ = browser_page
    _open(page, lab, f"lessons/{lang}/{lesson.name}")
    title = _title(page)
    assert title.startswith(f"{prefix} {lesson.name[:2]}"), title

"""Real-browser tests of lesson 01's RF explorer (issue 15), with Debian's headless Chromium.

1. The exported page, opened from ``file://`` with every non-``file:``/``data:`` request aborted:
   clicking two points sets ``data-unit`` on the photo and ``data-box`` on the box, equal to
   ``receptive_field(model, (H, W), output=layer).box(unit)`` on a freshly built torchvision
   model; the layer picker changes the box; the ERF image follows the click.
2. The JupyterLab widget (JupyterLab on loopback, the harness of ``tests/test_browser.py``):
   clicking the photo moves the box and changes the ERF image.
"""

from __future__ import annotations

import os

import nbformat
import pytest
import torchvision.models as tvm

import src.receptive_field as rf

pytestmark = pytest.mark.browser
sync_api = pytest.importorskip("playwright.sync_api")

from test_browser import CHROMIUM, CHROMIUM_ARGS, _open, _wait_idle, browser_page, lab  # noqa: E402, F401

EXPLORER_CELL = 'from src import receptive_field as rf\nui = rf.explorer(model="resnet18", image="astronaut", layer="layer1", size=96)'


def _chromium():
    if not os.access(CHROMIUM, os.X_OK):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing although tools/browser_setup.sh ran")
        pytest.skip(f"{CHROMIUM} is missing: run tools/browser_setup.sh")


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("rf") / "rf.html"
    rf.export_page("resnet18", "layer2", "chelsea", out, size=96, layers=["layer1", "layer2", "layer3"], grid=3)
    return out


def _click_pixel(page, y: int, x: int, h: int, w: int) -> None:
    photo = page.locator('[data-role="rf-photo"]')
    photo.evaluate("el => el.scrollIntoView({block: 'center'})")  # not under JupyterLab's toolbar
    box = photo.bounding_box()
    page.mouse.click(box["x"] + (x + 0.5) * box["width"] / w, box["y"] + (y + 0.5) * box["height"] / h)


def test_exported_page_from_file_url(page_file) -> None:
    _chromium()
    blocked: list[str] = []
    model = tvm.resnet18(weights=None)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})

            def guard(route):
                if route.request.url.startswith(("file://", "data:")):
                    route.continue_()
                else:
                    blocked.append(route.request.url)
                    route.abort()

            page.route("**/*", guard)
            page.goto(page_file.as_uri())
            photo = page.locator('[data-role="rf-photo"]')
            h, w = map(int, photo.get_attribute("data-size").split(","))
            assert (h, w) == (64, 96)
            for layer, (y, x) in [("layer2", (3, 90)), ("layer2", (60, 10)), ("layer3", (33, 47))]:
                page.select_option('select[data-role="rf-layer"]', layer)
                _click_pixel(page, y, x, h, w)
                report = rf.receptive_field(model, (h, w), output=layer)
                unit = rf.unit_at(report, (y, x))
                # the page updates in its click handler; on a loaded machine give it time before reading
                want = f"{unit[0]},{unit[1]}"
                page.wait_for_function(
                    "want => document.querySelector('[data-role=\"rf-photo\"]').dataset.unit === want",
                    arg=want,
                    timeout=30_000,
                )
                assert photo.get_attribute("data-unit") == want
                box = page.locator('[data-role="rf-box"]').get_attribute("data-box")
                assert box == ",".join(map(str, report.box(unit))), (layer, y, x)
                erf_unit = page.locator('[data-role="rf-erf"]').get_attribute("data-unit")
                assert erf_unit is not None and page.locator('[data-role="rf-erf"]').get_attribute("src")
            before = page.locator("html").get_attribute("lang")  # the language src had at export time
            page.click('[data-role="rf-lang"]')
            assert {before, page.locator("html").get_attribute("lang")} == {"vi", "en"}
        finally:
            browser.close()
    assert not blocked, blocked


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """Overrides test_browser's: the folder JupyterLab serves holds one explorer notebook."""
    root = tmp_path_factory.mktemp("lab-rf")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(EXPLORER_CELL, metadata={"tags": ["explorer"]})]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "rf_explorer.ipynb")
    return root


@pytest.mark.slow
def test_jupyterlab_widget_click_moves_box_and_erf(lab, browser_page) -> None:  # noqa: F811
    page, _ = browser_page
    _open(page, lab, "rf_explorer.ipynb")
    _wait_idle(page)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
    photo = page.locator('[data-role="rf-photo"]')
    photo.wait_for(timeout=120_000)
    heat = page.locator('[data-role="rf-erf"]')
    page.wait_for_function("el => el.getAttribute('src')", arg=heat.element_handle(), timeout=120_000)
    h, w = map(int, photo.get_attribute("data-size").split(","))
    report = rf.receptive_field(tvm.resnet18(weights=None), (h, w), output="layer1")  # RF 43 < 96: boxes differ
    # click at unit centres (jump 4, start 0): a point half-way between two centres (e.g. y = 6) is a tie that
    # the browser's sub-pixel rounding of the click decides either way
    for y, x in [(8, 4), (h - 4, w // 2)]:
        box_before = page.locator('[data-role="rf-box"]').get_attribute("data-box")
        erf_before = heat.get_attribute("src")
        _click_pixel(page, y, x, h, w)
        unit = rf.unit_at(report, (y, x))
        expected = ",".join(map(str, report.box(unit)))
        page.wait_for_function(
            "([el, want]) => el.getAttribute('data-box') === want",
            arg=[page.locator('[data-role="rf-box"]').element_handle(), expected],
            timeout=180_000,
        )
        page.wait_for_function(
            "([el, old]) => el.getAttribute('src') !== old", arg=[heat.element_handle(), erf_before], timeout=180_000
        )
        assert photo.get_attribute("data-unit") == f"{unit[0]},{unit[1]}"
        assert page.locator('[data-role="rf-box"]').get_attribute("data-box") != box_before  # the box moved
        assert heat.get_attribute("data-unit") == f"{unit[0]},{unit[1]}", (y, x)  # the ERF is that unit's

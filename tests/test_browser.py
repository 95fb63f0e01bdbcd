"""The static book in a real browser, with no network: every control of every static explorer
changes its picture, nothing is fetched from outside the book, and no page logs an error."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import time

import pytest

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.book

if not (CHROMIUM and CHROMEDRIVER):
    if os.environ.get("CI"):
        raise RuntimeError("CI needs Debian's chromium and chromium-driver (.ci/run installs them)")
    pytest.skip("chromium and chromedriver are not installed", allow_module_level=True)


@pytest.fixture(scope="module")
def served_book(smoke_book):
    _, _, index = smoke_book
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(index.parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # Keep the console's messages for the error check.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    for flag in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        # Everything but the loopback server goes to a closed port: no network at all.
        "--proxy-server=http://127.0.0.1:9",
    ]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def _shown_images(driver):
    from selenium.webdriver.common.by import By

    return [
        e.get_attribute("src")
        for e in driver.find_elements(By.CSS_SELECTOR, ".widget-image")
        if e.is_displayed()
    ]


def _open(browser, url: str, handles: int):
    """Open a page and wait until at least ``handles`` slider handles have rendered."""
    from selenium.webdriver.common.by import By

    browser.get(url)
    deadline = time.time() + 30
    while (
        time.time() < deadline
        and len(browser.find_elements(By.CSS_SELECTOR, ".noUi-handle")) < handles
    ):
        time.sleep(0.5)
    found = browser.find_elements(By.CSS_SELECTOR, ".noUi-handle")
    assert len(found) >= handles, f"the explorers of {url} did not render"
    return found


def _move(browser, handle) -> None:
    from selenium.webdriver.common.keys import Keys

    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)
    time.sleep(1.0)


def _requested_outside(browser, served_book) -> list[str]:
    requested = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    return [u for u in requested if not u.startswith((served_book, "blob:", "data:"))]


@pytest.mark.parametrize(
    ("page", "sliders", "what"),
    [
        ("figures.html", 1, "the residual explorer"),
    ],
)
def test_first_slider_changes_its_image_offline(served_book, browser, page, sliders, what):
    handles = _open(browser, f"{served_book}/book/{page}", sliders)
    # Only the controls that work without a kernel: the live explorer is left out.
    assert len(handles) == sliders, f"{page} shows {len(handles)} sliders, {sliders} work offline"
    before = _shown_images(browser)
    assert before, f"{what} show no image"
    _move(browser, handles[0])
    after = _shown_images(browser)
    assert after[0] != before[0], f"moving the first slider of {what} did not change its image"
    assert after[1:] == before[1:], "the other explorers changed too"
    outside = _requested_outside(browser, served_book)
    assert not outside, f"the page asked for resources outside the book: {outside}"


def _controls(browser):
    """Every control of the page's widgets: slider handles and dropdowns, in page order."""
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, ".noUi-handle, .widget-dropdown select")


def _settle(browser, minimum: int):
    """Wait until at least ``minimum`` controls rendered and their count stopped growing."""
    deadline, count, stable = time.time() + 60, -1, 0
    while time.time() < deadline and stable < 3:
        found = len(_controls(browser))
        stable = stable + 1 if found == count and found >= minimum else 0
        count = found
        time.sleep(0.5)
    return _controls(browser)


def _change(browser, control) -> None:
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", control)
    if control.tag_name == "select":
        chooser = Select(control)
        current = chooser.options.index(chooser.first_selected_option)
        chooser.select_by_index((current + 1) % len(chooser.options))
    else:
        control.click()
        # At its last value a slider can only move left.
        key = (
            Keys.ARROW_RIGHT
            if control.get_attribute("aria-valuenow") != control.get_attribute("aria-valuemax")
            else Keys.ARROW_LEFT
        )
        control.send_keys(key)
    time.sleep(0.8)


#: The static explorers of the artefacts chapter (smoke book): five artefacts, every named
#: parameter (15) plus two controls of each artefact's pair (10).
ARTEFACT_CONTROLS = 25


def test_every_artefact_control_changes_its_picture_offline(served_book, browser):
    browser.get(f"{served_book}/book/artefacts.html")
    controls = _settle(browser, ARTEFACT_CONTROLS)
    assert len(controls) == ARTEFACT_CONTROLS, (
        f"the artefacts page shows {len(controls)} controls, expected {ARTEFACT_CONTROLS}: "
        "every control shown must be a static explorer's"
    )
    for position in range(len(controls)):
        control = _controls(browser)[position]
        before = _shown_images(browser)
        _change(browser, control)
        after = _shown_images(browser)
        assert len(after) == len(before), "a control changed how many pictures show"
        changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
        label = control.get_attribute("aria-valuetext") or control.tag_name
        assert len(changed) == 1, (
            f"control {position} ({label}) of the artefacts page changed {len(changed)} "
            "pictures; it must change exactly its own explorer's"
        )
    outside = _requested_outside(browser, served_book)
    assert not outside, f"the page asked for resources outside the book: {outside}"


def _pages(served_book, smoke_book) -> list[str]:
    _, _, index = smoke_book
    root = index.parent
    return [
        p.relative_to(root).as_posix()
        for p in sorted(root.glob("**/*.html"))
        if not p.relative_to(root).as_posix().startswith(("_", "genindex", "search"))
    ]


def test_no_page_logs_an_error(served_book, smoke_book, browser):
    errors = {}
    for page in _pages(served_book, smoke_book):
        browser.get(f"{served_book}/{page}")
        time.sleep(1.5)
        severe = [e["message"] for e in browser.get_log("browser") if e["level"] == "SEVERE"]
        if severe:
            errors[page] = severe
    assert not errors, f"pages whose console logged errors: {errors}"


# The text column's right edge (``right``) and the list the checks below fill (``wide``).
_COLUMN = """
const article = document.querySelector('article.bd-article');
if (!article) { return []; }
const style = getComputedStyle(article);
const right = article.getBoundingClientRect().right - parseFloat(style.paddingRight);
const wide = [];
"""

# Every table of a page, measured against the text column: the table's box must end inside
# the article, nothing inside it may scroll sideways, and no cell may cut its text.
_TABLES_OUTSIDE_THE_COLUMN = (
    _COLUMN
    + """
article.querySelectorAll('table').forEach((table, i) => {
  const box = table.getBoundingClientRect();
  if (box.width === 0) { return; }  // folded away
  const cut = [...table.querySelectorAll('td, th')].filter(
    c => c.scrollWidth > c.clientWidth + 1 && getComputedStyle(c).overflow !== 'visible');
  if (box.right > right + 1 || table.scrollWidth > table.clientWidth + 1 || cut.length) {
    wide.push({table: i, right: Math.round(box.right), column_right: Math.round(right),
               scroll: table.scrollWidth, shown: table.clientWidth, cut_cells: cut.length,
               starts: table.innerText.slice(0, 60)});
  }
});
return wide;
"""
)


# Explorers and other widget outputs: none reaches past the column or scrolls sideways.
_WIDGETS_OUTSIDE_THE_COLUMN = (
    _COLUMN
    + """
article.querySelectorAll('.jupyter-widgets, .widget-image').forEach(e => {
  const box = e.getBoundingClientRect();
  if (box.width === 0) { return; }
  const scrolls = e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX !== 'hidden';
  if (box.right > right + 1 || scrolls) {
    wide.push({element: e.className.slice(0, 60), right: Math.round(box.right),
               column_right: Math.round(right), scroll: e.scrollWidth, shown: e.clientWidth});
  }
});
return wide.slice(0, 5);
"""
)


def _wait_for_widgets(browser, seconds: float = 30) -> None:
    """Return once every saved widget view of the page has rendered (at once if it has none)."""
    views = browser.execute_script(
        "return document.querySelectorAll("
        "'script[type=\"application/vnd.jupyter.widget-view+json\"]').length"
    )
    deadline = time.time() + seconds
    while time.time() < deadline:
        shown = browser.execute_script(
            "return document.querySelectorAll('.jp-OutputArea-output .jupyter-widgets,"
            " .cell_output .jupyter-widgets').length"
        )
        if shown >= views:
            break
        time.sleep(0.25)
    time.sleep(0.5)


def test_every_table_and_explorer_fits_the_text_column(served_book, smoke_book, browser):
    outside = {}
    size = browser.get_window_size()
    try:
        for width, height in [(1280, 900), (992, 800)]:
            browser.set_window_size(width, height)
            for page in _pages(served_book, smoke_book):
                browser.get(f"{served_book}/{page}")
                _wait_for_widgets(browser)
                wide = browser.execute_script(_TABLES_OUTSIDE_THE_COLUMN)
                wide += browser.execute_script(_WIDGETS_OUTSIDE_THE_COLUMN)
                if wide:
                    outside[f"{page} at {width} px"] = wide
    finally:
        browser.set_window_size(size["width"], size["height"])
    assert not outside, f"tables or explorers wider than the text column: {outside}"

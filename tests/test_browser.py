"""The static book in a real browser, with no network: a widget slider changes the image."""

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
        ("artefacts.html", 4, "the artefact explorers"),
        ("figures.html", 2, "the residual explorers"),
    ],
)
def test_first_slider_changes_its_image_offline(served_book, browser, page, sliders, what):
    handles = _open(browser, f"{served_book}/book/{page}", sliders)
    before = _shown_images(browser)
    assert before, f"{what} show no image"
    _move(browser, handles[0])
    after = _shown_images(browser)
    assert after[0] != before[0], f"moving the first slider of {what} did not change its image"
    assert after[1:] == before[1:], "the other explorers changed too"
    outside = _requested_outside(browser, served_book)
    assert not outside, f"the page asked for resources outside the book: {outside}"

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


def test_slider_changes_the_image_offline(served_book, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{served_book}/book/artefacts.html")
    deadline = time.time() + 30
    while time.time() < deadline and not browser.find_elements(By.CSS_SELECTOR, ".noUi-handle"):
        time.sleep(0.5)
    handles = browser.find_elements(By.CSS_SELECTOR, ".noUi-handle")
    assert len(handles) >= 4, "the artefact explorers did not render"
    before = _shown_images(browser)
    assert before, "no image is shown"
    handle = handles[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", handle)
    handle.click()
    handle.send_keys(Keys.ARROW_RIGHT)
    time.sleep(1.0)
    after = _shown_images(browser)
    assert after[0] != before[0], "moving the first slider did not change its image"
    assert after[1:] == before[1:], "the other explorers changed too"
    requested = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )
    outside = [u for u in requested if not u.startswith((served_book, "blob:", "data:"))]
    assert not outside, f"the page asked for resources outside the book: {outside}"

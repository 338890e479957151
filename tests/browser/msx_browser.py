"""Headless Chromium for MSX's browser tests, driven by Selenium (Debian's python3-selenium,
chromium and chromium-driver; scripts/setup.sh installs them).

A test calls require_browser() first: when Chromium, its driver or Selenium is not
installed it prints why and exits with SKIP (77, CTest's SKIP_RETURN_CODE). Anything that
goes wrong after that (the browser crashes, a page does not load) is a failure, never a skip.

    import msx_browser
    msx_browser.require_browser()
    with msx_browser.headless_chromium() as driver:
        driver.get(msx_browser.file_url(path))
        msx_browser.save_screenshot(driver, msx_browser.artifact_dir("my_test") / "page.png")

Every browser gets a fresh profile (--user-data-dir in a temporary directory, removed on
exit) and flags that keep it off the network: no background networking, component
updates, sync or QUIC. The dashboard's browser test reuses this module.
"""

import contextlib
import os
import pathlib
import shutil
import sys
import tempfile

SKIP = 77  # CTest: SKIP_RETURN_CODE

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def _find(names):
    for name in names:
        path = shutil.which(name) or (name if os.path.isabs(name) and os.access(name, os.X_OK) else None)
        if path:
            return path
    return None


def find_browser():
    """(chromium, chromedriver) paths, or (None, reason)."""
    chromium = _find(["chromium", "chromium-browser", "/usr/bin/chromium"])
    driver = _find(["chromedriver", "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"])
    if chromium is None:
        return None, "chromium is not installed (Debian package chromium; scripts/setup.sh installs it)"
    if driver is None:
        return None, "chromedriver is not installed (Debian package chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return None, ("python3-selenium is not importable by %s (Debian package python3-selenium "
                      "is for /usr/bin/python3)" % sys.executable)
    return (chromium, driver), None


def require_browser():
    """Returns (chromium, chromedriver); exits with SKIP when they cannot be used."""
    found, reason = find_browser()
    if found is None:
        print("SKIP: " + reason, flush=True)
        sys.exit(SKIP)
    return found


@contextlib.contextmanager
def headless_chromium(width=1280, height=900, log_dir=None):
    """A Selenium WebDriver for a fresh headless Chromium; quit and cleaned up on exit."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = require_browser()
    profile = tempfile.mkdtemp(prefix="msx-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument("--user-data-dir=" + profile)
    options.add_argument("--window-size=%d,%d" % (width, height))
    log_path = os.path.join(log_dir or profile, "chromedriver.log")
    service = Service(executable_path=chromedriver, log_path=log_path)
    driver = None
    try:
        driver = webdriver.Chrome(service=service, options=options)
        driver.set_page_load_timeout(20)
        yield driver
    finally:
        if driver is not None:
            driver.quit()
        else:
            service.stop()
        shutil.rmtree(profile, ignore_errors=True)


def file_url(path):
    return pathlib.Path(path).resolve().as_uri()


def artifact_dir(test_name):
    """$MSX_BUILD_DIR/test-artifacts/<test_name> (created): where screenshots go."""
    build = os.environ.get("MSX_BUILD_DIR") or os.getcwd()
    d = pathlib.Path(build) / "test-artifacts" / test_name
    d.mkdir(parents=True, exist_ok=True)
    return d


def save_screenshot(driver, path, full_page=True, max_height=12000):
    """Saves a PNG of the page: the whole page (up to max_height CSS pixels) or the viewport."""
    if full_page:
        w, h = driver.execute_script(
            "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
        old = driver.get_window_size()
        driver.set_window_size(max(w, 800), min(max(h, 600), max_height))
        ok = driver.save_screenshot(str(path))
        driver.set_window_size(old["width"], old["height"])
    else:
        ok = driver.save_screenshot(str(path))
    if not ok:
        raise RuntimeError("screenshot failed: %s" % path)
    return path

"""Debian's Chromium under Selenium, headless, never downloading a browser or a driver.

Selenium is given both paths (``/usr/bin/chromium`` and ``/usr/bin/chromedriver``, from the
``chromium`` and ``chromium-driver`` packages that ``scripts/ensure-services.sh`` installs), so
Selenium Manager never runs; ``SE_OFFLINE=true`` forbids it to fetch anything anyway. A missing
browser is an error, never a skip.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

__all__ = ["CHROMEDRIVER", "CHROMIUM", "ChromiumMissingError", "chromium"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

#: Headless, and quiet: no first-run pages, no update checks, no sync, no network of its own.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


class ChromiumMissingError(RuntimeError):
    """Chromium or chromedriver is not installed where the browser tests expect it."""


def check_installed() -> None:
    """Raise ChromiumMissingError unless both binaries are there."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        raise ChromiumMissingError(
            f"{', '.join(missing)} missing: run `make services` (or as root: "
            "apt-get install chromium chromium-driver)"
        )


@contextlib.contextmanager
def chromium(width: int = 1366, height: int = 900) -> Iterator[webdriver.Chrome]:
    """A headless Chromium with a fresh profile, its window ``width`` by ``height``."""
    check_installed()
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never download anything
    profile = tempfile.mkdtemp(prefix="syncjobs-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    service = Service(executable_path=str(CHROMEDRIVER))
    try:
        driver = webdriver.Chrome(service=service, options=options)
        try:
            driver.set_page_load_timeout(60)
            yield driver
        finally:
            driver.quit()
    finally:
        shutil.rmtree(profile, ignore_errors=True)

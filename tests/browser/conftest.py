"""Fixtures of the browser tests: the dashboard served on loopback, and Chromium to drive it.

The dashboard runs over a SyncJobs app whose ledger is a real SQLite file, then the test
PostgreSQL (``sql_repo``: every test runs on both; on PostgreSQL the event stream is woken by
``NOTIFY``), with an in-process Dramatiq worker on a stub broker. Chromium is Debian's
(``tests/browser/chrome.py``); a missing one fails the run.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from selenium.webdriver.remote.webdriver import WebDriver

from syncjobs.storage import SQLAlchemyRepository

from .chrome import chromium
from .harness import Dashboard, Gates, running_dashboard


@pytest.fixture
def gates() -> Gates:
    return Gates()


@pytest.fixture
def dashboard(sql_repo: SQLAlchemyRepository, gates: Gates) -> Iterator[Dashboard]:
    """The dashboard over a SQL ledger, with a worker running its jobs."""
    with running_dashboard(sql_repo, gates=gates) as served:
        yield served


@pytest.fixture
def browser(dashboard: Dashboard) -> Iterator[WebDriver]:
    """A fresh headless Chromium, not signed in; closed before the dashboard stops."""
    with chromium() as driver:
        yield driver


@pytest.fixture
def operator(browser: WebDriver, dashboard: Dashboard) -> WebDriver:
    """The browser, signed in as the operator."""
    dashboard.sign_in(browser)
    return browser

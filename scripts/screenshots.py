"""Screenshots of the operator's dashboard for the docs: ``make screenshots``.

Builds a realistic ledger (``tests/browser/dataset.py``) in a SQLite file of a temporary
folder, serves the dashboard over it exactly as the browser tests do
(``tests/browser/harness.py``), and saves PNGs of its pages from Debian's headless Chromium
into ``docs/img/dashboard-*.png``: every page at laptop size (1366 by 900; the accounts page
whole, up to ``MAX_HEIGHT``, to show its usage charts), and two at phone size (390 by 844).

Run it from the repository root: ``.venv/bin/python scripts/screenshots.py [--out DIR]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402
from tests.browser.chrome import chromium  # noqa: E402
from tests.browser.dataset import HostGates, declare_host_jobs, populate  # noqa: E402
from tests.browser.harness import (  # noqa: E402
    Dashboard,
    Gates,
    registry_with_builtins,
    running_dashboard,
)

from syncjobs.connections.service import PROVIDER_LABELS  # noqa: E402
from syncjobs.settings import ProviderSettings  # noqa: E402
from syncjobs.storage import SQLAlchemyRepository  # noqa: E402
from syncjobs.testing.fakes import CombinedFakes, serve  # noqa: E402

LAPTOP = (1366, 900)
PHONE = (390, 844)
#: Taller pages are cut here: the screenshots stay readable and small.
MAX_HEIGHT = 1800
#: A screenshot larger than this fails the run (the PNGs are committed).
MAX_BYTES = 300_000


def pages(running_id: str) -> dict[str, str]:
    """Screenshot name -> path on the dashboard."""
    return {
        "overview": "/",
        "jobs": "/jobs",
        "job": f"/jobs/{running_id}",
        "dead-letters": "/dead-letters",
        "schedules": "/schedules",
        "accounts": "/accounts",
    }


#: The pages shot at phone size too.
PHONE_PAGES = ("overview", "job")
#: The pages shot whole at laptop size (up to MAX_HEIGHT), not just their first screen.
FULL_PAGES = ("accounts",)


def shoot(
    driver: WebDriver, url: str, out: Path, size: tuple[int, int], *, mobile: bool, full: bool
) -> int:
    """Open ``url`` at ``size`` (``full``: the whole page, up to MAX_HEIGHT), save as ``out``."""
    width, height = size
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.get(url)
    wait = WebDriverWait(driver, 60)
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
    if driver.find_elements(By.CSS_SELECTOR, "#progress-bar"):
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#progress-bar").is_displayed())
    if full:
        whole = int(driver.execute_script("return document.documentElement.scrollHeight"))
        metrics["height"] = max(height, min(whole, MAX_HEIGHT))
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    driver.execute_script("window.scrollTo(0, 0)")
    png = driver.get_screenshot_as_png()
    out.write_bytes(png)
    if len(png) > MAX_BYTES:
        raise SystemExit(f"{out} is {len(png)} bytes, more than {MAX_BYTES}")
    return len(png)


def take(dash: Dashboard, running_id: str, out: Path) -> None:
    """Every page at laptop size, ``PHONE_PAGES`` at phone size."""
    out.mkdir(parents=True, exist_ok=True)
    for size, names, suffix in ((LAPTOP, None, ""), (PHONE, PHONE_PAGES, "-phone")):
        with chromium(*size) as driver:
            dash.sign_in(driver)
            for name, path in pages(running_id).items():
                if names is not None and name not in names:
                    continue
                target = out / f"dashboard-{name}{suffix}.png"
                mobile = bool(suffix)
                full = not mobile and name in FULL_PAGES
                size_bytes = shoot(driver, dash.at(path), target, size, mobile=mobile, full=full)
                print(
                    f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: "
                    f"{size_bytes // 1024} KB"
                )


def quiet() -> None:
    """The data set fails jobs on purpose: keep their tracebacks out of the output."""
    for name in ("dramatiq", "syncjobs"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def main() -> None:
    """Build the data set, serve the dashboard, save the screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = parser.parse_args()
    fakes = CombinedFakes(items_per_provider=120, seed=2026)
    host_gates = HostGates(batch=threading.Semaphore(0))
    registry = registry_with_builtins()
    declare_host_jobs(registry, host_gates)
    with tempfile.TemporaryDirectory(prefix="syncjobs-screenshots-") as tmp, serve(fakes) as root:
        providers = {
            name: ProviderSettings(**dataclasses.asdict(fakes.config(name, root)))
            for name in PROVIDER_LABELS
        }
        repo = SQLAlchemyRepository(f"sqlite:///{tmp}/ledger.db", check=False)
        repo.upgrade()
        try:
            quiet()
            with running_dashboard(
                repo, gates=Gates(), registry=registry, max_active_jobs_per_owner=100, **providers
            ) as dash:
                try:
                    shown = populate(dash.app, fakes, host_gates)
                    take(dash, shown.running.id, args.out)
                finally:
                    host_gates.batch.release(1000)  # the import finishes: the worker can stop
        finally:
            repo.close()


if __name__ == "__main__":
    main()

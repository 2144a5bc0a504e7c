"""The operator's dashboard in a real browser: live progress, actions, auth and CSRF.

Each test drives Debian's headless Chromium against the dashboard served by uvicorn on
loopback, over a SQLite ledger with an in-process worker, and checks the outcome in the
ledger itself. Waits are ``WebDriverWait``s with generous timeouts, never sleeps.
"""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from syncjobs import JobStatus
from syncjobs.core.models import Job

from .harness import Dashboard, wait_until

pytestmark = pytest.mark.browser

OWNER = "ops-owner-1"
#: Generous: a loaded CI machine may take a while, and a pass never waits this long.
WAIT = 60


def submit(dashboard: Dashboard, job_type: str, **params: Any) -> Job:
    return dashboard.app.submit(job_type, owner_id=OWNER, params=params)


def ledger(dashboard: Dashboard, job_id: str) -> Job:
    job = dashboard.app.repository.get_job(job_id)
    assert job is not None, f"job {job_id} is gone from the ledger"
    return job


def wait_for_status(dashboard: Dashboard, job_id: str, status: JobStatus) -> Job:
    wait_until(lambda: ledger(dashboard, job_id).status == status, WAIT, f"{job_id} {status}")
    return ledger(dashboard, job_id)


def percent(driver: WebDriver) -> float:
    """What the job page's progress bar shows, from its ``data-percent``."""
    bar = driver.find_element(By.CSS_SELECTOR, "#progress-bar")
    return float(bar.get_attribute("data-percent") or "nan")


def status_code(driver: WebDriver) -> int:
    """The HTTP status of the document the browser shows now."""
    code = driver.execute_script(
        "const [nav] = performance.getEntriesByType('navigation');"
        "return nav ? nav.responseStatus : null;"
    )
    assert isinstance(code, int), f"the browser reported no status ({code!r})"
    return code


def action_button(driver: WebDriver, action: str) -> Any:
    return driver.find_element(By.CSS_SELECTOR, f"button[name=action][value={action}]")


def click_and_wait_for_load(driver: WebDriver, button: Any) -> None:
    """Click a form's button and wait until the browser has left the page it was on."""
    marker = driver.find_element(By.TAG_NAME, "html")
    driver.execute_script("window.confirm = () => true;")  # a confirm() dialog says yes
    button.click()
    WebDriverWait(driver, WAIT).until(lambda d: _stale(marker))
    WebDriverWait(driver, WAIT).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def _stale(element: Any) -> bool:
    try:
        element.tag_name  # noqa: B018  (raises once the page it belonged to is gone)
    except Exception:
        return True
    return False


def open_running_stepper(dashboard: Dashboard, driver: WebDriver, steps: int) -> Job:
    """Start a stepper job, wait until it runs, and open its page."""
    job = submit(dashboard, "browser.stepper", steps=steps)
    dashboard.gates.started.wait(WAIT)
    wait_for_status(dashboard, job.id, JobStatus.PROCESSING)
    driver.get(dashboard.at(f"/jobs/{job.id}"))
    WebDriverWait(driver, WAIT).until(
        lambda d: (
            d.find_element(By.CSS_SELECTOR, "#job-status").text.strip().lower() == "processing"
        )
    )
    return job


def test_progress_bar_advances_without_reload(dashboard: Dashboard, operator: WebDriver) -> None:
    job = open_running_stepper(dashboard, operator, steps=4)
    assert percent(operator) == 0.0
    # Anything the page set on its window is gone if it reloads or navigates.
    operator.execute_script("window.stillTheSamePage = true;")

    dashboard.gates.release(2)
    WebDriverWait(operator, WAIT).until(lambda d: percent(d) == 50.0)
    bar = operator.find_element(By.CSS_SELECTOR, "#progress-bar")
    assert "width: 50%" in (bar.get_attribute("style") or "").replace("50.0%", "50%")

    dashboard.gates.release(2)
    WebDriverWait(operator, WAIT).until(lambda d: percent(d) == 100.0)
    WebDriverWait(operator, WAIT).until(
        lambda d: d.find_element(By.CSS_SELECTOR, "#job-status").text.strip().lower() == "completed"
    )
    assert operator.execute_script("return window.stillTheSamePage === true;")
    assert operator.current_url == dashboard.at(f"/jobs/{job.id}")
    assert ledger(dashboard, job.id).status == JobStatus.COMPLETED


def test_cancel_from_the_page_ends_the_job(dashboard: Dashboard, operator: WebDriver) -> None:
    job = open_running_stepper(dashboard, operator, steps=3)
    click_and_wait_for_load(operator, action_button(operator, "cancel"))
    assert status_code(operator) < 400
    cancelled = wait_for_status(dashboard, job.id, JobStatus.CANCELLED)
    assert cancelled.completed_at is not None
    operator.get(dashboard.at(f"/jobs/{job.id}"))
    status = operator.find_element(By.CSS_SELECTOR, "#job-status").text.strip().lower()
    assert status == "cancelled"


def test_a_dead_letter_is_replayed_from_the_page(dashboard: Dashboard, operator: WebDriver) -> None:
    dashboard.gates.failing.set()
    job = submit(dashboard, "browser.brittle", report="monthly")
    other = submit(dashboard, "browser.brittle", report="weekly")
    for failed in (job, other):
        wait_for_status(dashboard, failed.id, JobStatus.FAILED)
    wait_until(lambda: len(dashboard.app.dead_letters()) == 2, WAIT, "two dead letters")
    dashboard.gates.failing.clear()  # the upstream is fixed: a replay succeeds

    operator.get(dashboard.at("/dead-letters"))
    box = operator.find_element(By.CSS_SELECTOR, f"input[name=job_id][value='{job.id}']")
    box.click()
    assert box.is_selected()
    replay = operator.find_element(By.CSS_SELECTOR, "#replay-selected")
    assert replay.get_attribute("name") == "action" and replay.get_attribute("value") == "replay"
    click_and_wait_for_load(operator, replay)
    assert status_code(operator) < 400

    done = wait_for_status(dashboard, job.id, JobStatus.COMPLETED)
    assert done.result == {"report": "monthly", "rows": "1204"}
    assert dashboard.gates.brittle_runs == 3  # two failures, one replay
    assert [d.job_id for d in dashboard.app.dead_letters()] == [other.id]
    assert ledger(dashboard, other.id).status == JobStatus.FAILED


@pytest.mark.parametrize("cookie", [None, "not-the-operator"])
def test_a_request_without_authorisation_is_refused(
    dashboard: Dashboard, browser: WebDriver, cookie: str | None
) -> None:
    job = submit(dashboard, "browser.brittle", report="secret-report")
    browser.get(dashboard.at("/"))
    if cookie is not None:
        browser.add_cookie({"name": "operator", "value": cookie, "path": "/"})
    for path in ("/jobs", f"/jobs/{job.id}", "/dead-letters"):
        browser.get(dashboard.at(path))
        assert status_code(browser) in (401, 403), path
        page = browser.page_source
        assert job.id not in page and "browser.brittle" not in page, path
        assert not browser.find_elements(By.CSS_SELECTOR, "button[name=action]"), path


@pytest.mark.parametrize("tamper", ["remove", "alter"])
def test_a_post_without_the_csrf_token_is_refused(
    dashboard: Dashboard, operator: WebDriver, tamper: str
) -> None:
    job = open_running_stepper(dashboard, operator, steps=3)
    button = action_button(operator, "cancel")
    removed = operator.execute_script(
        "const form = arguments[0].form;"
        "const inputs = form.querySelectorAll('input[name=csrf]');"
        "inputs.forEach(i => arguments[1] === 'remove' ? i.remove() : (i.value = 'forged'));"
        "return inputs.length;",
        button,
        tamper,
    )
    assert removed >= 1, "the form had no csrf input"
    before = ledger(dashboard, job.id)
    click_and_wait_for_load(operator, button)

    assert status_code(operator) == 403
    after = ledger(dashboard, job.id)
    assert after.status == JobStatus.PROCESSING
    assert not dashboard.app.repository.is_cancel_requested(job.id)
    assert (after.cancel_requested, after.progress_done, after.completed_at) == (
        before.cancel_requested,
        before.progress_done,
        before.completed_at,
    )

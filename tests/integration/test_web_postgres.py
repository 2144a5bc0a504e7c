"""The dashboard on the SQL repository over PostgreSQL: every page, a keyset walk, actions,
and a live event stream woken by NOTIFY."""

from __future__ import annotations

import html
import re

import httpx
import pytest

from syncjobs.app import SyncJobs
from syncjobs.clock import utcnow
from syncjobs.core.models import JobStatus
from syncjobs.storage import SQLAlchemyRepository
from syncjobs.web import dashboard
from tests.conftest import AppFactory
from tests.unit.web_support import (
    ACCESS_TOKEN,
    CURSOR_TOKEN,
    claim,
    client,
    csrf_of,
    events,
    seed,
    serve,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def app(make_app: AppFactory, pg_repo: SQLAlchemyRepository) -> SyncJobs:
    return make_app(pg_repo)


def test_every_page_renders_from_postgresql(app: SyncJobs) -> None:
    seeded = seed(app)
    with client(app) as http:
        pages = {
            path: http.get(path)
            for path in (
                "/",
                "/jobs",
                "/jobs?status=failed",
                f"/jobs/{seeded.completed.id}",
                f"/jobs/{seeded.running.id}",
                "/dead-letters",
                "/schedules",
                "/accounts",
                "/accounts?provider=youtube&state=active",
            )
        }

    assert {path: page.status_code for path, page in pages.items()} == dict.fromkeys(pages, 200)
    assert "web-host" in pages["/"].text and 'id="health-banner"' not in pages["/"].text
    assert seeded.failed.id in pages["/jobs?status=failed"].text
    assert seeded.pending.id not in pages["/jobs?status=failed"].text
    assert f'href="/jobs/{seeded.child.id}"' in pages[f"/jobs/{seeded.completed.id}"].text
    assert 'data-percent="40"' in pages[f"/jobs/{seeded.running.id}"].text
    assert "321 in all" in pages["/accounts"].text
    assert seeded.account_id in pages["/accounts?provider=youtube&state=active"].text
    assert all(
        secret not in page.text
        for page in pages.values()
        for secret in (ACCESS_TOKEN, CURSOR_TOKEN)
    )


def test_keyset_pages_and_actions_on_postgresql(app: SyncJobs) -> None:
    made = [app.submit("syncjobs.noop", owner_id=f"pg{i}").id for i in range(5)]
    seeded = seed(app)
    seen: list[str] = []
    with client(app, page_size=2) as http:
        path: str | None = "/jobs?type=syncjobs.noop&owner="
        while path:
            page = http.get(path).text
            seen += re.findall(
                r'<tr class="job-row">\s*<td><a class="mono" href="/jobs/([^"]+)"', page
            )
            older = re.search(r'href="([^"]+)" id="older"', page)
            path = html.unescape(older.group(1)) if older else None
        token = csrf_of(http, "/dead-letters")
        retried = http.post(
            "/dead-letters", data={"csrf": token, "action": "replay", "job_id": seeded.failed.id}
        )
        synced = http.post(
            f"/accounts/{seeded.account_id}", data={"csrf": token, "action": "resync"}
        )

    assert set(made) <= set(seen) and len(seen) == len(set(seen)) == 7
    assert retried.status_code == synced.status_code == 303
    assert app.repository.get_job(seeded.failed.id).status is JobStatus.PENDING  # type: ignore[union-attr]
    assert app.dead_letters() == []
    assert [j.params["full"] for j in app.repository.list_jobs(job_type="sync_account")] == [True]


def test_event_stream_wakes_on_notify(app: SyncJobs) -> None:
    job = claim(app, app.submit("syncjobs.count", owner_id="pg", params={"to": 2}))
    repo = app.repository

    with (
        serve(dashboard(app, authorize=lambda request: True)) as base,
        httpx.Client(timeout=30) as http,
        http.stream("GET", f"{base}/jobs/{job.id}/events") as response,
    ):
        stream = events(response)
        first = next(stream)
        repo.update_progress(job.id, done=1, total=2, percent=50.0, message="half", now=utcnow())
        second = next(stream)
        repo.finish_job(job.id, status=JobStatus.COMPLETED, now=utcnow(), result=None)
        rest = list(stream)

    assert first[1]["status"] == "processing" and first[1]["percent"] == 0
    assert (second[1]["percent"], second[1]["message"]) == (50.0, "half")
    assert [name for name, _ in rest] == ["progress", "end"]
    assert rest[-1][1]["status"] == "completed"

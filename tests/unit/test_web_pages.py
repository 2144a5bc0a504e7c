"""The dashboard's pages render the ledger: overview, jobs, one job, dead letters, schedules,
accounts; filters and keyset pages; 404s; and links that work under any mount path."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta
from importlib import resources

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from syncjobs.app import SyncJobs
from syncjobs.clock import utcnow
from syncjobs.core.models import JobStatus, NewJob
from syncjobs.web import dashboard
from tests.conftest import AppFactory

from .web_support import (
    ACCESS_TOKEN,
    CURSOR_TOKEN,
    REFRESH_TOKEN,
    Seeded,
    app,
    client,
    csrf_of,
    http,
    seeded,
)

__all__ = ["app", "http", "seeded"]  # the fixtures, imported for these tests


def _links(text: str) -> list[str]:
    """The page's links, but the empty icon (``data:,``)."""
    return [html.unescape(h) for h in re.findall(r'href="([^"]*)"', text) if h != "data:,"]


def test_overview_shows_counts_throughput_workers_and_dead_letters(
    http: TestClient, seeded: Seeded
) -> None:
    page = http.get("/")

    assert page.status_code == 200
    assert 'id="health-banner"' not in page.text
    counts = page.text[page.text.index('id="job-counts"') :]
    assert "syncjobs.count" in counts and "syncjobs.noop" in counts
    assert re.search(r'id="dead-letter-count">\s*<span class="num">1<', page.text)
    assert "<svg" in page.text and "1 completed" in page.text and "1 failed" in page.text
    workers = page.text[page.text.index('id="workers"') :]
    assert "web-host" in workers and "4242" in workers
    assert f"/jobs/{seeded.running.id}" in workers
    assert 'id="scheduler-tick"' in page.text


def test_overview_shows_a_red_banner_with_the_problems_when_unhealthy(http: TestClient) -> None:
    page = http.get("/")

    assert page.status_code == 200
    banner = page.text[page.text.index('id="health-banner"') :]
    assert "no worker heartbeat yet" in banner and "no scheduler tick yet" in banner


def test_jobs_page_lists_every_owner_with_full_id_links(http: TestClient, seeded: Seeded) -> None:
    page = http.get("/jobs")

    assert page.status_code == 200
    for job in (seeded.completed, seeded.failed, seeded.running, seeded.pending, seeded.child):
        assert f'href="/jobs/{job.id}">{job.id}</a>' in page.text
    for owner in ("alice", "bob", "carol"):
        assert f"<td>{owner}</td>" in page.text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"status": "failed"}, {"failed"}),
        ({"type": "syncjobs.noop"}, {"pending", "child"}),
        ({"owner": "carol"}, {"running"}),
        ({"owner": "alice", "type": "syncjobs.count"}, {"completed"}),
    ],
)
def test_jobs_page_filters(
    http: TestClient, seeded: Seeded, query: dict[str, str], expected: set[str]
) -> None:
    page = http.get("/jobs", params=query)

    assert page.status_code == 200
    shown = {
        name
        for name in expected | {"completed", "failed", "running", "pending", "child"}
        if getattr(seeded, name).id in page.text
    }
    assert shown == expected


def test_jobs_page_filters_by_creation_time(http: TestClient, seeded: Seeded) -> None:
    today = utcnow().date()
    tomorrow = today + timedelta(days=1)

    within = http.get("/jobs", params={"created_from": str(today), "created_to": str(today)})
    later = http.get("/jobs", params={"created_from": str(tomorrow)})
    earlier = http.get("/jobs", params={"created_to": f"{today - timedelta(days=1)}T23:59"})

    assert seeded.pending.id in within.text
    assert seeded.pending.id not in later.text and "No job matches." in later.text
    assert seeded.pending.id not in earlier.text


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"status": "sleeping"}, "status: &#39;sleeping&#39; is not one of"),
        ({"created_from": "yesterday"}, "is not a date"),
        ({"after": "garbage"}, "is not a page cursor"),
        ({"created_from": "2030-01-02", "created_to": "2030-01-01"}, "must be before"),
    ],
)
def test_jobs_page_says_what_is_wrong_with_a_filter(
    http: TestClient, query: dict[str, str], message: str
) -> None:
    page = http.get("/jobs", params=query)

    assert page.status_code == 400
    assert 'id="filter-error"' in page.text and message in page.text


def test_jobs_page_walks_keyset_pages_newest_first(app: SyncJobs) -> None:
    made = [app.submit("syncjobs.noop", owner_id=f"o{i}").id for i in range(7)]
    seen: list[str] = []
    with client(app, page_size=3) as http:
        path: str | None = "/jobs?type=syncjobs.noop"
        while path is not None:
            page = http.get(path)
            assert page.status_code == 200
            rows = re.findall(
                r'<tr class="job-row">\s*<td><a class="mono" href="/jobs/([^"]+)"', page.text
            )
            assert len(rows) <= 3
            seen += rows
            older = re.search(r'href="([^"]+)" id="older"', page.text)
            path = html.unescape(older.group(1)) if older else None
            if path:
                assert "type=syncjobs.noop" in path
    assert seen == list(reversed(made))


def test_job_page_shows_params_progress_log_parent_and_actions(
    http: TestClient, seeded: Seeded
) -> None:
    running = http.get(f"/jobs/{seeded.running.id}").text
    child = http.get(f"/jobs/{seeded.child.id}").text
    completed = http.get(f"/jobs/{seeded.completed.id}").text

    assert 'style="width:40%" data-percent="40"' in running
    assert re.search(r'id="job-status">processing<', running)
    assert 'id="eta"' in running and "counted 4" in running
    assert "&#34;to&#34;: 10" in running or "&quot;to&quot;: 10" in running
    assert "started counting &lt;script&gt;x&lt;/script&gt;" in running
    assert 'value="cancel"' in running and 'value="retry"' not in running
    assert f'href="/jobs/{seeded.completed.id}"' in child and 'id="job-parent"' in child
    assert f'href="/jobs/{seeded.child.id}"' in completed and 'id="job-children"' in completed
    assert 'id="job-result"' in completed and "&#34;counted&#34;: 3" in completed
    assert 'value="replay"' in completed and 'value="cancel"' not in completed


def test_job_page_shows_the_error_with_its_code_and_escaped(
    http: TestClient, seeded: Seeded
) -> None:
    page = http.get(f"/jobs/{seeded.failed.id}").text

    error = page[page.index('id="job-error"') :]
    assert "<code>provider_unavailable</code>" in error
    assert "503 &lt;b&gt;twice&lt;/b&gt;" in error
    assert 'value="retry"' in page and 'value="replay"' in page


@pytest.mark.parametrize("job_id", ["00000000-0000-4000-8000-000000000000", "not-a-uuid"])
def test_unknown_or_malformed_job_ids_get_the_404_page(http: TestClient, job_id: str) -> None:
    for path in (f"/jobs/{job_id}", f"/jobs/{job_id}/events"):
        page = http.get(path)
        assert page.status_code == 404
        assert 'id="error"' in page.text


def test_unknown_paths_get_the_404_page(http: TestClient) -> None:
    page = http.get("/no/such/page")

    assert page.status_code == 404 and "There is no such page." in page.text


def test_dead_letters_page_lists_letters_with_checkboxes(http: TestClient, seeded: Seeded) -> None:
    page = http.get("/dead-letters")

    assert page.status_code == 200
    assert f'<input type="checkbox" name="job_id" value="{seeded.failed.id}"' in page.text
    assert "provider_unavailable" in page.text
    assert f'formaction="/dead-letters/{seeded.failed.id}"' in page.text
    assert 'id="replay-selected"' in page.text and 'id="discard-selected"' in page.text


def test_schedules_page_lists_cron_timezone_policy_and_never_fired(
    http: TestClient, app: SyncJobs
) -> None:
    page = http.get("/schedules")

    assert page.status_code == 200
    for info in app.schedules():
        row = page.text[page.text.index(f'id="schedule-{info.job_type}"') :]
        row = row[: row.index("</tr>")]
        assert info.cron in row and info.timezone in row and info.missed in row
        assert "never" in row
        assert 'name="action" value="run"' in row


def test_accounts_page_shows_accounts_and_usage_but_never_credentials(
    http: TestClient, seeded: Seeded
) -> None:
    page = http.get("/accounts")

    assert page.status_code == 200
    row = page.text[page.text.index(f'id="account-{seeded.account_id}"') :]
    row = row[: row.index("</tr>")]
    assert "youtube" in row and "alice" in row and "active" in row
    assert '<td class="n">2</td>' in row
    assert 'value="sync"' in row and 'value="resync"' in row
    for secret in (ACCESS_TOKEN, REFRESH_TOKEN, CURSOR_TOKEN):
        assert secret not in page.text
    assert "321 in all" in page.text and "7 in all" in page.text
    assert page.text.count("<svg") == 2


def test_accounts_page_filters_and_pages(app: SyncJobs, make_app: AppFactory) -> None:
    ids = [
        app.accounts.connect(f"owner{i}", provider, {"access_token": "t"}).id
        for i, provider in enumerate(["youtube", "gmail", "youtube", "youtube"])
    ]
    with client(app, page_size=2) as http:
        first = http.get("/accounts", params={"provider": "youtube"})
        older = re.search(r'href="([^"]+)" id="older"', first.text)
        assert older is not None
        second = http.get(html.unescape(older.group(1)))
        by_owner = http.get("/accounts", params={"owner": "owner1"})
        bad = http.get("/accounts", params={"state": "asleep"})

    youtube = sorted(i for i, p in zip(ids, ["y", "g", "y", "y"], strict=True) if p == "y")
    rows = re.compile(r'<tr class="account-row" id="account-([^"]+)"')
    assert rows.findall(first.text) + rows.findall(second.text) == youtube
    assert rows.findall(by_owner.text) == [ids[1]]
    assert bad.status_code == 400 and "state: &#39;asleep&#39;" in bad.text


def test_static_files_and_templates_ship_in_the_package(http: TestClient) -> None:
    css = http.get("/static/dashboard.css")
    js = http.get("/static/dashboard.js")

    assert css.status_code == 200 and "@media" in css.text
    assert js.status_code == 200 and "EventSource" in js.text
    shipped = resources.files("syncjobs.web")
    assert (shipped / "templates" / "base.html").is_file()


def test_links_and_actions_work_mounted_under_a_prefix_in_fastapi(
    app: SyncJobs, seeded: Seeded
) -> None:
    host = FastAPI()
    host.mount("/ops/dash", dashboard(app, authorize=lambda request: True))

    with TestClient(host, follow_redirects=False) as http:
        visited = set()
        for start in ("/ops/dash/", f"/ops/dash/jobs/{seeded.pending.id}"):
            for link in _links(http.get(start).text):
                assert link.startswith("/ops/dash/") or link == "", link
                if link and link not in visited:
                    visited.add(link)
                    assert http.get(link).status_code == 200, link
        token = csrf_of(http, f"/ops/dash/jobs/{seeded.pending.id}")
        done = http.post(
            f"/ops/dash/jobs/{seeded.pending.id}/actions",
            data={"csrf": token, "action": "cancel"},
        )
        assert done.status_code == 303
        assert done.headers["location"] == f"/ops/dash/jobs/{seeded.pending.id}"
        cookie = done.headers["set-cookie"]
        assert "Path=/ops/dash/" in cookie and "SameSite=strict" in cookie.replace(
            "Strict", "strict"
        )
        assert "the job is cancelled" in http.get(done.headers["location"]).text
    assert app.repository.get_job(seeded.pending.id).status is JobStatus.CANCELLED  # type: ignore[union-attr]


def test_without_an_app_the_dashboard_shows_the_current_one(app: SyncJobs) -> None:
    job = app.submit("syncjobs.noop", owner_id="current")  # make_app made ``app`` current

    with client(None) as http:
        page = http.get(f"/jobs/{job.id}")

    assert page.status_code == 200 and "current" in page.text


def test_a_job_type_this_process_does_not_declare_cannot_be_replayed(
    app: SyncJobs, http: TestClient
) -> None:
    new = NewJob(
        id=str(uuid.uuid4()),
        owner_id="ghost",
        job_type="retired.type",
        queue="default",
        priority=5,
        params={"kept": True},
        max_retries=0,
        created_at=utcnow(),
    )
    job, _ = app.repository.create_job(new, active_limit=None)
    app.repository.cancel_job(job.id, now=utcnow())

    page = http.get(f"/jobs/{job.id}").text

    assert re.search(r'value="replay" disabled', page)
    assert "retired.type" in page and "&#34;kept&#34;: true" in page


def test_metrics_endpoint_is_scraped_and_parsed(http: TestClient, seeded: Seeded) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    scraped = http.get("/metrics")
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        for s in family.samples
    }
    assert samples[("syncjobs_ledger_up", ())] == 1
    assert samples[("syncjobs_queue_depth", (("job_type", "syncjobs.noop"),))] == 2
    assert samples[("syncjobs_jobs_processing", (("job_type", "syncjobs.count"),))] == 1
    assert samples[("syncjobs_ledger_dead_letters", (("job_type", "syncjobs.count"),))] == 1
    count = (("job_type", "syncjobs.count"), ("status", "completed"))
    assert samples[("syncjobs_jobs", count)] == 1


def test_metrics_endpoint_needs_authorisation(app: SyncJobs) -> None:
    with client(app, authorize=lambda request: False) as refused:
        answer = refused.get("/metrics")
    assert answer.status_code == 403
    assert "syncjobs_" not in answer.text


def test_a_running_job_without_a_total_shows_a_count_not_a_percent(
    app: SyncJobs, http: TestClient, seeded: Seeded
) -> None:
    app.repository.update_progress(
        seeded.running.id, done=42, total=None, percent=0.0, message="page 5", now=utcnow()
    )
    page = http.get(f"/jobs/{seeded.running.id}")
    assert page.status_code == 200
    assert "42 done, total not known" in page.text
    assert 'class="progress indeterminate"' in page.text

"""A job's page follows it live: ``/jobs/{id}/events`` sends progress at each change and ends
once the job is terminal. Served by a real uvicorn so events arrive one at a time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from syncjobs.app import SyncJobs
from syncjobs.clock import utcnow
from syncjobs.core.models import JobStatus
from syncjobs.web import dashboard
from tests.conftest import AppFactory

from .web_support import claim, client, events, serve


@pytest.fixture
def app(make_app: AppFactory) -> SyncJobs:
    return make_app()


@pytest.fixture
def served(app: SyncJobs) -> Iterator[str]:
    with serve(dashboard(app, authorize=lambda request: True, keepalive=1.0)) as base:
        yield base


def test_events_follow_progress_and_end_when_the_job_is_terminal(
    app: SyncJobs, served: str
) -> None:
    repo = app.repository
    job = claim(app, app.submit("syncjobs.count", owner_id="dana", params={"to": 10}))
    repo.update_progress(job.id, done=2, total=10, percent=20.0, message="two", now=utcnow())
    seen: list[tuple[str, dict[str, Any]]] = []

    with (
        httpx.Client(timeout=30) as http,
        http.stream("GET", f"{served}/jobs/{job.id}/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = events(response)
        seen.append(next(stream))
        repo.update_progress(job.id, done=7, total=10, percent=70.0, message="seven", now=utcnow())
        seen.append(next(stream))
        repo.finish_job(job.id, status=JobStatus.COMPLETED, now=utcnow(), result={"n": 10})
        seen += list(stream)  # the stream ends by itself

    assert seen[0] == ("progress", seen[0][1])
    assert (seen[0][1]["percent"], seen[0][1]["message"], seen[0][1]["status"]) == (
        20.0,
        "two",
        "processing",
    )
    assert (seen[1][1]["percent"], seen[1][1]["done"], seen[1][1]["message"]) == (70.0, 7, "seven")
    assert seen[1][1]["eta"] != "—"
    assert [name for name, _ in seen[2:]] == ["progress", "end"]
    assert seen[-1][1]["status"] == "completed" and seen[-1][1]["terminal"] is True


def test_a_terminal_job_streams_its_state_once_and_ends(app: SyncJobs) -> None:
    job = app.submit("syncjobs.noop", owner_id="erin")
    app.cancel(job.id, owner_id="erin")

    with client(app) as http:
        response = http.get(f"/jobs/{job.id}/events")

    assert response.status_code == 200
    events = [
        (block.split("\n")[0], json.loads(block.split("data: ", 1)[1]))
        for block in response.text.strip().split("\n\n")
        if "data: " in block
    ]
    assert [name for name, _ in events] == ["event: progress", "event: end"]
    assert events[-1][1]["status"] == "cancelled"


def test_the_job_page_wires_the_stream_and_stable_ids(app: SyncJobs) -> None:
    job = claim(app, app.submit("syncjobs.count", owner_id="fay", params={"to": 4}))
    app.repository.update_progress(
        job.id, done=1, total=4, percent=25.0, message=None, now=utcnow()
    )

    with TestClient(dashboard(app, authorize=lambda r: True)) as http:
        page = http.get(f"/jobs/{job.id}").text

    assert f'data-events="/jobs/{job.id}/events"' in page and 'data-terminal="false"' in page
    assert 'id="progress-bar"' in page and 'style="width:25%" data-percent="25"' in page
    assert 'id="job-status"' in page and 'id="eta"' in page

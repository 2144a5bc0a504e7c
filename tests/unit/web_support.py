"""What the dashboard's tests share: a seeded ledger, a test client, the CSRF field of a page."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from syncjobs.app import SyncJobs
from syncjobs.clock import utcnow
from syncjobs.core.models import Job, JobStatus
from syncjobs.providers.types import Item
from syncjobs.web import dashboard
from tests.conftest import AppFactory

#: Credentials and cursors the seeded account holds; no page may ever show them.
ACCESS_TOKEN = "ya29.ACCESS-TOKEN-NEVER-SHOWN"
REFRESH_TOKEN = "1//REFRESH-TOKEN-NEVER-SHOWN"
CURSOR_TOKEN = "CURSOR-PAGE-TOKEN-NEVER-SHOWN"
WORKER = "web-host:4242"


@dataclass
class Seeded:
    """The jobs and the account ``seed`` made."""

    completed: Job
    failed: Job
    running: Job
    pending: Job
    child: Job
    account_id: str


def claim(app: SyncJobs, job: Job) -> Job:
    """Take ``job`` as a worker thread of ``WORKER`` would."""
    claimed = app.repository.claim_job(job.id, worker_id=f"{WORKER}:thread-1", now=utcnow())
    assert claimed is not None
    return claimed


def finish(app: SyncJobs, job: Job, status: JobStatus, **outcome: object) -> Job:
    """Claim ``job`` and end it with ``status``."""
    claim(app, job)
    ended = app.repository.finish_job(job.id, status=status, now=utcnow(), **outcome)  # type: ignore[arg-type]
    assert ended is not None
    return ended


def seed(app: SyncJobs) -> Seeded:
    """Jobs of three owners in every state, a dead letter, a worker, an account and its usage."""
    repo, now = app.repository, utcnow()
    completed = app.submit("syncjobs.count", owner_id="alice", params={"to": 3})
    finish(app, completed, JobStatus.COMPLETED, result={"counted": 3})
    failed = app.submit("syncjobs.count", owner_id="bob", params={"to": 5})
    finish(
        app,
        failed,
        JobStatus.FAILED,
        error_code="provider_unavailable",
        error_message="the provider said 503 <b>twice</b>",
        dead_letter=True,
    )
    running = claim(app, app.submit("syncjobs.count", owner_id="carol", params={"to": 10}))
    repo.update_progress(running.id, done=4, total=10, percent=40.0, message="counted 4", now=now)
    repo.append_log(running.id, "info", "started counting <script>x</script>", now=now)
    pending = app.submit("syncjobs.noop", owner_id="alice")
    child = app.submit("syncjobs.noop", owner_id="alice", parent_id=completed.id)
    repo.heartbeat(WORKER, "worker", job_ids=[running.id], now=now)
    repo.heartbeat("scheduler", "scheduler", job_ids=[], now=now)
    account = app.accounts.connect(
        "alice",
        "youtube",
        {"access_token": ACCESS_TOKEN, "refresh_token": REFRESH_TOKEN},
        external_id="UC-alice",
        display_name="Alice's channel",
    )
    store = app.accounts.store
    assert store is not None
    store.save_page(
        account.id,
        items=[Item(external_id="v1", kind="video", title="first"), Item("v2", "video")],
        deleted_ids=[],
        cursor={"page_token": CURSOR_TOKEN},
        now=now,
    )
    app.insights.repository.record_provider_usage(
        owner_id="alice",
        account_id=account.id,
        provider="youtube",
        job_id=None,
        api_calls=7,
        quota_units=321,
        at=now - timedelta(days=1),
    )
    return Seeded(completed, failed, running, pending, child, account.id)


def client(app: SyncJobs | None, **options: object) -> TestClient:
    """A test client of a dashboard of ``app`` that lets everyone in."""
    options.setdefault("authorize", lambda request: True)
    return TestClient(dashboard(app, **options), follow_redirects=False)  # type: ignore[arg-type]


_CSRF = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


def csrf_of(http: TestClient, path: str) -> str:
    """The CSRF field of the page at ``path`` (its cookie is now in ``http``)."""
    page = http.get(path)
    assert page.status_code == 200, page.text
    found = _CSRF.search(page.text)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


@contextmanager
def serve(web: ASGIApp) -> Iterator[str]:
    """Serve ``web`` with a real uvicorn in a thread; yield its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(500):
        if server.started:
            break
        threading.Event().wait(0.02)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def events(response: httpx.Response) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event name, data) of each Server-Sent Event, skipping comments and retry hints."""
    name, data = "message", ""
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and data:
            yield name, json.loads(data)
            name, data = "message", ""


@pytest.fixture
def app(make_app: AppFactory) -> SyncJobs:
    return make_app()


@pytest.fixture
def seeded(app: SyncJobs) -> Seeded:
    return seed(app)


@pytest.fixture
def http(app: SyncJobs) -> Iterator[TestClient]:
    with client(app) as c:
        yield c

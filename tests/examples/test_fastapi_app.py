"""examples/fastapi_app: the host app under uvicorn, on the real Redis and PostgreSQL.

The app runs in this process under uvicorn on a loopback port (server-sent events must really
stream), with the same ``SYNCJOBS_*`` settings as a real ``dramatiq syncjobs.actors`` worker
process, which syncs from the fake TikTok API served over loopback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import uvicorn
from examples.fastapi_app.app import (
    OPERATOR_COOKIE,
    OPERATOR_HEADER,
    OPERATOR_TOKEN_ENV,
    TRIGGER_SECRET_ENV,
    JobStreams,
    create_api,
)
from fastapi import FastAPI

from syncjobs import JobStatus
from syncjobs.app import SyncJobs
from syncjobs.connections.credentials import generate_key
from syncjobs.core import current as _current
from syncjobs.testing.fakes import FakeTikTok, serve

from ..integration.conftest import Workers, wait_for

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SECRET = "trigger-secret"
OPERATOR_TOKEN = "operator-token"
QUEUES = "default,sync,syncjobs"


@dataclasses.dataclass
class Server:
    """The example app, served by uvicorn on a loopback port."""

    url: str
    api: FastAPI

    def client(self, owner: str | None = "u1", secret: str | None = None) -> httpx.Client:
        headers = {"X-Owner-Id": owner} if owner else {}
        if secret is not None:
            headers["X-Trigger-Secret"] = secret
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    @property
    def streams(self) -> JobStreams:
        streams: JobStreams = self.api.state.streams
        return streams


@pytest.fixture
def fake() -> Iterator[tuple[FakeTikTok, str]]:
    tiktok = FakeTikTok(items=120, seed=5)
    tiktok.latency = 0.02  # a sync of several pages, with progress between them
    with serve(tiktok) as root:
        yield tiktok, root


@pytest.fixture
def app_env(
    env: dict[str, str],
    fake: tuple[FakeTikTok, str],
    host_jobs: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """One set of settings for the web app (this process) and the workers."""
    tiktok, root = fake
    env["SYNCJOBS_ENCRYPTION_KEY"] = generate_key()
    for key, value in dataclasses.asdict(tiktok.config(root)).items():
        env[f"SYNCJOBS_TIKTOK__{key.upper()}"] = str(value)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SYNCJOBS_IMPORTS", '["examples.host_jobs"]')
    monkeypatch.setenv(TRIGGER_SECRET_ENV, SECRET)
    monkeypatch.setenv(OPERATOR_TOKEN_ENV, OPERATOR_TOKEN)
    return env


def start_worker(workers: Workers) -> None:
    workers.start(queues=QUEUES, SYNCJOBS_IMPORTS='["examples.host_jobs"]', PYTHONPATH=str(ROOT))


def bound_socket() -> socket.socket:
    """A socket bound to a free loopback port (its URL is known before the app starts)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def serving(
    api: FastAPI, sock: socket.socket | None = None, **config: Any
) -> Iterator[tuple[str, uvicorn.Server, threading.Thread]]:
    """Run ``api`` under uvicorn on ``sock`` (default: a free loopback port) in a thread; stop
    it at the end."""
    if sock is None:
        sock = bound_socket()
    uv = uvicorn.Server(
        uvicorn.Config(api, log_config=None, log_level="warning", ws="none", http="h11", **config)
    )
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, name="example-app")
    thread.start()
    try:
        wait_for(lambda: uv.started or not thread.is_alive())
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", uv, thread
    finally:
        uv.should_exit = True
        thread.join(60)
        sock.close()
        _current.set_app(None)


@pytest.fixture
def server(app_env: dict[str, str]) -> Iterator[Server]:
    api = create_api(watch_slice=1.0, keepalive=2.0)
    with serving(api, lifespan="on", timeout_graceful_shutdown=5) as (url, uv, thread):
        assert uv.started, "the example app did not start (see the log above)"
        yield Server(url, api)
    assert not thread.is_alive(), "uvicorn did not stop"


def events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """(event, decoded data) of each server-sent event; comments are skipped."""
    name, data = "message", list[str]()
    for line in response.iter_lines():
        if line == "":
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", list[str]()
        elif line.startswith(":"):
            continue
        elif line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data.append(line.removeprefix("data:").strip())


def poll(http: httpx.Client, url: str, until: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """GET ``url`` until ``until(json)``; fails after a generous deadline."""
    found: dict[str, Any] = {}

    def check() -> bool:
        nonlocal found
        response = http.get(url)
        assert response.status_code == 200, response.text
        found = response.json()
        return until(found)

    wait_for(check, 120)
    return found


def connect(http: httpx.Client, tiktok: FakeTikTok) -> dict[str, Any]:
    response = http.post(
        "/accounts",
        json={
            "provider": "tiktok",
            "tokens": tiktok.issue_tokens().model_dump(mode="json"),
            "external_id": "creator-1",
            "display_name": "My TikTok",
        },
    )
    assert response.status_code == 201, response.text
    account: dict[str, Any] = response.json()
    return account


def test_connect_sync_and_follow_the_job_live(
    server: Server, workers: Workers, fake: tuple[FakeTikTok, str]
) -> None:
    tiktok, _ = fake
    start_worker(workers)
    with server.client() as http:
        account = connect(http, tiktok)
        assert (account["provider"], account["state"], account["owner_id"]) == (
            "tiktok",
            "active",
            "u1",
        )
        assert "tokens" not in account and "access_token" not in json.dumps(account)
        assert [a["id"] for a in http.get("/accounts").json()] == [account["id"]]

        accepted = http.post(f"/accounts/{account['id']}/sync")
        assert accepted.status_code == 202, accepted.text
        body = accepted.json()
        job_id = body["job_id"]
        assert uuid.UUID(job_id)
        assert body["status_url"] == f"{server.url}/jobs/{job_id}"
        assert accepted.headers["location"] == body["status_url"]
        assert body["events_url"] == f"{server.url}/jobs/{job_id}/events"

        with http.stream("GET", body["events_url"], params={"timeout": 120}) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            received = list(events(stream))
        names = [name for name, _ in received]
        assert names[-1] == "end" and names.count("end") == 1
        assert set(names[:-1]) == {"message"} and len(names) >= 2
        data = [job for name, job in received if name == "message"]
        # TikTok gives no total: while the sync runs its progress is indeterminate (no
        # percent), and the count of items done only goes up.
        running = [job for job in data if job["status"] == "processing"]
        assert all(job["progress_percent"] is None for job in running), running
        dones = [job["progress_done"] or 0 for job in data]
        assert dones == sorted(dones), dones
        final = received[-1][1]
        assert final == data[-1]
        assert final["id"] == job_id and final["status"] == "completed", final
        assert final["result"]["added"] == 120 and final["result"]["provider"] == "tiktok"

        status = poll(http, body["status_url"], lambda job: job["status"] == "completed")
        assert status["result"] == final["result"]
        synced = http.get("/accounts").json()[0]
        assert synced["last_sync_job_id"] == job_id and synced["last_synced_at"]

    with server.client(owner="someone-else") as other:
        assert other.get(f"/jobs/{job_id}").status_code == 404
        assert other.get(f"/jobs/{job_id}/events").status_code == 404
        assert other.get(f"/jobs/{uuid.uuid4()}").status_code == 404
        assert other.post(f"/accounts/{account['id']}/sync").status_code == 404
        assert other.get("/accounts").json() == []
        missing = other.get(f"/jobs/{job_id}")
        assert missing.json()["error"] == "job_not_found"


def test_the_trigger_needs_the_secret_and_runs_the_job_and_its_follow_up(
    server: Server, workers: Workers, client: Callable[..., SyncJobs]
) -> None:
    start_worker(workers)
    url = "/trigger/example.nightly_report"
    with server.client(owner=None) as http:
        assert http.post(url).status_code == 401
        assert http.post(url, headers={"X-Trigger-Secret": "wrong"}).status_code == 401
        assert http.post(url, headers={"X-Trigger-Secret": SECRET + "x"}).status_code == 401
        assert http.post(url, headers={"X-Trigger-Secret": ""}).status_code == 401
        unknown = http.post("/trigger/example.nightly_reprot", headers={"X-Trigger-Secret": SECRET})
        assert unknown.status_code == 422
        assert unknown.json() == {
            "error": "invalid_input",
            "message": "unknown job type 'example.nightly_reprot'; "
            "did you mean 'example.nightly_report'?",
        }

        accepted = http.post(url, headers={"X-Trigger-Secret": SECRET}, json={"pause": 0.05})
        assert accepted.status_code == 202, accepted.text
        body = accepted.json()
        assert accepted.headers["location"] == body["status_url"]
        assert body["status_url"] == f"{server.url}/trigger/jobs/{body['job_id']}"
        assert http.get(body["status_url"]).status_code == 401  # the status needs it too
        with httpx.Client(headers={"X-Trigger-Secret": SECRET}, timeout=30) as trusted:
            done = poll(
                trusted,
                body["status_url"],
                lambda job: job["status"] in ("completed", "failed", "cancelled"),
            )
        assert done["status"] == "completed", done
        assert done["result"]["report_id"].startswith("jobs-")

    app = client()  # the same ledger, read directly

    def follow_up_done() -> bool:
        ready = app.jobs("system", job_type="example.report_ready")
        return bool(ready) and ready[0].status is JobStatus.COMPLETED

    wait_for(follow_up_done, 120)
    [ready] = app.jobs("system", job_type="example.report_ready")
    assert ready.parent_id == body["job_id"]
    assert ready.params == done["result"]
    assert app.status(body["job_id"], owner_id="system").owner_id == "system"


def test_the_event_loop_keeps_serving_while_streams_wait(
    server: Server, client: Callable[..., SyncJobs]
) -> None:
    app = client()
    # No worker runs, and the jobs wait an hour: each stream waits inside `watch`.
    waiting = app.submit("syncjobs.count", owner_id="u1", params={"to": 3}, delay=3600)
    other = app.submit("syncjobs.count", owner_id="u1", params={"to": 3}, delay=3600)
    with server.client() as http, server.client() as side:
        with http.stream("GET", f"/jobs/{waiting.id}/events", params={"timeout": 300}) as stream:
            received = events(stream)
            name, first = next(received)
            assert (name, first["id"], first["status"]) == ("message", waiting.id, "pending")
            for _ in range(5):  # the same server answers while the stream is open
                status = side.get(f"/jobs/{waiting.id}")
                assert status.status_code == 200 and status.json()["status"] == "pending"
                assert side.get("/accounts").status_code == 200
            assert server.streams.open_count == 1
            app.cancel(waiting.id, owner_id="u1")  # a change made elsewhere reaches the stream
            rest = list(received)
        assert [(n, j["status"]) for n, j in rest] == [
            ("message", "cancelled"),
            ("end", "cancelled"),
        ]

        # A client that leaves: its thread stops, and its subscription is released.
        with http.stream("GET", f"/jobs/{other.id}/events") as stream:
            assert next(events(stream))[1]["status"] == "pending"
        wait_for(lambda: server.streams.open_count == 0, 60)
        assert side.get(f"/jobs/{other.id}").json()["status"] == "pending"


def test_errors_become_http_statuses(server: Server, client: Callable[..., SyncJobs]) -> None:
    with server.client() as http:
        assert http.get("/jobs/not-a-uuid").status_code == 422
        assert http.get("/jobs/not-a-uuid/events").status_code == 422
        assert http.get(f"/jobs/{uuid.uuid4()}/events", params={"timeout": 0}).status_code == 422
        malformed = http.post("/accounts/not%20an%20id/sync")
        assert malformed.status_code == 422 and malformed.json()["error"] == "invalid_input"
        assert http.post(f"/accounts/{uuid.uuid4()}/sync").status_code == 404
        bad_tokens = http.post(
            "/accounts", json={"provider": "tiktok", "tokens": {"refresh_token": "rft.secret"}}
        )
        assert bad_tokens.status_code == 422 and "rft.secret" not in bad_tokens.text
        unknown = http.post("/accounts", json={"provider": "myspace", "tokens": {}})
        assert unknown.status_code == 422
    with server.client(owner=None) as anonymous:
        assert anonymous.get("/accounts").status_code == 401
    with server.client(owner="system") as spoof:
        assert spoof.get("/accounts").status_code == 403

    trigger = "/trigger/syncjobs.count"
    with server.client(owner=None, secret=SECRET) as cron:
        bad = cron.post(trigger, json={"to": "many"})
        assert bad.status_code == 422
        assert [e["loc"] for e in bad.json()["errors"]] == [["to"]]
        undeclared = cron.post(trigger, json={"to": 2, "delay": 0.2})
        assert undeclared.status_code == 422
        assert undeclared.json()["errors"] == [
            {
                "loc": ["delay"],
                "msg": "unknown field (the fields are: step, to)",
                "type": "extra_forbidden",
            }
        ]
        # No worker runs: the system owner's jobs stay pending, up to the per-owner limit.
        accepted = [cron.post(trigger, json={"to": 1}).status_code for _ in range(5)]
        assert accepted == [202] * 5
        refused = cron.post(trigger, json={"to": 1})
        assert refused.status_code == 429 and refused.json()["error"] == "concurrency_limit"
        again = cron.post(trigger, json={"to": 1}, headers={"Idempotency-Key": "nightly-1"})
        assert again.status_code == 429

        server.api.state.trigger_secret = None  # as if EXAMPLE_TRIGGER_SECRET were unset
        try:
            assert cron.post(trigger, json={"to": 1}).status_code == 503
        finally:
            server.api.state.trigger_secret = SECRET
    assert len(client().jobs("system", job_type="syncjobs.count")) == 5


def test_a_deployment_error_is_a_503_without_details(server: Server) -> None:
    jobs: SyncJobs = server.api.state.syncjobs
    jobs.settings.enabled = False  # submit now raises ConfigurationError
    try:
        with server.client(owner=None, secret=SECRET) as cron:
            refused = cron.post("/trigger/syncjobs.count", json={"to": 1})
    finally:
        jobs.settings.enabled = True
    assert refused.status_code == 503
    assert refused.json() == {
        "error": "configuration_error",
        "message": "the job service is not available",
    }


def test_the_server_stops_cleanly_with_a_stream_open(
    app_env: dict[str, str], client: Callable[..., SyncJobs]
) -> None:
    app = client()
    waiting = app.submit("syncjobs.count", owner_id="u1", params={"to": 3}, delay=3600)
    api = create_api(watch_slice=1.0, keepalive=1.0)
    with serving(api, timeout_graceful_shutdown=1) as (root, uv, thread):
        url = f"{root}/jobs/{waiting.id}/events"
        with httpx.stream("GET", url, headers={"X-Owner-Id": "u1"}, timeout=30) as stream:
            received = events(stream)
            assert next(received)[1]["status"] == "pending"
            uv.should_exit = True  # shut down while the client still listens
            thread.join(60)
            assert not thread.is_alive(), "uvicorn did not stop"
            rest: list[tuple[str, Any]] = []
            with contextlib.suppress(httpx.HTTPError):  # cut off, or ended: both are fine
                rest.extend(received)
        assert "end" not in [name for name, _ in rest]  # the job never finished
        assert api.state.streams.open_count == 0


def _links(html: str) -> list[str]:
    """Every href, src and form action of a page."""
    return re.findall(r'(?:href|src|action|formaction)="([^"]*)"', html)


def test_the_dashboard_is_mounted_at_ops_behind_the_operator_token(server: Server) -> None:
    jobs: SyncJobs = server.api.state.syncjobs
    job = jobs.submit("syncjobs.count", owner_id="u1", params={"to": 3}, delay=3600)

    # Refused: no token, a wrong one, the users' own header, or the trigger secret.
    refusals = [{}, {OPERATOR_HEADER: "wrong"}, {"X-Owner-Id": "u1"}, {"X-Trigger-Secret": SECRET}]
    for headers in refusals:
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as anonymous:
            for path in ("/ops/", "/ops/jobs", f"/ops/jobs/{job.id}", "/ops/static/dashboard.css"):
                refused = anonymous.get(path)
                assert refused.status_code == 403, (headers, path, refused.status_code)
                assert job.id not in refused.text
    with httpx.Client(base_url=server.url, cookies={OPERATOR_COOKIE: "wrong"}) as forged:
        assert forged.get("/ops/jobs").status_code == 403

    headers = {OPERATOR_HEADER: OPERATOR_TOKEN}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as operator:
        page = operator.get("/ops/jobs")
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert f'href="/ops/jobs/{job.id}"' in page.text
        links = [link for link in _links(page.text) if link.startswith("/")]
        assert links and all(link.startswith("/ops/") for link in links), links
        detail = operator.get(f"/ops/jobs/{job.id}")
        assert detail.status_code == 200 and 'id="job-status"' in detail.text
        actions = [link for link in _links(detail.text) if "/actions" in link]
        assert actions == [f"/ops/jobs/{job.id}/actions"]

        # An action through the mount: the CSRF cookie is scoped to /ops/, the form carries it.
        assert operator.cookies.get("syncjobs_csrf", path="/ops/")
        [csrf] = re.findall(r'name="csrf" value="([^"]+)"', detail.text)[:1]
        done = operator.post(actions[0], data={"csrf": csrf, "action": "cancel"})
        assert done.status_code == 303 and done.headers["location"].startswith("/ops/")
        assert jobs.status(job.id, owner_id="u1").status is JobStatus.CANCELLED
        # The example's own API is not the dashboard's: the operator header opens nothing there.
        assert operator.get("/accounts").status_code == 401


def test_operators_sign_in_with_a_form_and_a_cookie(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        assert 'name="token"' in browser.get("/operator/login").text
        wrong = browser.post("/operator/login", data={"token": "guess"})
        assert wrong.status_code == 401 and not browser.cookies
        signed_in = browser.post("/operator/login", data={"token": OPERATOR_TOKEN})
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/ops/"
        cookie = signed_in.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ops" in cookie
        overview = browser.get("/ops/")
        assert overview.status_code == 200 and "Overview" in overview.text

"""examples/fastapi_app: connecting accounts through the providers' consent pages.

The app runs under uvicorn on a loopback port known before it starts (it is the redirect URI
registered with the fakes); the four fake providers are served over loopback, and a
``dramatiq syncjobs.actors`` worker process on the real Redis and PostgreSQL runs the syncs.
The test plays the owner's browser: it follows each 302 by hand, to the fake's consent page
and from there back to the example's callback.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from examples.fastapi_app.app import create_api

from syncjobs.connections.credentials import generate_key
from syncjobs.testing.fakes import CombinedFakes, serve

from ..integration.conftest import Workers
from .test_fastapi_app import QUEUES, ROOT, Server, bound_socket, poll, serving

pytestmark = pytest.mark.integration

PROVIDERS = ("youtube", "gmail", "instagram", "tiktok")
FINISHED = ("completed", "failed", "cancelled")


@pytest.fixture
def fakes() -> Iterator[tuple[CombinedFakes, str]]:
    combined = CombinedFakes(items_per_provider=25, seed=3)
    with serve(combined) as root:
        yield combined, root


@pytest.fixture
def sock() -> Iterator[socket.socket]:
    bound = bound_socket()
    yield bound
    bound.close()


@pytest.fixture
def connect_env(
    env: dict[str, str],
    fakes: tuple[CombinedFakes, str],
    sock: socket.socket,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The web app's and the worker's settings: the fakes, and the example's callback URL."""
    combined, root = fakes
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env["SYNCJOBS_ENCRYPTION_KEY"] = generate_key()
    env["SYNCJOBS_OAUTH_REDIRECT_URI"] = f"{url}/oauth/callback"
    for name in PROVIDERS:
        for key, value in dataclasses.asdict(combined.config(name, root)).items():
            if value is not None:
                env[f"SYNCJOBS_{name.upper()}__{key.upper()}"] = str(value)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def server(connect_env: dict[str, str], sock: socket.socket) -> Iterator[Server]:
    api = create_api(watch_slice=1.0, keepalive=2.0)
    with serving(api, sock, lifespan="on", timeout_graceful_shutdown=5) as (url, uv, thread):
        assert uv.started, "the example app did not start (see the log above)"
        yield Server(url, api)
    assert not thread.is_alive(), "uvicorn did not stop"


def callback_url(server: Server, http: httpx.Client, provider: str, **params: str) -> str:
    """Through ``/connect/{provider}`` and the fake's consent page: the callback URL."""
    start = http.get(f"/connect/{provider}", params=params)
    assert start.status_code == 302, start.text
    consent = httpx.get(start.headers["location"], timeout=30)  # the provider's page
    assert consent.status_code == 302, consent.text
    location: str = consent.headers["location"]
    assert location.startswith(f"{server.url}/oauth/callback?"), location
    return location


def test_each_provider_connects_through_its_consent_page_and_syncs(
    server: Server, workers: Workers, fakes: tuple[CombinedFakes, str]
) -> None:
    combined, _ = fakes
    workers.start(queues=QUEUES, PYTHONPATH=str(ROOT))
    connected: dict[str, dict[str, Any]] = {}
    with server.client() as http:
        for provider in PROVIDERS:
            answer = http.get(callback_url(server, http, provider))
            assert answer.status_code == 200, answer.text
            body = answer.json()
            account = body["account"]
            assert (account["provider"], account["state"], account["owner_id"]) == (
                provider,
                "active",
                "u1",
            )
            assert body["reconnected"] is False and "access_token" not in answer.text
            assert combined[provider].calls["authorize"] == 1
            connected[provider] = body

        listed = {a["provider"]: a["id"] for a in http.get("/accounts").json()}
        assert listed == {p: body["account"]["id"] for p, body in connected.items()}
        for provider, body in connected.items():
            assert body["status_url"] == f"{server.url}/jobs/{body['sync_job_id']}"
            done = poll(http, body["status_url"], lambda job: job["status"] in FINISHED)
            assert done["status"] == "completed", done
            assert done["result"]["added"] == len(combined[provider].dataset()) == 25

        # ?account_id= reconnects that account (a reauth_required notification links here).
        tiktok = connected["tiktok"]["account"]["id"]
        again = http.get(callback_url(server, http, "tiktok", account_id=tiktok))
        assert again.status_code == 200, again.text
        assert again.json()["reconnected"] is True and again.json()["account"]["id"] == tiktok
        assert len(http.get("/accounts").json()) == 4


def test_refused_connects_are_400s_with_the_error_code(
    server: Server, fakes: tuple[CombinedFakes, str]
) -> None:
    combined, _ = fakes
    with server.client() as http, server.client(owner="u2") as other:
        combined.tiktok.consent = "denied"
        denied = http.get(callback_url(server, http, "tiktok"))
        assert denied.status_code == 400
        assert denied.json()["error"] == "consent_denied"
        combined.tiktok.consent = "granted"

        combined.youtube.granted_scopes = []
        partial = http.get(callback_url(server, http, "youtube"))
        assert partial.status_code == 400
        assert partial.json()["error"] == "missing_scopes"
        assert partial.json()["missing_scopes"] == [
            "https://www.googleapis.com/auth/youtube.readonly"
        ]
        combined.youtube.granted_scopes = None

        # Another signed-in user cannot complete u1's attempt, and it is used up.
        foreign = callback_url(server, http, "gmail")
        refused = other.get(foreign)
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_connect_state"
        assert refused.json()["reason"] == "wrong_owner"
        assert http.get(foreign).json()["reason"] == "unknown"

        # A callback works once; the replay finds nothing.
        first = callback_url(server, http, "instagram")
        assert http.get(first).status_code == 200
        replayed = http.get(first)
        assert replayed.status_code == 400
        assert replayed.json()["error"] == "invalid_connect_state"
        assert replayed.json()["reason"] == "unknown"

        forged = http.get("/oauth/callback", params={"state": "made-up", "code": "x"})
        assert forged.status_code == 400 and forged.json()["reason"] == "unknown"
        assert http.get("/connect/myspace").status_code == 404

        # Reconnecting an account, the owner approves another provider account.
        tokens = combined.tiktok.issue_tokens().model_dump(mode="json")
        made = http.post(
            "/accounts", json={"provider": "tiktok", "tokens": tokens, "external_id": "someone"}
        )
        assert made.status_code == 201, made.text
        paused = made.json()["id"]
        mismatch = http.get(callback_url(server, http, "tiktok", account_id=paused))
        assert mismatch.status_code == 400 and mismatch.json()["error"] == "account_mismatch"
        assert other.get("/connect/tiktok", params={"account_id": paused}).status_code == 404
        providers = sorted(a["provider"] for a in http.get("/accounts").json())
        assert providers == ["instagram", "tiktok"]  # nothing stored by any refusal
        assert other.get("/accounts").json() == []
    with server.client(owner=None) as anonymous:
        assert anonymous.get("/connect/tiktok").status_code == 401
        assert anonymous.get("/oauth/callback", params={"state": "x"}).status_code == 401

"""examples/django_app: connecting accounts through the providers' consent pages.

The views run in this process through Django's test client (host ``localhost``, so the
registered callback is ``http://localhost/oauth/callback``); the four fake providers are
served over loopback, and a ``dramatiq syncjobs.actors`` worker process on the real Redis and
PostgreSQL runs the syncs. The test plays the owner's browser: it reads the fake consent
page's redirect and hands its path and query to the test client.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from django.test import Client

import syncjobs
from syncjobs.connections.credentials import generate_key
from syncjobs.testing.fakes import CombinedFakes, serve

from ..integration.conftest import Workers
from .test_django_app import (  # noqa: F401  (fixtures)
    django_db,
    django_env,
    finished,
    http,
)

pytestmark = pytest.mark.integration

PROVIDERS = ("youtube", "gmail", "instagram", "tiktok")
CALLBACK = "http://localhost/oauth/callback"


@pytest.fixture
def fakes() -> Iterator[tuple[CombinedFakes, str]]:
    combined = CombinedFakes(items_per_provider=20, seed=4)
    with serve(combined) as root:
        yield combined, root


@pytest.fixture
def connect_env(
    django_env: dict[str, str],  # noqa: F811  (the fixture imported above)
    fakes: tuple[CombinedFakes, str],
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """The views' and the worker's settings: the fakes, and the project's callback URL."""
    combined, root = fakes
    extra = {
        "SYNCJOBS_ENCRYPTION_KEY": generate_key(),
        "SYNCJOBS_OAUTH_REDIRECT_URI": CALLBACK,
    }
    for name in PROVIDERS:
        for key, value in dataclasses.asdict(combined.config(name, root)).items():
            if value is not None:
                extra[f"SYNCJOBS_{name.upper()}__{key.upper()}"] = str(value)
    for key, value in extra.items():
        monkeypatch.setenv(key, value)
    django_env.update(extra)
    return django_env


def callback_path(client: Client, provider: str, **params: str) -> str:
    """Through ``/connect/<provider>`` and the fake's consent page: the callback's path."""
    start = client.get(f"/connect/{provider}", params)
    assert start.status_code == 302, start.content
    consent = httpx.get(start["Location"], timeout=30)  # the provider's page
    assert consent.status_code == 302, consent.text
    location = urlsplit(consent.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    return f"{location.path}?{location.query}"


def test_each_provider_connects_through_its_consent_page_and_syncs(
    connect_env: dict[str, str], workers: Workers, fakes: tuple[CombinedFakes, str]
) -> None:
    combined, _ = fakes
    workers.start(queues="default,sync,syncjobs", **connect_env)
    owner = http("u1")
    for provider in PROVIDERS:
        answer = owner.get(callback_path(owner, provider))
        assert answer.status_code == 200, answer.content
        body = answer.json()
        assert (body["account"]["provider"], body["account"]["state"]) == (provider, "active")
        assert body["reconnected"] is False
        assert body["status_url"] == f"http://localhost/jobs/{body['sync_job_id']}"
        assert combined[provider].calls["authorize"] == 1
        done = finished(body["sync_job_id"], "u1")
        assert done.status.value == "completed", done.error_message
        assert done.result["added"] == len(combined[provider].dataset()) == 20
    accounts = syncjobs.accounts("u1")
    assert sorted(a.provider for a in accounts) == sorted(PROVIDERS)

    gmail = next(a.id for a in accounts if a.provider == "gmail")
    again = owner.get(callback_path(owner, "gmail", account_id=gmail))
    assert again.status_code == 200, again.content
    assert again.json()["reconnected"] is True and again.json()["account"]["id"] == gmail


def test_refused_connects_are_400s_with_the_error_code(
    connect_env: dict[str, str], fakes: tuple[CombinedFakes, str]
) -> None:
    combined, _ = fakes
    owner, other = http("u1"), http("u2")

    combined.instagram.consent = "denied"
    denied = owner.get(callback_path(owner, "instagram"))
    assert denied.status_code == 400 and denied.json()["error"] == "consent_denied"
    combined.instagram.consent = "granted"

    combined.tiktok.granted_scopes = ["user.info.basic"]
    partial = owner.get(callback_path(owner, "tiktok"))
    assert partial.status_code == 400 and partial.json()["error"] == "missing_scopes"
    assert partial.json()["missing_scopes"] == ["video.list"]
    combined.tiktok.granted_scopes = None

    foreign = callback_path(owner, "youtube")
    refused = other.get(foreign)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_connect_state"
    assert refused.json()["reason"] == "wrong_owner"

    first = callback_path(owner, "gmail")
    assert owner.get(first).status_code == 200
    replayed = owner.get(first)
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_connect_state"
    assert replayed.json()["reason"] == "unknown"

    assert owner.get("/connect/myspace").status_code == 404
    assert http(None).get("/connect/tiktok").status_code == 401
    assert [a.provider for a in syncjobs.accounts("u1")] == ["gmail"]
    assert syncjobs.accounts("u2") == []

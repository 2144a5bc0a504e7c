"""Reauthorisation closes the loop: a revoked account tells its owner where to reconnect, and
reconnecting through the consent flow brings the same account back with its cursor.

The app runs on SQLite and PostgreSQL; the four fakes are served over loopback HTTP, and the
owner's browser is an httpx client reading the consent page's redirect.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from syncjobs import AccountState, Connected, JobStatus, SyncJobs
from syncjobs.insights.service import reconnect_url
from syncjobs.storage.sql import SQLAlchemyRepository
from syncjobs.testing.fakes import CombinedFakes, serve

from ..conftest import AppFactory, run_until_idle

OWNER = "owner-1"
CALLBACK = "https://app.test/oauth/callback"
RECONNECT = "https://app.test/connect/{provider}?account_id={account_id}&from=email"
PROVIDERS = ["youtube", "gmail", "instagram", "tiktok"]


def revoke(fakes: CombinedFakes, provider: str) -> None:
    """The owner revokes the app: the access token is refused, and so is the refresh token
    (Instagram has none: its rejected token cannot be refreshed)."""
    fakes[provider].inject("unauthorized")
    if provider != "instagram":
        fakes[provider].inject("invalid_grant")


@pytest.fixture
def served() -> Iterator[tuple[CombinedFakes, str]]:
    fakes = CombinedFakes(items_per_provider=40, seed=11)
    with serve(fakes) as root:
        yield fakes, root


def build(
    make_app: AppFactory, repo: SQLAlchemyRepository, served: tuple[CombinedFakes, str], **kw: Any
) -> SyncJobs:
    fakes, root = served
    configs = {
        name: dataclasses.asdict(fakes.config(name, root))
        for name in ("youtube", "gmail", "instagram", "tiktok")
    }
    return make_app(repo, oauth_redirect_uri=CALLBACK, **configs, **kw)


def through_consent(app: SyncJobs, provider: str, **kw: Any) -> Connected:
    """What a host's two routes do: begin, the owner approves, complete with the callback."""
    start = app.accounts.begin_connect(OWNER, provider, **kw)
    consent = httpx.get(start.url, follow_redirects=False, timeout=30)
    assert consent.status_code == 302, consent.text
    location = consent.headers["location"]
    assert location.startswith(CALLBACK + "?")
    return app.accounts.complete_connect(OWNER, location)


def synced(app: SyncJobs, job_id: str) -> Any:
    run_until_idle(app)
    return app.status(job_id, owner_id=OWNER)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_revoked_account_is_reconnected_through_the_flow_and_resumes_incrementally(
    make_app: AppFactory,
    sql_repo: SQLAlchemyRepository,
    served: tuple[CombinedFakes, str],
    provider: str,
) -> None:
    fakes, _ = served
    fake = fakes[provider]
    app = build(make_app, sql_repo, served, reconnect_url=RECONNECT)

    connected = through_consent(app, provider)
    assert not connected.reconnected
    first = synced(app, connected.sync_job.id)
    assert first.status is JobStatus.COMPLETED, first.error_message
    assert first.result["added"] == len(fake.dataset())
    account = app.accounts.owned(connected.account.id, OWNER)
    cursor = account.cursor
    assert cursor

    revoke(fakes, provider)
    failed = synced(app, app.accounts.sync(account.id, owner_id=OWNER).id)
    assert failed.error_code == "reauthorization_required"
    paused = app.accounts.owned(account.id, OWNER)
    assert paused.state is AccountState.REAUTH_REQUIRED
    [note] = app.insights.notifications(OWNER)
    url = f"https://app.test/connect/{provider}?account_id={account.id}&from=email"
    assert note.kind == "reauth_required"
    assert note.data == {"account_id": account.id, "provider": provider, "reconnect_url": url}
    assert url in note.body

    # The owner follows the link: the host begins a reconnect of that account.
    fake.reset_counters()
    again = through_consent(app, provider, account_id=account.id)
    assert again.reconnected and again.account.id == account.id
    assert fake.calls["authorize"] == 1
    back = app.accounts.owned(account.id, OWNER)
    assert back.state is AccountState.ACTIVE and back.error_code is None
    assert back.cursor == cursor
    assert [a.id for a in app.accounts.list(OWNER)] == [account.id]

    resumed = synced(app, again.sync_job.id)
    assert resumed.status is JobStatus.COMPLETED, resumed.error_message
    assert resumed.result["full"] is False and resumed.result["added"] == 0
    assert resumed.result["api_calls"] <= 2  # incremental: one page of what changed
    assert len(sql_repo.list_items(account.id, limit=100_000)) == len(fake.dataset())


def test_without_a_reconnect_url_the_notification_says_to_connect_again(
    make_app: AppFactory, sqlite_repo: SQLAlchemyRepository, served: tuple[CombinedFakes, str]
) -> None:
    fakes, _ = served
    app = build(make_app, sqlite_repo, served)
    connected = through_consent(app, "tiktok")
    synced(app, connected.sync_job.id)
    revoke(fakes, "tiktok")
    synced(app, app.accounts.sync(connected.account.id, owner_id=OWNER).id)
    [note] = app.insights.notifications(OWNER)
    assert note.data == {
        "account_id": connected.account.id,
        "provider": "tiktok",
        "reconnect_url": None,
    }
    assert "connect your TikTok account again" in note.body


def test_the_reconnect_url_quotes_what_it_fills_in() -> None:
    template = "https://app.test/c/{provider}?account_id={account_id}"
    assert reconnect_url(template, "my provider", "a/b&c") == (
        "https://app.test/c/my%20provider?account_id=a%2Fb%26c"
    )
    assert reconnect_url(None, "tiktok", "x") is None
    assert reconnect_url("", "tiktok", "x") is None

"""sync_account end to end: the job, the adapters, the fakes, and the repository."""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syncjobs import AccountNotFoundError, AccountState, JobStatus, SyncJobs
from syncjobs.connections.credentials import InMemoryCredentialStore, TokenCipher, generate_key
from syncjobs.connections.store import AccountRepository
from syncjobs.storage import InMemoryRepository
from syncjobs.testing.fakes import CombinedFakes, FakeGmail

from ..conftest import AppFactory, run_until_idle
from .test_providers_support import published

ROOT = "http://fakes.test"
PROVIDERS = ["youtube", "gmail", "instagram", "tiktok"]
LIST_CALLS = {
    "playlistItems.list",
    "messages.list",
    "history.list",
    "media",
    "video.list",
    "channels.list",
    "profile",
    "me",
}


@pytest.fixture
def fakes() -> CombinedFakes:
    return CombinedFakes(items_per_provider=120, seed=7)


@pytest.fixture
def credentials() -> InMemoryCredentialStore:
    return InMemoryCredentialStore(TokenCipher(generate_key()))


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def repo(request: pytest.FixtureRequest) -> AccountRepository:
    if request.param == "memory":
        return InMemoryRepository()
    name = "pg_repo" if request.param == "postgres" else "sqlite_repo"
    found: AccountRepository = request.getfixturevalue(name)
    return found


@pytest.fixture
def app(
    make_app: AppFactory, repo: Any, fakes: CombinedFakes, credentials: InMemoryCredentialStore
) -> SyncJobs:
    configs = {name: dataclasses.asdict(fakes.config(name, ROOT)) for name in PROVIDERS}
    return make_app(repo, credentials=credentials, transport=fakes.transport(), **configs)


def items_of(app: SyncJobs, account_id: str) -> set[str]:
    assert app.deps.accounts is not None
    return {i.external_id for i in app.deps.accounts.list_items(account_id, limit=100_000)}


def sync(app: SyncJobs, account_id: str, **kw: Any) -> Any:
    job = app.accounts.sync(account_id, owner_id="u1", **kw)
    run_until_idle(app)
    return app.status(job.id, owner_id="u1")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_first_sync_stores_exactly_the_providers_items_and_a_resync_costs_the_stated_calls(
    app: SyncJobs, fakes: CombinedFakes, provider: str
) -> None:
    fake = fakes[provider]
    account = app.accounts.connect("u1", provider, fake.issue_tokens())
    first = sync(app, account.id)
    assert first.status is JobStatus.COMPLETED, first.error_message
    assert first.result["added"] == len(fake.dataset()) == 120
    assert first.result["full"] is True and first.result["queued_for_analysis"] == 120
    assert items_of(app, account.id) == set(fake.dataset())
    assert first.progress_percent == 100.0
    fake.reset_counters()
    again = sync(app, account.id)
    assert again.status is JobStatus.COMPLETED
    assert (again.result["added"], again.result["updated"], again.result["deleted"]) == (0, 0, 0)
    # One list call; YouTube also refreshes the statistics of its recent videos (50 a call).
    refresh = 0
    if provider == "youtube":
        since = datetime.now(UTC) - timedelta(days=30)
        recent = sum(1 for raw in fake.dataset().values() if published(provider, raw) >= since)
        refresh = math.ceil(min(recent, 200) / 50)
        assert fake.calls["videos.list"] == refresh
    assert sum(n for name, n in fake.calls.items() if name != "token") <= 1 + refresh, fake.calls
    assert again.result["api_calls"] == fake.requests


@pytest.mark.parametrize("provider", PROVIDERS)
def test_added_and_deleted_items_are_picked_up_incrementally(
    app: SyncJobs, fakes: CombinedFakes, provider: str
) -> None:
    fake = fakes[provider]
    account = app.accounts.connect("u1", provider, fake.issue_tokens())
    sync(app, account.id)
    added = fake.add_items(3)
    newest_old = sorted(set(fake.dataset()) - set(added))
    fake.delete_items([added[0]])
    done = sync(app, account.id)
    assert done.status is JobStatus.COMPLETED, done.error_message
    assert done.result["added"] == 2
    assert items_of(app, account.id) == set(fake.dataset())
    assert set(newest_old) <= items_of(app, account.id)


def test_a_cancelled_sync_resumes_from_its_last_page_without_refetching(
    app: SyncJobs, make_app: AppFactory
) -> None:
    # Four listings of 500 (Gmail stores one page per listing): cancelled after the first.
    fakes = CombinedFakes(items_per_provider=1600, seed=3)
    gmail = fakes.gmail
    gmail.latency = 0.05  # slow enough to cancel between pages
    configs = {"gmail": dataclasses.asdict(fakes.config("gmail", ROOT))}
    app = make_app(app.repository, transport=fakes.transport(), **configs)
    account = app.accounts.connect("u1", "gmail", gmail.issue_tokens())
    job = app.accounts.sync(account.id, owner_id="u1")
    with app.worker(threads=1):
        for snapshot in app.watch(job.id, owner_id="u1", timeout=60):
            if (snapshot.progress_done or 0) >= 500 and not snapshot.cancel_requested:
                app.cancel(job.id, owner_id="u1")
    assert app.status(job.id, owner_id="u1").status is JobStatus.CANCELLED
    partial = items_of(app, account.id)
    assert 0 < len(partial) < 1600
    done = sync(app, account.id)
    assert done.status is JobStatus.COMPLETED, done.error_message
    assert items_of(app, account.id) == set(gmail.dataset())
    assert gmail.calls["messages.get"] == 1600  # every message fetched exactly once in all


@pytest.mark.parametrize("provider", ["youtube", "gmail", "tiktok"])
def test_a_revoked_connection_pauses_the_account_and_tells_its_owner(
    app: SyncJobs, fakes: CombinedFakes, provider: str
) -> None:
    fake = fakes[provider]
    account = app.accounts.connect("u1", provider, fake.issue_tokens())
    fake.inject("unauthorized")
    fake.inject("invalid_grant")
    failed = sync(app, account.id)
    assert failed.status is JobStatus.FAILED
    assert failed.error_code == "reauthorization_required" and failed.attempts == 1
    [acc] = app.accounts.list("u1")
    assert acc.state is AccountState.REAUTH_REQUIRED
    [note] = app.insights.notifications("u1")
    label = {"youtube": "YouTube", "gmail": "Gmail", "tiktok": "TikTok"}[provider]
    assert note.title == f"{label} connection expired" and note.data["account_id"] == account.id
    again = sync(app, account.id)  # a paused account is not synced, nor notified twice
    assert again.status is JobStatus.FAILED and len(app.insights.notifications("u1")) == 1
    reconnected = app.accounts.connect(
        "u1", provider, fake.issue_tokens(), external_id=acc.external_id
    )
    assert reconnected.state is AccountState.ACTIVE


def test_an_expired_instagram_token_needs_reauthorization(
    app: SyncJobs, fakes: CombinedFakes
) -> None:
    tokens = fakes.instagram.issue_tokens(expires_in=60, age=3600)
    account = app.accounts.connect("u1", "instagram", tokens)
    failed = sync(app, account.id)
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "reauthorization_required")
    assert app.accounts.list("u1")[0].state is AccountState.REAUTH_REQUIRED


def test_a_401_refreshes_the_token_and_the_sync_goes_on(
    app: SyncJobs, fakes: CombinedFakes, credentials: InMemoryCredentialStore
) -> None:
    tokens = fakes.tiktok.issue_tokens()
    account = app.accounts.connect("u1", "tiktok", tokens)
    fakes.tiktok.inject("unauthorized")
    done = sync(app, account.id)
    assert done.status is JobStatus.COMPLETED and fakes.tiktok.refreshes == 1
    stored = credentials.load_tokens(account.id)
    assert stored is not None and stored.refresh_token != tokens.refresh_token  # rotated, kept
    assert items_of(app, account.id) == set(fakes.tiktok.dataset())


def test_rate_limits_are_waited_out_without_spending_retries(
    app: SyncJobs, fakes: CombinedFakes
) -> None:
    account = app.accounts.connect("u1", "tiktok", fakes.tiktok.issue_tokens())
    fakes.tiktok.inject("rate_limit", count=2, retry_after=0.2)
    done = sync(app, account.id)
    assert done.status is JobStatus.COMPLETED and done.retry_count == 0
    assert items_of(app, account.id) == set(fakes.tiktok.dataset())
    waits = [ln.message for ln in app.log(done.id, owner_id="u1") if "wait" in ln.message]
    assert len(waits) == 2 and all("rate_limited" in w for w in waits)


def test_exhausted_youtube_quota_parks_the_sync_until_midnight_pacific(
    app: SyncJobs, fakes: CombinedFakes
) -> None:
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    account = app.accounts.connect("u1", "youtube", fakes.youtube.issue_tokens())
    fakes.youtube.inject("quota_exceeded")
    job = app.accounts.sync(account.id, owner_id="u1")
    with app.worker(threads=1):
        parked = next(
            j
            for j in app.watch(job.id, owner_id="u1", timeout=30)
            if j.error_code == "rate_limited"
        )
    pacific = datetime.now(ZoneInfo("America/Los_Angeles"))
    midnight = (pacific + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert parked.status is JobStatus.PENDING and parked.retry_count == 0
    assert parked.scheduled_for is not None
    assert abs((parked.scheduled_for - midnight).total_seconds()) < 120
    app.cancel(job.id, owner_id="u1")


def test_server_errors_are_retried_and_malformed_payloads_fail_keeping_stored_data(
    app: SyncJobs, fakes: CombinedFakes
) -> None:
    account = app.accounts.connect("u1", "instagram", fakes.instagram.issue_tokens())
    fakes.instagram.inject("server_error", count=2)
    ok = sync(app, account.id)
    assert ok.status is JobStatus.COMPLETED and ok.retry_count == 2
    before = items_of(app, account.id)
    fakes.instagram.add_items(2)
    fakes.instagram.inject("malformed", count=10)
    bad = sync(app, account.id)
    assert (bad.status, bad.error_code) == (JobStatus.FAILED, "unexpected_response")
    assert items_of(app, account.id) == before
    assert [d.job_id for d in app.dead_letters(owner_id="u1")] == [bad.id]


def test_sync_requests_coalesce_while_one_waits(app: SyncJobs, fakes: CombinedFakes) -> None:
    account = app.accounts.connect("u1", "gmail", fakes.gmail.issue_tokens())
    first = app.accounts.sync(account.id, owner_id="u1")
    assert app.accounts.sync(account.id, owner_id="u1").id == first.id
    run_until_idle(app)
    second = app.accounts.sync(account.id, owner_id="u1")
    assert second.id != first.id and second.status is JobStatus.PENDING


def test_sync_due_accounts_fans_out_to_every_due_account(
    app: SyncJobs, fakes: CombinedFakes
) -> None:
    for name in ("youtube", "gmail", "tiktok"):
        app.accounts.connect("u1", name, fakes[name].issue_tokens())
    fan = app.submit("sync_due_accounts", owner_id="system", params={})
    run_until_idle(app)
    assert app.status(fan.id, owner_id="system").result == {"due": 3, "submitted": 3}
    syncs = app.jobs("u1", job_type="sync_account")
    assert len(syncs) == 3 and {j.status for j in syncs} == {JobStatus.COMPLETED}
    again = app.submit("sync_due_accounts", owner_id="system", params={})
    run_until_idle(app)
    assert app.status(again.id, owner_id="system").result == {"due": 0, "submitted": 0}


def test_accounts_are_private_to_their_owner_and_disconnect_removes_everything(
    app: SyncJobs, fakes: CombinedFakes, credentials: InMemoryCredentialStore
) -> None:
    account = app.accounts.connect("u1", "youtube", fakes.youtube.issue_tokens())
    sync(app, account.id)
    with pytest.raises(AccountNotFoundError):
        app.accounts.sync(account.id, owner_id="u2")
    with pytest.raises(AccountNotFoundError):
        app.accounts.disconnect(account.id, owner_id="u2")
    assert app.accounts.list("u2") == []
    app.accounts.disconnect(account.id, owner_id="u1")
    assert app.accounts.list("u1") == [] and items_of(app, account.id) == set()
    assert credentials.load_tokens(account.id) is None


def test_tokens_never_appear_in_params_results_errors_logs_or_dead_letters(
    app: SyncJobs,
    fakes: CombinedFakes,
    credentials: InMemoryCredentialStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: set[str] = set()
    for name in PROVIDERS:
        tokens = fakes[name].issue_tokens()
        secrets |= {tokens.access_token, tokens.refresh_token or tokens.access_token}
        account = app.accounts.connect("u1", name, tokens)
        fakes[name].inject("unauthorized")
        sync(app, account.id)
        refreshed = credentials.load_tokens(account.id)
        assert refreshed is not None
        secrets |= {refreshed.access_token, refreshed.refresh_token or refreshed.access_token}
    fakes.gmail.inject("unauthorized")
    fakes.gmail.inject("invalid_grant")
    sync(app, app.accounts.list("u1")[1].id)
    seen = [
        caplog.text,
        repr(app.accounts.list("u1")),
        repr(app.insights.notifications("u1")),
        repr(app.dead_letters()),
        *(repr(s) for s in credentials.sealed.values()),
    ]
    for job in app.jobs("u1", limit=100):
        seen += [repr(job), repr(app.log(job.id, owner_id="u1", limit=1000))]
    blob = "\n".join(seen)
    assert "reauthorization_required" in blob  # the scan does see the failures
    leaked = [s for s in secrets if s and s in blob]
    assert leaked == []


def test_a_follow_up_sync_waits_for_the_running_one(app: SyncJobs, fakes: CombinedFakes) -> None:
    # Three listings of 500 (one stored page each): the second sync is queued mid-run.
    fakes.gmail = fakes.fakes["gmail"] = FakeGmail(items=1200, seed=7)
    fakes.gmail.latency = 0.02
    account = app.accounts.connect("u1", "gmail", fakes.gmail.issue_tokens())
    first = app.accounts.sync(account.id, owner_id="u1")
    with app.worker(threads=2):
        next(
            j for j in app.watch(first.id, owner_id="u1", timeout=30) if (j.progress_done or 0) > 0
        )  # running, and recorded on the account
        assert app.accounts.list("u1")[0].last_sync_job_id == first.id
        second = app.accounts.sync(account.id, owner_id="u1")  # queued while one runs
        assert second.id != first.id
        list(app.watch(second.id, owner_id="u1", timeout=60))
    a, b = app.status(first.id, owner_id="u1"), app.status(second.id, owner_id="u1")
    assert a.status is b.status is JobStatus.COMPLETED
    # Never two syncs of one account at once: the second one synced from the cursor the
    # first one left (nothing new, incremental), not beside it. Its claim may precede the
    # first one's completion record by a few ms (it then reads the first one finished), so
    # the claim time is not compared with completed_at.
    assert a.result is not None and b.result is not None
    assert a.result["added"] == 1200 and a.result["full"] is True
    assert (b.result["added"], b.result["full"]) == (0, False)
    assert items_of(app, account.id) == set(fakes.gmail.dataset())


def test_a_sync_of_a_disconnected_account_fails_at_once(
    app: SyncJobs, fakes: CombinedFakes
) -> None:
    account = app.accounts.connect("u1", "youtube", fakes.youtube.issue_tokens())
    job = app.accounts.sync(account.id, owner_id="u1")
    app.accounts.disconnect(account.id, owner_id="u1")
    run_until_idle(app)
    failed = app.status(job.id, owner_id="u1")
    assert (failed.status, failed.error_code, failed.attempts) == (
        JobStatus.FAILED,
        "account_not_found",
        1,
    )


@pytest.mark.parametrize("provider", ["youtube", "instagram", "tiktok"])
def test_a_resync_stores_the_grown_counts_of_recent_items_as_updates(
    app: SyncJobs, fakes: CombinedFakes, provider: str
) -> None:
    fake = fakes[provider]
    frozen = float(int(time.time()))
    fake.clock = lambda: frozen  # TikTok's signed cover URLs stay the same
    fake.add_items(5)  # posted just now: inside the 30-day statistics window
    account = app.accounts.connect("u1", provider, fake.issue_tokens())
    assert sync(app, account.id).status is JobStatus.COMPLETED
    changes: list[Any] = []
    app.accounts.items_hooks.append(changes.append)
    newest = sorted(fake.dataset(), key=lambda i: published(provider, fake.dataset()[i]))[-5:]
    grown = fake.change_items(newest[:3], counts_only=True)
    again = sync(app, account.id)
    assert again.status is JobStatus.COMPLETED, again.error_message
    assert (again.result["added"], again.result["updated"], again.result["deleted"]) == (0, 3, 0)
    assert sum(c.updated for c in changes) == 3 and all(c.added == 0 for c in changes)
    assert app.deps.accounts is not None
    stored = {i.external_id: i for i in app.deps.accounts.list_items(account.id, limit=1000)}
    metric = "likes" if provider == "instagram" else "views"
    for item_id in grown:
        raw = fake.dataset()[item_id]
        assert stored[item_id].raw == raw
        count = raw["statistics"]["viewCount"] if provider == "youtube" else None
        expected = int(count) if count else raw["like_count" if metric == "likes" else "view_count"]
        assert stored[item_id].metrics[metric] == expected

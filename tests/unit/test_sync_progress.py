"""A sync's progress: done of the provider's total, an ETA, below 100 % until it completes.

The fakes give the totals where the real APIs do (YouTube ``pageInfo.totalResults``, Gmail
``messagesTotal`` of the profile, Instagram ``media_count`` of the user); TikTok gives none,
so a TikTok sync's progress is indeterminate: no percent, no ETA.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

import pytest

from syncjobs import JobStatus, SyncJobs
from syncjobs.connections.credentials import InMemoryCredentialStore, TokenCipher, generate_key
from syncjobs.core.context import JobContext
from syncjobs.storage import InMemoryRepository
from syncjobs.testing.fakes import CombinedFakes, FakeGmail

from ..conftest import AppFactory, run_until_idle

ROOT = "http://fakes.test"
ITEMS = 230  # several pages of every provider: 50 a page (TikTok: 20)
GMAIL_ITEMS = 2100  # Gmail stores one page per listing of 500: five pages


class RecordingRepository(InMemoryRepository):
    """The in-memory repository, keeping the job as each progress write left it."""

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[dict[str, Any]] = []

    def update_progress(
        self,
        job_id: str,
        *,
        done: int,
        total: int | None,
        percent: float,
        message: str | None,
        now: datetime,
    ) -> bool:
        cancel = super().update_progress(
            job_id, done=done, total=total, percent=percent, message=message, now=now
        )
        job = self.get_job(job_id)
        assert job is not None
        self.updates.append(job.to_dict(now))
        return cancel


@pytest.fixture
def fakes() -> CombinedFakes:
    fakes = CombinedFakes(items_per_provider=ITEMS, seed=11)
    fakes.gmail = fakes.fakes["gmail"] = FakeGmail(items=GMAIL_ITEMS, seed=11)
    return fakes


@pytest.fixture
def repo() -> RecordingRepository:
    return RecordingRepository()


@pytest.fixture
def app(make_app: AppFactory, repo: RecordingRepository, fakes: CombinedFakes) -> SyncJobs:
    configs = {
        name: dataclasses.asdict(fakes.config(name, ROOT))
        for name in ("youtube", "gmail", "instagram", "tiktok")
    }
    return make_app(
        repo,
        credentials=InMemoryCredentialStore(TokenCipher(generate_key())),
        transport=fakes.transport(),
        **configs,
    )


def synced(app: SyncJobs, fakes: CombinedFakes, provider: str, **kw: Any) -> Any:
    account = app.accounts.connect("u1", provider, fakes[provider].issue_tokens())
    job = app.accounts.sync(account.id, owner_id="u1", **kw)
    run_until_idle(app)
    return account, app.status(job.id, owner_id="u1")


@pytest.mark.parametrize("provider", ["youtube", "gmail", "instagram"])
def test_a_full_sync_shows_done_of_the_providers_total_and_an_eta(
    app: SyncJobs, repo: RecordingRepository, fakes: CombinedFakes, provider: str
) -> None:
    _, done = synced(app, fakes, provider)
    assert done.status is JobStatus.COMPLETED, done.error_message
    updates = repo.updates
    assert len(updates) >= 4, updates  # one per page
    assert {u["progress_total"] for u in updates} == {len(fakes[provider].dataset())}
    running = updates[:-1]
    assert all(u["progress_done"] < u["progress_total"] for u in running), running
    assert all(u["progress_percent"] < 100 for u in updates), updates
    assert [u["progress_done"] for u in updates] == sorted(u["progress_done"] for u in updates)
    # An ETA while it runs (its value follows the wall clock: a fast sync rounds it to 0.0).
    assert all(u["eta_seconds"] is not None for u in running), running
    assert (done.progress_percent, done.to_dict()["progress_percent"]) == (100.0, 100.0)


def test_a_tiktok_sync_has_indeterminate_progress(
    app: SyncJobs, repo: RecordingRepository, fakes: CombinedFakes
) -> None:
    _, done = synced(app, fakes, "tiktok")
    assert done.status is JobStatus.COMPLETED, done.error_message
    updates = repo.updates
    assert len(updates) >= 10, updates
    for update in updates:
        assert update["progress_total"] is None
        assert update["progress_percent"] is None and update["eta_seconds"] is None
    dones = [u["progress_done"] for u in updates]
    assert dones == sorted(dones) and dones[-1] == ITEMS
    assert done.to_dict()["progress_percent"] == 100.0


def test_an_incremental_sync_has_indeterminate_progress(
    app: SyncJobs, repo: RecordingRepository, fakes: CombinedFakes
) -> None:
    account, first = synced(app, fakes, "youtube")
    assert first.status is JobStatus.COMPLETED
    fakes["youtube"].add_items(3)
    repo.updates.clear()
    again = app.accounts.sync(account.id, owner_id="u1")
    run_until_idle(app)
    assert app.status(again.id, owner_id="u1").status is JobStatus.COMPLETED
    assert repo.updates and all(u["progress_total"] is None for u in repo.updates)
    assert all(u["progress_percent"] is None for u in repo.updates)


def test_done_past_an_estimate_stays_below_100_until_completion(
    make_app: AppFactory, repo: RecordingRepository
) -> None:
    app = make_app(repo)
    job = app.submit("syncjobs.count", owner_id="u1", params={"to": 1})
    claimed = repo.claim_job(job.id, worker_id="w", now=job.created_at, stale_before=None)
    assert claimed is not None
    ctx = JobContext(app, claimed)
    ctx.progress(9, 10)
    ctx.progress(12, 10)  # the provider's count was an estimate
    ctx.flush()
    percents = [u["progress_percent"] for u in repo.updates]
    assert percents == [90.0, 99.0]
    assert repo.updates[-1]["eta_seconds"] == 0.0

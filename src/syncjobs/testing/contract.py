"""The repository contracts: the behaviour every ``JobRepository``, ``AccountRepository``,
``UpkeepRepository`` and ``InsightsRepository`` must show.

A host app that stores jobs its own way runs this suite against its implementation::

    from syncjobs.testing.contract import JobRepositoryContract

    class TestMyRepository(JobRepositoryContract):
        @pytest.fixture
        def repository(self):
            return MyRepository(...)

``AccountRepositoryContract`` is used the same way for accounts, items and notifications,
and ``InsightsRepositoryContract`` for the seed jobs' records (its repository must be an
``AccountRepository`` too). syncjobs runs them all against ``InMemoryRepository`` and
``SQLAlchemyRepository`` on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Protocol

import pytest

from ..errors import ConcurrencyLimitError
from ..models import (
    Account,
    AccountState,
    Analysis,
    BreakerState,
    ChannelStats,
    Decision,
    DigestFrequency,
    Job,
    JobStatus,
    NewJob,
    Notification,
    OwnerActivity,
    PageCounts,
    Preferences,
    QueuedItem,
    TrustScore,
    UsageEvent,
    UsagePeriod,
    UsageRecord,
    utcnow,
)
from ..protocols import AccountRepository, CredentialStore, InsightsRepository, JobRepository
from ..providers.types import Item, TokenSet

__all__ = [
    "AccountRepositoryContract",
    "InsightsRepositoryContract",
    "InsightsStore",
    "JobRepositoryContract",
    "UpkeepRepositoryContract",
    "new_job",
]


def new_job(owner_id: str = "owner-1", **overrides: Any) -> NewJob:
    """Build a NewJob with sensible defaults for tests."""
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "owner_id": owner_id,
        "job_type": "contract.job",
        "queue": "default",
        "priority": 5,
        "params": {"n": 1, "text": "héllo ✓"},
        "max_retries": 3,
        "created_at": utcnow(),
    }
    values.update(overrides)
    return NewJob(**values)


def _must(job: Job | None) -> Job:
    assert job is not None
    return job


class JobRepositoryContract:
    """Subclass me and provide a ``repository`` fixture returning a fresh, empty repository."""

    @pytest.fixture
    def repository(self) -> JobRepository:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def test_create_then_get_round_trips_every_field(self, repository: JobRepository) -> None:
        at = utcnow()
        new = new_job(
            scheduled_for=at + timedelta(seconds=30),
            expires_at=at + timedelta(hours=1),
            idempotency_key="k1",
            parent_id=str(uuid.uuid4()),
            created_at=at,
        )
        job, created = repository.create_job(new, active_limit=None)
        assert created
        got = _must(repository.get_job(new.id))
        assert got == job
        assert got.status is JobStatus.PENDING
        assert got.params == {"n": 1, "text": "héllo ✓"}
        assert got.owner_id == "owner-1" and got.job_type == "contract.job"
        assert got.idempotency_key == "k1" and got.parent_id == new.parent_id
        assert got.scheduled_for is not None and new.scheduled_for is not None
        assert abs((got.scheduled_for - new.scheduled_for).total_seconds()) < 0.001
        assert got.created_at.tzinfo is not None
        assert (got.attempts, got.retry_count, got.max_retries) == (0, 0, 3)

    def test_get_missing_job_is_none(self, repository: JobRepository) -> None:
        assert repository.get_job(str(uuid.uuid4())) is None

    def test_same_idempotency_key_returns_the_first_job(self, repository: JobRepository) -> None:
        first, created = repository.create_job(new_job(idempotency_key="same"), active_limit=5)
        again, created_again = repository.create_job(
            new_job(idempotency_key="same"), active_limit=5
        )
        assert created and not created_again
        assert again.id == first.id
        other, created_other = repository.create_job(
            new_job("owner-2", idempotency_key="same"), active_limit=5
        )
        assert created_other and other.id != first.id

    def test_active_limit_refuses_past_the_limit(self, repository: JobRepository) -> None:
        for _ in range(2):
            repository.create_job(new_job(), active_limit=2)
        with pytest.raises(ConcurrencyLimitError):
            repository.create_job(new_job(), active_limit=2)
        repository.create_job(new_job("owner-2"), active_limit=2)
        assert len(repository.list_jobs(owner_id="owner-1")) == 2

    def test_finished_jobs_do_not_count_towards_the_limit(self, repository: JobRepository) -> None:
        job, _ = repository.create_job(new_job(), active_limit=1)
        repository.claim_job(job.id, worker_id="w", now=utcnow())
        repository.finish_job(job.id, status=JobStatus.COMPLETED, now=utcnow(), result={"ok": 1})
        repository.create_job(new_job(), active_limit=1)

    def test_concurrent_creates_never_exceed_the_limit(self, repository: JobRepository) -> None:
        accepted: list[str] = []
        refused: list[str] = []
        barrier = threading.Barrier(10)

        def one() -> None:
            barrier.wait()
            try:
                job, _ = repository.create_job(new_job("busy"), active_limit=3)
                accepted.append(job.id)
            except ConcurrencyLimitError:
                refused.append("x")

        threads = [threading.Thread(target=one) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert (len(accepted), len(refused)) == (3, 7)

    def test_claim_marks_processing_and_counts_the_attempt(self, repository: JobRepository) -> None:
        job, _ = repository.create_job(new_job(), active_limit=None)
        now = utcnow()
        claimed = repository.claim_job(job.id, worker_id="host:1:2", now=now)
        assert claimed is not None
        assert claimed.status is JobStatus.PROCESSING
        assert claimed.attempts == 1 and claimed.worker_id == "host:1:2"
        assert claimed.started_at is not None
        # A live worker's job is not claimed again; a crashed (stale) worker's job is.
        assert repository.claim_job(job.id, worker_id="other", now=utcnow()) is None
        assert (
            repository.claim_job(
                job.id, worker_id="other", now=utcnow(), stale_before=now - timedelta(seconds=1)
            )
            is None
        )
        again = repository.claim_job(
            job.id, worker_id="other", now=utcnow(), stale_before=utcnow() + timedelta(seconds=1)
        )
        assert again is not None and again.attempts == 2 and again.worker_id == "other"

    def test_claim_refuses_finished_and_future_jobs(self, repository: JobRepository) -> None:
        later, _ = repository.create_job(
            new_job(scheduled_for=utcnow() + timedelta(minutes=5)), active_limit=None
        )
        assert repository.claim_job(later.id, worker_id="w", now=utcnow()) is None
        assert _must(repository.get_job(later.id)).status is JobStatus.PENDING
        done, _ = repository.create_job(new_job(), active_limit=None)
        repository.claim_job(done.id, worker_id="w", now=utcnow())
        repository.finish_job(done.id, status=JobStatus.COMPLETED, now=utcnow())
        assert repository.claim_job(done.id, worker_id="w", now=utcnow()) is None
        assert repository.claim_job(str(uuid.uuid4()), worker_id="w", now=utcnow()) is None

    def test_progress_is_recorded_and_returns_the_cancel_flag(
        self, repository: JobRepository
    ) -> None:
        job, _ = repository.create_job(new_job(), active_limit=None)
        repository.claim_job(job.id, worker_id="w", now=utcnow())
        flag = repository.update_progress(
            job.id, done=3, total=10, percent=30.0, message="3 of 10", now=utcnow()
        )
        assert flag is False
        got = _must(repository.get_job(job.id))
        assert (got.progress_done, got.progress_total, got.progress_percent) == (3, 10, 30.0)
        assert got.progress_message == "3 of 10"
        repository.cancel_job(job.id, now=utcnow())
        assert (
            repository.update_progress(
                job.id, done=4, total=10, percent=40.0, message=None, now=utcnow()
            )
            is True
        )
        assert repository.is_cancel_requested(job.id)

    def test_finish_records_result_and_dead_letter(self, repository: JobRepository) -> None:
        ok, _ = repository.create_job(new_job(), active_limit=None)
        repository.claim_job(ok.id, worker_id="w", now=utcnow())
        done = repository.finish_job(
            ok.id, status=JobStatus.COMPLETED, now=utcnow(), result={"items": [1, 2]}
        )
        assert done is not None and done.result == {"items": [1, 2]}
        assert done.progress_percent == 100.0 and done.completed_at is not None
        assert repository.finish_job(ok.id, status=JobStatus.FAILED, now=utcnow()) is None
        bad, _ = repository.create_job(new_job("owner-9"), active_limit=None)
        repository.claim_job(bad.id, worker_id="w", now=utcnow())
        failed = repository.finish_job(
            bad.id,
            status=JobStatus.FAILED,
            now=utcnow(),
            error_code="fatal",
            error_message="boom",
            dead_letter=True,
        )
        assert failed is not None and failed.error_code == "fatal"
        letters = repository.list_dead_letters(owner_id="owner-9")
        assert [(d.job_id, d.error_code, d.params, d.attempts) for d in letters] == [
            (bad.id, "fatal", bad.params, 1)
        ]

    def test_reschedule_counts_retries_or_gives_the_attempt_back(
        self, repository: JobRepository
    ) -> None:
        job, _ = repository.create_job(new_job(), active_limit=None)
        repository.claim_job(job.id, worker_id="w", now=utcnow())
        run_at = utcnow() + timedelta(seconds=5)
        again = repository.reschedule_job(
            job.id,
            run_at=run_at,
            now=utcnow(),
            error_code="provider_unavailable",
            error_message="503",
            count_retry=True,
        )
        assert again is not None and again.status is JobStatus.PENDING
        assert (again.retry_count, again.attempts) == (1, 1)
        assert again.error_code == "provider_unavailable"
        repository.claim_job(job.id, worker_id="w", now=run_at + timedelta(seconds=1))
        waited = repository.reschedule_job(
            job.id,
            run_at=run_at,
            now=utcnow(),
            error_code="rate_limited",
            error_message="429",
            count_retry=False,
        )
        assert waited is not None and (waited.retry_count, waited.attempts) == (1, 1)

    def test_cancel_pending_is_final_and_processing_is_flagged(
        self, repository: JobRepository
    ) -> None:
        pending, _ = repository.create_job(new_job(), active_limit=None)
        cancelled = repository.cancel_job(pending.id, now=utcnow())
        assert cancelled is not None and cancelled.status is JobStatus.CANCELLED
        assert repository.claim_job(pending.id, worker_id="w", now=utcnow()) is None
        running, _ = repository.create_job(new_job(), active_limit=None)
        repository.claim_job(running.id, worker_id="w", now=utcnow())
        flagged = repository.cancel_job(running.id, now=utcnow())
        assert flagged is not None and flagged.status is JobStatus.PROCESSING
        assert flagged.cancel_requested
        assert repository.cancel_job(str(uuid.uuid4()), now=utcnow()) is None

    def test_reset_puts_failed_jobs_back_to_pending(self, repository: JobRepository) -> None:
        job, _ = repository.create_job(new_job(), active_limit=None)
        repository.claim_job(job.id, worker_id="w", now=utcnow())
        repository.finish_job(job.id, status=JobStatus.FAILED, now=utcnow(), error_code="x")
        reset = repository.reset_job(job.id, now=utcnow(), active_limit=5)
        assert reset is not None and reset.status is JobStatus.PENDING
        assert (reset.attempts, reset.error_code, reset.completed_at) == (0, None, None)
        assert repository.reset_job(job.id, now=utcnow(), active_limit=5) is None

    def test_checkpoint_round_trips(self, repository: JobRepository) -> None:
        job, _ = repository.create_job(new_job(), active_limit=None)
        repository.claim_job(job.id, worker_id="w", now=utcnow())
        repository.save_checkpoint(job.id, {"page": "tok-3", "seen": [1, 2]}, now=utcnow())
        assert _must(repository.get_job(job.id)).checkpoint == {"page": "tok-3", "seen": [1, 2]}

    def test_list_filters_and_orders_newest_first(self, repository: JobRepository) -> None:
        base = utcnow()
        ids = []
        for i in range(3):
            job, _ = repository.create_job(
                new_job(created_at=base + timedelta(seconds=i), job_type=f"t{i % 2}"),
                active_limit=None,
            )
            ids.append(job.id)
        repository.create_job(new_job("someone-else"), active_limit=None)
        assert [j.id for j in repository.list_jobs(owner_id="owner-1")] == ids[::-1]
        assert [j.id for j in repository.list_jobs(owner_id="owner-1", job_type="t0")] == [
            ids[2],
            ids[0],
        ]
        assert repository.list_jobs(owner_id="owner-1", status=JobStatus.COMPLETED) == []
        assert [j.id for j in repository.list_jobs(owner_id="owner-1", limit=1, offset=1)] == [
            ids[1]
        ]

    def test_log_lines_come_back_in_order(self, repository: JobRepository) -> None:
        job, _ = repository.create_job(new_job(), active_limit=None)
        for i in range(5):
            repository.append_log(job.id, "info", f"line {i}", now=utcnow())
        lines = repository.get_log(job.id)
        assert [ln.message for ln in lines] == [f"line {i}" for i in range(5)]
        after = repository.get_log(job.id, after_id=lines[1].id, limit=2)
        assert [ln.message for ln in after] == ["line 2", "line 3"]

    def test_subscription_wakes_on_a_change(self, repository: JobRepository) -> None:
        job, _ = repository.create_job(new_job(), active_limit=None)
        sub = repository.subscribe(job.id)
        try:
            timer = threading.Timer(
                0.2, lambda: repository.claim_job(job.id, worker_id="w", now=utcnow())
            )
            timer.start()
            deadline = utcnow() + timedelta(seconds=10)
            while _must(repository.get_job(job.id)).status is JobStatus.PENDING:
                assert utcnow() < deadline
                sub.wait(1.0)
            timer.join()
        finally:
            sub.close()
        assert _must(repository.get_job(job.id)).status is JobStatus.PROCESSING


# -- accounts, items, notifications -------------------------------------------------------

#: Fixed, aware instants: T0 plus whole minutes.
T0 = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
_CEST = timezone(timedelta(hours=2))


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def video(external_id: str, **overrides: Any) -> Item:
    """A realistic synced item (unicode text, non-UTC publish time, metrics, raw JSON)."""
    values: dict[str, Any] = {
        "external_id": external_id,
        "kind": "video",
        "title": f"Café ☕ in 東京 — {external_id}",
        "text": 'Zoë\'s vlog: ümlauts, emoji 🎥 and "quotes"',
        "author": "Zoë Ångström",
        "published_at": datetime(2024, 3, 9, 18, 30, 15, 250000, tzinfo=_CEST),
        "metrics": {"views": 1200, "likes": 87, "comments": 4},
        "raw": {"snippet": {"tags": ["café", "東京"], "live": False}, "etag": 'W/"x1"'},
    }
    values.update(overrides)
    return Item(**values)


def _account(
    repo: AccountRepository,
    external_id: str | None = "UC-1",
    *,
    owner_id: str = "owner-1",
    provider: str = "youtube",
    minutes: float = 0,
) -> Account:
    return repo.create_account(
        owner_id=owner_id,
        provider=provider,
        external_id=external_id,
        display_name="Zoë's channel ✓",
        sync_interval=900,
        now=_at(minutes),
    )


def _ids(repo: AccountRepository, account_id: str, **kwargs: Any) -> list[str]:
    return [it.external_id for it in repo.list_items(account_id, **kwargs)]


def _got(repo: AccountRepository, account_id: str) -> Account:
    acc = repo.get_account(account_id)
    assert acc is not None
    return acc


class AccountRepositoryContract:
    """Subclass me and provide a ``repository`` fixture returning a fresh, empty repository.

    Not pinned here (the protocol cannot produce it): accounts whose ``next_sync_at`` is
    NULL come first in ``due_accounts``.
    """

    @pytest.fixture
    def repository(self) -> AccountRepository:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    # -- accounts ---------------------------------------------------------------------------
    def test_create_then_get_round_trips(self, repository: AccountRepository) -> None:
        acc = _account(repository)
        got = _got(repository, acc.id)
        assert got == acc
        assert (got.owner_id, got.provider, got.external_id) == ("owner-1", "youtube", "UC-1")
        assert got.display_name == "Zoë's channel ✓" and got.sync_interval == 900
        assert got.state is AccountState.ACTIVE
        assert (got.created_at, got.updated_at, got.next_sync_at) == (T0, T0, T0)
        assert got.created_at.tzinfo is not None
        assert (got.cursor, got.last_synced_at, got.last_sync_job_id) == (None, None, None)
        assert (got.error_code, got.error_message) == (None, None)
        assert repository.get_account(str(uuid.uuid4())) is None

    def test_list_accounts_oldest_first_by_owner(self, repository: AccountRepository) -> None:
        late = _account(repository, "late", minutes=5)
        early = _account(repository, "early", minutes=1)
        other = _account(repository, "theirs", owner_id="owner-2", minutes=3)
        assert [a.id for a in repository.list_accounts(owner_id="owner-1")] == [early.id, late.id]
        assert [a.id for a in repository.list_accounts()] == [early.id, other.id, late.id]
        assert repository.list_accounts(owner_id="nobody") == []

    def test_same_external_id_reactivates_the_account(self, repository: AccountRepository) -> None:
        acc = _account(repository)
        repository.set_account_state(
            acc.id,
            AccountState.REAUTH_REQUIRED,
            now=_at(1),
            error_code="reauth_required",
            error_message="token revoked",
        )
        repository.save_page(acc.id, items=[], deleted_ids=[], cursor={"t": "p2"}, now=_at(2))
        again = repository.create_account(
            owner_id="owner-1",
            provider="youtube",
            external_id="UC-1",
            display_name=None,
            sync_interval=600,
            now=_at(3),
        )
        assert again.id == acc.id and again == _got(repository, acc.id)
        assert again.state is AccountState.ACTIVE
        assert (again.error_code, again.error_message) == (None, None)
        assert again.display_name == "Zoë's channel ✓" and again.sync_interval == 600
        assert (again.created_at, again.updated_at, again.cursor) == (T0, _at(3), {"t": "p2"})
        renamed = repository.create_account(
            owner_id="owner-1",
            provider="youtube",
            external_id="UC-1",
            display_name="Neu",
            sync_interval=600,
            now=_at(4),
        )
        assert renamed.id == acc.id and renamed.display_name == "Neu"
        others = {
            _account(repository, owner_id="owner-2").id,
            _account(repository, provider="tiktok").id,
            _account(repository, None).id,
            _account(repository, None).id,
        }
        assert len(others) == 4 and acc.id not in others
        assert len(repository.list_accounts()) == 5

    def test_delete_removes_items_and_credentials(self, repository: AccountRepository) -> None:
        acc, keep = _account(repository, "a"), _account(repository, "b")
        for account in (acc, keep):
            repository.save_page(
                account.id,
                items=[video("v01"), video("v02")],
                deleted_ids=["v02"],
                cursor={},
                now=T0,
            )
        store = repository if isinstance(repository, CredentialStore) else None
        if store is not None:
            store.save_tokens(acc.id, TokenSet(access_token="at-1", refresh_token="rt-1"))
            store.save_tokens(keep.id, TokenSet(access_token="at-2"))
        assert repository.delete_account(acc.id) is True
        assert repository.get_account(acc.id) is None
        assert repository.list_items(acc.id, include_deleted=True) == []
        assert repository.known_items(acc.id, ["v01"], now=_at(1)) == set()
        assert repository.delete_account(acc.id) is False
        assert _ids(repository, keep.id, include_deleted=True) == ["v01", "v02"]
        assert [a.id for a in repository.list_accounts()] == [keep.id]
        if store is not None:
            assert store.load_tokens(acc.id) is None
            kept = store.load_tokens(keep.id)
            assert kept is not None and kept.access_token == "at-2"

    def test_set_account_state_records_and_clears_errors(
        self, repository: AccountRepository
    ) -> None:
        acc = _account(repository)
        paused = repository.set_account_state(
            acc.id,
            AccountState.REAUTH_REQUIRED,
            now=_at(1),
            error_code="reauth_required",
            error_message="refresh token revoked — reconnect ✋",
        )
        assert paused is not None and paused == _got(repository, acc.id)
        assert paused.state is AccountState.REAUTH_REQUIRED and paused.updated_at == _at(1)
        assert (paused.error_code, paused.error_message) == (
            "reauth_required",
            "refresh token revoked — reconnect ✋",
        )
        active = repository.set_account_state(acc.id, AccountState.ACTIVE, now=_at(2))
        assert active is not None and active.state is AccountState.ACTIVE
        assert (active.error_code, active.error_message) == (None, None)
        disabled = repository.set_account_state(acc.id, AccountState.DISABLED, now=_at(3))
        assert disabled is not None and disabled.state is AccountState.DISABLED
        assert _got(repository, acc.id).state is AccountState.DISABLED
        assert (
            repository.set_account_state(str(uuid.uuid4()), AccountState.DISABLED, now=_at(4))
            is None
        )

    def test_start_sync_records_the_job(self, repository: AccountRepository) -> None:
        acc = _account(repository)
        job_id = str(uuid.uuid4())
        started = repository.start_sync(acc.id, job_id=job_id, now=_at(1))
        assert started is not None and started == _got(repository, acc.id)
        assert (started.last_sync_job_id, started.updated_at) == (job_id, _at(1))
        assert started.state is AccountState.ACTIVE and started.last_synced_at is None
        assert repository.start_sync(str(uuid.uuid4()), job_id=job_id, now=_at(1)) is None

    # -- items ------------------------------------------------------------------------------
    def test_save_page_stores_every_field(self, repository: AccountRepository) -> None:
        acc = _account(repository)
        counts = repository.save_page(
            acc.id,
            items=[
                video("v01"),
                video(
                    "v02",
                    kind="short",
                    title=None,
                    text=None,
                    author=None,
                    published_at=None,
                    metrics={},
                    raw={},
                ),
            ],
            deleted_ids=[],
            cursor={},
            now=_at(1),
        )
        assert counts == PageCounts(added=2)
        first, second = repository.list_items(acc.id)
        assert (first.account_id, first.external_id, first.kind) == (acc.id, "v01", "video")
        assert first.title == "Café ☕ in 東京 — v01" and first.author == "Zoë Ångström"
        assert first.text == 'Zoë\'s vlog: ümlauts, emoji 🎥 and "quotes"'
        assert first.published_at == datetime(2024, 3, 9, 16, 30, 15, 250000, tzinfo=UTC)
        assert first.published_at is not None and first.published_at.tzinfo is not None
        assert first.metrics == {"views": 1200, "likes": 87, "comments": 4}
        assert first.raw == {"snippet": {"tags": ["café", "東京"], "live": False}, "etag": 'W/"x1"'}
        assert (first.first_seen_at, first.last_modified_at, first.deleted_at) == (
            _at(1),
            _at(1),
            None,
        )
        assert first.analysis_state == "queued" and first.content_hash
        assert (second.kind, second.title, second.text, second.author) == (
            "short",
            None,
            None,
            None,
        )
        assert (second.published_at, second.metrics, second.raw) == (None, {}, {})
        assert second.content_hash != first.content_hash and second.id != first.id

    def test_save_page_counts_added_updated_unchanged_deleted(
        self, repository: AccountRepository
    ) -> None:
        acc = _account(repository)
        first = repository.save_page(
            acc.id,
            items=[video("v01"), video("v02"), video("v03")],
            deleted_ids=[],
            cursor={"page": 1},
            now=_at(1),
        )
        assert first == PageCounts(added=3)
        before = {it.external_id: it for it in repository.list_items(acc.id)}
        second = repository.save_page(
            acc.id,
            items=[video("v01"), video("v02", metrics={"views": 1300, "likes": 90}), video("v04")],
            deleted_ids=["v03", "never-stored"],
            cursor={"page": 2},
            now=_at(2),
        )
        assert second == PageCounts(added=1, updated=1, unchanged=1, deleted=1)
        assert _ids(repository, acc.id) == ["v01", "v02", "v04"]
        after = {it.external_id: it for it in repository.list_items(acc.id, include_deleted=True)}
        assert after["v01"] == before["v01"]
        v02 = after["v02"]
        assert v02.metrics == {"views": 1300, "likes": 90}
        assert (v02.id, v02.first_seen_at, v02.last_modified_at) == (
            before["v02"].id,
            _at(1),
            _at(2),
        )
        assert v02.content_hash != before["v02"].content_hash
        assert (after["v03"].deleted_at, after["v03"].last_modified_at) == (_at(2), _at(2))
        assert after["v03"].first_seen_at == _at(1)
        again = repository.save_page(acc.id, items=[], deleted_ids=["v03"], cursor={}, now=_at(3))
        assert again == PageCounts()
        back = repository.save_page(
            acc.id, items=[video("v03")], deleted_ids=[], cursor={}, now=_at(4)
        )
        assert back == PageCounts(updated=1)  # a deleted item that comes back is updated
        v03 = repository.list_items(acc.id, limit=1, offset=2)[0]
        assert (v03.external_id, v03.deleted_at, v03.id) == ("v03", None, before["v03"].id)
        assert (v03.first_seen_at, v03.last_modified_at) == (_at(1), _at(4))

    def test_an_id_repeated_in_one_page_counts_once(self, repository: AccountRepository) -> None:
        acc = _account(repository)
        counts = repository.save_page(
            acc.id,
            items=[video("v01", title="draft"), video("v02"), video("v01", title="final")],
            deleted_ids=[],
            cursor={},
            now=_at(1),
        )
        assert counts == PageCounts(added=2)
        assert [(it.external_id, it.title) for it in repository.list_items(acc.id)] == [
            ("v01", "final"),
            ("v02", "Café ☕ in 東京 — v02"),
        ]
        same = repository.save_page(
            acc.id,
            items=[video("v01", title="final"), video("v01", title="final")],
            deleted_ids=[],
            cursor={},
            now=_at(2),
        )
        assert same == PageCounts(unchanged=1)
        last_wins = repository.save_page(
            acc.id,
            items=[video("v01", title="final"), video("v01", title="edited")],
            deleted_ids=[],
            cursor={},
            now=_at(3),
        )
        assert last_wins == PageCounts(updated=1)
        assert [it.title for it in repository.list_items(acc.id, limit=1)] == ["edited"]

    def test_a_redelivered_page_is_unchanged_and_never_duplicates(
        self, repository: AccountRepository
    ) -> None:
        acc = _account(repository)
        repository.save_page(
            acc.id, items=[video("v00")], deleted_ids=[], cursor={"p": 0}, now=_at(1)
        )
        page: dict[str, Any] = {
            "items": [video("v01"), video("v02", metrics={"views": 5})],
            "deleted_ids": ["v00"],
            "cursor": {"page_token": "CAUQAA", "n": 2},
        }
        assert repository.save_page(acc.id, **page, now=_at(2)) == PageCounts(added=2, deleted=1)
        stored = repository.list_items(acc.id, include_deleted=True)
        # The worker crashed after the commit; the broker delivers the same page again.
        assert repository.save_page(acc.id, **page, now=_at(3)) == PageCounts(unchanged=2)
        assert repository.list_items(acc.id, include_deleted=True) == stored
        assert _ids(repository, acc.id) == ["v01", "v02"]
        assert _got(repository, acc.id).cursor == {"page_token": "CAUQAA", "n": 2}

    def test_the_cursor_is_stored_with_the_page(self, repository: AccountRepository) -> None:
        acc = _account(repository)
        cursor = {
            "page_token": "CDIQAA",
            "since": "2024-03-10T12:00:00+00:00",
            "seen": [1, 2, 3],
            "label": "Ünïcode ✓",
            "done": False,
            "next": None,
        }
        counts = repository.save_page(
            acc.id, items=[video("v01")], deleted_ids=[], cursor=cursor, now=_at(1)
        )
        assert counts == PageCounts(added=1)
        got = _got(repository, acc.id)
        assert got.cursor == cursor and got.updated_at == _at(1)
        empty = repository.save_page(
            acc.id, items=[], deleted_ids=[], cursor={"page_token": None}, now=_at(2)
        )
        assert empty == PageCounts()
        assert _got(repository, acc.id).cursor == {"page_token": None}

    def test_known_items_returns_live_ids_and_marks_them_seen(
        self, repository: AccountRepository
    ) -> None:
        acc, other = _account(repository, "a"), _account(repository, "b")
        repository.save_page(
            acc.id,
            items=[video("v01"), video("v02"), video("v03")],
            deleted_ids=[],
            cursor={},
            now=_at(1),
        )
        repository.save_page(acc.id, items=[], deleted_ids=["v03"], cursor={}, now=_at(2))
        known = repository.known_items(acc.id, ["v01", "v03", "v99", "v01"], now=_at(3))
        assert known == {"v01"}
        assert repository.known_items(other.id, ["v01", "v02"], now=_at(3)) == set()
        assert repository.known_items(acc.id, [], now=_at(3)) == set()
        assert repository.sweep_unseen(acc.id, since=_at(3), now=_at(4)) == 1
        assert _ids(repository, acc.id) == ["v01"]
        assert repository.list_items(acc.id)[0].last_modified_at == _at(1)  # seen, not modified

    def test_sweep_unseen_deletes_what_the_run_did_not_see(
        self, repository: AccountRepository
    ) -> None:
        acc, other = _account(repository, "a"), _account(repository, "b")
        items = [video(f"v0{i}") for i in range(1, 6)]
        repository.save_page(acc.id, items=items, deleted_ids=[], cursor={}, now=_at(1))
        repository.save_page(other.id, items=items, deleted_ids=[], cursor={}, now=_at(1))
        run_started = _at(2)
        repository.save_page(
            acc.id,
            items=[video("v01"), video("v02", title="new")],
            deleted_ids=[],
            cursor={},
            now=_at(2),
        )
        repository.known_items(acc.id, ["v03"], now=_at(3))
        assert repository.sweep_unseen(acc.id, since=run_started, now=_at(4)) == 2
        assert _ids(repository, acc.id) == ["v01", "v02", "v03"]
        gone = repository.list_items(acc.id, include_deleted=True)[3:]
        assert [(it.external_id, it.deleted_at, it.last_modified_at) for it in gone] == [
            ("v04", _at(4), _at(4)),
            ("v05", _at(4), _at(4)),
        ]
        assert repository.sweep_unseen(acc.id, since=run_started, now=_at(5)) == 0
        assert len(repository.list_items(other.id)) == 5

    def test_list_items_pages_by_external_id(self, repository: AccountRepository) -> None:
        acc = _account(repository)
        repository.save_page(
            acc.id,
            items=[video(e) for e in ("e04", "e01", "e05", "e03", "e02")],
            deleted_ids=[],
            cursor={},
            now=_at(1),
        )
        repository.save_page(acc.id, items=[], deleted_ids=["e02"], cursor={}, now=_at(2))
        assert _ids(repository, acc.id) == ["e01", "e03", "e04", "e05"]
        assert _ids(repository, acc.id, limit=2, offset=1) == ["e03", "e04"]
        assert _ids(repository, acc.id, include_deleted=True) == ["e01", "e02", "e03", "e04", "e05"]
        assert _ids(repository, acc.id, include_deleted=True, limit=2, offset=1) == ["e02", "e03"]
        assert _ids(repository, acc.id, offset=10) == []
        assert repository.list_items(str(uuid.uuid4())) == []

    def test_returned_records_are_copies(self, repository: AccountRepository) -> None:
        acc = _account(repository)
        repository.save_page(
            acc.id, items=[video("v01")], deleted_ids=[], cursor={"seen": [1]}, now=_at(1)
        )
        item = repository.list_items(acc.id)[0]
        item.metrics["views"] = -1
        item.raw["snippet"]["tags"].append("hacked")
        account = _got(repository, acc.id)
        assert account.cursor is not None
        account.cursor["seen"].append(2)
        again = repository.list_items(acc.id)[0]
        assert again.metrics["views"] == 1200 and again.raw["snippet"]["tags"] == ["café", "東京"]
        assert _got(repository, acc.id).cursor == {"seen": [1]}

    # -- scheduling -------------------------------------------------------------------------
    def test_finish_sync_records_the_run_and_clears_errors(
        self, repository: AccountRepository
    ) -> None:
        acc = _account(repository)
        repository.set_account_state(
            acc.id, AccountState.ACTIVE, now=_at(1), error_code="rate_limited", error_message="429"
        )
        repository.finish_sync(acc.id, now=_at(2), next_sync_at=_at(17))
        got = _got(repository, acc.id)
        assert (got.last_synced_at, got.next_sync_at, got.updated_at) == (_at(2), _at(17), _at(2))
        assert (got.error_code, got.error_message) == (None, None)
        assert got.state is AccountState.ACTIVE
        repository.finish_sync(str(uuid.uuid4()), now=_at(2), next_sync_at=_at(17))  # no error

    def test_due_accounts_active_and_due_most_overdue_first(
        self, repository: AccountRepository
    ) -> None:
        oldest = _account(repository, "oldest", minutes=-60)
        fresh = _account(repository, "fresh")
        soon, later = _account(repository, "soon"), _account(repository, "later")
        repository.finish_sync(soon.id, now=T0, next_sync_at=_at(5))
        repository.finish_sync(later.id, now=T0, next_sync_at=_at(10))
        for name, state in (
            ("off", AccountState.DISABLED),
            ("reauth", AccountState.REAUTH_REQUIRED),
        ):
            acc = _account(repository, name, minutes=-120)
            repository.set_account_state(acc.id, state, now=T0)
        assert [a.id for a in repository.due_accounts(now=_at(6), limit=10)] == [
            oldest.id,
            fresh.id,
            soon.id,
        ]
        assert [a.id for a in repository.due_accounts(now=_at(10), limit=10)] == [
            oldest.id,
            fresh.id,
            soon.id,
            later.id,
        ]
        assert [a.id for a in repository.due_accounts(now=_at(10), limit=2)] == [
            oldest.id,
            fresh.id,
        ]
        assert repository.due_accounts(now=_at(-61), limit=10) == []
        due = repository.due_accounts(now=_at(6), limit=1)[0]
        assert due == _got(repository, oldest.id) and due.next_sync_at == _at(-60)

    # -- notifications ----------------------------------------------------------------------
    def test_notifications_newest_first(self, repository: AccountRepository) -> None:
        data = {"account_id": "acc-1", "count": 3, "names": ["Zoë", "東京"]}
        first = repository.add_notification(
            owner_id="owner-1",
            kind="sync.failed",
            title="Sync failed ✗",
            body="Reconnect your channel — the token was revoked.",
            data=data,
            now=_at(1),
        )
        assert (first.owner_id, first.kind, first.title, first.data) == (
            "owner-1",
            "sync.failed",
            "Sync failed ✗",
            data,
        )
        assert (first.created_at, first.read_at) == (_at(1), None)
        for title, minutes in (("third", 3), ("second", 2), ("tie-a", 4), ("tie-b", 4)):
            repository.add_notification(
                owner_id="owner-1",
                kind="sync.done",
                title=title,
                body="",
                data={},
                now=_at(minutes),
            )
        repository.add_notification(
            owner_id="owner-2", kind="sync.done", title="theirs", body="", data={}, now=_at(9)
        )
        notes = repository.list_notifications(owner_id="owner-1")
        assert [n.title for n in notes] == ["tie-b", "tie-a", "third", "second", "Sync failed ✗"]
        assert notes[-1] == first
        unread = repository.list_notifications(owner_id="owner-1", unread_only=True)
        assert [n.id for n in unread] == [n.id for n in notes]
        assert [n.title for n in repository.list_notifications(owner_id="owner-2")] == ["theirs"]
        assert repository.list_notifications(owner_id="nobody", unread_only=True) == []


class UpkeepRepositoryContract:
    """Heartbeats, the schedule ledger and ledger upkeep; provide a ``repository`` fixture."""

    @pytest.fixture
    def repository(self) -> Any:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def _running(self, repository: Any, at: datetime, owner: str = "o") -> Job:
        job, _ = repository.create_job(new_job(owner), active_limit=None)
        claimed = repository.claim_job(job.id, worker_id="w", now=at)
        assert claimed is not None
        return _must(claimed)

    def test_heartbeats_refresh_running_jobs_and_report_per_kind(self, repository: Any) -> None:
        t0 = utcnow() - timedelta(minutes=10)
        job = self._running(repository, t0)
        now = utcnow()
        repository.heartbeat("host:1", "worker", job_ids=[job.id], now=now)
        repository.heartbeat("tick", "scheduler", job_ids=[], now=now - timedelta(seconds=5))
        assert _must(repository.get_job(job.id)).heartbeat_at == now
        beats = repository.last_heartbeats()
        assert beats["worker"] == now and beats["scheduler"] == now - timedelta(seconds=5)

    def test_schedule_slots_are_claimed_by_exactly_one_caller(self, repository: Any) -> None:
        slot1 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
        slot2 = slot1 + timedelta(days=1)
        assert repository.schedule_slot("nightly") is None
        assert repository.claim_schedule_slot("nightly", previous=None, slot=slot1, now=utcnow())
        assert not repository.claim_schedule_slot(
            "nightly", previous=None, slot=slot1, now=utcnow()
        )
        assert repository.schedule_slot("nightly") == slot1
        wins = [
            repository.claim_schedule_slot("nightly", previous=slot1, slot=slot2, now=utcnow())
            for _ in range(3)
        ]
        assert wins == [True, False, False]
        assert repository.schedule_slot("nightly") == slot2

    def test_stale_jobs_are_found_and_recovered_only_while_stale(self, repository: Any) -> None:
        old = utcnow() - timedelta(minutes=10)
        stale = self._running(repository, old)
        fresh = self._running(repository, utcnow())
        cutoff = utcnow() - timedelta(minutes=1)
        assert [j.id for j in repository.stale_jobs(stale_before=cutoff, limit=10)] == [stale.id]
        repository.heartbeat("w", "worker", job_ids=[stale.id], now=utcnow())
        assert (
            repository.recover_job(
                stale.id,
                stale_before=cutoff,
                run_at=utcnow(),
                now=utcnow(),
                error_code="worker_lost",
                error_message="x",
            )
            is None
        )  # it heartbeat meanwhile: still alive
        other = self._running(repository, old)
        back = repository.recover_job(
            other.id,
            stale_before=cutoff,
            run_at=utcnow(),
            now=utcnow(),
            error_code="worker_lost",
            error_message="its worker stopped",
        )
        assert back is not None and back.status is JobStatus.PENDING
        assert (back.attempts, back.error_code) == (1, "worker_lost")
        assert _must(repository.get_job(fresh.id)).status is JobStatus.PROCESSING

    def test_unsent_jobs_are_listed_until_touched(self, repository: Any) -> None:
        old = utcnow() - timedelta(minutes=10)
        lost, _ = repository.create_job(new_job(created_at=old), active_limit=None)
        repository.create_job(
            new_job(created_at=old, scheduled_for=utcnow() + timedelta(hours=1)),
            active_limit=None,
        )
        repository.create_job(new_job(), active_limit=None)
        cutoff = utcnow() - timedelta(minutes=1)
        found = repository.unsent_jobs(idle_before=cutoff, now=utcnow(), limit=10)
        assert [j.id for j in found] == [lost.id]
        repository.touch_job(lost.id, now=utcnow())
        assert repository.unsent_jobs(idle_before=cutoff, now=utcnow(), limit=10) == []

    def test_expired_pending_jobs_fail(self, repository: Any) -> None:
        gone, _ = repository.create_job(
            new_job(expires_at=utcnow() - timedelta(seconds=1)), active_limit=None
        )
        kept, _ = repository.create_job(
            new_job(expires_at=utcnow() + timedelta(hours=1)), active_limit=None
        )
        assert repository.expire_jobs(now=utcnow(), limit=10) == 1
        assert _must(repository.get_job(gone.id)).error_code == "expired"
        assert _must(repository.get_job(kept.id)).status is JobStatus.PENDING

    def test_purge_deletes_jobs_past_retention_in_batches(self, repository: Any) -> None:
        long_ago = utcnow() - timedelta(days=40)
        for status in (JobStatus.COMPLETED, JobStatus.COMPLETED, JobStatus.FAILED):
            job = self._running(repository, long_ago)
            repository.append_log(job.id, "info", "x", now=long_ago)
            repository.finish_job(
                job.id, status=status, now=long_ago, dead_letter=status is JobStatus.FAILED
            )
        recent = self._running(repository, utcnow())
        repository.finish_job(recent.id, status=JobStatus.COMPLETED, now=utcnow())
        kw = {
            "finished_before": utcnow() - timedelta(days=7),
            "failed_before": utcnow() - timedelta(days=30),
        }
        assert repository.purge_jobs(limit=2, **kw) == 2
        assert repository.purge_jobs(limit=2, **kw) == 1
        assert repository.purge_jobs(limit=2, **kw) == 0
        assert [j.id for j in repository.list_jobs(owner_id="o")] == [recent.id]
        assert repository.list_dead_letters() == []

    def test_job_counts_per_type(self, repository: Any) -> None:
        a, _ = repository.create_job(new_job(job_type="a"), active_limit=None)
        repository.create_job(new_job(job_type="a"), active_limit=None)
        b = self._running(repository, utcnow())
        repository.finish_job(b.id, status=JobStatus.FAILED, now=utcnow(), dead_letter=True)
        counts = repository.job_counts()
        assert counts["a"]["pending"] == 2 and counts["a"]["oldest_pending_at"] == a.created_at
        assert counts["contract.job"]["failed"] == 1
        assert counts["contract.job"]["dead_lettered"] == 1


# -- the seed jobs' records (InsightsRepository) --------------------------------------------


class InsightsStore(JobRepository, AccountRepository, InsightsRepository, Protocol):
    """What ``InsightsRepositoryContract`` runs against: the ledger, accounts and insights."""


def _seed(
    repo: InsightsStore,
    count: int,
    *,
    external: str = "UC-1",
    owner_id: str = "owner-1",
    minutes: float = 0,
) -> tuple[Account, list[int]]:
    """An account with ``count`` items, one first seen per minute from ``minutes`` on."""
    acc = _account(repo, external, owner_id=owner_id, minutes=minutes)
    for i in range(count):
        repo.save_page(
            acc.id,
            items=[video(f"{external}-{i:02d}")],
            deleted_ids=[],
            cursor={},
            now=_at(minutes + i),
        )
    return acc, [it.id for it in repo.list_items(acc.id)]


def _claim(
    repo: InsightsStore, limit: int = 100, *, at: float = 100, stale: float = 40
) -> list[QueuedItem]:
    return repo.claim_analysis_batch(limit=limit, now=_at(at), stale_before=_at(stale))


def _claimed_ids(repo: InsightsStore, limit: int = 100, **kwargs: Any) -> list[int]:
    return [q.item_id for q in _claim(repo, limit, **kwargs)]


def _result(
    item_id: int,
    acc: Account,
    decision: Decision = Decision.ALLOW,
    *,
    minutes: float = 101,
    confidence: int = 80,
    channel: str = "Zoë Ångström",
    tokens: int | None = 150,
    ai_calls: int = 1,
) -> Analysis:
    return Analysis(
        item_id=item_id,
        owner_id=acc.owner_id,
        account_id=acc.id,
        channel=channel,
        decision=decision,
        confidence=confidence,
        tags=("kids", "東京 ✓"),
        analyzer="keyword",
        tokens=tokens,
        ai_calls=ai_calls,
        duration_ms=42,
        analyzed_at=_at(minutes),
    )


def _save(repo: InsightsStore, *results: Analysis, at: float = 101, **kwargs: Any) -> None:
    kwargs.setdefault("max_attempts", 3)
    repo.save_analyses(results=list(results), now=_at(at), **kwargs)


def _threads(count: int, target: Any) -> list[BaseException]:
    """Run ``target`` in ``count`` threads started together; return what they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run() -> None:
        try:
            barrier.wait()
            target()
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


class InsightsRepositoryContract:
    """The analysis queue and results, preferences, trust scores, usage, deliveries,
    breakers, digests and retention.

    Provide a ``repository`` fixture returning a fresh, empty repository that implements
    ``AccountRepository`` (items are made with ``create_account`` and ``save_page``) and
    ``JobRepository`` (``delete_job_logs`` deletes the ledger's log lines) too.
    """

    @pytest.fixture
    def repository(self) -> InsightsStore:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    # -- the analysis queue -----------------------------------------------------------------
    def test_new_items_are_queued_and_a_claim_marks_them_analyzing(
        self, repository: InsightsStore
    ) -> None:
        assert isinstance(repository, InsightsRepository)
        acc, ids = _seed(repository, 2)
        assert repository.item_analysis_state(ids[0]) == ("queued", 0, None)
        assert repository.item_analysis_state(10**9) is None
        assert repository.analysis_backlog() == 2
        batch = _claim(repository)
        assert [q.item_id for q in batch] == ids
        first = batch[0]
        assert (first.account_id, first.owner_id, first.provider) == (acc.id, "owner-1", "youtube")
        assert (first.external_id, first.kind) == ("UC-1-00", "video")
        assert first.title == "Café ☕ in 東京 — UC-1-00"
        assert first.text == 'Zoë\'s vlog: ümlauts, emoji 🎥 and "quotes"'
        assert first.author == first.channel == "Zoë Ångström"
        assert first.published_at == datetime(2024, 3, 9, 16, 30, 15, 250000, tzinfo=UTC)
        assert first.raw == {"snippet": {"tags": ["café", "東京"], "live": False}, "etag": 'W/"x1"'}
        assert (first.first_seen_at, first.priority, first.review_flag, first.attempts) == (
            _at(0),
            0,
            False,
            0,
        )
        assert repository.item_analysis_state(ids[0]) == ("analyzing", 0, None)
        assert [it.analysis_state for it in repository.list_items(acc.id)] == ["analyzing"] * 2
        assert _claim(repository) == []  # claimed items are nobody else's
        assert repository.analysis_backlog() == 2  # still waiting for a result

    def test_claim_order_is_review_flag_then_priority_then_oldest(
        self, repository: InsightsStore
    ) -> None:
        _, ids = _seed(repository, 6)
        repository.queue_for_analysis([ids[4]], priority=5, review_flag=False, now=_at(10))
        repository.queue_for_analysis([ids[5]], priority=1, review_flag=True, now=_at(10))
        repository.queue_for_analysis([ids[3]], priority=5, review_flag=False, now=_at(10))
        repository.queue_for_analysis([ids[1]], priority=-1, review_flag=False, now=_at(10))
        best = _claim(repository, 3)
        assert [q.item_id for q in best] == [ids[5], ids[3], ids[4]]
        assert [(q.priority, q.review_flag) for q in best] == [(1, True), (5, False), (5, False)]
        assert _claimed_ids(repository) == [ids[0], ids[2], ids[1]]

    def test_items_first_seen_together_are_claimed_by_lowest_id(
        self, repository: InsightsStore
    ) -> None:
        acc = _account(repository)
        repository.save_page(
            acc.id, items=[video(f"v{i}") for i in range(5)], deleted_ids=[], cursor={}, now=_at(0)
        )
        ids = sorted(it.id for it in repository.list_items(acc.id))
        assert _claimed_ids(repository, 2) == ids[:2]
        assert _claimed_ids(repository, 5) == ids[2:]

    def test_the_channel_falls_back_to_the_account_name_then_the_provider(
        self, repository: InsightsStore
    ) -> None:
        acc = _account(repository)
        repository.save_page(
            acc.id,
            items=[video("v1", author=None), video("v2", author="")],
            deleted_ids=[],
            cursor={},
            now=_at(0),
        )
        nameless = repository.create_account(
            owner_id="owner-1",
            provider="tiktok",
            external_id="tt-1",
            display_name=None,
            sync_interval=900,
            now=_at(0),
        )
        repository.save_page(
            nameless.id, items=[video("v3", author=None)], deleted_ids=[], cursor={}, now=_at(1)
        )
        assert [q.channel for q in _claim(repository)] == [
            "Zoë's channel ✓",
            "Zoë's channel ✓",
            "tiktok",
        ]

    def test_deleted_items_are_neither_claimed_nor_queued(self, repository: InsightsStore) -> None:
        acc, ids = _seed(repository, 3)
        repository.save_page(acc.id, items=[], deleted_ids=["UC-1-01"], cursor={}, now=_at(5))
        assert repository.analysis_backlog() == 2
        assert _claimed_ids(repository) == [ids[0], ids[2]]
        assert repository.queue_for_analysis(ids, priority=0, review_flag=True, now=_at(6)) == 2
        assert _claimed_ids(repository, at=101) == [ids[0], ids[2]]

    def test_concurrent_claimers_never_get_the_same_item(self, repository: InsightsStore) -> None:
        acc = _account(repository)
        repository.save_page(
            acc.id,
            items=[video(f"v{i:02d}") for i in range(40)],
            deleted_ids=[],
            cursor={},
            now=_at(0),
        )
        claimed: list[int] = []

        def claimer() -> None:
            while batch := _claimed_ids(repository, 3):
                claimed.extend(batch)

        assert _threads(4, claimer) == []
        assert len(claimed) == len(set(claimed)) == 40
        assert set(claimed) == {it.id for it in repository.list_items(acc.id)}
        assert repository.analysis_backlog() == 40

    def test_an_item_left_analyzing_too_long_is_claimed_again(
        self, repository: InsightsStore
    ) -> None:
        _, ids = _seed(repository, 2)
        assert _claimed_ids(repository, 1, at=10, stale=0) == [ids[0]]
        assert _claimed_ids(repository, at=20, stale=5) == [ids[1]]  # ids[0]: still alive
        again = _claim(repository, at=30, stale=15)
        assert [(q.item_id, q.attempts) for q in again] == [(ids[0], 0)]
        assert _claim(repository, at=31, stale=15) == []
        assert repository.item_analysis_state(ids[0]) == ("analyzing", 0, None)

    # -- results ----------------------------------------------------------------------------
    def test_results_are_stored_and_mark_the_item_done(self, repository: InsightsStore) -> None:
        acc, ids = _seed(repository, 2)
        _claim(repository)
        blocked = _result(ids[0], acc, Decision.BLOCK, confidence=91, tokens=None, ai_calls=0)
        _save(repository, blocked, released=[ids[1]])
        got = repository.get_analysis(ids[0])
        assert got == blocked
        assert got is not None and got.decision is Decision.BLOCK
        assert got.tags == ("kids", "東京 ✓") and got.tokens is None
        assert got.analyzed_at == _at(101) and got.analyzed_at.tzinfo is not None
        assert repository.item_analysis_state(ids[0]) == ("done", 0, None)
        assert repository.list_items(acc.id)[0].analysis_state == "done"
        assert repository.get_analysis(ids[1]) is None
        assert repository.analysis_backlog() == 1
        assert repository.get_analysis(10**9) is None

    def test_failed_items_are_queued_again_until_max_attempts(
        self, repository: InsightsStore
    ) -> None:
        _, ids = _seed(repository, 2)
        repository.queue_for_analysis([ids[1]], priority=0, review_flag=True, now=_at(1))
        _claim(repository)
        _save(repository, failed={ids[1]: "timeout ✗"}, max_attempts=2)
        assert repository.item_analysis_state(ids[1]) == ("queued", 1, "timeout ✗")
        # A failed item backs off: not claimable until its failure is older than stale_before.
        assert _claim(repository, at=102, stale=40) == []
        assert repository.analysis_backlog() == 2  # but it still waits for analysis
        # Then it is still flagged for review (no result yet), and it counts its attempt.
        again = _claim(repository, 1, at=160, stale=101.5)
        assert [(q.item_id, q.attempts, q.review_flag) for q in again] == [(ids[1], 1, True)]
        _save(repository, failed={ids[1]: "x" * 5000}, max_attempts=2, at=103)
        state = repository.item_analysis_state(ids[1])
        assert state is not None and state[:2] == ("failed", 2)
        assert state[2] is not None and state[2].startswith("xxx") and len(state[2]) <= 5000
        assert _claim(repository, at=104) == []
        assert repository.analysis_backlog() == 1  # ids[0] is still being analysed
        assert (
            repository.queue_for_analysis([ids[1]], priority=0, review_flag=False, now=_at(105))
            == 1
        )
        assert repository.item_analysis_state(ids[1]) == ("queued", 0, None)

    def test_released_items_go_back_without_counting_an_attempt(
        self, repository: InsightsStore
    ) -> None:
        _, ids = _seed(repository, 2)
        _claim(repository)
        _save(repository, failed={ids[0]: "boom"}, max_attempts=5)
        assert _claimed_ids(repository, at=102) == []  # the failed one backs off
        assert _claimed_ids(repository, at=102, stale=101.5) == [ids[0], ids[1]]
        _save(repository, released=ids, max_attempts=5, at=103)
        first, second = (repository.item_analysis_state(i) for i in ids)
        assert first is not None and first[:2] == ("queued", 1)
        assert second == ("queued", 0, None)
        assert [(q.item_id, q.attempts) for q in _claim(repository, at=104)] == [
            (ids[0], 1),
            (ids[1], 0),
        ]

    def test_an_item_whose_words_change_is_judged_again_but_not_for_new_counts(
        self, repository: InsightsStore
    ) -> None:
        acc, ids = _seed(repository, 2)
        _claim(repository)
        _save(repository, _result(ids[0], acc), _result(ids[1], acc))
        assert _claim(repository, at=110) == []
        first, second = (f"UC-1-{i:02d}" for i in range(2))
        repository.save_page(
            acc.id,
            items=[
                video(first, title="A brand new title"),  # what an analyzer reads changed
                video(second, metrics={"views": 99_999}),  # only the counts changed
            ],
            deleted_ids=[],
            cursor={},
            now=_at(120),
        )
        assert repository.item_analysis_state(ids[0]) == ("queued", 0, None)
        assert repository.item_analysis_state(ids[1]) == ("done", 0, None)
        assert _claimed_ids(repository, at=121) == [ids[0]]
        assert repository.get_analysis(ids[0]) is not None  # the old verdict stays until then

    def test_skipped_items_have_no_analysis(self, repository: InsightsStore) -> None:
        _, ids = _seed(repository, 2)
        _claim(repository)
        _save(repository, skipped=[ids[0]], released=[ids[1]])
        assert repository.item_analysis_state(ids[0]) == ("skipped", 0, None)
        assert repository.get_analysis(ids[0]) is None
        assert repository.list_analyses(owner_id="owner-1") == []
        assert repository.analysis_backlog() == 1
        assert _claimed_ids(repository, at=102) == [ids[1]]

    def test_analysing_again_keeps_one_analysis_per_item(self, repository: InsightsStore) -> None:
        acc, ids = _seed(repository, 1)
        _claim(repository)
        _save(repository, _result(ids[0], acc, Decision.REVIEW, confidence=30))
        assert repository.queue_for_analysis(ids, priority=9, review_flag=True, now=_at(102)) == 1
        assert repository.get_analysis(ids[0]) is not None  # kept until the new one comes
        [queued] = _claim(repository, at=103)
        assert (queued.priority, queued.review_flag, queued.attempts) == (9, True, 0)
        second = _result(ids[0], acc, Decision.ALLOW, minutes=104, confidence=60, tokens=7)
        _save(repository, second, at=104)
        assert repository.get_analysis(ids[0]) == second
        assert repository.list_analyses(owner_id="owner-1") == [second]
        assert repository.channel_stats() == [
            ChannelStats("owner-1", "Zoë Ångström", allow=1, block=0, review=0, confidence_sum=60)
        ]

    def test_queue_for_analysis_counts_live_items_only(self, repository: InsightsStore) -> None:
        acc, ids = _seed(repository, 3)
        repository.save_page(acc.id, items=[], deleted_ids=["UC-1-02"], cursor={}, now=_at(5))
        _claim(repository)
        _save(repository, _result(ids[0], acc), failed={ids[1]: "boom"})
        assert (
            repository.queue_for_analysis(
                [ids[0], ids[1], ids[2], 10**9, ids[0]], priority=2, review_flag=False, now=_at(110)
            )
            == 2
        )
        assert repository.queue_for_analysis([], priority=2, review_flag=False, now=_at(110)) == 0
        assert repository.item_analysis_state(ids[0]) == ("queued", 0, None)
        assert repository.item_analysis_state(ids[1]) == ("queued", 0, None)
        assert [(q.item_id, q.priority) for q in _claim(repository, at=111)] == [
            (ids[0], 2),
            (ids[1], 2),
        ]

    def test_list_analyses_newest_first_by_owner_and_decision(
        self, repository: InsightsStore
    ) -> None:
        acc, ids = _seed(repository, 4)
        other, theirs = _seed(repository, 1, external="UC-2", owner_id="owner-2")
        _claim(repository)
        results = [
            _result(ids[0], acc, Decision.ALLOW, minutes=101),
            _result(ids[1], acc, Decision.BLOCK, minutes=103),
            _result(ids[2], acc, Decision.ALLOW, minutes=103),
            _result(ids[3], acc, Decision.REVIEW, minutes=102),
            _result(theirs[0], other, Decision.ALLOW, minutes=104),
        ]
        _save(repository, *results, at=104)
        newest = [ids[2], ids[1], ids[3], ids[0]]
        assert [a.item_id for a in repository.list_analyses(owner_id="owner-1")] == newest
        assert [a.item_id for a in repository.list_analyses(owner_id="owner-1", limit=2)] == (
            newest[:2]
        )
        assert [
            a.item_id for a in repository.list_analyses(owner_id="owner-1", decision="allow")
        ] == [ids[2], ids[0]]
        assert [
            a.item_id for a in repository.list_analyses(owner_id="owner-1", decision=Decision.BLOCK)
        ] == [ids[1]]
        assert repository.list_analyses(owner_id="owner-2") == [results[4]]
        assert repository.list_analyses(owner_id="nobody") == []

    # -- preferences and trust scores -------------------------------------------------------
    def test_preferences_round_trip_and_are_replaced(self, repository: InsightsStore) -> None:
        assert repository.get_preferences("owner-1") is None
        prefs = Preferences(
            owner_id="owner-1",
            blocked_words=("gore", "Blut ✗"),
            allowed_channels=("Zoë Ångström",),
            blocked_channels=("bad", "worse"),
            viewer_age=9,
            timezone="Europe/Berlin",
            digest=DigestFrequency.WEEKLY,
            webhook_url="https://example.test/hook?owner=1",
        )
        assert repository.save_preferences(prefs, now=_at(1)) == prefs
        got = repository.get_preferences("owner-1")
        assert got == prefs
        assert got is not None and got.digest is DigestFrequency.WEEKLY
        assert isinstance(got.blocked_words, tuple)
        plain = Preferences("owner-1")
        assert repository.save_preferences(plain, now=_at(2)) == plain
        assert repository.get_preferences("owner-1") == plain
        assert repository.get_preferences("owner-2") is None

    def test_channel_stats_count_decisions_and_sum_confidence(
        self, repository: InsightsStore
    ) -> None:
        acc, ids = _seed(repository, 5)
        other, theirs = _seed(repository, 1, external="UC-2", owner_id="owner-2")
        _claim(repository)
        _save(
            repository,
            _result(ids[0], acc, Decision.ALLOW, confidence=90, channel="A"),
            _result(ids[1], acc, Decision.BLOCK, confidence=70, channel="A"),
            _result(ids[2], acc, Decision.REVIEW, confidence=50, channel="A"),
            _result(ids[3], acc, Decision.ALLOW, confidence=40, channel="B"),
            _result(ids[4], acc, Decision.ALLOW, confidence=10, channel="B"),
            _result(theirs[0], other, Decision.BLOCK, confidence=99, channel="A"),
        )
        stats = repository.channel_stats()
        assert stats == [
            ChannelStats("owner-1", "A", allow=1, block=1, review=1, confidence_sum=210),
            ChannelStats("owner-1", "B", allow=2, block=0, review=0, confidence_sum=50),
            ChannelStats("owner-2", "A", allow=0, block=1, review=0, confidence_sum=99),
        ]
        assert stats[0].analysed == 3
        assert repository.channel_stats(owner_id="owner-2") == stats[2:]
        assert repository.channel_stats(owner_id="nobody") == []

    def test_trust_scores_upsert_and_come_lowest_first(self, repository: InsightsStore) -> None:
        b = TrustScore("owner-1", "B", 0.8, 10, 8, 1, 1, 75.5, _at(1))
        a = TrustScore("owner-1", "A", 0.25, 5, 1, 4, 0, 60.0, _at(1))
        c = TrustScore("owner-1", "C", 0.8, 3, 3, 0, 0, 90.0, _at(1))
        theirs = TrustScore("owner-2", "A", 1.0, 1, 1, 0, 0, 99.0, _at(1))
        assert repository.save_trust_scores([b, a, c, theirs]) == 4
        assert repository.list_trust_scores(owner_id="owner-1") == [a, b, c]
        assert repository.save_trust_scores([b, a, c, theirs]) == 4  # a re-run: no change
        assert repository.list_trust_scores(owner_id="owner-1") == [a, b, c]
        better = dataclasses.replace(a, score=0.9, videos_analysed=6, allow=2, updated_at=_at(2))
        assert repository.save_trust_scores([better]) == 1
        assert repository.list_trust_scores(owner_id="owner-1") == [b, c, better]
        assert repository.list_trust_scores(owner_id="owner-2") == [theirs]
        assert repository.save_trust_scores([]) == 0

    # -- usage ------------------------------------------------------------------------------
    def test_usage_events_cover_the_window_exactly(self, repository: InsightsStore) -> None:
        acc, ids = _seed(repository, 3)
        _claim(repository)
        _save(
            repository,
            _result(ids[0], acc, minutes=100, tokens=None, ai_calls=0),
            _result(ids[1], acc, minutes=159.5, tokens=300, ai_calls=2),
            _result(ids[2], acc, minutes=160),
            at=160,
        )
        for minutes, calls in ((99, 1), (100, 3), (160, 5)):
            repository.record_provider_usage(
                owner_id="owner-1",
                account_id=acc.id,
                provider="youtube",
                job_id=None,
                api_calls=calls,
                quota_units=calls * 100,
                at=_at(minutes),
            )
        events = repository.usage_events(start=_at(100), end=_at(160))
        assert sorted(events, key=lambda e: (e.at, e.items_analysed)) == [
            UsageEvent("owner-1", _at(100), api_calls=3, quota_units=300, tokens=0),
            UsageEvent("owner-1", _at(100), items_analysed=1, ai_calls=0, tokens=None),
            UsageEvent("owner-1", _at(159.5), items_analysed=1, ai_calls=2, tokens=300),
        ]
        assert repository.usage_events(start=_at(0), end=_at(99)) == []

    def test_save_usage_replaces_values(self, repository: InsightsStore) -> None:
        d0 = datetime(2024, 3, 10, tzinfo=UTC)
        day, hour = UsagePeriod.DAY, UsagePeriod.HOUR
        records = [
            UsageRecord(
                "a",
                day,
                d0,
                items_analysed=5,
                ai_calls=2,
                tokens=1000,
                api_calls=7,
                quota_units=700,
            ),
            UsageRecord("b", day, d0, items_analysed=1),
            UsageRecord("a", hour, d0, items_analysed=5),
        ]
        assert repository.save_usage(records, now=_at(1)) == 3
        assert repository.save_usage(records, now=_at(2)) == 3  # a re-run changes nothing
        assert repository.list_usage(period=day) == records[:2]
        fixed = dataclasses.replace(records[0], items_analysed=6, tokens=2**40, api_calls=0)
        assert repository.save_usage([fixed], now=_at(3)) == 1
        assert repository.list_usage(period=day, owner_id="a") == [fixed]
        assert repository.list_usage(period=hour) == [records[2]]
        assert repository.list_usage(period=UsagePeriod.MONTH) == []
        assert repository.save_usage([], now=_at(4)) == 0

    def test_list_usage_filters_by_owner_and_start(self, repository: InsightsStore) -> None:
        d0 = datetime(2024, 3, 10, tzinfo=UTC)
        days = [d0 + timedelta(days=i) for i in range(4)]
        repository.save_usage(
            [
                UsageRecord(owner, UsagePeriod.DAY, d, items_analysed=i)
                for i, d in enumerate(days)
                for owner in ("b", "a")
            ]
            + [UsageRecord("a", UsagePeriod.WEEK, d0, items_analysed=9)],
            now=_at(1),
        )

        def keys(**kwargs: Any) -> list[tuple[str, int]]:
            found = repository.list_usage(period=UsagePeriod.DAY, **kwargs)
            return [(r.owner_id, (r.period_start - d0).days) for r in found]

        assert keys(start=days[1], end=days[3]) == [("a", 1), ("b", 1), ("a", 2), ("b", 2)]
        assert keys(owner_id="b", start=days[2]) == [("b", 2), ("b", 3)]
        assert keys(owner_id="a", end=days[1]) == [("a", 0)]
        assert keys(owner_id="c") == []
        [week] = repository.list_usage(period=UsagePeriod.WEEK)
        assert (week.period, week.period_start, week.items_analysed) == (UsagePeriod.WEEK, d0, 9)

    def test_rollup_runs_are_recorded_newest_first(self, repository: InsightsStore) -> None:
        hourly = repository.record_rollup_run(
            period=UsagePeriod.HOUR,
            window_start=_at(0),
            window_end=_at(60),
            started_at=_at(61),
            duration_ms=12,
            records=3,
            errors=0,
            job_id=None,
        )
        daily = repository.record_rollup_run(
            period=UsagePeriod.DAY,
            window_start=_at(-1440),
            window_end=_at(0),
            started_at=_at(62),
            duration_ms=1500,
            records=40,
            errors=1,
            job_id="job-1",
        )
        assert hourly.id != daily.id
        assert (hourly.period, hourly.window_start, hourly.window_end) == (
            UsagePeriod.HOUR,
            _at(0),
            _at(60),
        )
        assert (daily.records, daily.errors, daily.duration_ms, daily.job_id) == (
            40,
            1,
            1500,
            "job-1",
        )
        assert repository.list_rollup_runs() == [daily, hourly]
        assert repository.list_rollup_runs(limit=1) == [daily]

    # -- notifications, deliveries, breakers ------------------------------------------------
    def _note(
        self, repo: InsightsStore, owner_id: str = "owner-1", minutes: float = 0, title: str = "n"
    ) -> Notification:
        return repo.add_notification(
            owner_id=owner_id,
            kind="analysis.blocked",
            title=title,
            body="Ünïcode ✓",
            data={"item": 1},
            now=_at(minutes),
        )

    def test_notifications_are_marked_read_per_owner(self, repository: InsightsStore) -> None:
        first, second, third = (self._note(repository, minutes=m) for m in (1, 2, 3))
        theirs = self._note(repository, "owner-2")
        assert repository.get_notification(first.id) == first
        assert repository.get_notification(10**9) is None
        assert repository.mark_notifications_read("owner-1", [first.id, theirs.id], now=_at(5)) == 1
        read = repository.get_notification(first.id)
        assert read is not None and read.read_at == _at(5)
        assert repository.mark_notifications_read("owner-1", [first.id], now=_at(6)) == 0
        assert repository.mark_notifications_read("owner-1", [], now=_at(6)) == 0
        again = repository.get_notification(first.id)
        assert again is not None and again.read_at == _at(5)
        assert repository.mark_notifications_read("owner-1", None, now=_at(7)) == 2
        assert repository.list_notifications(owner_id="owner-1", unread_only=True) == []
        assert [n.id for n in repository.list_notifications(owner_id="owner-1")] == [
            third.id,
            second.id,
            first.id,
        ]
        unread = repository.get_notification(theirs.id)
        assert unread is not None and unread.read_at is None

    def test_a_delivery_counts_attempts_and_stays_delivered(
        self, repository: InsightsStore
    ) -> None:
        note = self._note(repository)
        assert repository.get_delivery(note.id, "webhook") is None
        failed = repository.record_delivery(note.id, "webhook", ok=False, error="503 ✗", now=_at(1))
        assert (failed.notification_id, failed.notifier, failed.delivered) == (
            note.id,
            "webhook",
            False,
        )
        assert (failed.attempts, failed.updated_at, failed.delivered_at, failed.last_error) == (
            1,
            _at(1),
            None,
            "503 ✗",
        )
        assert repository.get_delivery(note.id, "webhook") == failed
        done = repository.record_delivery(note.id, "webhook", ok=True, error=None, now=_at(2))
        assert (done.delivered, done.attempts, done.delivered_at) == (True, 2, _at(2))
        late = repository.record_delivery(note.id, "webhook", ok=False, error="late", now=_at(3))
        assert (late.delivered, late.attempts, late.delivered_at) == (True, 3, _at(2))
        again = repository.record_delivery(note.id, "webhook", ok=True, error=None, now=_at(4))
        assert (again.delivered, again.attempts, again.delivered_at) == (True, 4, _at(2))
        assert repository.get_delivery(note.id, "webhook") == again
        assert repository.get_delivery(note.id, "email") is None

    def test_a_breaker_opens_at_the_threshold_and_success_closes_it(
        self, repository: InsightsStore
    ) -> None:
        assert repository.get_breaker("ai") == BreakerState("ai")

        def record(ok: bool, minutes: float) -> BreakerState:
            return repository.record_breaker(
                "ai", ok=ok, threshold=3, cooldown=60.0, now=_at(minutes)
            )

        assert record(False, 0) == BreakerState("ai", 1, None)
        assert record(False, 1) == BreakerState("ai", 2, None)
        opened = record(False, 2)
        assert opened == BreakerState("ai", 3, _at(3))
        assert opened.is_open(_at(2.5)) and not opened.is_open(_at(3))
        assert repository.get_breaker("ai") == opened
        assert record(True, 4) == BreakerState("ai", 0, None)
        assert repository.get_breaker("ai") == BreakerState("ai")
        assert record(False, 5) == BreakerState("ai", 1, None)
        assert repository.get_breaker("webhook") == BreakerState("webhook")

    def test_a_failure_while_half_open_reopens_the_breaker(self, repository: InsightsStore) -> None:
        def record(ok: bool, minutes: float, threshold: int = 2) -> BreakerState:
            return repository.record_breaker(
                "hook", ok=ok, threshold=threshold, cooldown=60.0, now=_at(minutes)
            )

        record(False, 0)
        assert record(False, 1) == BreakerState("hook", 2, _at(2))
        # The cooldown is over: the breaker is half-open, one failure opens it again.
        assert record(False, 5, threshold=10) == BreakerState("hook", 3, _at(6))
        assert record(True, 7, threshold=10) == BreakerState("hook", 0, None)

    def test_concurrent_breaker_failures_all_count(self, repository: InsightsStore) -> None:
        def fail() -> None:
            for _ in range(5):
                repository.record_breaker(
                    "busy", ok=False, threshold=1000, cooldown=1.0, now=_at(0)
                )

        assert _threads(6, fail) == []
        assert repository.get_breaker("busy") == BreakerState("busy", 30, None)

    # -- digests ----------------------------------------------------------------------------
    def test_digest_owners_page_through_owners_with_accounts_or_preferences(
        self, repository: InsightsStore
    ) -> None:
        for owner, external in (("d", "d1"), ("b", "b1"), ("d", "d2")):
            _account(repository, external, owner_id=owner)
        prefs = {
            o: Preferences(o, digest=DigestFrequency.WEEKLY, timezone="Asia/Tokyo")
            for o in ("e", "a", "d")
        }
        for p in prefs.values():
            repository.save_preferences(p, now=_at(0))
        expected = [("a", prefs["a"]), ("b", None), ("d", prefs["d"]), ("e", prefs["e"])]
        assert repository.digest_owners(after=None, limit=10) == expected
        assert repository.digest_owners(after=None, limit=2) == expected[:2]
        assert repository.digest_owners(after="b", limit=2) == expected[2:]
        assert repository.digest_owners(after="e", limit=2) == []

    def test_a_digest_is_claimed_once_per_period(self, repository: InsightsStore) -> None:
        assert repository.claim_digest("a", "daily", "2024-03-10", now=_at(0))
        assert not repository.claim_digest("a", "daily", "2024-03-10", now=_at(1))
        assert repository.claim_digest("a", "weekly", "2024-03-10", now=_at(1))
        assert repository.claim_digest("a", "daily", "2024-03-11", now=_at(1))
        assert repository.claim_digest("b", "daily", "2024-03-10", now=_at(1))
        repository.release_digest("a", "daily", "2024-03-10")
        repository.release_digest("nobody", "daily", "2024-03-10")
        wins: list[bool] = []

        def claim() -> None:
            wins.append(repository.claim_digest("a", "daily", "2024-03-10", now=_at(2)))

        assert _threads(5, claim) == []
        assert sorted(wins) == [False, False, False, False, True]

    def test_owner_activity_counts_what_happened_in_the_window(
        self, repository: InsightsStore
    ) -> None:
        acc = _account(repository)
        for i, minutes in enumerate((0, 1, 10, 11, 12, 20)):
            repository.save_page(
                acc.id, items=[video(f"v{i}")], deleted_ids=[], cursor={}, now=_at(minutes)
            )
        ids = [it.id for it in repository.list_items(acc.id)]
        other, theirs = _seed(repository, 1, external="UC-2", owner_id="owner-2", minutes=10)
        _claim(repository)
        _save(
            repository,
            _result(ids[0], acc, Decision.ALLOW, minutes=5),
            _result(ids[1], acc, Decision.REVIEW, minutes=5),
            _result(ids[2], acc, Decision.BLOCK, minutes=15),
            _result(ids[3], acc, Decision.REVIEW, minutes=15),
            _result(ids[4], acc, Decision.ALLOW, minutes=19.5),
            _result(ids[5], acc, Decision.ALLOW, minutes=20),
            _result(theirs[0], other, Decision.REVIEW, minutes=15),
        )
        repository.save_page(acc.id, items=[], deleted_ids=["v3"], cursor={}, now=_at(30))
        for minutes in (1, 2, 3):
            self._note(repository, minutes=minutes)
        read = self._note(repository)
        repository.mark_notifications_read("owner-1", [read.id], now=_at(4))
        self._note(repository, "owner-2")
        activity = repository.owner_activity("owner-1", since=_at(10), until=_at(20))
        assert activity == OwnerActivity(
            items_synced=3,
            items_analysed=3,
            allowed=1,
            blocked=1,
            review=1,
            awaiting_review=1,
            unread_notifications=3,
        )
        assert not activity.is_empty
        nothing = repository.owner_activity("nobody", since=_at(10), until=_at(20))
        assert nothing == OwnerActivity() and nothing.is_empty

    # -- retention --------------------------------------------------------------------------
    def test_delete_allowed_items_keeps_block_review_and_unanalysed_items(
        self, repository: InsightsStore
    ) -> None:
        acc, ids = _seed(repository, 8)
        recent, recent_ids = _seed(repository, 1, external="UC-2", minutes=50)
        other, theirs = _seed(repository, 1, external="UC-3", owner_id="owner-2")
        _claim(repository)
        _save(
            repository,
            _result(ids[0], acc, Decision.ALLOW),
            _result(ids[1], acc, Decision.BLOCK),
            _result(ids[2], acc, Decision.REVIEW),
            _result(ids[6], acc, Decision.ALLOW),
            _result(ids[7], acc, Decision.ALLOW),
            _result(recent_ids[0], recent, Decision.ALLOW),
            _result(theirs[0], other, Decision.ALLOW),
            skipped=[ids[3]],
            failed={ids[5]: "gave up"},
            released=[ids[4]],
            max_attempts=1,
        )
        repository.queue_for_analysis([ids[6]], priority=0, review_flag=False, now=_at(102))
        repository.save_page(acc.id, items=[], deleted_ids=["UC-1-07"], cursor={}, now=_at(103))
        gone = {ids[0], ids[3], ids[7], theirs[0]}
        assert repository.delete_allowed_items(before=_at(30), limit=100) == 4
        assert repository.delete_allowed_items(before=_at(30), limit=100) == 0
        for item_id in gone:
            assert repository.item_analysis_state(item_id) is None
            assert repository.get_analysis(item_id) is None
        kept = [i for i in ids if i not in gone]
        assert [it.id for it in repository.list_items(acc.id, include_deleted=True)] == kept
        assert repository.list_items(other.id, include_deleted=True) == []
        assert sorted(a.item_id for a in repository.list_analyses(owner_id="owner-1")) == sorted(
            [ids[1], ids[2], ids[6], recent_ids[0]]
        )
        states = [repository.item_analysis_state(i) for i in (ids[1], ids[2], ids[4], ids[5])]
        assert [s[0] if s else None for s in states] == ["done", "done", "queued", "failed"]

    def test_delete_allowed_items_works_in_batches(self, repository: InsightsStore) -> None:
        acc, ids = _seed(repository, 5)
        _claim(repository)
        _save(repository, *(_result(i, acc) for i in ids))
        assert [repository.delete_allowed_items(before=_at(30), limit=2) for _ in range(4)] == [
            2,
            2,
            1,
            0,
        ]
        assert repository.list_items(acc.id, include_deleted=True) == []
        assert repository.channel_stats() == []

    def test_delete_read_notifications_keeps_unread_and_recent_ones(
        self, repository: InsightsStore
    ) -> None:
        old = [self._note(repository, title=f"old {i}") for i in range(3)]
        unread = self._note(repository, title="unread")
        recent = self._note(repository, title="recent")
        theirs = self._note(repository, "owner-2", title="theirs")
        repository.mark_notifications_read("owner-1", [n.id for n in old], now=_at(1))
        repository.mark_notifications_read("owner-1", [recent.id], now=_at(50))
        repository.mark_notifications_read("owner-2", None, now=_at(2))
        for note in (*old, unread, recent):
            repository.record_delivery(note.id, "webhook", ok=True, error=None, now=_at(1))
        assert repository.delete_read_notifications(before=_at(30), limit=3) == 3
        assert repository.delete_read_notifications(before=_at(30), limit=3) == 1
        assert repository.delete_read_notifications(before=_at(30), limit=3) == 0
        for note in (*old, theirs):
            assert repository.get_notification(note.id) is None
            assert repository.get_delivery(note.id, "webhook") is None
        for note in (unread, recent):
            assert repository.get_notification(note.id) is not None
            assert repository.get_delivery(note.id, "webhook") is not None
        assert [n.title for n in repository.list_notifications(owner_id="owner-1")] == [
            "recent",
            "unread",
        ]

    def test_delete_job_logs_before_the_cutoff(self, repository: InsightsStore) -> None:
        job, _ = repository.create_job(new_job(), active_limit=None)
        for minutes, message in ((0, "a"), (1, "b"), (2, "c"), (50, "late")):
            repository.append_log(job.id, "info", message, now=_at(minutes))
        assert repository.delete_job_logs(before=_at(30), limit=2) == 2
        assert repository.delete_job_logs(before=_at(30), limit=2) == 1
        assert repository.delete_job_logs(before=_at(30), limit=2) == 0
        assert [ln.message for ln in repository.get_log(job.id)] == ["late"]

    def test_deleting_an_account_deletes_its_analyses(self, repository: InsightsStore) -> None:
        acc, ids = _seed(repository, 2)
        keep, kept = _seed(repository, 1, external="UC-2")
        late, late_ids = _seed(repository, 1, external="UC-3")
        _claim(repository)
        _save(repository, *(_result(i, acc) for i in ids), _result(kept[0], keep))
        assert repository.delete_account(acc.id)
        for item_id in ids:
            assert repository.get_analysis(item_id) is None
            assert repository.item_analysis_state(item_id) is None
        assert [a.item_id for a in repository.list_analyses(owner_id="owner-1")] == kept
        assert repository.channel_stats() == [
            ChannelStats("owner-1", "Zoë Ångström", allow=1, block=0, review=0, confidence_sum=80)
        ]
        # A result for an item deleted while it was analysed leaves nothing behind.
        assert repository.delete_account(late.id)
        _save(repository, _result(late_ids[0], late), at=102)
        assert repository.get_analysis(late_ids[0]) is None
        assert repository.analysis_backlog() == 0

"""The repository contracts: the behaviour every ``JobRepository``, ``AccountRepository`` and
``UpkeepRepository`` must show.

A host app that stores jobs its own way runs this suite against its implementation::

    from syncjobs.testing.contract import JobRepositoryContract

    class TestMyRepository(JobRepositoryContract):
        @pytest.fixture
        def repository(self):
            return MyRepository(...)

``AccountRepositoryContract`` is used the same way for accounts and items. The extras' stores
have theirs next to them (``syncjobs.insights.<concern>.contract``). syncjobs runs them all
against ``InMemoryRepository`` and ``SQLAlchemyRepository`` on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ..errors import ConcurrencyLimitError
from ..models import (
    Account,
    AccountState,
    Job,
    JobStatus,
    NewJob,
    PageCounts,
    utcnow,
)
from ..protocols import AccountRepository, CredentialStore, JobRepository
from ..providers.types import Item, TokenSet

__all__ = [
    "AccountRepositoryContract",
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


# -- accounts and items -------------------------------------------------------------------

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

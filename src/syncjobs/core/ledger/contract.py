"""The ledger's contract: the behaviour every ``JobRepository`` must show, as pytest tests.

A host app that stores jobs its own way runs this suite against its implementation::

    from syncjobs.testing.contract import JobRepositoryContract

    class TestMyRepository(JobRepositoryContract):
        @pytest.fixture
        def repository(self):
            return MyRepository(...)
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ...clock import utcnow
from ...errors import ConcurrencyLimitError
from ..models import Job, JobStatus, NewJob
from .store import JobIdLookup, JobRepository

__all__ = ["JobIdLookupContract", "JobRepositoryContract", "existing", "new_job"]


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


def existing(job: Job | None) -> Job:
    """The job, asserting that there was one."""
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
        got = existing(repository.get_job(new.id))
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
        assert existing(repository.get_job(later.id)).status is JobStatus.PENDING
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
        got = existing(repository.get_job(job.id))
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
        assert existing(repository.get_job(job.id)).checkpoint == {"page": "tok-3", "seen": [1, 2]}

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
            while existing(repository.get_job(job.id)).status is JobStatus.PENDING:
                assert utcnow() < deadline
                sub.wait(1.0)
            timer.join()
        finally:
            sub.close()
        assert existing(repository.get_job(job.id)).status is JobStatus.PROCESSING

    def test_delete_job_logs_before_the_cutoff(self, repository: JobRepository) -> None:
        t0 = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
        job, _ = repository.create_job(new_job(), active_limit=None)
        for minutes, message in ((0, "a"), (1, "b"), (2, "c"), (50, "late")):
            repository.append_log(job.id, "info", message, now=t0 + timedelta(minutes=minutes))
        before = t0 + timedelta(minutes=30)
        assert repository.delete_job_logs(before=before, limit=2) == 2
        assert repository.delete_job_logs(before=before, limit=2) == 1
        assert repository.delete_job_logs(before=before, limit=2) == 0
        assert [ln.message for ln in repository.get_log(job.id)] == ["late"]


class JobIdLookupContract:
    """Subclass me and provide a ``repository`` fixture: a fresh ``JobIdLookup`` ledger."""

    @pytest.fixture
    def repository(self) -> JobRepository:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    ids = (
        "7db55069-0000-4000-8000-000000000001",
        "7db5506a-0000-4000-8000-000000000001",
        "7db5506a-0000-4000-8000-000000000002",
        "7db5506b-0000-4000-8000-000000000001",
        "7db5507a-0000-4000-8000-000000000001",
    )

    def test_ids_starting_with_a_prefix_in_order(self, repository: JobRepository) -> None:
        assert isinstance(repository, JobIdLookup)
        for job_id in reversed(self.ids):
            repository.create_job(new_job(id=job_id), active_limit=None)
        assert repository.job_ids_starting("7db5506a") == list(self.ids[1:3])
        assert repository.job_ids_starting("7db5506a-0000-4000-8000-00000000000") == list(
            self.ids[1:3]
        )
        assert repository.job_ids_starting("7db5506") == list(self.ids[:4])  # 9, then a
        assert repository.job_ids_starting("7db55069") == [self.ids[0]]
        assert repository.job_ids_starting("7db5506", limit=2) == list(self.ids[:2])
        assert repository.job_ids_starting(self.ids[4]) == [self.ids[4]]
        assert repository.job_ids_starting("7db5508") == []
        assert repository.job_ids_starting("ffff") == []

"""The contracts of ``BatchFinisher`` and ``BatchClaimer``: a worker's grouped writes, as tests.

A host store that implements ``finish_jobs`` (so workers group their terminal writes) or
``claim_jobs`` (their claims) runs::

    from syncjobs.testing.contract import BatchClaimerContract, BatchFinisherContract

    class TestMyBatches(BatchFinisherContract, BatchClaimerContract):
        @pytest.fixture
        def repository(self):
            return MyRepository(...)
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from ...clock import utcnow
from ..models import Claim, Finish, Job, JobStatus
from .contract import existing, new_job
from .store import BatchClaimer, BatchFinisher, JobRepository

__all__ = ["BatchClaimerContract", "BatchFinisherContract"]


def _running(repository: JobRepository, owner_id: str = "owner-1") -> Job:
    job, _ = repository.create_job(new_job(owner_id), active_limit=None)
    return existing(repository.claim_job(job.id, worker_id="w", now=utcnow()))


class BatchFinisherContract:
    """Subclass me and provide a ``repository`` fixture: a ledger that is a ``BatchFinisher``."""

    @pytest.fixture
    def repository(self) -> JobRepository:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def batches(self, repository: JobRepository) -> BatchFinisher:
        """The repository as a ``BatchFinisher``."""
        assert isinstance(repository, BatchFinisher)
        return repository

    def test_each_end_is_recorded_as_finish_job_would(self, repository: JobRepository) -> None:
        ok, bad, gone = (_running(repository, f"owner-{i}") for i in range(3))
        now = utcnow()
        ended = self.batches(repository).finish_jobs(
            [
                Finish(ok.id, JobStatus.COMPLETED, now, result={"items": [1, 2]}),
                Finish(bad.id, JobStatus.FAILED, now, None, "fatal", "boom", dead_letter=True),
                Finish(gone.id, JobStatus.CANCELLED, now, None, "cancelled", "stop"),
            ]
        )
        assert [existing(j).id for j in ended] == [ok.id, bad.id, gone.id]
        done = existing(repository.get_job(ok.id))
        assert done.status is JobStatus.COMPLETED and done.result == {"items": [1, 2]}
        assert done.progress_percent == 100.0 and done.completed_at is not None
        failed = existing(repository.get_job(bad.id))
        assert (failed.status, failed.error_code, failed.error_message) == (
            JobStatus.FAILED,
            "fatal",
            "boom",
        )
        assert failed.result is None
        letters = repository.list_dead_letters()
        assert [(d.job_id, d.error_code, d.params, d.attempts) for d in letters] == [
            (bad.id, "fatal", bad.params, 1)
        ]
        assert existing(repository.get_job(gone.id)).status is JobStatus.CANCELLED

    def test_finished_missing_and_repeated_jobs_get_none(self, repository: JobRepository) -> None:
        done, twice = _running(repository), _running(repository)
        now = utcnow()
        repository.finish_job(done.id, status=JobStatus.COMPLETED, now=now, result=1)
        ended = self.batches(repository).finish_jobs(
            [
                Finish(done.id, JobStatus.FAILED, now, None, "late", "too late"),
                Finish("00000000-0000-4000-8000-00000000dead", JobStatus.COMPLETED, now),
                Finish(twice.id, JobStatus.COMPLETED, now, result={"first": True}),
                Finish(twice.id, JobStatus.FAILED, now, None, "second", "ignored"),
            ]
        )
        assert [j.id if j else None for j in ended] == [None, None, twice.id, None]
        assert existing(repository.get_job(done.id)).result == 1
        kept = existing(repository.get_job(twice.id))
        assert (kept.status, kept.result) == (JobStatus.COMPLETED, {"first": True})
        assert self.batches(repository).finish_jobs([]) == []

    def test_concurrent_batches_end_every_job_once(self, repository: JobRepository) -> None:
        jobs = [_running(repository, f"owner-{i % 3}") for i in range(24)]
        barrier = threading.Barrier(4)
        ended: list[Job | None] = []

        def one(part: list[Job]) -> None:
            barrier.wait()
            batch = [Finish(j.id, JobStatus.COMPLETED, utcnow(), result=j.id) for j in part]
            ended.extend(self.batches(repository).finish_jobs(batch))

        threads = [threading.Thread(target=one, args=(jobs[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(existing(j).id for j in ended) == sorted(j.id for j in jobs)
        for job in jobs:
            assert existing(repository.get_job(job.id)).result == job.id


class BatchClaimerContract:
    """Subclass me and provide a ``repository`` fixture: a ledger that is a ``BatchClaimer``."""

    @pytest.fixture
    def repository(self) -> JobRepository:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def claimer(self, repository: JobRepository) -> BatchClaimer:
        """The repository as a ``BatchClaimer``."""
        assert isinstance(repository, BatchClaimer)
        return repository

    def test_each_claim_is_applied_as_claim_job_would(self, repository: JobRepository) -> None:
        now = utcnow()
        due, _ = repository.create_job(new_job(), active_limit=None)
        later, _ = repository.create_job(
            new_job(scheduled_for=now + timedelta(minutes=5)), active_limit=None
        )
        done = _running(repository)
        repository.finish_job(done.id, status=JobStatus.COMPLETED, now=now)
        live = _running(repository)
        crashed = _running(repository)
        repository.claim_job(crashed.id, worker_id="w", now=now)  # not taken: its worker lives
        claimed = self.claimer(repository).claim_jobs(
            [
                Claim(due.id, "host:1:1", now, now - timedelta(minutes=1)),
                Claim(later.id, "host:1:2", now, now - timedelta(minutes=1)),
                Claim(done.id, "host:1:3", now, now - timedelta(minutes=1)),
                Claim(live.id, "host:1:4", now, now - timedelta(minutes=1)),
                Claim(crashed.id, "host:1:5", now, now + timedelta(seconds=1)),
                Claim("00000000-0000-4000-8000-00000000dead", "host:1:6", now),
            ]
        )
        assert [j.id if j else None for j in claimed] == [
            due.id,
            None,
            None,
            None,
            crashed.id,
            None,
        ]
        got = existing(repository.get_job(due.id))
        assert (got.status, got.attempts, got.worker_id) == (JobStatus.PROCESSING, 1, "host:1:1")
        again = existing(repository.get_job(crashed.id))
        assert (again.attempts, again.worker_id) == (2, "host:1:5")
        assert existing(repository.get_job(later.id)).status is JobStatus.PENDING
        assert existing(repository.get_job(live.id)).worker_id == "w"

    def test_a_job_claimed_twice_in_one_batch_is_claimed_once(
        self, repository: JobRepository
    ) -> None:
        job, _ = repository.create_job(new_job(), active_limit=None)
        now = utcnow()
        claimed = self.claimer(repository).claim_jobs(
            [Claim(job.id, "first", now), Claim(job.id, "second", now)]
        )
        assert [j.worker_id if j else None for j in claimed] == ["first", None]
        assert existing(repository.get_job(job.id)).attempts == 1
        assert self.claimer(repository).claim_jobs([]) == []

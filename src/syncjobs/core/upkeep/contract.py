"""The upkeep contract: the behaviour every ``UpkeepRepository`` must show, as pytest tests.

Its repository is a ``JobRepository`` too: upkeep works on the ledger's jobs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ...clock import utcnow
from ..ledger.contract import existing, new_job
from ..models import Job, JobStatus

__all__ = ["UpkeepRepositoryContract"]


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
        return existing(claimed)

    def test_heartbeats_refresh_running_jobs_and_report_per_kind(self, repository: Any) -> None:
        t0 = utcnow() - timedelta(minutes=10)
        job = self._running(repository, t0)
        now = utcnow()
        repository.heartbeat("host:1", "worker", job_ids=[job.id], now=now)
        repository.heartbeat("tick", "scheduler", job_ids=[], now=now - timedelta(seconds=5))
        assert existing(repository.get_job(job.id)).heartbeat_at == now
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
        assert existing(repository.get_job(fresh.id)).status is JobStatus.PROCESSING

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
        assert existing(repository.get_job(gone.id)).error_code == "expired"
        assert existing(repository.get_job(kept.id)).status is JobStatus.PENDING

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

"""Upkeep in process memory (mixed into ``InMemoryRepository``)."""

from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ..models import DeadLetter, Job, JobStatus, LogLine
from .store import empty_job_counts

__all__ = ["MemoryUpkeepMixin"]


class MemoryUpkeepMixin:
    """``UpkeepRepository`` in process memory, over the in-memory ledger's jobs.

    Needs ``_lock`` and the ledger's state (``MemoryLedgerMixin``) in the same object.
    """

    _lock: threading.RLock
    _jobs: dict[str, Job]
    _dead: list[DeadLetter]
    _log: list[LogLine]

    _put: Callable[[Job], Job]  # provided by MemoryLedgerMixin

    def _init_upkeep(self) -> None:
        #: worker id → (kind, first seen, last seen); schedule name → last slot fired.
        self._workers: dict[str, tuple[str, datetime, datetime]] = {}
        self._slots: dict[str, datetime] = {}

    def heartbeat(
        self, worker_id: str, kind: str, *, job_ids: Sequence[str], now: datetime
    ) -> None:
        """Record a live worker and refresh its running jobs' heartbeats."""
        with self._lock:
            known = self._workers.get(worker_id)
            self._workers[worker_id] = (kind, known[1] if known else now, now)
            for job_id in job_ids:
                job = self._jobs.get(job_id)
                if job is not None and job.status is JobStatus.PROCESSING:
                    self._jobs[job_id] = dataclasses.replace(job, heartbeat_at=now)

    def last_heartbeats(self) -> dict[str, datetime]:
        """The latest heartbeat per kind."""
        with self._lock:
            latest: dict[str, datetime] = {}
            for kind, _, seen in self._workers.values():
                latest[kind] = max(seen, latest.get(kind, seen))
            return latest

    def schedule_slot(self, name: str) -> datetime | None:
        """The last slot a schedule fired."""
        with self._lock:
            return self._slots.get(name)

    def claim_schedule_slot(
        self, name: str, *, previous: datetime | None, slot: datetime, now: datetime
    ) -> bool:
        """Compare-and-set a schedule's last slot."""
        with self._lock:
            if self._slots.get(name) != previous:
                return False
            self._slots[name] = slot
            return True

    def stale_jobs(self, *, stale_before: datetime, limit: int) -> list[Job]:
        """Processing jobs whose heartbeat is older than ``stale_before``."""
        with self._lock:
            found = [
                j
                for j in self._jobs.values()
                if j.status is JobStatus.PROCESSING
                and j.heartbeat_at is not None
                and j.heartbeat_at < stale_before
            ]
            return copy.deepcopy(
                sorted(found, key=lambda j: j.heartbeat_at or j.created_at)[:limit]
            )

    def recover_job(
        self,
        job_id: str,
        *,
        stale_before: datetime,
        run_at: datetime,
        now: datetime,
        error_code: str,
        error_message: str,
    ) -> Job | None:
        """Stale processing → pending."""
        with self._lock:
            job = self._jobs.get(job_id)
            if (
                job is None
                or job.status is not JobStatus.PROCESSING
                or (job.heartbeat_at is not None and job.heartbeat_at >= stale_before)
            ):
                return None
            return self._put(
                dataclasses.replace(
                    job,
                    status=JobStatus.PENDING,
                    scheduled_for=run_at,
                    worker_id=None,
                    error_code=error_code,
                    error_message=error_message,
                    updated_at=now,
                )
            )

    def unsent_jobs(self, *, idle_before: datetime, now: datetime, limit: int) -> list[Job]:
        """Due pending jobs untouched since ``idle_before``."""
        with self._lock:
            found = [
                j
                for j in self._jobs.values()
                if j.status is JobStatus.PENDING
                and j.updated_at < idle_before
                and (j.scheduled_for is None or j.scheduled_for <= now)
            ]
            return copy.deepcopy(sorted(found, key=lambda j: j.created_at)[:limit])

    def touch_job(self, job_id: str, *, now: datetime) -> None:
        """Mark a pending job as just (re)sent."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None and job.status is JobStatus.PENDING:
                self._jobs[job_id] = dataclasses.replace(job, updated_at=now)

    def expire_jobs(self, *, now: datetime, limit: int) -> int:
        """Fail pending jobs past expiry."""
        with self._lock:
            doomed = [
                j
                for j in self._jobs.values()
                if j.status is JobStatus.PENDING
                and j.attempts == 0
                and j.expires_at is not None
                and j.expires_at < now
            ]
            for job in doomed[:limit]:
                self._put(
                    dataclasses.replace(
                        job,
                        status=JobStatus.FAILED,
                        error_code="expired",
                        error_message="the job expired before a worker took it",
                        completed_at=now,
                        updated_at=now,
                    )
                )
            return len(doomed[:limit])

    def purge_jobs(self, *, finished_before: datetime, failed_before: datetime, limit: int) -> int:
        """Delete one batch of jobs past retention."""

        def expired(j: Job) -> bool:
            if j.completed_at is None:
                return False
            if j.status in (JobStatus.COMPLETED, JobStatus.CANCELLED):
                return j.completed_at < finished_before
            return j.status is JobStatus.FAILED and j.completed_at < failed_before

        with self._lock:
            ids = {j.id for j in self._jobs.values() if expired(j)}
            ids = set(sorted(ids)[:limit])
            for job_id in ids:
                del self._jobs[job_id]
            self._log[:] = [ln for ln in self._log if ln.job_id not in ids]
            self._dead[:] = [d for d in self._dead if d.job_id not in ids]
            return len(ids)

    def job_counts(self) -> dict[str, dict[str, Any]]:
        """Per job type: counts by status, dead letters, oldest pending creation."""
        with self._lock:
            out: dict[str, dict[str, Any]] = {}
            for job in self._jobs.values():
                entry = out.setdefault(job.job_type, empty_job_counts())
                entry[job.status.value] += 1
                oldest = entry["oldest_pending_at"]
                if job.status is JobStatus.PENDING and (oldest is None or job.created_at < oldest):
                    entry["oldest_pending_at"] = job.created_at
            for letter in self._dead:
                out.setdefault(letter.job_type, empty_job_counts())["dead_lettered"] += 1
            return out

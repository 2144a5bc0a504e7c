"""InMemoryRepository: the ledger in a dict, for unit tests and embedding."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import threading
from datetime import datetime
from typing import Any

from ..errors import ConcurrencyLimitError
from ..models import ACTIVE_STATUSES, DeadLetter, Job, JobStatus, LogLine, NewJob
from ..protocols import Subscription

__all__ = ["InMemoryRepository"]


class InMemoryRepository:
    """The job ledger in process memory; thread-safe; ``watch`` wakes on every change."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._jobs: dict[str, Job] = {}
        self._log: list[LogLine] = []
        self._dead: list[DeadLetter] = []
        self._ids = itertools.count(1)
        self._version: dict[str, int] = {}

    def close(self) -> None:
        """Nothing to release."""

    def _put(self, job: Job) -> Job:
        self._jobs[job.id] = job
        self._version[job.id] = self._version.get(job.id, 0) + 1
        self._changed.notify_all()
        return copy.deepcopy(job)

    def _update(self, job_id: str, allowed: set[JobStatus], **changes: Any) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None or job.status not in allowed:
            return None
        return self._put(dataclasses.replace(job, **changes))

    def _active(self, owner_id: str) -> int:
        return sum(
            1 for j in self._jobs.values() if j.owner_id == owner_id and j.status in ACTIVE_STATUSES
        )

    def create_job(self, new: NewJob, *, active_limit: int | None) -> tuple[Job, bool]:
        """Insert atomically under the owner's limit and idempotency key."""
        with self._lock:
            if new.idempotency_key is not None:
                for job in self._jobs.values():
                    if job.owner_id == new.owner_id and job.idempotency_key == new.idempotency_key:
                        return copy.deepcopy(job), False
            if active_limit is not None:
                active = self._active(new.owner_id)
                if active >= active_limit:
                    raise ConcurrencyLimitError(
                        f"owner already has {active} active jobs (limit {active_limit})"
                    )
            job = Job(
                id=new.id, owner_id=new.owner_id, job_type=new.job_type, queue=new.queue,
                priority=new.priority, params=copy.deepcopy(new.params),
                status=JobStatus.PENDING, created_at=new.created_at, updated_at=new.created_at,
                max_retries=new.max_retries, scheduled_for=new.scheduled_for,
                expires_at=new.expires_at, idempotency_key=new.idempotency_key,
                parent_id=new.parent_id,
            )
            return self._put(job), True

    def delete_job(self, job_id: str) -> None:
        """Remove a job."""
        with self._lock:
            self._jobs.pop(job_id, None)

    def get_job(self, job_id: str) -> Job | None:
        """Return one job."""
        with self._lock:
            job = self._jobs.get(job_id)
            return copy.deepcopy(job) if job is not None else None

    def list_jobs(
        self,
        *,
        owner_id: str | None = None,
        status: JobStatus | None = None,
        job_type: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        """Return jobs newest first."""
        with self._lock:
            found = [
                j for j in self._jobs.values()
                if (owner_id is None or j.owner_id == owner_id)
                and (status is None or j.status is status)
                and (job_type is None or j.job_type == job_type)
            ]
            found.sort(key=lambda j: (-j.created_at.timestamp(), j.id))
            return copy.deepcopy(found[offset : offset + limit])

    def claim_job(self, job_id: str, *, worker_id: str, now: datetime) -> Job | None:
        """Mark the job processing and count the attempt."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status not in ACTIVE_STATUSES:
                return None
            if job.scheduled_for is not None and job.scheduled_for > now:
                return None
            return self._put(dataclasses.replace(
                job, status=JobStatus.PROCESSING, attempts=job.attempts + 1,
                worker_id=worker_id, started_at=now, heartbeat_at=now, updated_at=now,
            ))

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
        """Record progress; return the cancel flag."""
        with self._lock:
            job = self._update(
                job_id, {JobStatus.PROCESSING}, progress_done=done, progress_total=total,
                progress_percent=percent, progress_message=message, heartbeat_at=now,
                updated_at=now,
            )
            return bool(job and job.cancel_requested)

    def save_checkpoint(self, job_id: str, data: Any, *, now: datetime) -> None:
        """Store a resume point."""
        with self._lock:
            self._update(
                job_id, set(JobStatus), checkpoint=copy.deepcopy(data), heartbeat_at=now,
                updated_at=now,
            )

    def is_cancel_requested(self, job_id: str) -> bool:
        """Read the cancel flag."""
        with self._lock:
            job = self._jobs.get(job_id)
            return job is None or job.cancel_requested or job.status is JobStatus.CANCELLED

    def finish_job(
        self,
        job_id: str,
        *,
        status: JobStatus,
        now: datetime,
        result: Any = None,
        error_code: str | None = None,
        error_message: str | None = None,
        dead_letter: bool = False,
    ) -> Job | None:
        """Record a terminal status and, when asked, the dead letter."""
        changes: dict[str, Any] = {
            "status": status, "completed_at": now, "updated_at": now,
            "error_code": error_code, "error_message": error_message,
        }
        if status is JobStatus.COMPLETED:
            changes.update(result=copy.deepcopy(result), progress_percent=100.0)
        with self._lock:
            job = self._update(job_id, set(ACTIVE_STATUSES), **changes)
            if job is not None and dead_letter:
                self._dead.append(DeadLetter(
                    id=next(self._ids), job_id=job.id, owner_id=job.owner_id,
                    job_type=job.job_type, params=copy.deepcopy(job.params),
                    error_code=error_code, error_message=error_message,
                    attempts=job.attempts, failed_at=now,
                ))
            return job

    def reschedule_job(
        self,
        job_id: str,
        *,
        run_at: datetime,
        now: datetime,
        error_code: str,
        error_message: str,
        count_retry: bool,
    ) -> Job | None:
        """Back to pending until ``run_at``."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status is not JobStatus.PROCESSING:
                return None
            return self._put(dataclasses.replace(
                job, status=JobStatus.PENDING, scheduled_for=run_at, error_code=error_code,
                error_message=error_message, worker_id=None, updated_at=now,
                retry_count=job.retry_count + (1 if count_retry else 0),
                attempts=job.attempts - (0 if count_retry else 1),
            ))

    def cancel_job(self, job_id: str, *, now: datetime) -> Job | None:
        """Cancel a pending job or flag a processing one."""
        with self._lock:
            job = self._update(
                job_id, {JobStatus.PENDING}, status=JobStatus.CANCELLED, cancel_requested=True,
                completed_at=now, updated_at=now, error_code="cancelled",
                error_message="cancelled before it started",
            )
            if job is None:
                job = self._update(
                    job_id, {JobStatus.PROCESSING}, cancel_requested=True, updated_at=now
                )
            return job if job is not None else self.get_job(job_id)

    def reset_job(self, job_id: str, *, now: datetime, active_limit: int | None) -> Job | None:
        """Failed or cancelled → pending with fresh attempts."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            if active_limit is not None:
                active = self._active(job.owner_id)
                if active >= active_limit:
                    raise ConcurrencyLimitError(
                        f"owner already has {active} active jobs (limit {active_limit})"
                    )
            return self._update(
                job_id, {JobStatus.FAILED, JobStatus.CANCELLED}, status=JobStatus.PENDING,
                attempts=0, retry_count=0, cancel_requested=False, error_code=None,
                error_message=None, result=None, progress_percent=0.0, progress_done=None,
                progress_total=None, progress_message=None, scheduled_for=None,
                expires_at=None, started_at=None, completed_at=None, worker_id=None,
                updated_at=now,
            )

    def append_log(self, job_id: str, level: str, message: str, *, now: datetime) -> None:
        """Add a log line."""
        with self._lock:
            self._log.append(LogLine(next(self._ids), job_id, now, level, message))

    def get_log(self, job_id: str, *, limit: int = 100, after_id: int = 0) -> list[LogLine]:
        """Return log lines in order."""
        with self._lock:
            lines = [ln for ln in self._log if ln.job_id == job_id and ln.id > after_id]
            return lines[:limit]

    def list_dead_letters(
        self, *, owner_id: str | None = None, limit: int = 50
    ) -> list[DeadLetter]:
        """Return dead letters newest first."""
        with self._lock:
            found = [d for d in self._dead if owner_id is None or d.owner_id == owner_id]
            return list(reversed(found))[:limit]

    def subscribe(self, job_id: str) -> Subscription:
        """Wake on this job's changes."""
        return _MemorySubscription(self, job_id)


class _MemorySubscription:
    def __init__(self, repo: InMemoryRepository, job_id: str) -> None:
        self._repo, self._job_id = repo, job_id
        with repo._lock:
            self._seen = repo._version.get(job_id, 0)

    def wait(self, timeout: float) -> bool:
        repo = self._repo
        with repo._changed:
            changed = repo._changed.wait_for(
                lambda: repo._version.get(self._job_id, 0) != self._seen, timeout=max(timeout, 0)
            )
            self._seen = repo._version.get(self._job_id, 0)
        return bool(changed)

    def close(self) -> None:
        pass

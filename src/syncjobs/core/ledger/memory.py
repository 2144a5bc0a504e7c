"""The job ledger in process memory (mixed into ``InMemoryRepository``); thread-safe."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import threading
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..models import ACTIVE_STATUSES, DeadLetter, Job, JobStatus, LogLine, NewJob
from .memory_group import MemoryGroupMixin
from .store import (
    RESET_FIELDS,
    Subscription,
    active_limit_error,
    batch_limit_error,
    job_of,
)

__all__ = ["MemoryLedgerMixin", "MemorySubscription"]


class MemoryLedgerMixin(MemoryGroupMixin):
    """``JobRepository`` in dicts under one lock; ``subscribe`` wakes on every change of a job.

    Needs ``_lock`` (an RLock) and ``_ids`` (a counter shared by the stores) set first.
    """

    _lock: threading.RLock
    _ids: itertools.count[int]

    def _init_ledger(self) -> None:
        self._changed = threading.Condition(self._lock)
        self._jobs: dict[str, Job] = {}
        self._log: list[LogLine] = []
        self._dead: list[DeadLetter] = []
        #: job id → how many times it changed (what a subscription waits on).
        self._version: dict[str, int] = {}

    def close(self) -> None:
        """Nothing to release."""

    def _put(self, job: Job) -> Job:
        """Store ``job``, wake its watchers, and return a copy."""
        self._jobs[job.id] = job
        self._version[job.id] = self._version.get(job.id, 0) + 1
        self._changed.notify_all()
        return copy.deepcopy(job)

    def _update(self, job_id: str, allowed: set[JobStatus], **changes: Any) -> Job | None:
        job = self._jobs.get(job_id)
        if job is None or job.status not in allowed:
            return None
        return self._put(dataclasses.replace(job, **changes))

    def _check_limit(self, owner_id: str, active_limit: int | None) -> None:
        if active_limit is None:
            return
        active = sum(
            1 for j in self._jobs.values() if j.owner_id == owner_id and j.status in ACTIVE_STATUSES
        )
        if active >= active_limit:
            raise active_limit_error(active, active_limit)

    # -- the job rows (JobStore) ----------------------------------------------------------
    def create_job(self, new: NewJob, *, active_limit: int | None) -> tuple[Job, bool]:
        """Insert atomically under the owner's limit and idempotency key."""
        with self._lock:
            if new.idempotency_key is not None:
                for job in self._jobs.values():
                    if job.owner_id == new.owner_id and job.idempotency_key == new.idempotency_key:
                        return copy.deepcopy(job), False
            self._check_limit(new.owner_id, active_limit)
            job = Job(
                id=new.id,
                owner_id=new.owner_id,
                job_type=new.job_type,
                queue=new.queue,
                priority=new.priority,
                params=copy.deepcopy(new.params),
                status=JobStatus.PENDING,
                created_at=new.created_at,
                updated_at=new.created_at,
                max_retries=new.max_retries,
                scheduled_for=new.scheduled_for,
                expires_at=new.expires_at,
                idempotency_key=new.idempotency_key,
                parent_id=new.parent_id,
            )
            return self._put(job), True

    def create_jobs(
        self, news: Sequence[NewJob], *, active_limit: int | None
    ) -> list[tuple[Job, bool]]:
        """Insert a batch at once under the owners' limit and idempotency keys (JobBatchStore)."""
        with self._lock:
            keyed: dict[tuple[str, str | None], Job] = {
                (j.owner_id, j.idempotency_key): j
                for j in self._jobs.values()
                if j.idempotency_key is not None
            }
            out: list[tuple[Job, bool]] = []
            fresh: list[Job] = []
            for new in news:
                key = (new.owner_id, new.idempotency_key)
                if new.idempotency_key is not None and key in keyed:
                    out.append((keyed[key], False))
                    continue
                job = dataclasses.replace(job_of(new), params=copy.deepcopy(new.params))
                if new.idempotency_key is not None:
                    keyed[key] = job
                fresh.append(job)
                out.append((job, True))
            if active_limit is not None:
                active = Counter(
                    j.owner_id for j in self._jobs.values() if j.status in ACTIVE_STATUSES
                )
                for owner, adding in Counter(j.owner_id for j in fresh).items():
                    if active[owner] + adding > active_limit:
                        raise batch_limit_error(owner, active[owner], adding, active_limit)
            for job in fresh:
                self._put(job)
            return [(copy.deepcopy(job), created) for job, created in out]

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
                j
                for j in self._jobs.values()
                if (owner_id is None or j.owner_id == owner_id)
                and (status is None or j.status is status)
                and (job_type is None or j.job_type == job_type)
            ]
            found.sort(key=lambda j: (-j.created_at.timestamp(), j.id))
            return copy.deepcopy(found[offset : offset + limit])

    def job_ids_starting(self, prefix: str, *, limit: int = 10) -> list[str]:
        """Ids starting with ``prefix``, in order (``JobIdLookup``)."""
        with self._lock:
            return sorted(i for i in self._jobs if i.startswith(prefix))[: max(limit, 0)]

    def claim_job(
        self, job_id: str, *, worker_id: str, now: datetime, stale_before: datetime | None = None
    ) -> Job | None:
        """Mark the job processing and count the attempt (a crashed worker's job too)."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or job.status not in ACTIVE_STATUSES:
                return None
            if job.status is JobStatus.PROCESSING and not (
                stale_before is not None
                and job.heartbeat_at is not None
                and job.heartbeat_at < stale_before
            ):
                return None
            if job.scheduled_for is not None and job.scheduled_for > now:
                return None
            return self._put(
                dataclasses.replace(
                    job,
                    status=JobStatus.PROCESSING,
                    attempts=job.attempts + 1,
                    worker_id=worker_id,
                    started_at=now,
                    heartbeat_at=now,
                    updated_at=now,
                )
            )

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
                job_id,
                {JobStatus.PROCESSING},
                progress_done=done,
                progress_total=total,
                progress_percent=percent,
                progress_message=message,
                heartbeat_at=now,
                updated_at=now,
            )
            return bool(job and job.cancel_requested)

    def save_checkpoint(self, job_id: str, data: Any, *, now: datetime) -> None:
        """Store a resume point."""
        with self._lock:
            self._update(
                job_id,
                set(JobStatus),
                checkpoint=copy.deepcopy(data),
                heartbeat_at=now,
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
            "status": status,
            "completed_at": now,
            "updated_at": now,
            "error_code": error_code,
            "error_message": error_message,
        }
        if status is JobStatus.COMPLETED:
            changes.update(result=copy.deepcopy(result), progress_percent=100.0)
        with self._lock:
            job = self._update(job_id, set(ACTIVE_STATUSES), **changes)
            if job is not None and dead_letter:
                self._dead.append(
                    DeadLetter(
                        id=next(self._ids),
                        job_id=job.id,
                        owner_id=job.owner_id,
                        job_type=job.job_type,
                        params=copy.deepcopy(job.params),
                        error_code=error_code,
                        error_message=error_message,
                        attempts=job.attempts,
                        failed_at=now,
                    )
                )
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
            return self._put(
                dataclasses.replace(
                    job,
                    status=JobStatus.PENDING,
                    scheduled_for=run_at,
                    expires_at=None,
                    error_code=error_code,
                    error_message=error_message,
                    worker_id=None,
                    updated_at=now,
                    retry_count=job.retry_count + (1 if count_retry else 0),
                    attempts=job.attempts - (0 if count_retry else 1),
                )
            )

    def cancel_job(self, job_id: str, *, now: datetime) -> Job | None:
        """Cancel a pending job or flag a processing one."""
        with self._lock:
            job = self._update(
                job_id,
                {JobStatus.PENDING},
                status=JobStatus.CANCELLED,
                cancel_requested=True,
                completed_at=now,
                updated_at=now,
                error_code="cancelled",
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
            self._check_limit(job.owner_id, active_limit)
            return self._update(
                job_id,
                {JobStatus.FAILED, JobStatus.CANCELLED},
                **RESET_FIELDS,
                status=JobStatus.PENDING,
                updated_at=now,
            )

    # -- the log, dead letters and change signals (JobLogStore) ---------------------------
    def append_log(self, job_id: str, level: str, message: str, *, now: datetime) -> None:
        """Add a log line."""
        with self._lock:
            self._log.append(LogLine(next(self._ids), job_id, now, level, message))

    def get_log(self, job_id: str, *, limit: int = 100, after_id: int = 0) -> list[LogLine]:
        """Return log lines in order."""
        with self._lock:
            lines = [ln for ln in self._log if ln.job_id == job_id and ln.id > after_id]
            return lines[:limit]

    def delete_job_logs(self, *, before: datetime, limit: int) -> int:
        """Delete one batch of log lines written before ``before``."""
        with self._lock:
            old = sorted(ln.id for ln in self._log if ln.at < before)[: max(limit, 0)]
            ids = set(old)
            self._log[:] = [ln for ln in self._log if ln.id not in ids]
            return len(ids)

    def list_dead_letters(
        self, *, owner_id: str | None = None, limit: int = 50
    ) -> list[DeadLetter]:
        """Return dead letters newest first."""
        with self._lock:
            found = [d for d in self._dead if owner_id is None or d.owner_id == owner_id]
            return list(reversed(found))[:limit]

    def subscribe(self, job_id: str) -> Subscription:
        """Wake on this job's changes."""
        return MemorySubscription(self._changed, self._version, job_id)


class MemorySubscription:
    """Waits on the ledger's condition until one job's change count moves."""

    def __init__(self, changed: threading.Condition, version: dict[str, int], job_id: str) -> None:
        self._changed, self._version, self._job_id = changed, version, job_id
        with changed:
            self._seen = version.get(job_id, 0)

    def wait(self, timeout: float) -> bool:
        """Block until the job changed or ``timeout`` seconds pass; True if it changed."""
        with self._changed:
            changed = self._changed.wait_for(
                lambda: self._version.get(self._job_id, 0) != self._seen, timeout=max(timeout, 0)
            )
            self._seen = self._version.get(self._job_id, 0)
        return bool(changed)

    def close(self) -> None:
        """Nothing to release."""

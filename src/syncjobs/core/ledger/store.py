"""The job ledger's protocols: the job rows, and what jobs leave behind (log, dead letters).

Hosts implement these (``typing.Protocol``), never subclass them; ``JobRepository`` is both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from ...errors import ConcurrencyLimitError
from ..models import Claim, DeadLetter, Finish, Job, JobStatus, LogLine, NewJob

__all__ = [
    "MAX_LOCKED_OWNERS",
    "RESET_FIELDS",
    "BatchClaimer",
    "BatchFinisher",
    "JobBatchStore",
    "JobIdLookup",
    "JobLogStore",
    "JobRepository",
    "JobStore",
    "Subscription",
    "active_limit_error",
    "batch_limit_error",
    "job_of",
]

#: What ``reset_job`` clears on a failed or cancelled job, besides making it pending.
RESET_FIELDS: Mapping[str, Any] = MappingProxyType(
    {
        "attempts": 0,
        "retry_count": 0,
        "cancel_requested": False,
        "error_code": None,
        "error_message": None,
        "result": None,
        "progress_percent": 0.0,
        "progress_done": None,
        "progress_total": None,
        "progress_message": None,
        "scheduled_for": None,
        "expires_at": None,
        "started_at": None,
        "completed_at": None,
        "worker_id": None,
    }
)


def active_limit_error(active: int, limit: int) -> ConcurrencyLimitError:
    """What ``create_job`` and ``reset_job`` raise: the owner has ``active`` of ``limit`` jobs."""
    return ConcurrencyLimitError(f"owner already has {active} active jobs (limit {limit})")


#: The most distinct owners whose locks one ``create_jobs`` batch takes until its commit (on
#: PostgreSQL the lock table is shared and finite: max_locks_per_transaction per connection).
MAX_LOCKED_OWNERS = 1000


def batch_limit_error(owner_id: str, active: int, adding: int, limit: int) -> ConcurrencyLimitError:
    """What ``create_jobs`` raises: a batch would take ``owner_id`` past ``limit``."""
    return ConcurrencyLimitError(
        f"owner {owner_id!r} has {active} active jobs and the batch adds {adding} "
        f"(limit {limit}); nothing was created"
    )


def job_of(new: NewJob) -> Job:
    """The pending job a freshly inserted ``new`` is (what every store stores for it)."""
    return Job(
        id=new.id,
        owner_id=new.owner_id,
        job_type=new.job_type,
        queue=new.queue,
        priority=new.priority,
        params=new.params,
        status=JobStatus.PENDING,
        created_at=new.created_at,
        updated_at=new.created_at,
        max_retries=new.max_retries,
        scheduled_for=new.scheduled_for,
        expires_at=new.expires_at,
        idempotency_key=new.idempotency_key,
        parent_id=new.parent_id,
    )


class Subscription(Protocol):
    """A stream of change signals for one job (NOTIFY, a condition, or a poll timer)."""

    def wait(self, timeout: float) -> bool:
        """Block until the job may have changed or ``timeout`` seconds pass; True if signalled."""
        ...

    def close(self) -> None:
        """Stop listening."""
        ...


@runtime_checkable
class JobStore(Protocol):
    """The job rows: every state change of a job is one atomic call here."""

    def create_job(self, new: NewJob, *, active_limit: int | None) -> tuple[Job, bool]:
        """Insert ``new`` unless its idempotency key exists; return (job, created).

        Counting the owner's active jobs and inserting is atomic: concurrent calls never
        let an owner exceed ``active_limit``. Raises ConcurrencyLimitError past it.
        """
        ...

    def delete_job(self, job_id: str) -> None:
        """Remove a job that was never handed to a broker."""
        ...

    def get_job(self, job_id: str) -> Job | None:
        """Return the job, or None."""
        ...

    def list_jobs(
        self,
        *,
        owner_id: str | None = None,
        status: JobStatus | None = None,
        job_type: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        """Return jobs, newest first, filtered by owner, status and type."""
        ...

    def claim_job(
        self, job_id: str, *, worker_id: str, now: datetime, stale_before: datetime | None = None
    ) -> Job | None:
        """Mark a pending job ``processing`` and count the attempt.

        A processing job is claimed again only when its worker has not heartbeaten since
        ``stale_before`` (it crashed). Returns None when the job is missing, finished, running
        on a live worker, or scheduled for later than ``now``.
        """
        ...

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
        """Record progress (and a heartbeat) of a processing job; return its cancel flag."""
        ...

    def save_checkpoint(self, job_id: str, data: Any, *, now: datetime) -> None:
        """Store a processing job's resume point."""
        ...

    def is_cancel_requested(self, job_id: str) -> bool:
        """True when someone asked to cancel the job."""
        ...

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
        """Move a processing job to a terminal status; dead-letter it in the same transaction."""
        ...

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
        """Put a processing job back to pending until ``run_at``.

        With ``count_retry`` the retry counts; without (rate limits), the attempt is given back.
        """
        ...

    def cancel_job(self, job_id: str, *, now: datetime) -> Job | None:
        """Cancel a pending job, or flag a processing one; finished jobs are left as they are."""
        ...

    def reset_job(self, job_id: str, *, now: datetime, active_limit: int | None) -> Job | None:
        """Put a failed or cancelled job back to pending with fresh attempts."""
        ...


@runtime_checkable
class BatchFinisher(Protocol):
    """Many terminal writes in one durable commit: what the worker's group commit needs.

    Optional: a store without it has each job's end written by ``finish_job`` alone.
    """

    def finish_jobs(self, finishes: Sequence[Finish]) -> list[Job | None]:
        """Apply each ``finish_job`` in order, all in one transaction; their results in order.

        The whole batch commits durably or not at all. A job named twice ends as the first
        one says; the later ones get None, as ``finish_job`` on a finished job would.
        """
        ...


@runtime_checkable
class BatchClaimer(Protocol):
    """Many claims in one statement: what the worker's grouped claims need. Optional."""

    def claim_jobs(self, claims: Sequence[Claim]) -> list[Job | None]:
        """Apply each ``claim_job`` in order, in one transaction; their results in order.

        A job named twice is claimed by the first; the later ones get None, as a second
        ``claim_job`` of a running job would.
        """
        ...


@runtime_checkable
class JobBatchStore(Protocol):
    """Many new jobs in one transaction (``submit_many``); stores without it get a loop."""

    def create_jobs(
        self, news: Sequence[NewJob], *, active_limit: int | None
    ) -> list[tuple[Job, bool]]:
        """Insert every ``new`` whose idempotency key is not taken; one (job, created) each.

        All in one transaction: a job whose key exists (in the ledger, or earlier in
        ``news``) comes back as that job with created False. When the new jobs would take an
        owner past ``active_limit`` active jobs, raises ConcurrencyLimitError and writes nothing.
        """
        ...


@runtime_checkable
class JobIdLookup(Protocol):
    """Jobs found by the first characters of their id, as the command line shows them."""

    def job_ids_starting(self, prefix: str, *, limit: int = 10) -> list[str]:
        """Ids of the jobs whose id starts with ``prefix``, in id order, at most ``limit``."""
        ...


@runtime_checkable
class JobLogStore(Protocol):
    """What jobs leave behind and how to follow them: log lines, dead letters, change signals."""

    def append_log(self, job_id: str, level: str, message: str, *, now: datetime) -> None:
        """Add a log line to a job."""
        ...

    def get_log(self, job_id: str, *, limit: int = 100, after_id: int = 0) -> list[LogLine]:
        """Return a job's log lines in order, after ``after_id``."""
        ...

    def delete_job_logs(self, *, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` job log lines written before ``before``; return how many."""
        ...

    def list_dead_letters(
        self, *, owner_id: str | None = None, limit: int = 50
    ) -> list[DeadLetter]:
        """Return dead-lettered jobs, newest first."""
        ...

    def subscribe(self, job_id: str) -> Subscription:
        """Listen for changes of one job."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class JobRepository(JobStore, JobLogStore, Protocol):
    """The job ledger: the job rows (``JobStore``) and their log (``JobLogStore``)."""

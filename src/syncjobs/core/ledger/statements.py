"""What each SQL dialect provides the ledger: its statements for the job hot path.

``SQLLedgerMixin`` picks one set when the repository is built: ``PostgresJobStatements``
(prebuilt SQL, one autocommit statement per change that also sends NOTIFY) or
``SQLiteJobStatements`` (SQLAlchemy Core, one transaction per change, watchers poll). Every
other ledger call is SQLAlchemy Core on both.

The parameters of a change (``JobChange``) are named alike on both dialects:

- every change: ``job`` (the job id), ``now``;
- CLAIM: ``worker``, ``stale`` (a crashed worker's job may be claimed again, or None);
- PROGRESS: ``done``, ``total``, ``percent``, ``message``;
- FINISH: ``to_status``, ``code``, ``message``, ``completed`` (store ``outcome`` as the result
  and progress 100), ``outcome``, ``dead`` (write a dead letter too);
- RESCHEDULE: ``run_at``, ``code``, ``message``, ``retry`` (1 or 0), ``give_back`` (1 or 0).
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, func, select

from ...schema.tables import Tables
from ..models import ACTIVE_STATUSES, Job, JobStatus, NewJob
from .store import Subscription

__all__ = ["ACTIVE_VALUES", "JobChange", "JobStatements", "count_active", "job_from_row"]

#: The active statuses as stored, in a stable order.
ACTIVE_VALUES: tuple[str, ...] = tuple(sorted(s.value for s in ACTIVE_STATUSES))


class JobChange(enum.Enum):
    """The changes of one job on the hot path."""

    CLAIM = "claim"
    PROGRESS = "progress"
    FINISH = "finish"
    RESCHEDULE = "reschedule"


class JobStatements(Protocol):
    """One dialect's statements for the job hot path."""

    #: Runs single statements (in autocommit mode where the dialect has it).
    engine: Engine

    def insert_job(self, new: NewJob, active_limit: int | None) -> Job | None:
        """Insert ``new``; None when its idempotency key exists or the owner is at the limit.

        Checking the key and the owner's active jobs and inserting is atomic.
        """
        ...

    def get_job(self, job_id: str) -> Job | None:
        """Read one job."""
        ...

    def cancel_flag(self, job_id: str) -> tuple[bool, str] | None:
        """(cancel requested, status) of one job, or None when it does not exist."""
        ...

    def change_job(self, change: JobChange, params: dict[str, Any]) -> Job | None:
        """Apply one change, committed and announced to watchers; None if it did not apply."""
        ...

    def claim_many(self, changes: list[dict[str, Any]]) -> list[Job]:
        """Apply many CLAIM changes (distinct jobs) in one transaction; the jobs claimed."""
        ...

    def finish_many(self, changes: list[dict[str, Any]]) -> list[Job]:
        """Apply many FINISH changes (distinct jobs) in one transaction; the jobs that ended."""
        ...

    def notify(self, conn: Connection, job_id: str, status: str) -> None:
        """Announce a change made on ``conn`` (in its transaction) to the job's watchers."""
        ...

    def lock_owner(self, conn: Connection, owner_id: str) -> None:
        """Serialise, until ``conn``'s transaction ends, the calls that count an owner's jobs."""
        ...

    def subscribe(self, job_id: str) -> Subscription:
        """Listen for changes of one job."""
        ...


def job_from_row(row: Any) -> Job:
    """A Job from a row of the jobs table."""
    return Job(
        id=row["id"],
        owner_id=row["owner_id"],
        job_type=row["job_type"],
        queue=row["queue"],
        priority=row["priority"],
        params=row["params"],
        status=JobStatus(row["status"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        max_retries=row["max_retries"],
        retry_count=row["retry_count"],
        attempts=row["attempts"],
        progress_percent=row["progress_percent"],
        progress_done=row["progress_done"],
        progress_total=row["progress_total"],
        progress_message=row["progress_message"],
        result=row["result"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        worker_id=row["worker_id"],
        scheduled_for=row["scheduled_for"],
        expires_at=row["expires_at"],
        idempotency_key=row["idempotency_key"],
        parent_id=row["parent_id"],
        cancel_requested=bool(row["cancel_requested"]),
        checkpoint=row["checkpoint"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        heartbeat_at=row["heartbeat_at"],
    )


def count_active(conn: Connection, tables: Tables, owner_id: str) -> int:
    """How many pending or processing jobs an owner has."""
    jobs = tables.jobs
    return int(
        conn.execute(
            select(func.count())
            .select_from(jobs)
            .where(jobs.c.owner_id == owner_id, jobs.c.status.in_(ACTIVE_VALUES))
        ).scalar_one()
    )

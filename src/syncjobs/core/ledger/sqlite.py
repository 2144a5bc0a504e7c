"""The job hot path on SQLite: SQLAlchemy Core statements built once, one transaction each.

SQLite has no NOTIFY: a subscription polls. Writers serialise at ``BEGIN IMMEDIATE`` (see
``syncjobs.schema.engine``), so checking an owner's jobs and inserting one is atomic.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, insert, or_, select, update

from ...schema.tables import Tables
from ..models import Job, JobStatus, NewJob
from .statements import ACTIVE_VALUES, JobChange, count_active, job_from_row
from .store import Subscription

__all__ = ["PollSubscription", "SQLiteJobStatements", "new_row"]

_PENDING, _PROCESSING = JobStatus.PENDING.value, JobStatus.PROCESSING.value


def _changes(tables: Tables) -> dict[JobChange, Any]:
    """The UPDATE … RETURNING of each change (FINISH: of a failed or cancelled job)."""
    jobs, p = tables.jobs, bindparam
    pending = and_(
        jobs.c.status == _PENDING,
        or_(jobs.c.scheduled_for.is_(None), jobs.c.scheduled_for <= p("now")),
    )
    crashed = and_(jobs.c.status == _PROCESSING, jobs.c.heartbeat_at < p("stale"))
    processing = and_(jobs.c.id == p("job"), jobs.c.status == _PROCESSING)
    return {
        JobChange.CLAIM: update(jobs)
        .where(jobs.c.id == p("job"), or_(pending, crashed))
        .values(
            status=_PROCESSING,
            attempts=jobs.c.attempts + 1,
            worker_id=p("worker"),
            started_at=p("now"),
            heartbeat_at=p("now"),
            updated_at=p("now"),
        ),
        JobChange.PROGRESS: update(jobs)
        .where(processing)
        .values(
            progress_done=p("done"),
            progress_total=p("total"),
            progress_percent=p("percent"),
            progress_message=p("message"),
            heartbeat_at=p("now"),
            updated_at=p("now"),
        ),
        JobChange.FINISH: update(jobs)
        .where(jobs.c.id == p("job"), jobs.c.status.in_(ACTIVE_VALUES))
        .values(
            status=p("to_status"),
            completed_at=p("now"),
            updated_at=p("now"),
            error_code=p("code"),
            error_message=p("message"),
        ),
        JobChange.RESCHEDULE: update(jobs)
        .where(processing)
        .values(
            status=_PENDING,
            scheduled_for=p("run_at"),
            expires_at=None,
            error_code=p("code"),
            error_message=p("message"),
            worker_id=None,
            updated_at=p("now"),
            retry_count=jobs.c.retry_count + p("retry"),
            attempts=jobs.c.attempts - p("give_back"),
        ),
    }


class SQLiteJobStatements:
    """``JobStatements`` on SQLite."""

    def __init__(self, engine: Engine, tables: Tables, poll_interval: float) -> None:
        self.engine, self.tables, self.poll_interval = engine, tables, poll_interval
        built = _changes(tables)
        self._changes = {change: stmt.returning(*tables.jobs.c) for change, stmt in built.items()}
        #: A completion also stores the result and sets progress to 100.
        self._complete = (
            built[JobChange.FINISH]
            .values(result=bindparam("outcome"), progress_percent=100.0)
            .returning(*tables.jobs.c)
        )

    def insert_job(self, new: NewJob, active_limit: int | None) -> Job | None:
        """Insert ``new`` unless its key exists or the owner is at the limit."""
        jobs = self.tables.jobs
        with self.engine.begin() as conn:
            if new.idempotency_key is not None:
                clash = select(jobs.c.id).where(
                    jobs.c.owner_id == new.owner_id, jobs.c.idempotency_key == new.idempotency_key
                )
                if conn.execute(clash).first() is not None:
                    return None
            if active_limit is not None and count_active(conn, self.tables, new.owner_id) >= (
                active_limit
            ):
                return None
            row = conn.execute(insert(jobs).values(new_row(new)).returning(*jobs.c))
            return job_from_row(row.mappings().one())

    def get_job(self, job_id: str) -> Job | None:
        """Read one job."""
        jobs = self.tables.jobs
        with self.engine.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return job_from_row(row) if row is not None else None

    def cancel_flag(self, job_id: str) -> tuple[bool, str] | None:
        """(cancel requested, status) of one job."""
        jobs = self.tables.jobs
        with self.engine.connect() as conn:
            row = conn.execute(
                select(jobs.c.cancel_requested, jobs.c.status).where(jobs.c.id == job_id)
            ).first()
        return None if row is None else (bool(row[0]), row[1])

    def change_job(self, change: JobChange, params: dict[str, Any]) -> Job | None:
        """Apply one change in its own transaction (a failure's dead letter in the same one)."""
        with self.engine.begin() as conn:
            return self._change(conn, change, params)

    def claim_many(self, changes: list[dict[str, Any]]) -> list[Job]:
        """Apply many CLAIM changes in one transaction."""
        with self.engine.begin() as conn:
            claimed = [self._change(conn, JobChange.CLAIM, params) for params in changes]
        return [job for job in claimed if job is not None]

    def finish_many(self, changes: list[dict[str, Any]]) -> list[Job]:
        """Apply many FINISH changes in one transaction: one commit for all of them."""
        with self.engine.begin() as conn:
            ended = [self._change(conn, JobChange.FINISH, params) for params in changes]
        return [job for job in ended if job is not None]

    def _change(self, conn: Connection, change: JobChange, params: dict[str, Any]) -> Job | None:
        completes = change is JobChange.FINISH and params["completed"]
        stmt = self._complete if completes else self._changes[change]
        row = conn.execute(stmt, params).mappings().first()
        if row is None:
            return None
        job = job_from_row(row)
        if change is JobChange.FINISH and params["dead"]:
            conn.execute(
                insert(self.tables.dead_letters).values(
                    job_id=job.id,
                    owner_id=job.owner_id,
                    job_type=job.job_type,
                    params=job.params,
                    error_code=params["code"],
                    error_message=params["message"],
                    attempts=job.attempts,
                    failed_at=params["now"],
                )
            )
        return job

    def notify(self, conn: Connection, job_id: str, status: str) -> None:
        """Nothing to send: watchers poll."""

    def lock_owner(self, conn: Connection, owner_id: str) -> None:
        """Nothing to take: the transaction began IMMEDIATE, so writers are serialised."""

    def subscribe(self, job_id: str) -> Subscription:
        """A poll timer."""
        return PollSubscription(self.poll_interval)


def new_row(new: NewJob) -> dict[str, Any]:
    """The jobs-table row of a new job, as inserted."""
    return {
        "id": new.id,
        "owner_id": new.owner_id,
        "job_type": new.job_type,
        "queue": new.queue,
        "priority": new.priority,
        "params": new.params,
        "status": _PENDING,
        "progress_percent": 0.0,
        "retry_count": 0,
        "attempts": 0,
        "max_retries": new.max_retries,
        "cancel_requested": False,
        "scheduled_for": new.scheduled_for,
        "expires_at": new.expires_at,
        "idempotency_key": new.idempotency_key,
        "parent_id": new.parent_id,
        "created_at": new.created_at,
        "updated_at": new.created_at,
    }


class PollSubscription:
    """A poll timer: every wait sleeps one interval (capped by the timeout)."""

    def __init__(self, interval: float) -> None:
        self.interval = interval

    def wait(self, timeout: float) -> bool:
        """Sleep one interval; never signalled."""
        time.sleep(min(self.interval, max(timeout, 0.0)))
        return False

    def close(self) -> None:
        """Nothing to release."""

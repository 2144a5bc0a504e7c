"""The job ledger in SQL (mixed into ``SQLAlchemyRepository``).

The hot path (create, get, claim, progress, cancel flag, finish, reschedule) runs the
statements of the engine's dialect, chosen once in ``_init_ledger``: see ``statements.py``.
Everything else is SQLAlchemy Core on both dialects.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, insert, select, update

from ...schema.base import SQLMixin, prefix_range
from ..models import Claim, DeadLetter, Finish, Job, JobStatus, LogLine, NewJob
from .batch import pg_create_jobs, sqlite_create_jobs
from .postgres import PostgresJobStatements
from .sqlite import SQLiteJobStatements
from .statements import JobChange, JobStatements, count_active, job_from_row
from .store import RESET_FIELDS, Subscription, active_limit_error

__all__ = ["SQLLedgerMixin"]


class SQLLedgerMixin(SQLMixin):
    """``JobRepository`` on SQLite or PostgreSQL; on PostgreSQL every change sends NOTIFY."""

    #: The dialect's hot-path statements (set by ``_init_ledger``).
    job_statements: JobStatements

    def _init_ledger(self, poll_interval: float) -> None:
        """Choose the dialect's statements; SQLite subscriptions poll every ``poll_interval``."""
        self.job_statements = (
            PostgresJobStatements(self.engine, self.tables.prefix)
            if self.is_postgres
            else SQLiteJobStatements(self.engine, self.tables, poll_interval)
        )
        #: Runs single statements (in autocommit mode on PostgreSQL).
        self._single: Engine = self.job_statements.engine

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.engine.dispose()

    def _changed(self, conn: Connection, stmt: Any, job_id: str) -> Job | None:
        """Run an UPDATE … RETURNING on one job and notify watchers when it matched."""
        row = conn.execute(stmt.returning(*self.tables.jobs.c)).mappings().first()
        if row is None:
            return None
        self.job_statements.notify(conn, job_id, row["status"])
        return job_from_row(row)

    # -- the job rows (JobStore) ----------------------------------------------------------
    def create_job(self, new: NewJob, *, active_limit: int | None) -> tuple[Job, bool]:
        """Insert a job atomically with the owner's active-job limit and idempotency key."""
        jobs = self.tables.jobs
        while True:
            job = self.job_statements.insert_job(new, active_limit)
            if job is not None:
                return job, True
            # Refused: say why (what refused it may have gone since; then try again).
            with self._single.connect() as conn:
                if new.idempotency_key is not None:
                    existing = (
                        conn.execute(
                            select(jobs).where(
                                jobs.c.owner_id == new.owner_id,
                                jobs.c.idempotency_key == new.idempotency_key,
                            )
                        )
                        .mappings()
                        .first()
                    )
                    if existing is not None:
                        return job_from_row(existing), False
                if active_limit is not None:
                    active = count_active(conn, self.tables, new.owner_id)
                    if active >= active_limit:
                        raise active_limit_error(active, active_limit)

    def create_jobs(
        self, news: Sequence[NewJob], *, active_limit: int | None
    ) -> list[tuple[Job, bool]]:
        """Insert a batch of jobs in one transaction (``JobBatchStore``; see ``batch.py``)."""
        if not news:
            return []
        if isinstance(self.job_statements, PostgresJobStatements):
            return pg_create_jobs(self.job_statements, news, active_limit)
        return sqlite_create_jobs(self.engine, self.tables, news, active_limit)

    def delete_job(self, job_id: str) -> None:
        """Remove a job that never reached a broker."""
        with self.engine.begin() as conn:
            conn.execute(delete(self.tables.jobs).where(self.tables.jobs.c.id == job_id))

    def get_job(self, job_id: str) -> Job | None:
        """Return one job."""
        return self.job_statements.get_job(job_id)

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
        jobs = self.tables.jobs
        stmt = select(jobs)
        if owner_id is not None:
            stmt = stmt.where(jobs.c.owner_id == owner_id)
        if status is not None:
            stmt = stmt.where(jobs.c.status == status.value)
        if job_type is not None:
            stmt = stmt.where(jobs.c.job_type == job_type)
        stmt = stmt.order_by(jobs.c.created_at.desc(), jobs.c.id).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [job_from_row(r) for r in conn.execute(stmt).mappings()]

    def job_ids_starting(self, prefix: str, *, limit: int = 10) -> list[str]:
        """Ids starting with ``prefix``, in order: a range on the primary key (``JobIdLookup``)."""
        jobs = self.tables.jobs
        stmt = select(jobs.c.id).order_by(jobs.c.id).limit(max(limit, 0))
        if prefix:
            low, high = prefix_range(prefix)
            stmt = stmt.where(jobs.c.id >= low, jobs.c.id < high)
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(stmt) if r[0].startswith(prefix)]

    def claim_job(
        self, job_id: str, *, worker_id: str, now: datetime, stale_before: datetime | None = None
    ) -> Job | None:
        """Mark the job processing and count the attempt (a crashed worker's job too)."""
        return self.job_statements.change_job(
            JobChange.CLAIM, {"job": job_id, "now": now, "worker": worker_id, "stale": stale_before}
        )

    def claim_jobs(self, claims: Sequence[Claim]) -> list[Job | None]:
        """Claim many jobs in one statement (one transaction)."""
        params = [
            {"job": c.job_id, "now": c.now, "worker": c.worker_id, "stale": c.stale_before}
            for c in claims
        ]
        return _first_of_each(params, self.job_statements.claim_many)

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
        """Record progress of a processing job; return its cancel flag."""
        params = {"done": done, "total": total, "percent": percent, "message": message}
        job = self.job_statements.change_job(
            JobChange.PROGRESS, {"job": job_id, "now": now, **params}
        )
        return bool(job and job.cancel_requested)

    def save_checkpoint(self, job_id: str, data: Any, *, now: datetime) -> None:
        """Store the resume point of a job."""
        jobs = self.tables.jobs
        with self._single.begin() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(checkpoint=data, heartbeat_at=now, updated_at=now)
            )

    def is_cancel_requested(self, job_id: str) -> bool:
        """Read the cancel flag."""
        flag = self.job_statements.cancel_flag(job_id)
        return flag is None or flag[0] or flag[1] == JobStatus.CANCELLED.value

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
        """Record a terminal status (and the dead letter) in one transaction."""
        finish = Finish(job_id, status, now, result, error_code, error_message, dead_letter)
        return self.job_statements.change_job(JobChange.FINISH, _finish_params(finish))

    def finish_jobs(self, finishes: Sequence[Finish]) -> list[Job | None]:
        """Record many terminal statuses in one transaction: one durable commit for all."""
        return _first_of_each(
            [_finish_params(f) for f in finishes], self.job_statements.finish_many
        )

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
        """Put a processing job back to pending until ``run_at``."""
        params = {
            "job": job_id,
            "now": now,
            "run_at": run_at,
            "code": error_code,
            "message": error_message,
            "retry": 1 if count_retry else 0,
            "give_back": 0 if count_retry else 1,
        }
        return self.job_statements.change_job(JobChange.RESCHEDULE, params)

    def cancel_job(self, job_id: str, *, now: datetime) -> Job | None:
        """Cancel a pending job at once, or flag a processing one."""
        jobs = self.tables.jobs
        one = jobs.c.id == job_id
        with self.engine.begin() as conn:
            job = self._changed(
                conn,
                update(jobs)
                .where(one, jobs.c.status == JobStatus.PENDING.value)
                .values(
                    status=JobStatus.CANCELLED.value,
                    cancel_requested=True,
                    completed_at=now,
                    updated_at=now,
                    error_code="cancelled",
                    error_message="cancelled before it started",
                ),
                job_id,
            )
            if job is None:
                job = self._changed(
                    conn,
                    update(jobs)
                    .where(one, jobs.c.status == JobStatus.PROCESSING.value)
                    .values(cancel_requested=True, updated_at=now),
                    job_id,
                )
            if job is None:
                row = conn.execute(select(jobs).where(one)).mappings().first()
                job = job_from_row(row) if row is not None else None
        return job

    def reset_job(self, job_id: str, *, now: datetime, active_limit: int | None) -> Job | None:
        """Put a failed or cancelled job back to pending."""
        jobs = self.tables.jobs
        with self.engine.begin() as conn:
            row = conn.execute(select(jobs.c.owner_id).where(jobs.c.id == job_id)).first()
            if row is None:
                return None
            self.job_statements.lock_owner(conn, row[0])
            if active_limit is not None:
                active = count_active(conn, self.tables, row[0])
                if active >= active_limit:
                    raise active_limit_error(active, active_limit)
            finished = [JobStatus.FAILED.value, JobStatus.CANCELLED.value]
            return self._changed(
                conn,
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status.in_(finished))
                .values(**RESET_FIELDS, status=JobStatus.PENDING.value, updated_at=now),
                job_id,
            )

    # -- the log, dead letters and change signals (JobLogStore) ---------------------------
    def append_log(self, job_id: str, level: str, message: str, *, now: datetime) -> None:
        """Add one log line."""
        with self._single.begin() as conn:
            conn.execute(
                insert(self.tables.job_log).values(
                    job_id=job_id, at=now, level=level, message=message
                )
            )

    def get_log(self, job_id: str, *, limit: int = 100, after_id: int = 0) -> list[LogLine]:
        """Return log lines in order."""
        log = self.tables.job_log
        stmt = (
            select(log)
            .where(and_(log.c.job_id == job_id, log.c.id > after_id))
            .order_by(log.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                LogLine(
                    id=r["id"],
                    job_id=r["job_id"],
                    at=r["at"],
                    level=r["level"],
                    message=r["message"],
                )
                for r in conn.execute(stmt).mappings()
            ]

    def delete_job_logs(self, *, before: datetime, limit: int) -> int:
        """Delete one batch of log lines written before ``before``."""
        if limit <= 0:
            return 0
        log = self.tables.job_log
        doomed = select(log.c.id).where(log.c.at < before).order_by(log.c.id).limit(limit)
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(doomed)]
            if not ids:
                return 0
            return int(conn.execute(delete(log).where(log.c.id.in_(ids))).rowcount)

    def list_dead_letters(
        self, *, owner_id: str | None = None, limit: int = 50
    ) -> list[DeadLetter]:
        """Return dead letters newest first."""
        dl = self.tables.dead_letters
        stmt = select(dl).order_by(dl.c.failed_at.desc(), dl.c.id.desc()).limit(limit)
        if owner_id is not None:
            stmt = stmt.where(dl.c.owner_id == owner_id)
        with self.engine.connect() as conn:
            return [
                DeadLetter(
                    id=r["id"],
                    job_id=r["job_id"],
                    owner_id=r["owner_id"],
                    job_type=r["job_type"],
                    params=r["params"],
                    error_code=r["error_code"],
                    error_message=r["error_message"],
                    attempts=r["attempts"],
                    failed_at=r["failed_at"],
                )
                for r in conn.execute(stmt).mappings()
            ]

    def subscribe(self, job_id: str) -> Subscription:
        """LISTEN on PostgreSQL; a poll timer on SQLite."""
        return self.job_statements.subscribe(job_id)


def _finish_params(finish: Finish) -> dict[str, Any]:
    """The parameters of a FINISH change (see ``statements.py``)."""
    completed = finish.status is JobStatus.COMPLETED
    return {
        "job": finish.job_id,
        "now": finish.now,
        "to_status": finish.status.value,
        "code": finish.error_code,
        "message": finish.error_message,
        "completed": completed,
        "outcome": finish.result if completed else None,
        "dead": finish.dead_letter,
    }


def _first_of_each(
    changes: list[dict[str, Any]], apply: Callable[[list[dict[str, Any]]], list[Job]]
) -> list[Job | None]:
    """Apply the first change of each job at once; each change's job (None: not applied)."""
    first: dict[str, int] = {}
    for i, change in enumerate(changes):
        first.setdefault(change["job"], i)
    unique = [changes[i] for i in sorted(first.values())]
    by_id = {job.id: job for job in apply(unique)} if unique else {}
    return [by_id.get(c["job"]) if first[c["job"]] == i else None for i, c in enumerate(changes)]

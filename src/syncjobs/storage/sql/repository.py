"""SQLAlchemyRepository: the job ledger on SQLite or PostgreSQL."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from ...errors import ConcurrencyLimitError
from ...insights.analysis_queue.sql import SQLAnalysisQueueMixin
from ...insights.digests.sql import SQLDigestsMixin
from ...insights.notifications.sql import SQLNotificationsMixin
from ...insights.preferences.sql import SQLPreferencesMixin
from ...insights.retention.sql import SQLRetentionMixin
from ...insights.trust.sql import SQLTrustMixin
from ...insights.usage.sql import SQLUsageMixin
from ...models import (
    ACTIVE_STATUSES,
    DeadLetter,
    Job,
    JobStatus,
    LogLine,
    NewJob,
)
from ...protocols import Subscription
from .accounts import SQLAccountsMixin
from .engine import make_engine
from .migrations import check_schema
from .migrations import upgrade as run_upgrade
from .pgfast import PgFastPath, jsonb
from .tables import Tables, build_tables
from .upkeep import SQLUpkeepMixin

__all__ = ["SQLAlchemyRepository"]

_ACTIVE = [s.value for s in ACTIVE_STATUSES]


def _job(row: Any) -> Job:
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


class SQLAlchemyRepository(
    SQLAccountsMixin,
    SQLUpkeepMixin,
    SQLAnalysisQueueMixin,
    SQLPreferencesMixin,
    SQLTrustMixin,
    SQLUsageMixin,
    SQLNotificationsMixin,
    SQLDigestsMixin,
    SQLRetentionMixin,
):
    """The job ledger, accounts and synced items in SQL: SQLite (file) or PostgreSQL (psycopg 3).

    It also keeps the extras' stores (``syncjobs.insights``): the analysis queue and results,
    preferences, trust scores, usage, notifications with their deliveries and circuit breakers,
    digests and retention.

    On PostgreSQL every change sends ``NOTIFY`` in its own transaction, so ``watch`` is live.
    """

    def __init__(
        self,
        engine: Engine | str,
        *,
        table_prefix: str = "syncjobs_",
        check: bool = True,
        poll_interval: float = 0.25,
    ) -> None:
        self.engine = make_engine(engine) if isinstance(engine, str) else engine
        self.tables: Tables = build_tables(table_prefix)
        self.poll_interval = poll_interval
        self.is_postgres = self.engine.dialect.name == "postgresql"
        # Single-statement changes and reads need no BEGIN/COMMIT round trips on PostgreSQL.
        self._auto = (
            self.engine.execution_options(isolation_level="AUTOCOMMIT")
            if self.is_postgres
            else self.engine
        )
        self._fast = PgFastPath(self._auto, table_prefix) if self.is_postgres else None
        if check:
            check_schema(self.engine, self.tables)

    # -- schema ---------------------------------------------------------------------------
    def upgrade(self) -> list[int]:
        """Apply missing migrations; return the versions applied."""
        return run_upgrade(self.engine, self.tables)

    def close(self) -> None:
        """Dispose of the connection pool."""
        self.engine.dispose()

    # -- helpers --------------------------------------------------------------------------
    def _channel(self, job_id: str) -> str:
        return f"{self.tables.prefix}j{job_id.replace('-', '')}"

    def _notify(self, conn: Connection, job_id: str, status: str) -> None:
        if self.is_postgres:
            conn.execute(select(func.pg_notify(self._channel(job_id), status)))

    def _changed(self, conn: Connection, stmt: Any, job_id: str) -> Job | None:
        """Run an UPDATE … RETURNING on one job and notify watchers when it matched."""
        row = conn.execute(stmt.returning(*self.tables.jobs.c)).mappings().first()
        if row is None:
            return None
        self._notify(conn, job_id, row["status"])
        return _job(row)

    def _change(self, stmt: Any, job_id: str) -> Job | None:
        """Apply one job change in its own transaction (PostgreSQL takes the fast path)."""
        with self.engine.begin() as conn:
            return self._changed(conn, stmt, job_id)

    # -- jobs -----------------------------------------------------------------------------
    def create_job(self, new: NewJob, *, active_limit: int | None) -> tuple[Job, bool]:
        """Insert a job atomically with the owner's active-job limit and idempotency key."""
        if self._fast is not None:
            return self._fast_create(new, active_limit)
        jobs = self.tables.jobs
        with self.engine.begin() as conn:
            if self.is_postgres:
                # Serialise submits of one owner: count-then-insert is then atomic.
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                    {"k": self.tables.prefix + new.owner_id},
                )
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
                    return _job(existing), False
            if active_limit is not None:
                active = conn.execute(
                    select(func.count())
                    .select_from(jobs)
                    .where(jobs.c.owner_id == new.owner_id, jobs.c.status.in_(_ACTIVE))
                ).scalar_one()
                if active >= active_limit:
                    raise ConcurrencyLimitError(
                        f"owner already has {active} active jobs (limit {active_limit})"
                    )
            values = {
                "id": new.id,
                "owner_id": new.owner_id,
                "job_type": new.job_type,
                "queue": new.queue,
                "priority": new.priority,
                "params": new.params,
                "status": JobStatus.PENDING.value,
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
            row = conn.execute(insert(jobs).values(values).returning(*jobs.c)).mappings().one()
            return _job(row), True

    def _fast_create(self, new: NewJob, active_limit: int | None) -> tuple[Job, bool]:
        assert self._fast is not None
        row = self._fast.insert_job(
            {
                "id": new.id,
                "owner": new.owner_id,
                "job_type": new.job_type,
                "queue": new.queue,
                "priority": new.priority,
                "params": jsonb(new.params),
                "max_retries": new.max_retries,
                "scheduled_for": new.scheduled_for,
                "expires_at": new.expires_at,
                "key": new.idempotency_key,
                "parent_id": new.parent_id,
                "now": new.created_at,
                "limit": active_limit,
            }
        )
        if row is not None:
            return _job(row), True
        jobs = self.tables.jobs
        with self._auto.connect() as conn:
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
                    return _job(existing), False
            active = conn.execute(
                select(func.count())
                .select_from(jobs)
                .where(jobs.c.owner_id == new.owner_id, jobs.c.status.in_(_ACTIVE))
            ).scalar_one()
        raise ConcurrencyLimitError(
            f"owner already has {active} active jobs (limit {active_limit})"
        )

    def delete_job(self, job_id: str) -> None:
        """Remove a job that never reached a broker."""
        with self.engine.begin() as conn:
            conn.execute(delete(self.tables.jobs).where(self.tables.jobs.c.id == job_id))

    def get_job(self, job_id: str) -> Job | None:
        """Return one job."""
        if self._fast is not None:
            found = self._fast.one(self._fast.get_sql, {"id": job_id})
            return _job(found) if found is not None else None
        jobs = self.tables.jobs
        with self._auto.connect() as conn:
            row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
        return _job(row) if row is not None else None

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
            return [_job(r) for r in conn.execute(stmt).mappings()]

    def claim_job(
        self, job_id: str, *, worker_id: str, now: datetime, stale_before: datetime | None = None
    ) -> Job | None:
        """Mark the job processing and count the attempt (a crashed worker's job too)."""
        if self._fast is not None:
            row = self._fast.change(
                self._fast.claim_sql, job_id, worker=worker_id, now=now, stale=stale_before
            )
            return _job(row) if row is not None else None
        jobs = self.tables.jobs
        pending = and_(
            jobs.c.status == JobStatus.PENDING.value,
            or_(jobs.c.scheduled_for.is_(None), jobs.c.scheduled_for <= now),
        )
        crashed = (
            and_(jobs.c.status == JobStatus.PROCESSING.value, jobs.c.heartbeat_at < stale_before)
            if stale_before is not None
            else None
        )
        stmt = (
            update(jobs)
            .where(jobs.c.id == job_id, or_(pending, crashed) if crashed is not None else pending)
            .values(
                status=JobStatus.PROCESSING.value,
                attempts=jobs.c.attempts + 1,
                worker_id=worker_id,
                started_at=now,
                heartbeat_at=now,
                updated_at=now,
            )
        )
        return self._change(stmt, job_id)

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
        if self._fast is not None:
            row = self._fast.change(
                self._fast.progress_sql,
                job_id,
                done=done,
                total=total,
                percent=percent,
                message=message,
                now=now,
            )
            return bool(row and row["cancel_requested"])
        jobs = self.tables.jobs
        stmt = (
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == JobStatus.PROCESSING.value)
            .values(
                progress_done=done,
                progress_total=total,
                progress_percent=percent,
                progress_message=message,
                heartbeat_at=now,
                updated_at=now,
            )
        )
        job = self._change(stmt, job_id)
        return bool(job and job.cancel_requested)

    def save_checkpoint(self, job_id: str, data: Any, *, now: datetime) -> None:
        """Store the resume point of a job."""
        jobs = self.tables.jobs
        with self._auto.begin() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(checkpoint=data, heartbeat_at=now, updated_at=now)
            )

    def is_cancel_requested(self, job_id: str) -> bool:
        """Read the cancel flag."""
        if self._fast is not None:
            found = self._fast.one(self._fast.cancel_flag_sql, {"id": job_id})
            return (
                found is None
                or bool(found["cancel_requested"])
                or (found["status"] == JobStatus.CANCELLED.value)
            )
        jobs = self.tables.jobs
        with self._auto.connect() as conn:
            flag = conn.execute(
                select(jobs.c.cancel_requested, jobs.c.status).where(jobs.c.id == job_id)
            ).first()
        return flag is None or bool(flag[0]) or flag[1] == JobStatus.CANCELLED.value

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
        if self._fast is not None and not dead_letter:
            completed = status is JobStatus.COMPLETED
            row = self._fast.change(
                self._fast.finish_sql,
                job_id,
                status=status.value,
                now=now,
                code=error_code,
                message=error_message,
                completed=completed,
                result=jsonb(result) if completed else None,
            )
            return _job(row) if row is not None else None
        jobs, dl = self.tables.jobs, self.tables.dead_letters
        values: dict[str, Any] = {
            "status": status.value,
            "completed_at": now,
            "updated_at": now,
            "error_code": error_code,
            "error_message": error_message,
        }
        if status is JobStatus.COMPLETED:
            values.update(result=result, progress_percent=100.0)
        stmt = update(jobs).where(jobs.c.id == job_id, jobs.c.status.in_(_ACTIVE)).values(values)
        if not dead_letter:
            return self._change(stmt, job_id)
        with self.engine.begin() as conn:
            job = self._changed(conn, stmt, job_id)
            if job is not None:
                conn.execute(
                    insert(dl).values(
                        job_id=job.id,
                        owner_id=job.owner_id,
                        job_type=job.job_type,
                        params=job.params,
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
        """Put a processing job back to pending until ``run_at``."""
        if self._fast is not None:
            row = self._fast.change(
                self._fast.reschedule_sql,
                job_id,
                run_at=run_at,
                now=now,
                code=error_code,
                message=error_message,
                retry=1 if count_retry else 0,
                give_back=0 if count_retry else 1,
            )
            return _job(row) if row is not None else None
        jobs = self.tables.jobs
        stmt = (
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == JobStatus.PROCESSING.value)
            .values(
                status=JobStatus.PENDING.value,
                scheduled_for=run_at,
                expires_at=None,
                error_code=error_code,
                error_message=error_message,
                worker_id=None,
                updated_at=now,
                retry_count=jobs.c.retry_count + (1 if count_retry else 0),
                attempts=jobs.c.attempts - (0 if count_retry else 1),
            )
        )
        return self._change(stmt, job_id)

    def cancel_job(self, job_id: str, *, now: datetime) -> Job | None:
        """Cancel a pending job at once, or flag a processing one."""
        jobs = self.tables.jobs
        with self.engine.begin() as conn:
            job = self._changed(
                conn,
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == JobStatus.PENDING.value)
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
                    .where(jobs.c.id == job_id, jobs.c.status == JobStatus.PROCESSING.value)
                    .values(cancel_requested=True, updated_at=now),
                    job_id,
                )
            if job is None:
                row = conn.execute(select(jobs).where(jobs.c.id == job_id)).mappings().first()
                job = _job(row) if row is not None else None
        return job

    def reset_job(self, job_id: str, *, now: datetime, active_limit: int | None) -> Job | None:
        """Put a failed or cancelled job back to pending."""
        jobs = self.tables.jobs
        with self.engine.begin() as conn:
            row = conn.execute(select(jobs.c.owner_id).where(jobs.c.id == job_id)).first()
            if row is None:
                return None
            if self.is_postgres:
                conn.execute(
                    text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                    {"k": self.tables.prefix + row[0]},
                )
            if active_limit is not None:
                active = conn.execute(
                    select(func.count())
                    .select_from(jobs)
                    .where(jobs.c.owner_id == row[0], jobs.c.status.in_(_ACTIVE))
                ).scalar_one()
                if active >= active_limit:
                    raise ConcurrencyLimitError(
                        f"owner already has {active} active jobs (limit {active_limit})"
                    )
            return self._changed(
                conn,
                update(jobs)
                .where(
                    jobs.c.id == job_id,
                    jobs.c.status.in_([JobStatus.FAILED.value, JobStatus.CANCELLED.value]),
                )
                .values(
                    status=JobStatus.PENDING.value,
                    attempts=0,
                    retry_count=0,
                    cancel_requested=False,
                    error_code=None,
                    error_message=None,
                    result=None,
                    progress_percent=0.0,
                    progress_done=None,
                    progress_total=None,
                    progress_message=None,
                    scheduled_for=None,
                    expires_at=None,
                    started_at=None,
                    completed_at=None,
                    worker_id=None,
                    updated_at=now,
                ),
                job_id,
            )

    # -- log and dead letters ---------------------------------------------------------------
    def append_log(self, job_id: str, level: str, message: str, *, now: datetime) -> None:
        """Add one log line."""
        with self._auto.begin() as conn:
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

    # -- change stream ----------------------------------------------------------------------
    def subscribe(self, job_id: str) -> Subscription:
        """LISTEN on PostgreSQL; a poll timer elsewhere."""
        if self.is_postgres:
            return _PgSubscription(self.engine, self._channel(job_id))
        return _PollSubscription(self.poll_interval)


class _PollSubscription:
    def __init__(self, interval: float) -> None:
        self.interval = interval

    def wait(self, timeout: float) -> bool:
        time.sleep(min(self.interval, max(timeout, 0.0)))
        return False

    def close(self) -> None:
        pass


class _PgSubscription:
    """LISTEN on a job's channel through its own autocommit psycopg connection."""

    def __init__(self, engine: Engine, channel: str) -> None:
        import psycopg
        from psycopg import sql

        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn = psycopg.connect(dsn, autocommit=True)
        self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))

    def wait(self, timeout: float) -> bool:
        for _ in self._conn.notifies(timeout=max(timeout, 0.0), stop_after=1):
            return True
        return False

    def close(self) -> None:
        self._conn.close()

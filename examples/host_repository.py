"""A job ledger of the host's own: syncjobs' ``JobRepository`` on the standard ``sqlite3`` module.

syncjobs ships ``SQLAlchemyRepository``; this file shows what it takes to write one yourself,
with no SQLAlchemy, as a host whose data must live elsewhere would. It passes
``syncjobs.testing.contract.JobRepositoryContract`` (see ``tests/examples``)::

    from examples.host_repository import HostSQLiteRepository
    from syncjobs import Deps, register_actors

    app = register_actors(broker, Deps(repository=HostSQLiteRepository("jobs.db")))

How it keeps the contract:

- **Threads.** One connection, shared by every thread (``check_same_thread=False``) and
  guarded by a lock, so only one thread uses it at a time.
- **Atomic changes.** Every change runs in ``BEGIN IMMEDIATE … COMMIT``. SQLite takes its
  write lock at ``BEGIN IMMEDIATE``, so a read-then-write (count the owner's active jobs,
  then insert) cannot interleave with another writer, in this process or in another one.
- **Timestamps** are stored as fixed-width UTC text (``2026-11-23 03:00:00.000000``), which
  sorts like time and reads well in the ``sqlite3`` shell. JSON values are stored as text.
- **Subscriptions** poll a per-job ``version`` counter that every change increments.

It implements the job ledger only. Accounts (``AccountRepository``), tokens
(``CredentialStore``) and the schedule ledger with heartbeats (``UpkeepRepository``) are
separate protocols with their own contract suites.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from syncjobs import ConcurrencyLimitError, Job, JobStatus, LogLine
from syncjobs.core.models import ACTIVE_STATUSES, DeadLetter, NewJob

__all__ = ["HostSQLiteRepository", "PollingSubscription"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS host_jobs (
    id               TEXT PRIMARY KEY,
    owner_id         TEXT NOT NULL,
    job_type         TEXT NOT NULL,
    queue            TEXT NOT NULL,
    priority         INTEGER NOT NULL,
    params           TEXT NOT NULL,              -- JSON
    status           TEXT NOT NULL,              -- pending, processing, completed, ...
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    max_retries      INTEGER NOT NULL,
    retry_count      INTEGER NOT NULL DEFAULT 0,
    attempts         INTEGER NOT NULL DEFAULT 0,
    progress_percent REAL NOT NULL DEFAULT 0,
    progress_done    INTEGER,
    progress_total   INTEGER,
    progress_message TEXT,
    result           TEXT,                       -- JSON
    error_code       TEXT,
    error_message    TEXT,
    worker_id        TEXT,
    scheduled_for    TEXT,
    expires_at       TEXT,
    idempotency_key  TEXT,
    parent_id        TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    checkpoint       TEXT,                       -- JSON
    started_at       TEXT,
    completed_at     TEXT,
    heartbeat_at     TEXT,
    version          INTEGER NOT NULL DEFAULT 0  -- +1 at every change; subscriptions poll it
);
CREATE UNIQUE INDEX IF NOT EXISTS host_jobs_idempotency
    ON host_jobs (owner_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS host_jobs_owner_status ON host_jobs (owner_id, status);
CREATE INDEX IF NOT EXISTS host_jobs_created ON host_jobs (created_at);

CREATE TABLE IF NOT EXISTS host_job_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id  TEXT NOT NULL,
    at      TEXT NOT NULL,
    level   TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS host_job_log_job ON host_job_log (job_id, id);

CREATE TABLE IF NOT EXISTS host_dead_letters (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id        TEXT NOT NULL,
    owner_id      TEXT NOT NULL,
    job_type      TEXT NOT NULL,
    params        TEXT NOT NULL,                 -- JSON
    error_code    TEXT,
    error_message TEXT,
    attempts      INTEGER NOT NULL,
    failed_at     TEXT NOT NULL
);
"""

JSON_COLUMNS = {"params", "result", "checkpoint"}
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


# -- converting between Python values and SQLite columns --------------------------------------


def to_text(at: datetime | None) -> str | None:
    """An aware datetime as fixed-width UTC text, which sorts in time order."""
    return None if at is None else at.astimezone(UTC).strftime(_TIME_FORMAT)


def from_text(value: str) -> datetime:
    """The inverse of ``to_text``: an aware UTC datetime."""
    return datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=UTC)


def from_optional_text(value: str | None) -> datetime | None:
    """``from_text`` for a column that may be NULL."""
    return None if value is None else from_text(value)


def to_column(name: str, value: Any) -> Any:
    """A Python value as the column ``name`` stores it."""
    if name in JSON_COLUMNS:
        return None if value is None else json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime):
        return to_text(value)
    if isinstance(value, JobStatus):
        return value.value
    if isinstance(value, bool):
        return int(value)
    return value


def row_to_job(row: sqlite3.Row) -> Job:
    """A ``Job`` snapshot from a ``host_jobs`` row (a fresh object: later changes never leak)."""

    def loads(value: str | None) -> Any:
        return None if value is None else json.loads(value)

    return Job(
        id=row["id"],
        owner_id=row["owner_id"],
        job_type=row["job_type"],
        queue=row["queue"],
        priority=row["priority"],
        params=loads(row["params"]),
        status=JobStatus(row["status"]),
        created_at=from_text(row["created_at"]),
        updated_at=from_text(row["updated_at"]),
        max_retries=row["max_retries"],
        retry_count=row["retry_count"],
        attempts=row["attempts"],
        progress_percent=row["progress_percent"],
        progress_done=row["progress_done"],
        progress_total=row["progress_total"],
        progress_message=row["progress_message"],
        result=loads(row["result"]),
        error_code=row["error_code"],
        error_message=row["error_message"],
        worker_id=row["worker_id"],
        scheduled_for=from_optional_text(row["scheduled_for"]),
        expires_at=from_optional_text(row["expires_at"]),
        idempotency_key=row["idempotency_key"],
        parent_id=row["parent_id"],
        cancel_requested=bool(row["cancel_requested"]),
        checkpoint=loads(row["checkpoint"]),
        started_at=from_optional_text(row["started_at"]),
        completed_at=from_optional_text(row["completed_at"]),
        heartbeat_at=from_optional_text(row["heartbeat_at"]),
    )


class PollingSubscription:
    """Wakes ``watch`` when a job's ``version`` changed, checking every ``interval`` seconds.

    The contract allows waking up without a change, so this is correct with any interval;
    a shorter one only makes ``watch`` see changes sooner.
    """

    def __init__(self, repository: HostSQLiteRepository, job_id: str, interval: float) -> None:
        self._repository = repository
        self._job_id = job_id
        self._interval = interval
        self._closed = threading.Event()
        self._seen = repository.job_version(job_id)

    def wait(self, timeout: float) -> bool:
        """Block until the job changed (True), or ``timeout`` passed or we were closed (False)."""
        remaining = max(timeout, 0.0)
        while remaining > 0 and not self._closed.is_set():
            step = min(self._interval, remaining)
            if self._closed.wait(step):  # sleeps, but returns at once when closed
                return False
            remaining -= step
            version = self._repository.job_version(self._job_id)
            if version != self._seen:
                self._seen = version
                return True
        return False

    def close(self) -> None:
        """Stop waiting."""
        self._closed.set()


class HostSQLiteRepository:
    """syncjobs' job ledger (``syncjobs.core.ledger.JobRepository``) in one SQLite file."""

    def __init__(self, path: str | os.PathLike[str], *, poll_interval: float = 0.1) -> None:
        self.poll_interval = poll_interval
        self._lock = threading.Lock()
        # isolation_level=None: no implicit transactions, we BEGIN and COMMIT ourselves.
        self._db = sqlite3.connect(
            os.fspath(path), timeout=30.0, isolation_level=None, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
            self._db.executescript(SCHEMA)

    # -- plumbing -----------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One atomic change: everything in the block commits together or not at all."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # take SQLite's write lock now
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    @staticmethod
    def _load(db: sqlite3.Connection, job_id: str) -> Job | None:
        row = db.execute("SELECT * FROM host_jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else row_to_job(row)

    @staticmethod
    def _change(db: sqlite3.Connection, job_id: str, **changes: Any) -> Job:
        """Set columns of one job (and bump its version); return the job as it is now."""
        assignments = ", ".join(f"{name} = ?" for name in changes)
        values = [to_column(name, value) for name, value in changes.items()]
        db.execute(
            f"UPDATE host_jobs SET {assignments}, version = version + 1 WHERE id = ?",
            (*values, job_id),
        )
        job = HostSQLiteRepository._load(db, job_id)
        assert job is not None
        return job

    @staticmethod
    def _check_active_limit(
        db: sqlite3.Connection, owner_id: str, active_limit: int | None
    ) -> None:
        """Refuse one more active job for an owner already at ``active_limit``."""
        if active_limit is None:
            return
        (active,) = db.execute(
            "SELECT COUNT(*) FROM host_jobs WHERE owner_id = ? AND status IN (?, ?)",
            (owner_id, *(s.value for s in ACTIVE_STATUSES)),
        ).fetchone()
        if active >= active_limit:
            raise ConcurrencyLimitError(
                f"owner already has {active} active jobs (limit {active_limit})"
            )

    def job_version(self, job_id: str) -> int | None:
        """How many times the job changed (None if it does not exist)."""
        with self._read() as db:
            row = db.execute("SELECT version FROM host_jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else int(row[0])

    # -- creating and reading -----------------------------------------------------------------
    def create_job(self, new: NewJob, *, active_limit: int | None) -> tuple[Job, bool]:
        """Insert ``new`` unless its idempotency key exists; refuse past the owner's limit."""
        with self._write() as db:
            if new.idempotency_key is not None:
                row = db.execute(
                    "SELECT * FROM host_jobs WHERE owner_id = ? AND idempotency_key = ?",
                    (new.owner_id, new.idempotency_key),
                ).fetchone()
                if row is not None:
                    return row_to_job(row), False
            self._check_active_limit(db, new.owner_id, active_limit)
            columns = {
                "id": new.id,
                "owner_id": new.owner_id,
                "job_type": new.job_type,
                "queue": new.queue,
                "priority": new.priority,
                "params": new.params,
                "status": JobStatus.PENDING,
                "created_at": new.created_at,
                "updated_at": new.created_at,
                "max_retries": new.max_retries,
                "scheduled_for": new.scheduled_for,
                "expires_at": new.expires_at,
                "idempotency_key": new.idempotency_key,
                "parent_id": new.parent_id,
            }
            db.execute(
                f"INSERT INTO host_jobs ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' for _ in columns)})",
                [to_column(name, value) for name, value in columns.items()],
            )
            job = self._load(db, new.id)
            assert job is not None
            return job, True

    def delete_job(self, job_id: str) -> None:
        """Remove a job that was never handed to a broker."""
        with self._write() as db:
            db.execute("DELETE FROM host_job_log WHERE job_id = ?", (job_id,))
            db.execute("DELETE FROM host_jobs WHERE id = ?", (job_id,))

    def get_job(self, job_id: str) -> Job | None:
        """Return the job, or None."""
        with self._read() as db:
            return self._load(db, job_id)

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
        where, args = ["1 = 1"], []
        for column, value in (("owner_id", owner_id), ("status", status), ("job_type", job_type)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(to_column(column, value))
        sql = (
            f"SELECT * FROM host_jobs WHERE {' AND '.join(where)} "
            "ORDER BY created_at DESC, id LIMIT ? OFFSET ?"
        )
        with self._read() as db:
            rows = db.execute(sql, (*args, limit, offset)).fetchall()
        return [row_to_job(row) for row in rows]

    # -- running ------------------------------------------------------------------------------
    def claim_job(
        self, job_id: str, *, worker_id: str, now: datetime, stale_before: datetime | None = None
    ) -> Job | None:
        """Mark a due pending job (or a crashed worker's job) processing; count the attempt."""
        with self._write() as db:
            job = self._load(db, job_id)
            if job is None or job.status not in ACTIVE_STATUSES:
                return None
            if job.status is JobStatus.PROCESSING:
                crashed = (
                    stale_before is not None
                    and job.heartbeat_at is not None
                    and job.heartbeat_at < stale_before
                )
                if not crashed:
                    return None  # its worker is alive
            if job.scheduled_for is not None and job.scheduled_for > now:
                return None  # not due yet
            return self._change(
                db,
                job_id,
                status=JobStatus.PROCESSING,
                attempts=job.attempts + 1,
                worker_id=worker_id,
                started_at=now,
                heartbeat_at=now,
                updated_at=now,
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
        """Record progress and a heartbeat of a processing job; return its cancel flag."""
        with self._write() as db:
            job = self._load(db, job_id)
            if job is None or job.status is not JobStatus.PROCESSING:
                return False
            job = self._change(
                db,
                job_id,
                progress_done=done,
                progress_total=total,
                progress_percent=percent,
                progress_message=message,
                heartbeat_at=now,
                updated_at=now,
            )
            return job.cancel_requested

    def save_checkpoint(self, job_id: str, data: Any, *, now: datetime) -> None:
        """Store a job's resume point."""
        with self._write() as db:
            if self._load(db, job_id) is not None:
                self._change(db, job_id, checkpoint=data, heartbeat_at=now, updated_at=now)

    def is_cancel_requested(self, job_id: str) -> bool:
        """True when someone asked to cancel the job (or it is gone)."""
        job = self.get_job(job_id)
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
        """Move an active job to a terminal status, with its dead letter in the same commit."""
        with self._write() as db:
            job = self._load(db, job_id)
            if job is None or job.status not in ACTIVE_STATUSES:
                return None
            changes: dict[str, Any] = {
                "status": status,
                "completed_at": now,
                "updated_at": now,
                "error_code": error_code,
                "error_message": error_message,
            }
            if status is JobStatus.COMPLETED:
                changes.update(result=result, progress_percent=100.0)
            job = self._change(db, job_id, **changes)
            if dead_letter:
                db.execute(
                    "INSERT INTO host_dead_letters (job_id, owner_id, job_type, params, "
                    "error_code, error_message, attempts, failed_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        job.id,
                        job.owner_id,
                        job.job_type,
                        to_column("params", job.params),
                        error_code,
                        error_message,
                        job.attempts,
                        to_text(now),
                    ),
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
        """Back to pending until ``run_at``: a retry counts, or (rate limit) the attempt is
        given back."""
        with self._write() as db:
            job = self._load(db, job_id)
            if job is None or job.status is not JobStatus.PROCESSING:
                return None
            return self._change(
                db,
                job_id,
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

    def cancel_job(self, job_id: str, *, now: datetime) -> Job | None:
        """Cancel a pending job at once, flag a processing one, leave a finished one alone."""
        with self._write() as db:
            job = self._load(db, job_id)
            if job is None or job.status.is_terminal:
                return job
            if job.status is JobStatus.PENDING:
                return self._change(
                    db,
                    job_id,
                    status=JobStatus.CANCELLED,
                    cancel_requested=True,
                    completed_at=now,
                    updated_at=now,
                    error_code="cancelled",
                    error_message="cancelled before it started",
                )
            return self._change(db, job_id, cancel_requested=True, updated_at=now)

    def reset_job(self, job_id: str, *, now: datetime, active_limit: int | None) -> Job | None:
        """Put a failed or cancelled job back to pending with fresh attempts."""
        with self._write() as db:
            job = self._load(db, job_id)
            if job is None or job.status not in (JobStatus.FAILED, JobStatus.CANCELLED):
                return None
            self._check_active_limit(db, job.owner_id, active_limit)
            return self._change(
                db,
                job_id,
                status=JobStatus.PENDING,
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
            )

    # -- logs and dead letters ----------------------------------------------------------------
    def append_log(self, job_id: str, level: str, message: str, *, now: datetime) -> None:
        """Add a log line to a job."""
        with self._write() as db:
            db.execute(
                "INSERT INTO host_job_log (job_id, at, level, message) VALUES (?, ?, ?, ?)",
                (job_id, to_text(now), level, message),
            )

    def get_log(self, job_id: str, *, limit: int = 100, after_id: int = 0) -> list[LogLine]:
        """A job's log lines in order, after ``after_id``."""
        with self._read() as db:
            rows = db.execute(
                "SELECT * FROM host_job_log WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?",
                (job_id, after_id, limit),
            ).fetchall()
        return [
            LogLine(
                id=row["id"],
                job_id=row["job_id"],
                at=from_text(row["at"]),
                level=row["level"],
                message=row["message"],
            )
            for row in rows
        ]

    def delete_job_logs(self, *, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` log lines written before ``before`` (oldest first)."""
        with self._write() as db:
            gone = db.execute(
                "DELETE FROM host_job_log WHERE id IN "
                "(SELECT id FROM host_job_log WHERE at < ? ORDER BY id LIMIT ?)",
                (to_text(before), max(limit, 0)),
            )
        return gone.rowcount

    def list_dead_letters(
        self, *, owner_id: str | None = None, limit: int = 50
    ) -> list[DeadLetter]:
        """Dead-lettered jobs, newest first."""
        sql, args = "SELECT * FROM host_dead_letters", []
        if owner_id is not None:
            sql, args = sql + " WHERE owner_id = ?", [owner_id]
        with self._read() as db:
            rows = db.execute(sql + " ORDER BY id DESC LIMIT ?", (*args, limit)).fetchall()
        return [
            DeadLetter(
                id=row["id"],
                job_id=row["job_id"],
                owner_id=row["owner_id"],
                job_type=row["job_type"],
                params=json.loads(row["params"]),
                error_code=row["error_code"],
                error_message=row["error_message"],
                attempts=row["attempts"],
                failed_at=from_text(row["failed_at"]),
            )
            for row in rows
        ]

    # -- following and closing ----------------------------------------------------------------
    def subscribe(self, job_id: str) -> PollingSubscription:
        """Listen for changes of one job (by polling its version)."""
        return PollingSubscription(self, job_id, self.poll_interval)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._db.close()

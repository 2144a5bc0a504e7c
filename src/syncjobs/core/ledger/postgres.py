"""The job hot path on PostgreSQL: prebuilt SQL run on the pooled psycopg connection.

Each job change is ONE autocommit statement that also sends the watchers' NOTIFY
(``WITH changed AS (UPDATE … RETURNING *) SELECT changed.*, pg_notify(…)``): one round trip,
and no SQLAlchemy statement construction per call, which on a 2-core machine cost more CPU
than the database work itself (see bench/core.py). psycopg is imported when the first
PostgreSQL repository is built, so SQLite needs no PostgreSQL driver.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, text

from ..models import Job, JobStatus, NewJob
from .statements import ACTIVE_VALUES, JobChange, job_from_row
from .store import Subscription

__all__ = ["PgSubscription", "PostgresJobStatements"]

_PENDING, _PROCESSING = f"'{JobStatus.PENDING.value}'", f"'{JobStatus.PROCESSING.value}'"
_ACTIVE = ", ".join(f"'{value}'" for value in ACTIVE_VALUES)
_RETURN = "SELECT changed.*, pg_notify(%(ch)s, changed.status) AS _notified FROM changed"
# Non-terminal writes (claim, progress) need not wait for the WAL flush: a crash of the
# database may lose the last of them, never a completion or failure. set_config(..., true)
# lasts for the statement's own transaction, which is when the commit reads it.
_ASYNC = "fast AS (SELECT set_config('synchronous_commit', 'off', true) AS off), "
_RETURN_ASYNC = f"{_RETURN}, fast"


def _changes(jobs: str, dead_letters: str) -> dict[JobChange, str]:
    """The UPDATE of each change, returning the row and notifying its watchers."""
    return {
        JobChange.CLAIM: f"""WITH {_ASYNC}changed AS (
            UPDATE {jobs} SET status = {_PROCESSING}, attempts = attempts + 1,
                worker_id = %(worker)s, started_at = %(now)s, heartbeat_at = %(now)s,
                updated_at = %(now)s
            WHERE id = %(job)s AND (
                (status = {_PENDING} AND (scheduled_for IS NULL OR scheduled_for <= %(now)s))
                OR (status = {_PROCESSING} AND heartbeat_at < %(stale)s::timestamptz))
            RETURNING *) {_RETURN_ASYNC}""",
        JobChange.PROGRESS: f"""WITH {_ASYNC}changed AS (
            UPDATE {jobs} SET progress_done = %(done)s, progress_total = %(total)s,
                progress_percent = %(percent)s, progress_message = %(message)s,
                heartbeat_at = %(now)s, updated_at = %(now)s
            WHERE id = %(job)s AND status = {_PROCESSING}
            RETURNING *) {_RETURN_ASYNC}""",
        JobChange.FINISH: f"""WITH changed AS (
            UPDATE {jobs} SET status = %(to_status)s, completed_at = %(now)s,
                updated_at = %(now)s, error_code = %(code)s, error_message = %(message)s,
                result = CASE WHEN %(completed)s THEN %(outcome)s ELSE result END,
                progress_percent = CASE WHEN %(completed)s THEN 100.0 ELSE progress_percent END
            WHERE id = %(job)s AND status IN ({_ACTIVE})
            RETURNING *), dead AS (
            INSERT INTO {dead_letters} (job_id, owner_id, job_type, params, error_code,
                error_message, attempts, failed_at)
            SELECT id, owner_id, job_type, params, %(code)s, %(message)s, attempts, %(now)s
            FROM changed WHERE %(dead)s) {_RETURN}""",
        JobChange.RESCHEDULE: f"""WITH changed AS (
            UPDATE {jobs} SET status = {_PENDING}, scheduled_for = %(run_at)s,
                expires_at = NULL, error_code = %(code)s, error_message = %(message)s,
                worker_id = NULL, updated_at = %(now)s, retry_count = retry_count + %(retry)s,
                attempts = attempts - %(give_back)s
            WHERE id = %(job)s AND status = {_PROCESSING}
            RETURNING *) {_RETURN}""",
    }


def _claim_many(jobs: str) -> str:
    """CLAIM of many jobs in one statement (not waiting for the WAL flush, as one claim)."""
    return f"""WITH {_ASYNC}v AS (
            SELECT * FROM unnest(%(ids)s::text[], %(workers)s::text[], %(nows)s::timestamptz[],
                %(stales)s::timestamptz[]) AS v(id, worker, now, stale)),
        changed AS (
            UPDATE {jobs} AS j SET status = {_PROCESSING}, attempts = j.attempts + 1,
                worker_id = v.worker, started_at = v.now, heartbeat_at = v.now,
                updated_at = v.now
            FROM v WHERE j.id = v.id AND (
                (j.status = {_PENDING} AND (j.scheduled_for IS NULL OR j.scheduled_for <= v.now))
                OR (j.status = {_PROCESSING} AND j.heartbeat_at < v.stale))
            RETURNING j.*)
        SELECT changed.*, pg_notify(%(prefix)s || 'j' || replace(changed.id, '-', ''),
            changed.status) AS _notified FROM changed, fast"""


def _finish_many(jobs: str, dead_letters: str) -> str:
    """FINISH of many jobs in one statement: one transaction, one WAL flush for all."""
    return f"""WITH v AS (
            SELECT * FROM unnest(%(ids)s::text[], %(statuses)s::text[], %(nows)s::timestamptz[],
                %(codes)s::text[], %(messages)s::text[], %(completed)s::bool[],
                %(outcomes)s::jsonb[], %(dead)s::bool[])
            AS v(id, to_status, now, code, message, completed, outcome, dead)),
        changed AS (
            UPDATE {jobs} AS j SET status = v.to_status, completed_at = v.now,
                updated_at = v.now, error_code = v.code, error_message = v.message,
                result = CASE WHEN v.completed THEN v.outcome ELSE j.result END,
                progress_percent = CASE WHEN v.completed THEN 100.0 ELSE j.progress_percent END
            FROM v WHERE j.id = v.id AND j.status IN ({_ACTIVE})
            RETURNING j.*, v.dead AS _dead), dead AS (
            INSERT INTO {dead_letters} (job_id, owner_id, job_type, params, error_code,
                error_message, attempts, failed_at)
            SELECT id, owner_id, job_type, params, error_code, error_message, attempts,
                completed_at
            FROM changed WHERE _dead)
        SELECT changed.*, pg_notify(%(prefix)s || 'j' || replace(changed.id, '-', ''),
            changed.status) AS _notified FROM changed"""


def _insert(jobs: str) -> str:
    """INSERT a job unless its key exists or the owner is at the limit (NULL: no limit).

    Counting stops at the limit, so an owner's backlog does not slow its submits down.
    """
    return f"""INSERT INTO {jobs} (id, owner_id, job_type, queue, priority, params,
            status, progress_percent, retry_count, attempts, max_retries, cancel_requested,
            scheduled_for, expires_at, idempotency_key, parent_id, created_at, updated_at)
        SELECT %(job)s::text, %(owner)s::text, %(job_type)s::text, %(queue)s::text,
            %(priority)s::int, %(params)s::jsonb, {_PENDING}, 0, 0, 0, %(max_retries)s::int,
            false, %(scheduled_for)s::timestamptz, %(expires_at)s::timestamptz,
            %(key)s::text, %(parent_id)s::text, %(now)s::timestamptz, %(now)s::timestamptz
        WHERE NOT EXISTS (SELECT 1 FROM {jobs} WHERE owner_id = %(owner)s::text
                          AND idempotency_key = %(key)s::text)
          AND (%(limit)s::int IS NULL OR (SELECT count(*) FROM (SELECT 1 FROM {jobs}
               WHERE owner_id = %(owner)s::text AND status IN ({_ACTIVE})
               LIMIT %(limit)s::int) AS active) < %(limit)s::int)
        RETURNING *"""


class PostgresJobStatements:
    """``JobStatements`` for one table prefix on PostgreSQL (psycopg 3)."""

    def __init__(self, engine: Engine, prefix: str) -> None:
        import psycopg
        from psycopg.rows import dict_row
        from psycopg.types.json import Jsonb

        #: An AUTOCOMMIT engine: a single statement needs no BEGIN/COMMIT round trips.
        self.engine: Engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.prefix = prefix
        self._dict_row, self._jsonb = dict_row, Jsonb
        jobs, dead_letters = f'"{prefix}jobs"', f'"{prefix}dead_letters"'
        self._changes = _changes(jobs, dead_letters)
        self._finish_many = _finish_many(jobs, dead_letters)
        self._claim_many = _claim_many(jobs)
        self._insert = _insert(jobs)
        self._pipeline = psycopg.Pipeline.is_supported()
        self._lock = "SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, 0))"
        self._get = f"SELECT * FROM {jobs} WHERE id = %(job)s"
        self._flag = f"SELECT cancel_requested, status FROM {jobs} WHERE id = %(job)s"

    def channel(self, job_id: str) -> str:
        """The NOTIFY channel of one job."""
        return f"{self.prefix}j{job_id.replace('-', '')}"

    @contextlib.contextmanager
    def _raw(self) -> Iterator[Any]:
        """A pooled psycopg connection in autocommit mode, back in the pool as it came.

        It skips SQLAlchemy's ``Connection`` (its events and the isolation level set and reset
        at each checkout), which cost the hot path a tenth of a millisecond per statement.
        """
        fairy = self.engine.raw_connection()
        raw: Any = fairy.driver_connection
        try:
            raw.autocommit = True
            yield raw
        finally:
            try:
                raw.autocommit = False  # as the pool's other users expect it
            except Exception:  # broken, or left inside a transaction: not for reuse
                fairy.invalidate()
            fairy.close()

    def _one(self, sql: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """Run one statement in autocommit mode; return its first row, times in UTC."""
        with self._raw() as raw, raw.cursor(row_factory=self._dict_row) as cur:
            cur.execute(sql, params, prepare=True)
            return _utc(cur.fetchone())

    def insert_job(self, new: NewJob, active_limit: int | None) -> Job | None:
        """Insert under the owner's advisory lock unless its key exists or it is over limit."""
        params = {
            "job": new.id,
            "owner": new.owner_id,
            "job_type": new.job_type,
            "queue": new.queue,
            "priority": new.priority,
            "params": self._jsonb(new.params),
            "max_retries": new.max_retries,
            "scheduled_for": new.scheduled_for,
            "expires_at": new.expires_at,
            "key": new.idempotency_key,
            "parent_id": new.parent_id,
            "now": new.created_at,
            "limit": active_limit,
        }
        if active_limit is None and new.idempotency_key is None:
            row = self._one(self._insert, params)  # nothing to check: one autocommit INSERT
        else:
            row = self._insert_locked(params)
        return job_from_row(row) if row is not None else None

    def _insert_locked(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """BEGIN, the owner's lock, the INSERT, COMMIT: pipelined, so one round trip."""
        with self._raw() as raw:
            if not self._pipeline:  # a libpq without pipeline mode: four round trips
                with raw.transaction(), raw.cursor(row_factory=self._dict_row) as cur:
                    cur.execute(self._lock, {"key": self.prefix + params["owner"]}, prepare=True)
                    cur.execute(self._insert, params, prepare=True)
                    return _utc(cur.fetchone())
            cur = raw.cursor(row_factory=self._dict_row)
            try:
                # The lock serialises one owner's submits; the INSERT's snapshot, taken after
                # it, sees every committed job of that owner, so count-then-insert is atomic.
                with raw.pipeline():
                    raw.execute("BEGIN")
                    raw.execute(self._lock, {"key": self.prefix + params["owner"]}, prepare=True)
                    cur.execute(self._insert, params, prepare=True)
                    raw.execute("COMMIT")
                return _utc(cur.fetchone())
            except BaseException:
                with contextlib.suppress(Exception):
                    raw.rollback()  # an aborted pipeline leaves its transaction open
                raise
            finally:
                cur.close()

    def claim_many(self, changes: list[dict[str, Any]]) -> list[Job]:
        """Apply many CLAIM changes in one autocommit statement that notifies each job."""
        if len(changes) == 1:
            return self._alone(JobChange.CLAIM, changes[0])
        params = {
            "ids": [c["job"] for c in changes],
            "workers": [c["worker"] for c in changes],
            "nows": [c["now"] for c in changes],
            "stales": [c["stale"] for c in changes],
            "prefix": self.prefix,
        }
        return self._many(self._claim_many, params)

    def _alone(self, change: JobChange, params: dict[str, Any]) -> list[Job]:
        """A group of one, through the one-row statement: the client sends it for less."""
        job = self.change_job(change, params)
        return [] if job is None else [job]

    def _many(self, sql: str, params: dict[str, Any]) -> list[Job]:
        """Run one autocommit statement; the jobs of its rows."""
        with self._raw() as raw, raw.cursor(row_factory=self._dict_row) as cur:
            cur.execute(sql, params, prepare=True)
            return [job_from_row(_utc(row)) for row in cur.fetchall()]

    def finish_many(self, changes: list[dict[str, Any]]) -> list[Job]:
        """Apply many FINISH changes in one autocommit statement that notifies each job."""
        if len(changes) == 1:
            return self._alone(JobChange.FINISH, changes[0])
        params = {
            "ids": [c["job"] for c in changes],
            "statuses": [c["to_status"] for c in changes],
            "nows": [c["now"] for c in changes],
            "codes": [c["code"] for c in changes],
            "messages": [c["message"] for c in changes],
            "completed": [c["completed"] for c in changes],
            "outcomes": [
                self._jsonb(c["outcome"]) if c["outcome"] is not None else None for c in changes
            ],
            "dead": [c["dead"] for c in changes],
            "prefix": self.prefix,
        }
        return self._many(self._finish_many, params)

    def get_job(self, job_id: str) -> Job | None:
        """Read one job."""
        row = self._one(self._get, {"job": job_id})
        return job_from_row(row) if row is not None else None

    def cancel_flag(self, job_id: str) -> tuple[bool, str] | None:
        """(cancel requested, status) of one job."""
        row = self._one(self._flag, {"job": job_id})
        return None if row is None else (bool(row["cancel_requested"]), row["status"])

    def change_job(self, change: JobChange, params: dict[str, Any]) -> Job | None:
        """Apply one change in one autocommit statement that notifies the job's watchers."""
        if params.get("outcome") is not None:
            params = {**params, "outcome": self._jsonb(params["outcome"])}
        row = self._one(self._changes[change], {**params, "ch": self.channel(params["job"])})
        return job_from_row(row) if row is not None else None

    def notify(self, conn: Connection, job_id: str, status: str) -> None:
        """NOTIFY the job's channel when ``conn``'s transaction commits."""
        conn.execute(select(func.pg_notify(self.channel(job_id), status)))

    def lock_owner(self, conn: Connection, owner_id: str) -> None:
        """Take the owner's advisory lock until ``conn``'s transaction ends."""
        conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
            {"k": self.prefix + owner_id},
        )

    def subscribe(self, job_id: str) -> Subscription:
        """LISTEN on the job's channel."""
        return PgSubscription(self.engine, self.channel(job_id))


class PgSubscription:
    """LISTEN on a job's channel through its own autocommit psycopg connection."""

    def __init__(self, engine: Engine, channel: str) -> None:
        import psycopg
        from psycopg import sql

        dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn = psycopg.connect(dsn, autocommit=True)
        self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))

    def wait(self, timeout: float) -> bool:
        """Block until a NOTIFY arrives or ``timeout`` seconds pass; True if one came."""
        for _ in self._conn.notifies(timeout=max(timeout, 0.0), stop_after=1):
            return True
        return False

    def close(self) -> None:
        """Close the listening connection."""
        self._conn.close()


def _utc(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is not None:
        for key, value in row.items():
            if isinstance(value, datetime):
                row[key] = value.astimezone(UTC)
    return row

"""The PostgreSQL hot path: prebuilt SQL run on the pooled psycopg connection.

Each job change is ONE autocommit statement that also sends the watchers' NOTIFY
(``WITH changed AS (UPDATE … RETURNING *) SELECT changed.*, pg_notify(…)``): one round trip,
and no SQLAlchemy statement construction per call, which on a 2-core machine cost more CPU
than the database work itself (see bench/core.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

__all__ = ["PgFastPath"]

_RETURN = "SELECT changed.*, pg_notify(%(ch)s, changed.status) AS _notified FROM changed"
# Non-terminal writes (claim, progress) need not wait for the WAL flush: a crash of the
# database may lose the last of them, never a completion or failure. set_config(..., true)
# lasts for the statement's own transaction, which is when the commit reads it.
_ASYNC = "fast AS (SELECT set_config('synchronous_commit', 'off', true) AS off), "
_RETURN_ASYNC = (
    "SELECT changed.*, pg_notify(%(ch)s, changed.status) AS _notified FROM changed, fast"
)


class PgFastPath:
    """Prebuilt statements for one table prefix."""

    def __init__(self, engine: Engine, prefix: str) -> None:
        self.engine = engine
        self.prefix = prefix
        jobs = f'"{prefix}jobs"'
        self.claim_sql = f"""WITH {_ASYNC}changed AS (
            UPDATE {jobs} SET status = 'processing', attempts = attempts + 1,
                worker_id = %(worker)s, started_at = %(now)s, heartbeat_at = %(now)s,
                updated_at = %(now)s
            WHERE id = %(id)s AND (
                (status = 'pending' AND (scheduled_for IS NULL OR scheduled_for <= %(now)s))
                OR (status = 'processing' AND heartbeat_at < %(stale)s::timestamptz))
            RETURNING *) {_RETURN_ASYNC}"""
        self.progress_sql = f"""WITH {_ASYNC}changed AS (
            UPDATE {jobs} SET progress_done = %(done)s, progress_total = %(total)s,
                progress_percent = %(percent)s, progress_message = %(message)s,
                heartbeat_at = %(now)s, updated_at = %(now)s
            WHERE id = %(id)s AND status = 'processing'
            RETURNING *) {_RETURN_ASYNC}"""
        self.finish_sql = f"""WITH changed AS (
            UPDATE {jobs} SET status = %(status)s, completed_at = %(now)s, updated_at = %(now)s,
                error_code = %(code)s, error_message = %(message)s,
                result = CASE WHEN %(completed)s THEN %(result)s ELSE result END,
                progress_percent = CASE WHEN %(completed)s THEN 100.0 ELSE progress_percent END
            WHERE id = %(id)s AND status IN ('pending', 'processing')
            RETURNING *) {_RETURN}"""
        self.reschedule_sql = f"""WITH changed AS (
            UPDATE {jobs} SET status = 'pending', scheduled_for = %(run_at)s, expires_at = NULL,
                error_code = %(code)s, error_message = %(message)s, worker_id = NULL,
                updated_at = %(now)s, retry_count = retry_count + %(retry)s,
                attempts = attempts - %(give_back)s
            WHERE id = %(id)s AND status = 'processing'
            RETURNING *) {_RETURN}"""
        self.lock_sql = "SELECT pg_advisory_xact_lock(hashtextextended(%(key)s, 0))"
        self.insert_sql = f"""INSERT INTO {jobs} (id, owner_id, job_type, queue, priority, params,
                status, progress_percent, retry_count, attempts, max_retries, cancel_requested,
                scheduled_for, expires_at, idempotency_key, parent_id, created_at, updated_at)
            SELECT %(id)s::text, %(owner)s::text, %(job_type)s::text, %(queue)s::text,
                %(priority)s::int, %(params)s::jsonb, 'pending', 0, 0, 0, %(max_retries)s::int,
                false, %(scheduled_for)s::timestamptz, %(expires_at)s::timestamptz,
                %(key)s::text, %(parent_id)s::text, %(now)s::timestamptz, %(now)s::timestamptz
            WHERE NOT EXISTS (SELECT 1 FROM {jobs} WHERE owner_id = %(owner)s::text
                              AND idempotency_key = %(key)s::text)
              AND (%(limit)s::int IS NULL OR (SELECT count(*) FROM {jobs}
                   WHERE owner_id = %(owner)s::text AND status IN ('pending', 'processing'))
                   < %(limit)s::int)
            RETURNING *"""
        self.get_sql = f"SELECT * FROM {jobs} WHERE id = %(id)s"
        self.cancel_flag_sql = f"SELECT cancel_requested, status FROM {jobs} WHERE id = %(id)s"

    def channel(self, job_id: str) -> str:
        """The NOTIFY channel of one job."""
        return f"{self.prefix}j{job_id.replace('-', '')}"

    def one(self, sql: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """Run one statement in autocommit mode; return its first row as a dict, UTC times."""
        from psycopg.rows import dict_row

        with self.engine.connect() as conn:
            raw: Any = conn.connection.driver_connection
            with raw.cursor(row_factory=dict_row) as cur:
                cur.execute(sql, params, prepare=True)
                row: dict[str, Any] | None = cur.fetchone()
        return _utc(row)

    def insert_job(self, params: dict[str, Any]) -> dict[str, Any] | None:
        """Insert a job under the owner's advisory lock unless its key exists or it's over limit."""
        from psycopg.rows import dict_row

        with self.engine.connect() as conn:
            raw: Any = conn.connection.driver_connection
            with raw.transaction(), raw.cursor(row_factory=dict_row) as cur:
                # The lock serialises one owner's submits; the INSERT's snapshot, taken after
                # it, sees every committed job of that owner, so count-then-insert is atomic.
                cur.execute(self.lock_sql, {"key": self.prefix + params["owner"]}, prepare=True)
                cur.execute(self.insert_sql, params, prepare=True)
                row: dict[str, Any] | None = cur.fetchone()
        return _utc(row)

    def change(self, sql: str, job_id: str, **params: Any) -> dict[str, Any] | None:
        """Apply one job change and notify its watchers."""
        return self.one(sql, {"id": job_id, "ch": self.channel(job_id), **params})


def _utc(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is not None:
        for key, value in row.items():
            if isinstance(value, datetime):
                row[key] = value.astimezone(UTC)
    return row


def jsonb(value: Any) -> Any:
    """Wrap a value for a jsonb parameter (None stays SQL NULL)."""
    from psycopg.types.json import Jsonb

    return None if value is None else Jsonb(value)

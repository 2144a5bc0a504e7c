"""The items' write path on PostgreSQL: a page's rows by ``COPY``, one upsert, id arrays.

A page's new and changed rows are copied (``COPY … FROM STDIN``) into a temporary staging
table of the session (created on first use, emptied at every commit), then moved into the
items table by ONE ``INSERT … SELECT … ON CONFLICT DO UPDATE``. Lookups and updates by
external id bind the ids as ONE array parameter (``external_id = ANY(%s)``), whatever the page
size: one statement, one plan, no parameter-count limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Table

__all__ = ["COPY_COLUMNS", "REPLACED", "StagedUpsert", "utc"]

#: The columns a page writes, in the order of the rows given to ``StagedUpsert.run``.
COPY_COLUMNS = (
    "account_id",
    "external_id",
    "kind",
    "title",
    "text",
    "author",
    "published_at",
    "metrics",
    "raw",
    "content_hash",
    "first_seen_at",
    "last_modified_at",
    "last_seen_at",
    "deleted_at",
    "analysis_state",
)
#: Replaced from the page when a row exists (first_seen_at and the analysis columns are kept).
REPLACED = (
    "kind",
    "title",
    "text",
    "author",
    "published_at",
    "metrics",
    "raw",
    "content_hash",
    "last_modified_at",
    "last_seen_at",
)
#: What an analyzer reads: when one of these changes, the item is queued to be judged again.
_JUDGED = ("title", "text", "author")


def utc(value: datetime | None) -> datetime | None:
    """An aware datetime in UTC (what the items table's timestamp columns hold)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column")
    return value.astimezone(UTC)


class StagedUpsert:
    """``COPY`` rows into the session's staging table, then upsert them into the items."""

    def __init__(self, table: Table, quote: Any) -> None:
        self.sql = _statements(table.name, quote)

    def run(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Write ``rows`` (values of ``COPY_COLUMNS``) in the connection's transaction."""
        if not rows:
            return
        create, copy_sql, upsert = self.sql
        raw: Any = conn.connection.driver_connection  # the psycopg connection, same transaction
        with raw.cursor() as cur:
            cur.execute(create)
            with cur.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(upsert)


@lru_cache(maxsize=64)
def _statements(items: str, quote: Any) -> tuple[str, str, str]:
    """The staging table's DDL, its COPY and the upsert, for the items table ``items``."""
    table, stage = quote(items), quote(f"{items}_stage")
    cols = ", ".join(COPY_COLUMNS)
    judged = " OR ".join(f"{table}.{c} IS DISTINCT FROM excluded.{c}" for c in _JUDGED)
    create = (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS "
        f"AS SELECT {cols} FROM {table} WITH NO DATA"
    )
    sets = ", ".join(f"{c} = excluded.{c}" for c in REPLACED)
    upsert = (
        f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {stage} "
        f"ON CONFLICT (account_id, external_id) DO UPDATE SET {sets}, deleted_at = NULL, "
        f"analysis_state = CASE WHEN {judged} THEN 'queued' ELSE {table}.analysis_state END, "
        f"analysis_attempts = CASE WHEN {judged} THEN 0 ELSE {table}.analysis_attempts END"
    )
    return create, f"COPY {stage} ({cols}) FROM STDIN", upsert

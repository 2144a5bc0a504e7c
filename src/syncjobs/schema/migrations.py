"""Versioned schema migrations: ``syncjobs db upgrade`` applies the missing ones in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, insert, inspect, select, text
from sqlalchemy.schema import CreateColumn

from ..clock import utcnow
from ..errors import SchemaOutdatedError
from .tables import Tables

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "check_schema", "current_version", "upgrade"]


@dataclass(frozen=True)
class Migration:
    """One step of the schema's history."""

    version: int
    description: str
    apply: Callable[[Connection, Tables], None]


def _v1_ledger(conn: Connection, t: Tables) -> None:
    for table in (t.jobs, t.job_log, t.dead_letters):
        table.create(conn, checkfirst=True)


def _v2_accounts(conn: Connection, t: Tables) -> None:
    for table in (t.accounts, t.credentials, t.items, t.notifications):
        table.create(conn, checkfirst=True)


def _v3_upkeep(conn: Connection, t: Tables) -> None:
    for table in (t.workers, t.schedules):
        table.create(conn, checkfirst=True)


#: The ``items`` columns of the analysis queue, added by v4 (v2 creates them on new databases).
_V4_ITEM_COLUMNS = (
    "analysis_priority",
    "review_flag",
    "analysis_attempts",
    "analysis_claimed_at",
    "analysis_error",
)


def _v4_insights(conn: Connection, t: Tables) -> None:
    for table in (
        t.analyses,
        t.preferences,
        t.trust_scores,
        t.provider_usage,
        t.usage,
        t.rollup_runs,
        t.deliveries,
        t.breakers,
        t.digests,
    ):
        table.create(conn, checkfirst=True)
    items = t.items
    have = {c["name"] for c in inspect(conn).get_columns(items.name)}
    table_name = conn.dialect.identifier_preparer.format_table(items)
    for name in _V4_ITEM_COLUMNS:
        if name not in have:
            # The column's own DDL: type, NOT NULL and the server default that fills old rows.
            spec = CreateColumn(items.c[name]).compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {table_name} ADD COLUMN {spec}"))
    indexes = {ix["name"] for ix in inspect(conn).get_indexes(items.name)}
    for index in items.indexes:
        if index.name not in indexes:
            index.create(conn)


MIGRATIONS: list[Migration] = [
    Migration(1, "job ledger: jobs, job log, dead letters", _v1_ledger),
    Migration(2, "accounts, encrypted credentials, synced items, notifications", _v2_accounts),
    Migration(3, "worker heartbeats and the schedule ledger", _v3_upkeep),
    Migration(
        4,
        "the extras: analysis queue columns, analyses, preferences, trust scores, usage, "
        "deliveries, breakers, digests",
        _v4_insights,
    ),
]
SCHEMA_VERSION = MIGRATIONS[-1].version


def current_version(conn: Connection, t: Tables) -> int:
    """Return the schema version the database is at (0 when empty)."""
    if not inspect(conn).has_table(t.schema_version.name):
        return 0
    top = select(func.coalesce(func.max(t.schema_version.c.version), 0))
    return int(conn.execute(top).scalar_one())


def upgrade(engine: Engine, t: Tables) -> list[int]:
    """Apply every missing migration, each in its own transaction; return the versions applied."""
    applied: list[int] = []
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # One upgrader at a time; the lock ends with the transaction.
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": t.prefix + "migrate"}
            )
        t.schema_version.create(conn, checkfirst=True)
        have = current_version(conn, t)
        for migration in MIGRATIONS:
            if migration.version <= have:
                continue
            migration.apply(conn, t)
            conn.execute(
                insert(t.schema_version).values(version=migration.version, applied_at=utcnow())
            )
            applied.append(migration.version)
    return applied


def check_schema(engine: Engine, t: Tables) -> None:
    """Raise SchemaOutdatedError unless the database is at the version this code needs."""
    with engine.connect() as conn:
        have = current_version(conn, t)
    if have < SCHEMA_VERSION:
        raise SchemaOutdatedError(
            f"the database schema (tables {t.prefix}*) is at version {have}, this syncjobs "
            f"needs {SCHEMA_VERSION}: run `syncjobs db upgrade`"
        )

"""Versioned schema migrations: ``syncjobs db upgrade`` applies the missing ones in order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, func, insert, inspect, select, text

from ...errors import SchemaOutdatedError
from ...models import utcnow
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


MIGRATIONS: list[Migration] = [
    Migration(1, "job ledger: jobs, job log, dead letters", _v1_ledger),
    Migration(2, "accounts, encrypted credentials, synced items, notifications", _v2_accounts),
    Migration(3, "worker heartbeats and the schedule ledger", _v3_upkeep),
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

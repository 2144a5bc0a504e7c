"""The home-made migration runner that came before syncjobs' Alembic branch, kept here to build
databases the old way: its ``schema_version`` table and versions 1 to 4, as they ran."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    inspect,
    text,
)
from sqlalchemy.schema import CreateColumn

from syncjobs.schema.legacy import v4_tables
from syncjobs.schema.tables import JSONType, Tables, UTCDateTime

APPLIED_AT = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
V4_ITEM_COLUMNS = (
    "analysis_priority",
    "review_flag",
    "analysis_attempts",
    "analysis_claimed_at",
    "analysis_error",
)
V4_TABLES = (
    "analyses",
    "preferences",
    "trust_scores",
    "provider_usage",
    "usage",
    "rollup_runs",
    "deliveries",
    "breakers",
    "digests",
)


def schema_version_table(prefix: str) -> Table:
    """``schema_version`` as the runner created it."""
    return Table(
        f"{prefix}schema_version",
        MetaData(),
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("applied_at", UTCDateTime, nullable=False),
    )


def v3_items(prefix: str) -> Table:
    """``items`` as schema v3 created it (before the analysis queue's columns)."""
    return Table(
        f"{prefix}items",
        MetaData(),
        Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
        Column("account_id", String(36), nullable=False),
        Column("external_id", String(255), nullable=False),
        Column("kind", String(32), nullable=False),
        Column("title", Text),
        Column("text", Text),
        Column("author", String(255)),
        Column("published_at", UTCDateTime),
        Column("metrics", JSONType, nullable=False),
        Column("raw", JSONType, nullable=False),
        Column("content_hash", String(64), nullable=False),
        Column("first_seen_at", UTCDateTime, nullable=False),
        Column("last_modified_at", UTCDateTime, nullable=False),
        Column("last_seen_at", UTCDateTime, nullable=False),
        Column("deleted_at", UTCDateTime),
        Column("analysis_state", String(16), nullable=False),
        UniqueConstraint("account_id", "external_id", name=f"{prefix}items_ext_uq"),
    )


def _v1_ledger(conn: Connection, t: Tables) -> None:
    for table in (t.jobs, t.job_log, t.dead_letters):
        table.create(conn, checkfirst=True)


def _v2_accounts(conn: Connection, t: Tables) -> None:
    for table in (t.accounts, t.credentials, t.items, t.notifications):
        table.create(conn, checkfirst=True)


def _v3_upkeep(conn: Connection, t: Tables) -> None:
    for table in (t.workers, t.schedules):
        table.create(conn, checkfirst=True)


def _v4_insights(conn: Connection, t: Tables) -> None:
    for name in V4_TABLES:
        getattr(t, name).create(conn, checkfirst=True)
    items = t.items
    have = {c["name"] for c in inspect(conn).get_columns(items.name)}
    table_name = conn.dialect.identifier_preparer.format_table(items)
    for name in V4_ITEM_COLUMNS:
        if name not in have:
            spec = CreateColumn(items.c[name]).compile(dialect=conn.dialect)
            conn.execute(text(f"ALTER TABLE {table_name} ADD COLUMN {spec}"))
    indexes = {ix["name"] for ix in inspect(conn).get_indexes(items.name)}
    for index in items.indexes:
        if index.name not in indexes:
            index.create(conn)


MIGRATIONS: list[Callable[[Connection, Tables], None]] = [
    _v1_ledger,
    _v2_accounts,
    _v3_upkeep,
    _v4_insights,
]


def build_legacy(engine: Engine, t: Tables, version: int, *, old_items: bool = False) -> Tables:
    """Run versions 1 to ``version`` of the old runner on an empty database; return the
    tables they created (with v3's ``items`` when ``old_items``, as a 0.1.0 database has)."""
    v4 = v4_tables(t.prefix)  # without the indexes later revisions added
    made = dataclasses.replace(v4, items=v3_items(t.prefix)) if old_items else v4
    schema_version = schema_version_table(t.prefix)
    with engine.begin() as conn:
        schema_version.create(conn)
        for number, migration in enumerate(MIGRATIONS[:version], start=1):
            migration(conn, made)
            conn.execute(insert(schema_version).values(version=number, applied_at=APPLIED_AT))
    return made

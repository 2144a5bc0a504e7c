"""Databases of the home-made runner that came before the Alembic branch.

That runner kept its versions (1 to 4) in ``<prefix>schema_version``. Version 4 is the schema
revision ``syncjobs_0001`` creates, so ``syncjobs db upgrade`` adopts such a database in
place: it completes an older one to version 4 (the runner's own steps: the missing tables,
then the ``items`` columns and indexes of the analysis queue, filling old rows with their
defaults), drops ``schema_version`` and stamps the revision. No row is touched.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    Table,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.schema import CreateColumn

from .columns import UTCDateTime
from .tables import Tables, build_tables

__all__ = [
    "ADOPTED_REVISION",
    "LEGACY_VERSION",
    "adopt",
    "legacy_table",
    "legacy_version",
    "v4_tables",
]

#: The last version of the home-made runner, and the revision that creates the same schema.
LEGACY_VERSION = 4
ADOPTED_REVISION = "syncjobs_0001"

#: The ``items`` columns of the analysis queue, which version 4 added to older databases.
_V4_ITEM_COLUMNS = (
    "analysis_priority",
    "review_flag",
    "analysis_attempts",
    "analysis_claimed_at",
    "analysis_error",
)


#: The indexes in version 4 of the tables later revisions changed: table → name → columns.
_V4_INDEXES = {
    "jobs": {
        "jobs_owner_status_ix": ("owner_id", "status"),
        "jobs_owner_created_ix": ("owner_id", "created_at"),
        "jobs_status_type_ix": ("status", "job_type"),
    },
    "dead_letters": {"dead_letters_owner_ix": ("owner_id", "failed_at")},
}


#: The tables later revisions created (left out of ``v4_tables``' metadata and ``all``).
_LATER_TABLES = ("connect_states",)


def v4_tables(prefix: str) -> Tables:
    """The tables as version 4 (and revision ``syncjobs_0001``) made them.

    They are today's tables but for the indexes of the tables later revisions changed and
    the tables later revisions created.
    """
    t = build_tables(prefix)
    for name in _LATER_TABLES:
        t.metadata.remove(getattr(t, name))
    for name, indexes in _V4_INDEXES.items():
        table = getattr(t, name)
        for index in list(table.indexes):
            table.indexes.discard(index)
        for index_name, columns in indexes.items():
            Index(f"{prefix}{index_name}", *(table.c[c] for c in columns))
    return t


def legacy_table(prefix: str) -> Table:
    """The home-made runner's ``schema_version`` table."""
    return Table(
        f"{prefix}schema_version",
        MetaData(),
        Column("version", Integer, primary_key=True, autoincrement=False),
        Column("applied_at", UTCDateTime, nullable=False),
    )


def legacy_version(conn: Connection, prefix: str) -> int | None:
    """The home-made version the database is at, or None without a ``schema_version``."""
    table = legacy_table(prefix)
    if not inspect(conn).has_table(table.name):
        return None
    top = select(func.coalesce(func.max(table.c.version), 0))
    return int(conn.execute(top).scalar_one())


def adopt(conn: Connection, tables: Tables, version: int) -> None:
    """Bring a home-made schema at ``version`` to version 4, then drop ``schema_version``."""
    if version < LEGACY_VERSION:
        _complete(conn, tables)
    legacy_table(tables.prefix).drop(conn)


def _complete(conn: Connection, t: Tables) -> None:
    """What versions 1 to 4 of the home-made runner did: create, then add what is missing."""
    t = v4_tables(t.prefix)
    for table in t.all:
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

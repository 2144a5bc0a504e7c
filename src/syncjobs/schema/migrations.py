"""syncjobs' schema migrations: the Alembic branch ``syncjobs``, run by ``syncjobs db upgrade``.

A host with its own Alembic runs the revisions with ``alembic upgrade heads``; its version
table (``alembic_version``) then keeps syncjobs' revision next to its own
(docs/using-in-your-app.md, "Alembic"). For a host without Alembic, :func:`upgrade` runs the
same revisions through Alembic's ``command.upgrade`` with a programmatic ``Config`` and keeps
the revision in ``<prefix>alembic_version``. A database of the home-made runner that came
before is adopted in place (``syncjobs.schema.legacy``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, Engine, MetaData, String, Table, inspect, select, text

from ..errors import SchemaOutdatedError
from .legacy import ADOPTED_REVISION, adopt, legacy_version
from .prefix import PREFIX_OPTION
from .tables import Tables, version_table_name

__all__ = [
    "ALEMBIC_DIR",
    "HOST_VERSION_TABLE",
    "SchemaState",
    "check_schema",
    "head_revision",
    "revisions",
    "schema_state",
    "upgrade",
]

log = logging.getLogger(__name__)

#: The branch's directory: ``env.py`` and ``versions/``.
ALEMBIC_DIR = Path(__file__).resolve().parent / "alembic"
#: The version table of a host's own Alembic, which keeps syncjobs' revision with its own.
HOST_VERSION_TABLE = "alembic_version"
#: Every syncjobs revision id starts with it; a host's never does.
REVISION_ID_PREFIX = "syncjobs_"


@cache
def revisions() -> tuple[str, ...]:
    """syncjobs' revision ids, oldest first."""
    script = ScriptDirectory(str(ALEMBIC_DIR))
    return tuple(reversed([s.revision for s in script.walk_revisions()]))


def head_revision() -> str:
    """The revision this syncjobs needs."""
    return revisions()[-1]


@dataclass(frozen=True)
class SchemaState:
    """Where a database keeps syncjobs' revision, and which it is."""

    #: The version table holding it (None: none does).
    version_table: str | None
    revision: str | None
    #: The home-made runner's version, when its ``schema_version`` is all there is.
    legacy_version: int | None = None

    @property
    def host_managed(self) -> bool:
        """True when the host's own Alembic keeps the revision."""
        return self.version_table == HOST_VERSION_TABLE

    @property
    def current(self) -> bool:
        """At this syncjobs' head, or at a revision of a later syncjobs."""
        return self.revision is not None and (
            self.revision == head_revision() or self.revision not in revisions()
        )


def _syncjobs_revision(conn: Connection, version_table: str) -> str | None:
    table = Table(version_table, MetaData(), Column("version_num", String(32)))
    ours = [
        rev
        for (rev,) in conn.execute(select(table.c.version_num))
        if rev.startswith(REVISION_ID_PREFIX)
    ]
    # One branch has one head; a revision this syncjobs does not know is a later one.
    known = revisions()
    return max(ours, key=lambda rev: known.index(rev) if rev in known else len(known), default=None)


def schema_state(conn: Connection, prefix: str) -> SchemaState:
    """Find syncjobs' revision: in the host's ``alembic_version`` (if it has this prefix's
    tables), else in ``<prefix>alembic_version``, else the home-made ``schema_version``."""
    names = set(inspect(conn).get_table_names())
    if HOST_VERSION_TABLE in names and f"{prefix}jobs" in names:
        revision = _syncjobs_revision(conn, HOST_VERSION_TABLE)
        if revision is not None:
            return SchemaState(HOST_VERSION_TABLE, revision)
    own = version_table_name(prefix)
    if own in names:
        return SchemaState(own, _syncjobs_revision(conn, own))
    return SchemaState(None, None, legacy_version(conn, prefix))


def _outdated(state: SchemaState, prefix: str) -> str:
    where = f"the database schema (tables {prefix}*)"
    needs = f"this syncjobs needs revision {head_revision()}"
    if state.host_managed:
        return (
            f"{where} is at revision {state.revision}, {needs}: run `alembic upgrade heads` "
            f"(your Alembic keeps syncjobs' revision in {HOST_VERSION_TABLE})"
        )
    if state.revision is not None:
        return f"{where} is at revision {state.revision}, {needs}: run `syncjobs db upgrade`"
    if state.legacy_version is not None:
        return (
            f"{where} is at the old schema version {state.legacy_version}, {needs}: "
            "run `syncjobs db upgrade`"
        )
    return f"{where} is not created, {needs}: run `syncjobs db upgrade`"


def check_schema(engine: Engine, t: Tables) -> None:
    """Raise SchemaOutdatedError unless the database is at the revision this code needs."""
    with engine.connect() as conn:
        state = schema_state(conn, t.prefix)
    if not state.current:
        raise SchemaOutdatedError(_outdated(state, t.prefix))


def _config(conn: Connection, prefix: str, applied: list[str]) -> Config:
    """The programmatic Alembic configuration of ``alembic/env.py``."""
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.attributes.update(
        {
            "connection": conn,
            "syncjobs_version_table": version_table_name(prefix),
            "syncjobs_applied": applied,
            PREFIX_OPTION: prefix,
        }
    )
    return config


def upgrade(engine: Engine, t: Tables) -> list[str]:
    """Bring the database to the head revision in one transaction; return the revisions
    applied (an adopted home-made schema counts as ``syncjobs_0001``)."""
    applied: list[str] = []
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # One upgrader at a time; the lock ends with the transaction.
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": t.prefix + "migrate"}
            )
        state = schema_state(conn, t.prefix)
        if state.host_managed:
            # The host's `alembic upgrade heads` runs syncjobs' revisions there.
            if state.current:
                return applied
            raise SchemaOutdatedError(_outdated(state, t.prefix))
        if state.revision is not None and state.revision not in revisions():
            return applied  # a later syncjobs upgraded it
        if state.version_table is None and state.legacy_version is not None:
            adopt(conn, t, state.legacy_version)
            command.stamp(_config(conn, t.prefix, applied), ADOPTED_REVISION)
            log.info(
                "adopted the home-made schema version %d (tables %s*) at revision %s",
                state.legacy_version,
                t.prefix,
                ADOPTED_REVISION,
            )
        command.upgrade(_config(conn, t.prefix, applied), "heads")
    return applied

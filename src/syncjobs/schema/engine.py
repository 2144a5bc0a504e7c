"""Engines for the ledger: SQLite tuned for concurrent workers, PostgreSQL through psycopg 3."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from ..errors import ConfigurationError

__all__ = ["make_engine", "normalise_url"]


def normalise_url(url: str) -> str:
    """Map ``postgres://`` and ``postgresql://`` to the psycopg 3 driver."""
    for bare in ("postgres://", "postgresql://"):
        if url.startswith(bare):
            return "postgresql+psycopg://" + url[len(bare) :]
    return url


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    """Create an engine for ``url`` with settings that suit many worker threads."""
    try:
        parsed = make_url(normalise_url(url))
    except Exception as exc:  # sqlalchemy raises ArgumentError with a terse message
        raise ConfigurationError(f"invalid database URL: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    if parsed.get_backend_name() != "postgresql":
        raise ConfigurationError(
            f"unsupported database {parsed.get_backend_name()!r}: use sqlite or postgresql"
        )
    # No pre-ping: it costs a round trip per checkout on the hot path. A connection broken
    # by a server restart fails its statement once, is discarded, and the job retries.
    # psycopg prepares any statement run 5 times; PostgreSQL then may switch to a generic
    # plan, which for the 50-id IN lookups of a sync page was 4x slower (bench/gmail_sync.py).
    # The item store now binds a page's ids as one array (syncjobs.connections.sql_items_pg).
    return create_engine(
        parsed,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args={"prepare_threshold": None},
    )


def _sqlite_engine(parsed: Any) -> Engine:
    engine = (
        create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": 30.0},
            pool_size=16,
            max_overflow=16,
        )
        if parsed.database not in (None, "", ":memory:")
        else create_engine(parsed, connect_args={"check_same_thread": False})
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, issue BEGIN, so that we can make it IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers serialise at BEGIN, so read-then-write transactions never deadlock.
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine

"""Schema v4 (the extras' tables and the analysis-queue columns of ``items``) upgrades a
v3 database in place, keeping its rows, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    inspect,
)

from syncjobs.errors import SchemaOutdatedError
from syncjobs.schema.migrations import MIGRATIONS, SCHEMA_VERSION
from syncjobs.schema.tables import JSONType, Tables, UTCDateTime
from syncjobs.storage import SQLAlchemyRepository
from syncjobs.storage.sql import build_tables, check_schema, make_engine, upgrade
from syncjobs.testing.contract import video

T0 = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
NEW_COLUMNS = {
    "analysis_priority",
    "review_flag",
    "analysis_attempts",
    "analysis_claimed_at",
    "analysis_error",
}
NEW_TABLES = (
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


def _v3_items(prefix: str) -> Table:
    """``items`` as schema v3 created it."""
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


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[Engine, Tables]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/v3.db"
    else:
        url = request.getfixturevalue("postgres_server").url
    engine = make_engine(url)
    tables = build_tables(f"m{uuid.uuid4().hex[:10]}_")
    try:
        yield engine, tables
    finally:
        tables.metadata.drop_all(engine)
        tables.schema_version.drop(engine, checkfirst=True)
        engine.dispose()


def _at_v3(engine: Engine, t: Tables) -> Tables:
    """Create the v3 schema by running migrations 1-3 against v3's ``items``."""
    v3 = dataclasses.replace(t, items=_v3_items(t.prefix))
    with engine.begin() as conn:
        t.schema_version.create(conn)
        for migration in MIGRATIONS[:3]:
            migration.apply(conn, v3)
            conn.execute(insert(t.schema_version).values(version=migration.version, applied_at=T0))
    return v3


def _item(account_id: str, external_id: str, minutes: int, **values: Any) -> dict[str, Any]:
    at = T0 + timedelta(minutes=minutes)
    row = {
        "account_id": account_id,
        "external_id": external_id,
        "kind": "video",
        "title": f"Zoë {external_id}",
        "text": None,
        "author": None,
        "published_at": None,
        "metrics": {"views": 1},
        "raw": {"id": external_id},
        "content_hash": "h" * 32,
        "first_seen_at": at,
        "last_modified_at": at,
        "last_seen_at": at,
        "deleted_at": None,
        "analysis_state": "queued",
    }
    row.update(values)
    return row


def test_a_v3_database_upgrades_to_v4_keeping_its_rows(db: tuple[Engine, Tables]) -> None:
    engine, t = db
    v3 = _at_v3(engine, t)
    assert SCHEMA_VERSION == 4
    with pytest.raises(SchemaOutdatedError, match="version 3"):
        check_schema(engine, t)
    old = SQLAlchemyRepository(engine, table_prefix=t.prefix, check=False)
    acc = old.create_account(
        owner_id="owner-1",
        provider="youtube",
        external_id="UC-1",
        display_name="Zoë's channel",
        sync_interval=900,
        now=T0,
    )
    with engine.begin() as conn:
        conn.execute(
            insert(v3.items),
            [
                _item(acc.id, "v1", 1, analysis_state="done"),
                _item(acc.id, "v2", 2),
                _item(acc.id, "v3", 3, deleted_at=T0 + timedelta(minutes=5)),
                _item(acc.id, "v4", 4),
            ],
        )
    columns = {c["name"] for c in inspect(engine).get_columns(t.items.name)}
    assert not NEW_COLUMNS & columns

    assert upgrade(engine, t) == [4]
    assert upgrade(engine, t) == []
    check_schema(engine, t)
    schema = inspect(engine)
    assert {c["name"] for c in schema.get_columns(t.items.name)} >= NEW_COLUMNS
    assert f"{t.prefix}items_queue_ix" in {ix["name"] for ix in schema.get_indexes(t.items.name)}
    for name in NEW_TABLES:
        assert schema.has_table(f"{t.prefix}{name}")

    repo = SQLAlchemyRepository(engine, table_prefix=t.prefix)
    items = repo.list_items(acc.id, include_deleted=True)
    assert [(it.external_id, it.analysis_state, it.title) for it in items] == [
        ("v1", "done", "Zoë v1"),
        ("v2", "queued", "Zoë v2"),
        ("v3", "queued", "Zoë v3"),
        ("v4", "queued", "Zoë v4"),
    ]
    ids = {it.external_id: it.id for it in items}
    assert repo.item_analysis_state(ids["v2"]) == ("queued", 0, None)
    # The old rows got the new columns' defaults and take part in the queue.
    assert repo.queue_for_analysis([ids["v4"]], priority=0, review_flag=True, now=T0) == 1
    batch = repo.claim_analysis_batch(limit=10, now=T0, stale_before=T0 - timedelta(hours=1))
    assert [(q.external_id, q.review_flag, q.priority, q.attempts, q.channel) for q in batch] == [
        ("v4", True, 0, 0, "Zoë's channel"),
        ("v2", False, 0, 0, "Zoë's channel"),
    ]
    repo.save_analyses(results=[], failed={ids["v2"]: "boom"}, max_attempts=3, now=T0)
    assert repo.item_analysis_state(ids["v2"]) == ("queued", 1, "boom")
    # New rows are inserted with the defaults.
    repo.save_page(acc.id, items=[video("v5")], deleted_ids=[], cursor={}, now=T0)
    [v5] = [it for it in repo.list_items(acc.id) if it.external_id == "v5"]
    assert repo.item_analysis_state(v5.id) == ("queued", 0, None)
    repo.close()


def test_a_new_database_gets_v4_in_one_upgrade(db: tuple[Engine, Tables]) -> None:
    engine, t = db
    assert upgrade(engine, t) == [1, 2, 3, 4]
    repo = SQLAlchemyRepository(engine, table_prefix=t.prefix)
    acc = repo.create_account(
        owner_id="o",
        provider="gmail",
        external_id=None,
        display_name=None,
        sync_interval=900,
        now=T0,
    )
    repo.save_page(acc.id, items=[video("m1", author=None)], deleted_ids=[], cursor={}, now=T0)
    [queued] = repo.claim_analysis_batch(limit=5, now=T0, stale_before=T0)
    assert queued.channel == "gmail"
    assert repo.analysis_backlog() == 1
    repo.close()

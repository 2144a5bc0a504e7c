"""Databases of the home-made runner (its ``schema_version``, versions 1 to 4) upgrade onto
syncjobs' Alembic branch in place, keeping their rows, on SQLite and PostgreSQL: a v4 database
is adopted (stamped, nothing created), a v3 one (what 0.1.0 made) first gets v4's tables and
the analysis queue's ``items`` columns, as the old runner's v4 did."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, Table, insert, inspect, select

from syncjobs.errors import SchemaOutdatedError
from syncjobs.schema.legacy import v4_tables
from syncjobs.schema.migrations import head_revision, revisions, schema_state
from syncjobs.schema.tables import Tables
from syncjobs.storage import SQLAlchemyRepository
from syncjobs.storage.sql import build_tables, check_schema, make_engine, upgrade
from syncjobs.testing.contract import video

from .legacy_runner import V4_ITEM_COLUMNS, V4_TABLES, build_legacy, schema_version_table

T0 = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)


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
        for name in (tables.version_table, schema_version_table(tables.prefix).name):
            Table(name, MetaData()).drop(engine, checkfirst=True)
        engine.dispose()


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


def _rows(engine: Engine, t: Tables) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order."""
    with engine.connect() as conn:
        return {
            table.name: [
                tuple(row)
                for row in conn.execute(select(table).order_by(*table.primary_key.columns))
            ]
            for table in t.all
        }


def _adopted(engine: Engine, t: Tables) -> None:
    """The revision is current in syncjobs' own version table; ``schema_version`` is gone."""
    with engine.connect() as conn:
        state = schema_state(conn, t.prefix)
        # The same tables, columns, keys and indexes as a new database gets.
        context = MigrationContext.configure(conn, opts={"version_table": t.version_table})
        assert compare_metadata(context, t.metadata) == []
    assert (state.version_table, state.revision) == (t.version_table, head_revision())
    assert not inspect(engine).has_table(schema_version_table(t.prefix).name)
    check_schema(engine, t)


def test_a_v3_database_upgrades_keeping_its_rows(db: tuple[Engine, Tables]) -> None:
    engine, t = db
    v3 = build_legacy(engine, t, 3, old_items=True)
    with pytest.raises(SchemaOutdatedError, match=r"old schema version 3.*syncjobs db upgrade"):
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
    assert not set(V4_ITEM_COLUMNS) & columns

    assert upgrade(engine, t) == list(revisions())
    assert upgrade(engine, t) == []
    _adopted(engine, t)
    schema = inspect(engine)
    assert {c["name"] for c in schema.get_columns(t.items.name)} >= set(V4_ITEM_COLUMNS)
    assert f"{t.prefix}items_queue_ix" in {ix["name"] for ix in schema.get_indexes(t.items.name)}
    for name in V4_TABLES:
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


def _fill(engine: Engine, t: Tables) -> str:
    """Rows in the ledger, the accounts and the extras; return the account's id."""
    repo = SQLAlchemyRepository(engine, table_prefix=t.prefix, check=False)
    acc = repo.create_account(
        owner_id="o1",
        provider="gmail",
        external_id=None,
        display_name="Zoë",
        sync_interval=900,
        now=T0,
    )
    repo.save_page(acc.id, items=[video("m1"), video("m2")], deleted_ids=[], cursor={}, now=T0)
    repo.add_notification(owner_id="o1", kind="k", title="t", body="b", data={"n": 1}, now=T0)
    job = {
        "id": str(uuid.uuid4()),
        "owner_id": "o1",
        "job_type": "sync_account",
        "queue": "default",
        "priority": 0,
        "params": {"account_id": acc.id},
        "status": "completed",
        "progress_percent": 100.0,
        "retry_count": 0,
        "attempts": 1,
        "max_retries": 3,
        "cancel_requested": False,
        "created_at": T0,
        "updated_at": T0,
    }
    with engine.begin() as conn:
        conn.execute(insert(t.jobs).values(job))
        conn.execute(
            insert(t.job_log).values(job_id=job["id"], at=T0, level="INFO", message="done ✓")
        )
    repo.close()
    return acc.id


def test_a_v4_database_is_adopted_keeping_every_row(db: tuple[Engine, Tables]) -> None:
    engine, t = db
    build_legacy(engine, t, 4)
    with pytest.raises(SchemaOutdatedError, match="old schema version 4"):
        check_schema(engine, t)
    account_id = _fill(engine, t)
    before = _rows(engine, v4_tables(t.prefix))
    assert sum(map(len, before.values())) == 6

    assert upgrade(engine, t) == list(revisions())
    assert upgrade(engine, t) == []
    _adopted(engine, t)
    after = _rows(engine, t)
    assert after.pop(t.connect_states.name) == []  # created by a later revision, empty
    assert after == before
    repo = SQLAlchemyRepository(engine, table_prefix=t.prefix)
    assert [it.external_id for it in repo.list_items(account_id)] == ["m1", "m2"]
    assert [j.status for j in repo.list_jobs(owner_id="o1")] == ["completed"]
    repo.close()


def test_a_new_database_gets_the_schema_in_one_upgrade(db: tuple[Engine, Tables]) -> None:
    engine, t = db
    with pytest.raises(SchemaOutdatedError, match=r"is not created.*syncjobs db upgrade"):
        check_schema(engine, t)
    assert upgrade(engine, t) == list(revisions())
    _adopted(engine, t)
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

"""syncjobs' Alembic branch as ``syncjobs db upgrade`` runs it: the revisions build exactly the
tables the stores use (any prefix, SQLite and PostgreSQL), the revision is found where it is
kept, and the helpers a host's Alembic uses skip syncjobs' tables."""

from __future__ import annotations

import functools
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert, inspect

import syncjobs.schema
from syncjobs.errors import ConfigurationError, SchemaOutdatedError
from syncjobs.schema import migrations
from syncjobs.schema.legacy import v4_tables
from syncjobs.schema.migrations import ALEMBIC_DIR, head_revision, revisions, schema_state
from syncjobs.schema.prefix import revision_prefix
from syncjobs.schema.tables import Tables
from syncjobs.storage.sql import build_tables, check_schema, make_engine, upgrade


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[Engine, Tables]]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/ledger.db"
    else:
        url = request.getfixturevalue("postgres_server").url
    engine = make_engine(url)
    tables = build_tables(f"r{uuid.uuid4().hex[:10]}_")
    try:
        yield engine, tables
    finally:
        tables.metadata.drop_all(engine)
        Table(tables.version_table, MetaData()).drop(engine, checkfirst=True)
        engine.dispose()


def test_the_revisions_are_one_labelled_branch() -> None:
    script = ScriptDirectory(str(ALEMBIC_DIR))
    assert script.get_heads() == [head_revision()]
    assert revisions() == ("syncjobs_0001", "syncjobs_0002", "syncjobs_0003")
    base = script.get_revision(revisions()[0])
    assert base is not None and base.branch_labels == {"syncjobs"}
    files = sorted(p.name for p in (ALEMBIC_DIR / "versions").glob("syncjobs_*.py"))
    assert [re.sub(r"^(syncjobs_\d{4})_.*$", r"\1", f) for f in files] == list(revisions())
    for older, newer in zip(revisions(), revisions()[1:], strict=False):
        rev = script.get_revision(newer)
        assert rev is not None and rev.down_revision == older


def test_the_revisions_build_the_tables_the_stores_use(db: tuple[Engine, Tables]) -> None:
    engine, t = db
    assert upgrade(engine, t) == list(revisions())
    names = set(inspect(engine).get_table_names())
    assert {table.name for table in t.all} | {t.version_table} <= names
    with engine.connect() as conn:
        # Types, nullability, keys, indexes and unique constraints, as autogenerate sees them.
        context = MigrationContext.configure(conn, opts={"version_table": t.version_table})
        assert compare_metadata(context, t.metadata) == []


def test_concurrent_upgrades_apply_the_revision_once(db: tuple[Engine, Tables]) -> None:
    engine, t = db
    results: list[list[str]] = []
    threads = [threading.Thread(target=lambda: results.append(upgrade(engine, t))) for _ in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [[], list(revisions())]
    check_schema(engine, t)


def test_a_revision_of_a_later_syncjobs_is_taken_as_current(db: tuple[Engine, Tables]) -> None:
    engine, t = db
    upgrade(engine, t)
    version = Table(t.version_table, MetaData(), Column("version_num", String(32)))
    with engine.begin() as conn:
        conn.execute(version.update().values(version_num="syncjobs_9999"))
        assert schema_state(conn, t.prefix).current
    check_schema(engine, t)
    assert upgrade(engine, t) == []


def test_a_host_alembic_version_without_syncjobs_is_not_syncjobs_own(
    db: tuple[Engine, Tables],
) -> None:
    engine, t = db
    host = Table("alembic_version", MetaData(), Column("version_num", String(32)))
    host.create(engine, checkfirst=True)
    try:
        with engine.begin() as conn:
            conn.execute(insert(host).values(version_num="4d1e2f3a5b6c"))
        assert upgrade(engine, t) == list(revisions())
        with engine.connect() as conn:
            assert schema_state(conn, t.prefix).version_table == t.version_table
    finally:
        host.drop(engine)


def test_the_filters_skip_syncjobs_tables_on_both_sides() -> None:
    md = MetaData()
    mine = Table("orders", md, Column("id", Integer, primary_key=True))
    tables = syncjobs.schema.attach(md, prefix="app_")
    assert tables.jobs.metadata is md and "app_jobs" in md.tables
    include = functools.partial(syncjobs.schema.include_object, prefix="app_")
    assert include(mine, "orders", "table", False, None)
    assert not include(tables.jobs, "app_jobs", "table", False, None)
    assert not include(None, "app_alembic_version", "table", True, None)
    assert not include(tables.jobs.c.status, "status", "column", False, None)
    [index, *_] = tables.jobs.indexes
    assert not include(index, index.name, "index", False, None)
    assert include(mine.c.id, "id", "column", False, None)
    named = functools.partial(syncjobs.schema.include_name, prefix="app_")
    assert named("orders", "table", {}) and not named("app_items", "table", {})
    assert not named("app_items_queue_ix", "index", {"table_name": "app_items"})
    assert named("syncjobs_jobs", "table", {})  # another prefix's
    assert "app_schema_version" in syncjobs.schema.table_names("app_")


def test_the_prefix_of_a_revision(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/p.db")
    monkeypatch.delenv("SYNCJOBS_TABLE_PREFIX", raising=False)
    with engine.connect() as conn:
        assert revision_prefix(MigrationContext.configure(conn)) == "syncjobs_"
        monkeypatch.setenv("SYNCJOBS_TABLE_PREFIX", "env_")
        assert revision_prefix(MigrationContext.configure(conn)) == "env_"
        config = Config()
        config.set_main_option("syncjobs_table_prefix", "ini_")
        context = MigrationContext.configure(conn, environment_context=_Env(config))
        assert revision_prefix(context) == "ini_"
        config.attributes["syncjobs_table_prefix"] = "given_"
        assert revision_prefix(context) == "given_"
        config.attributes["syncjobs_table_prefix"] = "Bad-Prefix"
        with pytest.raises(ConfigurationError, match="invalid table prefix"):
            revision_prefix(context)
    engine.dispose()


class _Env:
    """The part of an EnvironmentContext a MigrationContext reads its config from."""

    def __init__(self, config: Config) -> None:
        self.config = config


NEXT_REVISION = '''"""A later revision, for the tests: a column more.

Revision ID: syncjobs_0004
"""

import sqlalchemy as sa
from alembic import op

from syncjobs.schema.legacy import v4_tables
from syncjobs.schema.prefix import revision_prefix

revision = "syncjobs_0004"
down_revision = "syncjobs_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(f"{revision_prefix(op.get_context())}workers", sa.Column("note", sa.Text))


def downgrade() -> None:
    op.drop_column(f"{revision_prefix(op.get_context())}workers", "note")
'''


@pytest.fixture
def with_next_revision(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Make syncjobs' branch one revision longer (a copy of it, with ``syncjobs_0004``)."""
    branch = tmp_path / "alembic"
    shutil.copytree(ALEMBIC_DIR, branch, ignore=shutil.ignore_patterns("__pycache__"))
    (branch / "versions" / "syncjobs_0004_next.py").write_text(NEXT_REVISION, encoding="utf-8")
    monkeypatch.setattr(migrations, "ALEMBIC_DIR", branch)
    revisions.cache_clear()
    yield
    revisions.cache_clear()


def test_a_database_behind_is_refused_then_upgraded(
    db: tuple[Engine, Tables], request: pytest.FixtureRequest
) -> None:
    engine, t = db
    assert upgrade(engine, t) == list(revisions())
    request.getfixturevalue("with_next_revision")
    assert head_revision() == "syncjobs_0004"
    message = "at revision syncjobs_0003, this syncjobs needs revision syncjobs_0004: run `sync"
    with pytest.raises(SchemaOutdatedError, match=re.escape(message)):
        check_schema(engine, t)
    assert upgrade(engine, t) == ["syncjobs_0004"]
    check_schema(engine, t)
    assert "note" in {c["name"] for c in inspect(engine).get_columns(t.workers.name)}


def test_a_host_managed_database_behind_names_alembic(
    db: tuple[Engine, Tables], request: pytest.FixtureRequest
) -> None:
    engine, t = db
    upgrade(engine, t)
    # As if the host's Alembic kept the revision: moved to its alembic_version.
    host = Table("alembic_version", MetaData(), Column("version_num", String(32)))
    with engine.begin() as conn:
        host.create(conn)
        conn.execute(insert(host).values(version_num="syncjobs_0003"))
        Table(t.version_table, MetaData()).drop(conn)
    try:
        check_schema(engine, t)
        assert upgrade(engine, t) == []
        request.getfixturevalue("with_next_revision")
        message = "needs revision syncjobs_0004: run `alembic upgrade heads`"
        with pytest.raises(SchemaOutdatedError, match=re.escape(message)):
            check_schema(engine, t)
        with pytest.raises(SchemaOutdatedError, match=re.escape(message)):
            upgrade(engine, t)
    finally:
        host.drop(engine)


def test_downgrading_the_browse_indexes_gives_back_revision_0001(
    db: tuple[Engine, Tables],
) -> None:
    engine, t = db
    upgrade(engine, t)
    with engine.begin() as conn:
        config = migrations._config(conn, t.prefix, [])
        command.downgrade(config, "syncjobs_0001")
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": t.version_table})
        assert compare_metadata(context, v4_tables(t.prefix).metadata) == []
    assert upgrade(engine, t) == ["syncjobs_0002", "syncjobs_0003"]
    check_schema(engine, t)

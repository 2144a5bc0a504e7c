"""A host project with its own Alembic environment (``tests/alembic_host``: one table and one
revision of its own) runs syncjobs' branch with ``alembic upgrade heads``, on SQLite and
PostgreSQL: both schemas are built, autogenerate finds nothing to do, downgrading the host's
revision leaves syncjobs' tables and rows alone, and ``syncjobs db upgrade`` is a no-op."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, insert, inspect, select, text
from sqlalchemy.engine import make_url

import syncjobs.schema
from syncjobs.schema.migrations import head_revision, revisions, schema_state
from syncjobs.storage import SQLAlchemyRepository
from syncjobs.storage.sql import build_tables

from .host_models import metadata as host_metadata

HOST = Path(__file__).resolve().parent
INI = HOST / "alembic.ini"
HOST_REVISION = "4d1e2f3a5b6c"
T0 = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
SYNCJOBS_TABLES = {t.name for t in build_tables("syncjobs_").all}


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of the host's own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/host.db"
        return
    server = make_url(request.getfixturevalue("postgres_server").url)
    name = f"host_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')
        admin.dispose()


def host_config(url: str, *options: str) -> Config:
    """The host's alembic.ini, as ``alembic -x url=... [-x ...]`` would load it."""
    return Config(INI, cmd_opts=argparse.Namespace(x=[f"url={url}", *options]))


def alembic_cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "alembic", "-c", str(INI), "-x", f"url={url}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)


def heads(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    made = create_engine(url)
    yield made
    made.dispose()


def test_alembic_upgrade_heads_builds_the_host_and_syncjobs(url: str, engine: Engine) -> None:
    alembic_cli(url, "upgrade", "heads")
    tables = set(inspect(engine).get_table_names())
    assert tables == SYNCJOBS_TABLES | {"host_notes", "alembic_version"}
    assert heads(engine) == {HOST_REVISION, head_revision()}
    with engine.connect() as conn:
        state = schema_state(conn, "syncjobs_")
    assert (state.version_table, state.revision, state.current) == (
        "alembic_version",
        head_revision(),
        True,
    )
    repo = SQLAlchemyRepository(url)  # checks the schema: current
    assert repo.list_jobs() == []
    repo.close()
    listed = alembic_cli(url, "heads").stdout.splitlines()
    assert sorted(listed) == [
        f"{HOST_REVISION} (host) (head)",
        f"{head_revision()} (syncjobs) (head)",
    ]


def test_autogenerate_finds_nothing_to_do(url: str, engine: Engine) -> None:
    command.upgrade(host_config(url), "heads")
    # The host's env.py with syncjobs' tables attached to its MetaData, then excluded.
    command.check(host_config(url))
    command.check(host_config(url, "syncjobs=exclude"))
    with engine.connect() as conn:
        context = MigrationContext.configure(conn)
        assert compare_metadata(context, host_metadata) == []
        excluded = MigrationContext.configure(
            conn, opts={"include_object": syncjobs.schema.include_object}
        )
        assert compare_metadata(excluded, host_metadata) == []


def test_downgrading_the_host_revision_leaves_syncjobs_intact(url: str, engine: Engine) -> None:
    command.upgrade(host_config(url), "heads")
    repo = SQLAlchemyRepository(url)
    acc = repo.create_account(
        owner_id="o1",
        provider="youtube",
        external_id="UC-1",
        display_name="Zoë",
        sync_interval=900,
        now=T0,
    )
    with engine.begin() as conn:
        conn.execute(
            insert(repo.tables.notifications).values(
                owner_id="o1", kind="k", title="t", body="b", data={}, created_at=T0
            )
        )
        conn.execute(text("INSERT INTO host_notes (body) VALUES ('mine')"))

    command.downgrade(host_config(url), "host@-1")
    assert heads(engine) == {head_revision()}
    tables = set(inspect(engine).get_table_names())
    assert "host_notes" not in tables and tables >= SYNCJOBS_TABLES
    assert [a.id for a in repo.list_accounts(owner_id="o1")] == [acc.id]
    with engine.connect() as conn:
        assert conn.execute(select(repo.tables.notifications.c.title)).scalars().all() == ["t"]
    repo.close()
    SQLAlchemyRepository(url).close()  # the schema is still current

    command.upgrade(host_config(url), "heads")
    assert heads(engine) == {HOST_REVISION, head_revision()}


def test_syncjobs_db_upgrade_is_a_no_op_on_a_host_managed_database(
    url: str, engine: Engine
) -> None:
    command.upgrade(host_config(url), "heads")
    before = set(inspect(engine).get_table_names())
    env = {**os.environ, "SYNCJOBS_DATABASE_URL": url}
    env.pop("SYNCJOBS_TABLE_PREFIX", None)
    cli = [sys.executable, "-m", "syncjobs", "db", "upgrade"]
    done = subprocess.run(cli, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert "schema already up to date" in done.stdout
    assert set(inspect(engine).get_table_names()) == before  # no syncjobs_alembic_version
    assert heads(engine) == {HOST_REVISION, head_revision()}


def test_a_database_of_syncjobs_db_upgrade_moves_to_the_host_alembic(
    url: str, engine: Engine
) -> None:
    repo = SQLAlchemyRepository(url, check=False)
    assert repo.upgrade() == list(revisions())
    repo.create_account(
        owner_id="o1",
        provider="gmail",
        external_id=None,
        display_name=None,
        sync_interval=900,
        now=T0,
    )
    # The recipe of docs/using-in-your-app.md: stamp syncjobs' branch, drop its own table.
    command.stamp(host_config(url), "syncjobs@head")
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {repo.tables.version_table}"))
    command.upgrade(host_config(url), "heads")
    assert heads(engine) == {HOST_REVISION, head_revision()}
    command.check(host_config(url))
    assert len(repo.list_accounts(owner_id="o1")) == 1
    assert repo.upgrade() == []
    repo.close()


def test_the_host_names_another_table_prefix(url: str, engine: Engine) -> None:
    config = host_config(url)
    config.set_main_option("syncjobs_table_prefix", "app_jobs_")
    command.upgrade(config, "heads")
    tables = set(inspect(engine).get_table_names())
    assert {t.name for t in build_tables("app_jobs_").all} <= tables
    assert not SYNCJOBS_TABLES & tables
    repo = SQLAlchemyRepository(url, table_prefix="app_jobs_")
    assert repo.upgrade() == []
    repo.close()


def test_downgrading_syncjobs_branch_leaves_the_host_intact(url: str, engine: Engine) -> None:
    command.upgrade(host_config(url), "heads")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO host_notes (body) VALUES ('mine')"))
    command.downgrade(host_config(url), "syncjobs@base")
    assert heads(engine) == {HOST_REVISION}
    assert set(inspect(engine).get_table_names()) == {"host_notes", "alembic_version"}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT body FROM host_notes")).scalars().all() == ["mine"]

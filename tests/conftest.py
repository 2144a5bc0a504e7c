"""Shared fixtures: repositories on every backend, and in-process apps on the stub broker."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import time_machine
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import MetaData, Table

import syncjobs.builtin_jobs  # noqa: F401  (built-in job types)
from syncjobs.app import Deps, SyncJobs, register_actors
from syncjobs.connections.credentials import InMemoryCredentialStore, TokenCipher, generate_key
from syncjobs.connections.store import CredentialStore
from syncjobs.core import current as _current
from syncjobs.core.ledger.store import JobRepository
from syncjobs.core.registry import Registry, default_registry
from syncjobs.insights.analyzers import Analyzer
from syncjobs.insights.notifiers import Notifier
from syncjobs.settings import Settings
from syncjobs.storage import InMemoryRepository, SQLAlchemyRepository

#: The session's Redis and PostgreSQL servers (``redis_server``, ``postgres_server``).
pytest_plugins = ["tests.servers.fixtures"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--clock-ahead",
        type=float,
        default=0.0,
        metavar="DAYS",
        help="run the tests with the wall clock moved DAYS ahead (the monotonic clock is real)",
    )


def pytest_configure(config: pytest.Config) -> None:
    days = config.getoption("--clock-ahead")
    if days:
        # Moves time.time, datetime.now and friends for the whole process, threads included;
        # the servers the run starts keep the real clock. The monotonic clock is left alone so
        # that timeouts, sleeps and thread waits behave.
        traveller = time_machine.travel(datetime.now(UTC) + timedelta(days=days), tick=True)
        traveller.start()
        config.add_cleanup(traveller.stop)


def pytest_report_header(config: pytest.Config) -> str | None:
    days = config.getoption("--clock-ahead")
    if not days:
        return None
    return f"wall clock moved {days:g} days ahead: now {datetime.now(UTC):%Y-%m-%d}"


def drop_schema(repo: SQLAlchemyRepository) -> None:
    """Drop the repository's tables and its Alembic version table."""
    repo.tables.metadata.drop_all(repo.engine)
    Table(repo.tables.version_table, MetaData()).drop(repo.engine, checkfirst=True)


def _sql_repo(url: str) -> Iterator[SQLAlchemyRepository]:
    repo = SQLAlchemyRepository(url, table_prefix=f"t{uuid.uuid4().hex[:10]}_", check=False)
    repo.upgrade()
    try:
        yield repo
    finally:
        repo.engine.dispose()  # a test may have restarted the server under the pool
        drop_schema(repo)
        repo.close()


@pytest.fixture
def sqlite_repo(tmp_path: Any) -> Iterator[SQLAlchemyRepository]:
    yield from _sql_repo(f"sqlite:///{tmp_path}/ledger.db")


@pytest.fixture
def pg_repo(postgres_server: Any) -> Iterator[SQLAlchemyRepository]:
    yield from _sql_repo(postgres_server.url)


@pytest.fixture(params=["sqlite", "postgres"])
def sql_repo(request: pytest.FixtureRequest) -> SQLAlchemyRepository:
    """The SQL repository on SQLite, then on PostgreSQL."""
    name = "sqlite_repo" if request.param == "sqlite" else "pg_repo"
    repo: SQLAlchemyRepository = request.getfixturevalue(name)
    return repo


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def any_repo(request: pytest.FixtureRequest) -> JobRepository:
    if request.param == "memory":
        return InMemoryRepository()
    name = "sqlite_repo" if request.param == "sqlite" else "pg_repo"
    repo: JobRepository = request.getfixturevalue(name)
    return repo


@pytest.fixture
def test_registry() -> Registry:
    """A registry holding the built-in job types; tests add their own to it."""
    reg = Registry()
    for jt in default_registry:
        reg.add(jt)
    return reg


AppFactory = Callable[..., SyncJobs]


@pytest.fixture
def make_app(test_registry: Registry) -> Iterator[AppFactory]:
    """Build apps on a fresh StubBroker; every app is closed after the test."""
    apps: list[SyncJobs] = []

    def factory(
        repo: JobRepository | None = None,
        *,
        credentials: CredentialStore | None = None,
        transport: httpx.BaseTransport | None = None,
        analyzer: Analyzer | None = None,
        notifiers: list[Notifier] | None = None,
        **settings: Any,
    ) -> SyncJobs:
        broker = StubBroker()
        broker.emit_after("process_boot")
        values: dict[str, Any] = {
            "progress_interval": 0.0,
            "retry_min_backoff": 0.01,
            "retry_max_backoff": 0.05,
        }
        values.update(settings)
        deps = Deps(
            repository=repo or InMemoryRepository(),
            credentials=credentials or InMemoryCredentialStore(TokenCipher(generate_key())),
            transport=transport,
            analyzer=analyzer,
            notifiers=notifiers,
        )
        app = register_actors(broker, deps, Settings(**values), registry=test_registry)
        apps.append(app)
        return app

    yield factory
    _current.set_app(None)
    for app in apps:
        app.broker.close()


def run_until_idle(app: SyncJobs, timeout: float = 20.0) -> None:
    """Run an in-process worker until every queue (delayed messages included) is empty."""
    with app.worker(threads=2) as worker:
        for queue in list(app.broker.queues):
            app.broker.join(queue, timeout=int(timeout * 1000), fail_fast=True)
        worker.join()

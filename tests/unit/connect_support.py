"""Shared by the connect-flow tests: an app on SQL stores with the four fakes on loopback."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from syncjobs import SyncJobs
from syncjobs.connections.connect import state_hash
from syncjobs.connections.credentials import SQLCredentialStore, TokenCipher, generate_key
from syncjobs.storage import SQLAlchemyRepository
from syncjobs.testing.fakes import CombinedFakes, serve
from syncjobs.testing.fakes.gmail.mailbox import EMAIL

from ..conftest import AppFactory

PROVIDERS = ["youtube", "gmail", "instagram", "tiktok"]
REDIRECT = "https://app.example.com/oauth/callback"
ITEMS = 12

#: Each fake's seeded account: (external id, display name) the identify call must find.
IDENTITY: dict[str, Callable[[Any], tuple[str, str]]] = {
    "youtube": lambda fake: (fake.channel.id, fake.channel.title),
    "gmail": lambda fake: (EMAIL, EMAIL),
    "instagram": lambda fake: (fake.user_id, fake.username),
    "tiktok": lambda fake: (fake.open_id, "Syncjobs Tester"),
}


@pytest.fixture
def fakes() -> CombinedFakes:
    return CombinedFakes(items_per_provider=ITEMS, seed=4)


@pytest.fixture
def root(fakes: CombinedFakes) -> Iterator[str]:
    with serve(fakes) as url:
        yield url


@pytest.fixture
def store(sql_repo: SQLAlchemyRepository) -> SQLCredentialStore:
    return SQLCredentialStore(sql_repo.engine, sql_repo.tables, TokenCipher(generate_key()))


@pytest.fixture
def build(
    make_app: AppFactory,
    sql_repo: SQLAlchemyRepository,
    store: SQLCredentialStore,
    fakes: CombinedFakes,
    root: str,
) -> Callable[..., SyncJobs]:
    """An app on the SQL repository whose providers are the fakes served at ``root``."""

    def factory(**settings: Any) -> SyncJobs:
        configs = {name: dataclasses.asdict(fakes.config(name, root)) for name in PROVIDERS}
        values: dict[str, Any] = {"oauth_redirect_uri": REDIRECT, **configs}
        values.update(settings)
        return make_app(sql_repo, credentials=store, **values)

    return factory


@pytest.fixture
def app(build: Callable[..., SyncJobs]) -> SyncJobs:
    return build()


def consent(url: str) -> str:
    """Visit the consent page as the owner (the fake answers at once): the callback URL."""
    response = httpx.get(url, follow_redirects=False)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return location


def query_of(url: str) -> dict[str, str]:
    """A URL's query parameters."""
    return dict(parse_qsl(urlsplit(url).query))


def pending_row(repo: SQLAlchemyRepository, state: str) -> Any:
    """The stored row of a state (None once taken)."""
    table = repo.tables.connect_states
    with repo.engine.connect() as conn:
        where = table.c.state_hash == state_hash(state)
        return conn.execute(select(table).where(where)).mappings().first()


def count(repo: SQLAlchemyRepository, name: str) -> int:
    """Rows in one of the repository's tables."""
    table = getattr(repo.tables, name)
    with repo.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def raw_secret(repo: SQLAlchemyRepository, account_id: str) -> str:
    """The credentials row of an account as stored."""
    table = repo.tables.credentials
    with repo.engine.connect() as conn:
        found = conn.execute(select(table.c.secret).where(table.c.account_id == account_id))
        return str(found.scalar_one())


def assert_nothing_stored(repo: SQLAlchemyRepository, state: str | None = None) -> None:
    """No account, no tokens, no sync job, and (given its state) no pending row."""
    assert count(repo, "accounts") == 0
    assert count(repo, "credentials") == 0
    assert count(repo, "jobs") == 0
    if state is not None:
        assert pending_row(repo, state) is None

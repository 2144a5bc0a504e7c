"""Pytest fixtures starting a real Redis and PostgreSQL for the test session.

``tests/conftest.py`` loads them as a plugin. Setting ``SYNCJOBS_TEST_REDIS_URL`` /
``SYNCJOBS_TEST_POSTGRES_URL`` (a SQLAlchemy URL) uses that server instead of starting one.
A server that cannot start fails the run; it is never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.servers.postgres_server import PostgresServer
from tests.servers.redis_server import RedisServer

__all__ = [
    "POSTGRES_URL_ENV",
    "REDIS_URL_ENV",
    "ExternalPostgres",
    "ExternalRedis",
    "postgres_server",
    "redis_server",
]

REDIS_URL_ENV = "SYNCJOBS_TEST_REDIS_URL"
POSTGRES_URL_ENV = "SYNCJOBS_TEST_POSTGRES_URL"


class ExternalRedis:
    """A Redis server the test run did not start, known only by its URL."""

    def __init__(self, url: str) -> None:
        self.url = url


class ExternalPostgres:
    """A PostgreSQL server the test run did not start, known only by its SQLAlchemy URL."""

    def __init__(self, url: str) -> None:
        self.url = url

    @property
    def dsn(self) -> str:
        """The libpq form of ``url`` (the ``+driver`` part dropped)."""
        scheme, sep, rest = self.url.partition("://")
        return f"{scheme.split('+', 1)[0]}{sep}{rest}"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer | ExternalRedis]:
    """A Redis server for the whole test session."""
    url = os.environ.get(REDIS_URL_ENV)
    if url:
        yield ExternalRedis(url)
        return
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | ExternalPostgres]:
    """A PostgreSQL server with an empty ``syncjobs_test`` database for the whole session."""
    url = os.environ.get(POSTGRES_URL_ENV)
    if url:
        yield ExternalPostgres(url)
        return
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()

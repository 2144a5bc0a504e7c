"""Pytest fixtures starting a real Redis, PostgreSQL and RabbitMQ for the test session.

``tests/conftest.py`` loads them as a plugin. Setting ``SYNCJOBS_TEST_REDIS_URL`` /
``SYNCJOBS_TEST_POSTGRES_URL`` (a SQLAlchemy URL) / ``SYNCJOBS_TEST_RABBITMQ_URL`` (an
``amqp://`` URL) uses that server instead of starting one. Each server starts when the first
test that needs it runs, and stops at the end of the session. A server that cannot start
fails the run; it is never a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.servers.postgres_server import PostgresServer
from tests.servers.rabbitmq_server import RabbitMQServer, delete_queues
from tests.servers.redis_server import RedisServer

__all__ = [
    "POSTGRES_URL_ENV",
    "RABBITMQ_URL_ENV",
    "REDIS_URL_ENV",
    "ExternalPostgres",
    "ExternalRabbitMQ",
    "ExternalRedis",
    "postgres_server",
    "rabbitmq_server",
    "redis_server",
]

REDIS_URL_ENV = "SYNCJOBS_TEST_REDIS_URL"
POSTGRES_URL_ENV = "SYNCJOBS_TEST_POSTGRES_URL"
RABBITMQ_URL_ENV = "SYNCJOBS_TEST_RABBITMQ_URL"


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


class ExternalRabbitMQ:
    """A RabbitMQ server the test run did not start, known only by its URL."""

    def __init__(self, url: str) -> None:
        self.url = url

    def delete_queues(self, names: list[str]) -> None:
        """Delete these queues with their delay (``.DQ``) and dead-letter (``.XQ``) queues."""
        delete_queues(self.url, names)


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


@pytest.fixture(scope="session")
def rabbitmq_server() -> Iterator[RabbitMQServer | ExternalRabbitMQ]:
    """A RabbitMQ node (user ``guest``, vhost ``/``) for the whole test session."""
    url = os.environ.get(RABBITMQ_URL_ENV)
    if url:
        yield ExternalRabbitMQ(url)
        return
    server = RabbitMQServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()

"""Fixtures of the integration tests: worker processes on a real broker and PostgreSQL.

The broker is Redis unless a test runs ``on_both_brokers``: then once on Redis and once on
RabbitMQ (the ``broker`` fixture's param). Either is emptied before each test.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from syncjobs.app import SyncJobs
from syncjobs.core import current as _current
from syncjobs.core.priority import band_queues
from syncjobs.core.registry import default_registry
from syncjobs.factory import create_app
from syncjobs.settings import Settings
from syncjobs.storage import SQLAlchemyRepository
from tests.servers.rabbitmq_server import purge_queues, queue_length

#: The brokers ``on_both_brokers`` runs a test on.
BROKERS = ("redis", "rabbitmq")
#: Runs the test once on Redis and once on RabbitMQ.
on_both_brokers = pytest.mark.parametrize("broker", BROKERS, indirect=True)


#: The module declaring ``itest.flaky`` (the ``flaky_jobs`` fixture).
FLAKY_JOBS = "tests.integration.flaky_jobs"


def syncjobs_queues() -> list[str]:
    """The queues of every declared job type with their priority bands (and the tick's)."""
    bases = {jt.queue for jt in default_registry} | {"syncjobs", "default"}
    return sorted({band for base in bases for band in band_queues(base)} | {"host"})


@pytest.fixture
def broker(request: pytest.FixtureRequest) -> str:
    """Which broker the test's processes share: ``redis`` unless the test is parametrized."""
    kind = str(getattr(request, "param", "redis"))
    assert kind in BROKERS, kind
    return kind


@pytest.fixture
def broker_url(broker: str, request: pytest.FixtureRequest) -> str:
    """The URL of that broker, emptied: Redis flushed, or RabbitMQ's queues deleted."""
    if broker == "rabbitmq":
        rabbit: Any = request.getfixturevalue("rabbitmq_server")
        rabbit.delete_queues(syncjobs_queues())
        return str(rabbit.url)
    server: Any = request.getfixturevalue("redis_server")
    redis.Redis.from_url(server.url).flushall()
    return str(server.url)


def lose_queued_messages(broker: str, url: str) -> None:
    """Drop every message waiting in the broker's queues, as a flushed Redis would."""
    if broker == "rabbitmq":
        purge_queues(url, syncjobs_queues())
    else:
        redis.Redis.from_url(url).flushall()


def queued_messages(broker: str, url: str, queue: str) -> int:
    """How many messages wait in ``queue``, not counting those a worker has fetched."""
    if broker == "rabbitmq":
        return queue_length(url, queue)
    return int(redis.Redis.from_url(url).llen(f"dramatiq:{queue}"))


@pytest.fixture
def env(broker_url: str, pg_repo: SQLAlchemyRepository) -> dict[str, str]:
    """Settings for both sides, as environment variables; the broker emptied first."""
    return {
        "SYNCJOBS_DATABASE_URL": pg_repo.engine.url.render_as_string(hide_password=False),
        "SYNCJOBS_TABLE_PREFIX": pg_repo.tables.prefix,
        "SYNCJOBS_BROKER_URL": broker_url,
        "SYNCJOBS_BROKER_HEARTBEAT_TIMEOUT": "2",
        "SYNCJOBS_BROKER_MAINTENANCE_CHANCE": "1000000",
        "SYNCJOBS_PROGRESS_INTERVAL": "0",
        "SYNCJOBS_HEARTBEAT_INTERVAL": "0.5",
        "SYNCJOBS_JOB_STALE_AFTER": "2",
    }


@pytest.fixture
def client(env: dict[str, str]) -> Iterator[Callable[..., SyncJobs]]:
    """The submitting side: an app on the same Redis and PostgreSQL, in this process."""
    made: list[SyncJobs] = []

    def build(**overrides: Any) -> SyncJobs:
        values = {
            k.removeprefix("SYNCJOBS_").lower(): _decoded(v)
            for k, v in {**env, **overrides}.items()
        }
        app = create_app(Settings(**values))
        made.append(app)
        return app

    yield build
    _current.set_app(None)
    for app in made:
        app.close()


def _decoded(value: Any) -> Any:
    """A JSON list or object given as an environment value, decoded as the settings would."""
    if isinstance(value, str) and value.startswith(("[", "{")):
        return json.loads(value)
    return value


@pytest.fixture
def flaky_jobs(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """``itest.flaky`` declared here and in the workers; the global registry restored after."""
    monkeypatch.setattr(default_registry, "_types", dict(default_registry._types))
    sys.modules.pop(FLAKY_JOBS, None)
    importlib.import_module(FLAKY_JOBS)
    env["SYNCJOBS_IMPORTS"] = json.dumps([FLAKY_JOBS])
    try:
        yield "itest.flaky"
    finally:
        sys.modules.pop(FLAKY_JOBS, None)


class Workers:
    """Starts and kills `dramatiq syncjobs.actors` processes (or the given modules)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env  # read at each start, so fixtures may add settings later
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self,
        queues: str = "syncjobs",
        *,
        threads: int = 2,
        modules: tuple[str, ...] = ("syncjobs.actors",),
        **overrides: str,
    ) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dramatiq",
                *modules,
                "--processes",
                "1",
                "--threads",
                str(threads),
                "--queues",
                *queues.split(","),
            ],
            env={**os.environ, **self.env, **overrides},
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(5)
            if proc.stderr:
                proc.stderr.close()


@pytest.fixture
def workers(env: dict[str, str]) -> Iterator[Workers]:
    w = Workers(env)
    yield w
    w.stop_all()


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)

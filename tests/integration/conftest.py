"""Fixtures of the integration tests: worker processes on the real Redis and PostgreSQL."""

from __future__ import annotations

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
from syncjobs.factory import create_app
from syncjobs.settings import Settings
from syncjobs.storage import SQLAlchemyRepository


@pytest.fixture
def env(redis_server: Any, pg_repo: SQLAlchemyRepository) -> dict[str, str]:
    """Settings for both sides, as environment variables; Redis emptied first."""
    redis.Redis.from_url(redis_server.url).flushall()
    return {
        "SYNCJOBS_DATABASE_URL": pg_repo.engine.url.render_as_string(hide_password=False),
        "SYNCJOBS_TABLE_PREFIX": pg_repo.tables.prefix,
        "SYNCJOBS_BROKER_URL": redis_server.url,
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

    def build(**overrides: str) -> SyncJobs:
        values = {k.removeprefix("SYNCJOBS_").lower(): v for k, v in {**env, **overrides}.items()}
        app = create_app(Settings(**values))
        made.append(app)
        return app

    yield build
    _current.set_app(None)
    for app in made:
        app.close()


class Workers:
    """Starts and kills `dramatiq syncjobs.actors` processes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env  # read at each start, so fixtures may add settings later
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, queues: str = "syncjobs", **overrides: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dramatiq",
                "syncjobs.actors",
                "--processes",
                "1",
                "--threads",
                "2",
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

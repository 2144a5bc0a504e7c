"""A job's end is durable in the ledger before Dramatiq acknowledges its message.

Worker threads hand their terminal writes to the process's group commit, which writes many
jobs in one commit. A broker middleware reads each job back from the ledger (committed data,
on another connection) just before its message is acknowledged; a PostgreSQL outage during a
terminal write holds the acknowledgement back until the write has landed.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import dramatiq
import pytest
from dramatiq.middleware import Middleware
from pydantic import BaseModel

from syncjobs import JobContext, JobStatus
from syncjobs.core.ledger.store import JobRepository
from syncjobs.core.middleware import TrackingMiddleware
from syncjobs.core.registry import Registry, job_type
from syncjobs.storage import SQLAlchemyRepository
from tests.servers import PostgresServer

from ..conftest import AppFactory, drop_schema

pytestmark = pytest.mark.integration


class AckWatch(Middleware):
    """Records, just before each message is acknowledged, its job's status in the ledger."""

    def __init__(self, repo: JobRepository) -> None:
        self.repo = repo
        self.seen: list[tuple[str, str | None]] = []
        self._lock = threading.Lock()

    def before_ack(self, broker: dramatiq.Broker, message: Any) -> None:
        job_id = str(message.args[0]) if message.args else ""
        job = self.repo.get_job(job_id)
        with self._lock:
            self.seen.append((job_id, job.status.value if job else None))


def wait_until(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def tracking(app: Any) -> TrackingMiddleware:
    return next(m for m in app.broker.middleware if isinstance(m, TrackingMiddleware))


def test_every_job_is_terminal_in_the_ledger_before_its_message_is_acked(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository
) -> None:
    app = make_app(sql_repo, max_active_jobs_per_owner=1000)
    watch = AckWatch(sql_repo)
    app.broker.add_middleware(watch)
    jobs = [app.submit("syncjobs.noop", owner_id=f"o{i % 7}") for i in range(60)]
    with app.worker(threads=8):
        wait_until(lambda: len(watch.seen) == len(jobs), "every message to be acknowledged")
    assert sorted(watch.seen) == sorted((job.id, "completed") for job in jobs)
    group = tracking(app).group
    assert group is not None and group.writes == len(jobs)
    assert 1 <= group.commits <= group.writes


class Gate(BaseModel):
    n: int = 0


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[PostgresServer]:
    with PostgresServer() as server:
        yield server


def test_a_terminal_write_during_an_outage_holds_the_ack_until_it_lands(
    make_app: AppFactory,
    test_registry: Registry,
    own_postgres: PostgresServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gate = threading.Event()

    @job_type("t.gated", params=Gate, registry=test_registry)
    def gated(ctx: JobContext, params: Gate) -> dict[str, int]:
        gate.wait(60)
        return {"n": params.n}

    repo = SQLAlchemyRepository(
        own_postgres.url, table_prefix=f"t{uuid.uuid4().hex[:10]}_", check=False
    )
    repo.upgrade()
    try:
        app = make_app(repo)
        watch = AckWatch(repo)
        app.broker.add_middleware(watch)
        caplog.set_level(logging.WARNING, logger="syncjobs.tracking")
        with app.worker(threads=2):
            job = app.submit("t.gated", owner_id="o1", params={"n": 7})
            wait_until(lambda: repo.get_job(job.id).status is JobStatus.PROCESSING, "the claim")  # type: ignore[union-attr]
            own_postgres._shutdown()
            try:
                gate.set()
                wait_until(lambda: "ledger write failed" in caplog.text, "a failed terminal write")
                assert watch.seen == []  # the end is not in the ledger: the message is held
            finally:
                own_postgres._launch(own_postgres._binary())
            wait_until(lambda: bool(watch.seen), "the acknowledgement", timeout=120)
        assert watch.seen == [(job.id, "completed")]
        done = repo.get_job(job.id)
        assert done is not None and done.result == {"n": 7}
    finally:
        repo.engine.dispose()
        drop_schema(repo)
        repo.close()

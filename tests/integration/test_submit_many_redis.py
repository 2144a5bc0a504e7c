"""submit_many on a real Redis broker: the pipelined messages are the broker's own, and run."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from syncjobs import JobSpec, JobStatus, SyncJobs
from syncjobs.app import Deps, register_actors
from syncjobs.connections.credentials import InMemoryCredentialStore, TokenCipher, generate_key
from syncjobs.core.registry import Registry
from syncjobs.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
def redis_app(
    redis_server: Any, sql_repo: Any, test_registry: Registry
) -> Iterator[tuple[SyncJobs, str]]:
    namespace = f"t{uuid.uuid4().hex[:8]}"
    broker = RedisBroker(url=redis_server.url, namespace=namespace)  # type: ignore[no-untyped-call]
    broker.emit_after("process_boot")
    deps = Deps(
        repository=sql_repo, credentials=InMemoryCredentialStore(TokenCipher(generate_key()))
    )
    settings = Settings(progress_interval=0.0, max_active_jobs_per_owner=1000)
    app = register_actors(broker, deps, settings, registry=test_registry)
    yield app, namespace
    broker.close()


def wait_until_finished(app: SyncJobs, jobs: list[Any], timeout: float = 60) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        now = [app.status(j.id, owner_id=j.owner_id) for j in jobs]
        if all(j.is_terminal for j in now) or time.monotonic() > deadline:
            return now
        time.sleep(0.05)


def test_bulk_submitted_jobs_are_queued_on_redis_and_run(redis_app: tuple[SyncJobs, str]) -> None:
    app, namespace = redis_app
    client: redis.Redis = app.broker.client  # type: ignore[attr-defined]
    specs = [
        JobSpec("syncjobs.count", owner_id=f"u{i % 4}", params={"to": i % 5}) for i in range(60)
    ]
    specs.append(JobSpec("syncjobs.count", owner_id="u0", params={"to": 1}, delay=0.5))
    specs.append(JobSpec("syncjobs.count", owner_id="u1", params={"to": 1}, priority=1))
    specs.append(JobSpec("syncjobs.count", owner_id="u2", params={"to": 1}, priority=9))
    jobs = app.submit_many(specs)
    assert len({j.id for j in jobs}) == 63
    assert client.llen(f"{namespace}:syncjobs") == 60
    assert client.hlen(f"{namespace}:syncjobs.DQ.msgs") == 1
    # Each priority's band is its own Redis list (urgent work skips the backlog).
    assert client.llen(f"{namespace}:syncjobs.high") == 1
    assert client.llen(f"{namespace}:syncjobs.low") == 1
    with app.worker(threads=4):
        done = wait_until_finished(app, jobs)
    assert [j.status for j in done] == [JobStatus.COMPLETED] * 63
    assert [j.result for j in done[:5]] == [{"counted": i} for i in range(5)]
    assert all(j.attempts == 1 for j in done)  # one message each, no duplicate deliveries
    assert client.llen(f"{namespace}:syncjobs") == 0

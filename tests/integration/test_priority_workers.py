"""Priorities on real brokers: a `dramatiq syncjobs.actors` worker on Redis and on RabbitMQ,
the ledger on PostgreSQL. Asserts on the order jobs started in, never on time."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from syncjobs import JobStatus
from syncjobs.app import SyncJobs
from syncjobs.core.models import Job

from .conftest import Workers, on_both_brokers, wait_for

pytestmark = pytest.mark.integration

#: Each low job takes a while, so a backlog is still queued when the urgent one comes and
#: few low jobs end while the urgent job's band waits for its next poll (Redis: 0.1 s at most).
SLOW = {"to": 1, "step": 0.3}
THREADS = 2
#: Low jobs that may start after the urgent one is sent and before it starts: those already
#: fetched (prefetch: 2 x threads per queue), those being claimed, and a generous allowance
#: for the threads' next jobs while the urgent message is fetched and claimed.
AHEAD = 2 * THREADS + THREADS + 4 * THREADS


def jobs_of(app: SyncJobs, owner: str) -> list[Job]:
    out: list[Job] = []
    while batch := app.jobs(owner, limit=1000, offset=len(out)):
        out += batch
    return out


@on_both_brokers
def test_an_urgent_job_overtakes_the_queued_backlog_of_its_queue(
    client: Callable[..., SyncJobs], workers: Workers
) -> None:
    app = client()
    for _ in range(600):
        app.submit("syncjobs.count", owner_id="low", params=SLOW, priority=9, enforce_limit=False)
    # `--queues syncjobs` consumes the queue's bands too (syncjobs.high, syncjobs.low).
    workers.start("syncjobs", threads=THREADS)
    wait_for(lambda: len(app.jobs("low", status="completed", limit=20)) >= 4, 120)
    urgent = app.submit("syncjobs.count", owner_id="vip", params=SLOW, priority=1)
    final = list(app.watch(urgent.id, owner_id="vip", timeout=120))[-1]
    assert final.status is JobStatus.COMPLETED and final.started_at is not None
    lows = jobs_of(app, "low")
    ahead = sum(
        1
        for j in lows
        if j.started_at is not None and urgent.created_at <= j.started_at < final.started_at
    )
    after = sum(1 for j in lows if j.started_at is None or j.started_at > final.started_at)
    assert ahead <= AHEAD, ahead
    assert after >= 500, after  # it did not wait for the backlog


@on_both_brokers
def test_jobs_of_one_priority_start_in_submit_order(
    client: Callable[..., SyncJobs], workers: Workers
) -> None:
    app = client()
    ids = {
        p: [app.submit("syncjobs.noop", owner_id=f"p{p}", priority=p).id for _ in range(5)]
        for p in (2, 9)
    }
    workers.start("syncjobs", threads=1)
    for p, submitted in ids.items():
        wait_for(lambda p=p: len(app.jobs(f"p{p}", status="completed")) == 5, 120)  # type: ignore[misc]
        started = sorted(jobs_of(app, f"p{p}"), key=lambda j: (j.started_at, j.id))
        assert [j.id for j in started] == submitted, p

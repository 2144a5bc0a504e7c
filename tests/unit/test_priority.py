"""Priorities reorder work: bands as queues on the in-memory broker, ranks inside a worker.

Each test asserts on the ORDER jobs started in (the ledger's ``started_at``), never on time.
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import dramatiq
import pytest
from dramatiq.middleware import Middleware
from pydantic import BaseModel

from syncjobs import JobStatus
from syncjobs.app import SyncJobs
from syncjobs.clock import utcnow
from syncjobs.core.maintenance import maintain
from syncjobs.core.models import Job
from syncjobs.core.priority import (
    HIGH_BAND_POLL_MS,
    PRIORITY_OPTION,
    band_of,
    band_queues,
    base_queue,
    prepare_worker,
    queue_for,
    resend,
)
from syncjobs.core.registry import Registry, job_type
from syncjobs.errors import ConfigurationError, RetriableError
from syncjobs.storage import SQLAlchemyRepository

from ..conftest import AppFactory


class Empty(BaseModel):
    """No parameters."""


#: Job bodies take a little time, so a backlog stays queued while the urgent job is sent.
SLOW = {"to": 1, "step": 0.01}


class Sent(Middleware):
    """Records the queue and options of every message the broker is given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def after_enqueue(self, broker: dramatiq.Broker, message: Any, delay: int | None) -> None:
        """Remember where the message went."""
        self.sent.append((message.queue_name, dict(message.options)))


def wait_until(check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def all_jobs(app: SyncJobs, owner: str) -> list[Job]:
    out: list[Job] = []
    while batch := app.jobs(owner, limit=1000, offset=len(out)):
        out += batch
    return out


def started_ahead(lows: list[Job], urgent: Job) -> tuple[int, int]:
    """Low jobs started between the urgent job's submit and its start; low jobs started after."""
    assert urgent.started_at is not None
    ahead = after = 0
    for job in lows:
        if job.started_at is None or job.started_at > urgent.started_at:
            after += 1
        elif job.started_at >= urgent.created_at:
            ahead += 1
    return ahead, after


# -- the mapping ---------------------------------------------------------------------------
def test_priorities_map_to_three_bands_of_the_job_types_queue() -> None:
    assert [band_of(p) for p in range(1, 11)] == ["high"] * 3 + ["normal"] * 4 + ["low"] * 3
    assert [queue_for("sync", p) for p in (1, 3, 4, 7, 8, 10)] == [
        "sync.high",
        "sync.high",
        "sync",
        "sync",
        "sync.low",
        "sync.low",
    ]
    assert band_queues("sync") == ["sync.high", "sync", "sync.low"]
    # A band's delay queue comes back to the band; its base is the job type's queue.
    assert [base_queue(q) for q in ("sync.high.DQ", "sync.low", "sync.DQ", "sync")] == ["sync"] * 4
    with pytest.raises(ConfigurationError, match=r"priority must be 1\.\.10"):
        queue_for("sync", 0)


@pytest.mark.parametrize("queue", ["images.high", "images.low", "images.DQ", "images.XQ"])
def test_a_queue_name_a_band_or_dramatiq_would_clash_with_is_refused(queue: str) -> None:
    with pytest.raises(ConfigurationError, match="reserved for priority bands"):
        job_type("t.clash", params=Empty, queue=queue, registry=Registry())(lambda c, p: None)


def test_binding_declares_every_band_so_a_worker_consumes_them(make_app: AppFactory) -> None:
    app = make_app()
    queues = app.broker.get_declared_queues()
    assert {"syncjobs.high", "syncjobs", "syncjobs.low", "sync.high", "sync.low"} <= queues
    assert "syncjobs.high.DQ" in app.broker.get_declared_delay_queues()


def test_a_worker_given_queues_also_consumes_their_bands_but_a_band_stays_alone() -> None:
    worker = dramatiq.Worker(dramatiq.brokers.stub.StubBroker(), queues={"sync", "notify.high"})
    prepare_worker(worker)
    assert worker.consumer_whitelist == {"sync", "sync.high", "sync.low", "notify.high"}
    everything = dramatiq.Worker(dramatiq.brokers.stub.StubBroker())
    prepare_worker(everything)
    assert not everything.consumer_whitelist  # no --queues: every declared queue, bands too


def test_the_high_bands_consumer_polls_often_while_idle(make_app: AppFactory) -> None:
    app = make_app()
    worker = dramatiq.Worker(app.broker, worker_threads=1, worker_timeout=1000)
    worker.start()
    try:
        wanted = ("sync.high", "syncjobs.high")

        def tuned() -> bool:
            found = [worker.consumers.get(name) for name in wanted]
            return all(c is not None and c.worker_timeout == HIGH_BAND_POLL_MS for c in found)

        wait_until(tuned)  # each consumer thread tunes itself as it boots
        timeouts = {name: c.worker_timeout for name, c in worker.consumers.items()}
    finally:
        worker.stop()
    assert timeouts["sync"] == timeouts["sync.low"] == timeouts["sync.high.DQ"] == 1000


# -- sending -------------------------------------------------------------------------------
def test_each_submit_goes_to_its_priority_band_with_its_priority(make_app: AppFactory) -> None:
    app = make_app()
    sent = Sent()
    app.broker.add_middleware(sent)
    for priority in (1, 5, 9):
        app.submit("syncjobs.noop", owner_id="u1", priority=priority)
    app.submit("syncjobs.noop", owner_id="u1", priority=2, delay=30)
    assert sent.sent[:3] == [
        ("syncjobs.high", {PRIORITY_OPTION: 1}),
        ("syncjobs", {PRIORITY_OPTION: 5}),
        ("syncjobs.low", {PRIORITY_OPTION: 9}),
    ]
    queue, options = sent.sent[3]
    assert queue == "syncjobs.high.DQ" and options[PRIORITY_OPTION] == 2


def test_submit_many_sends_each_job_to_its_priority_band(make_app: AppFactory) -> None:
    app = make_app()
    sent = Sent()
    app.broker.add_middleware(sent)
    specs = [{"job_type": "syncjobs.noop", "owner_id": "u1", "priority": p} for p in (9, 1, 5)]
    specs.append({"job_type": "syncjobs.noop", "owner_id": "u1", "priority": 2, "delay": 30})
    jobs = app.submit_many(specs)
    assert [job.priority for job in jobs] == [9, 1, 5, 2]
    assert sent.sent[:3] == [
        ("syncjobs.low", {PRIORITY_OPTION: 9}),
        ("syncjobs.high", {PRIORITY_OPTION: 1}),
        ("syncjobs", {PRIORITY_OPTION: 5}),
    ]
    queue, options = sent.sent[3]
    assert queue == "syncjobs.high.DQ" and options[PRIORITY_OPTION] == 2


def test_a_deferred_delivery_is_sent_again_to_its_band(make_app: AppFactory) -> None:
    app = make_app()
    job = app.submit("syncjobs.noop", owner_id="u1", priority=9)
    message = app.broker.queues["syncjobs.low"].get_nowait()
    again = resend(app.broker, dramatiq.Message.decode(message), 5000)
    assert again.queue_name == "syncjobs.low.DQ"
    assert again.args == (job.id,) and again.options[PRIORITY_OPTION] == 9


def test_upkeep_re_sends_a_lost_message_to_its_band(make_app: AppFactory) -> None:
    app = make_app()
    job = app.submit("syncjobs.noop", owner_id="u1", priority=2)
    app.broker.flush_all()  # the message is lost; the ledger still has the job pending
    later = utcnow() + timedelta(seconds=app.settings.resend_pending_after + 5)
    assert maintain(app, now=later)["resent"] == 1
    message = dramatiq.Message.decode(app.broker.queues["syncjobs.high"].get_nowait())
    assert message.args == (job.id,) and message.options[PRIORITY_OPTION] == 2


def test_a_retry_keeps_its_band(make_app: AppFactory, test_registry: Registry) -> None:
    calls: list[str] = []

    @job_type("t.once", params=Empty, queue="prio", max_retries=2, registry=test_registry)
    def once(ctx: Any, p: Empty) -> None:
        calls.append(ctx.job_id)
        if len(calls) == 1:
            raise RetriableError("the first attempt fails on purpose")

    app = make_app()
    sent = Sent()
    app.broker.add_middleware(sent)
    job = app.submit("t.once", owner_id="u1", priority=1)
    with app.worker(threads=1):
        wait_until(lambda: app.status(job.id, owner_id="u1").status is JobStatus.COMPLETED)
    assert len(calls) == 2
    queues = [queue for queue, _ in sent.sent]
    assert queues[:3] == ["prio.high", "prio.high.DQ", "prio.high"]  # sent, retried, due
    assert all(options[PRIORITY_OPTION] == 1 for _, options in sent.sent)


# -- order ---------------------------------------------------------------------------------
def test_an_urgent_job_starts_before_the_backlog_of_its_queue(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository
) -> None:
    app = make_app(sql_repo)
    for _ in range(300):
        app.submit("syncjobs.count", owner_id="low", params=SLOW, priority=9, enforce_limit=False)
    threads = 2
    with app.worker(threads=threads):
        wait_until(lambda: len(app.jobs("low", status="completed", limit=10)) >= 5)
        urgent = app.submit("syncjobs.count", owner_id="vip", params=SLOW, priority=1)
        wait_until(lambda: app.status(urgent.id, owner_id="vip").status is JobStatus.COMPLETED)
    ahead, after = started_ahead(all_jobs(app, "low"), app.status(urgent.id, owner_id="vip"))
    # Only jobs already running (or being claimed) when it arrived start before it.
    assert ahead <= 2 * threads + 2, ahead
    assert after >= 200, after  # it did not simply wait for the queue to drain


def test_inside_a_worker_fetched_messages_run_by_job_priority_then_in_order(
    make_app: AppFactory, sql_repo: SQLAlchemyRepository, test_registry: Registry
) -> None:
    started, gate = threading.Event(), threading.Event()

    @job_type("t.gate", params=Empty, queue="prio", registry=test_registry)
    def hold(ctx: Any, p: Empty) -> None:
        started.set()
        gate.wait(60)

    app = make_app(sql_repo)
    held = app.submit("t.gate", owner_id="gate", priority=5)
    worker = dramatiq.Worker(app.broker, worker_threads=1, worker_timeout=50)
    worker.queue_prefetch = 50  # each queue's consumer may hold all of them (default: 2)
    worker.start()
    try:
        assert started.wait(60)  # the only thread is busy: what comes next waits, fetched
        submitted: dict[int, list[str]] = {p: [] for p in (9, 6, 4, 2, 1)}
        for _ in range(10):
            for p in submitted:  # interleaved, so each priority's own order is checkable
                job = app.submit("syncjobs.noop", owner_id=f"p{p}", priority=p, enforce_limit=False)
                submitted[p].append(job.id)
        wait_until(lambda: worker.work_queue.qsize() == 50)
        gate.set()
        wait_until(lambda: all(len(app.jobs(f"p{p}", status="completed")) == 10 for p in submitted))
    finally:
        gate.set()
        worker.stop()
    assert app.status(held.id, owner_id="gate").status is JobStatus.COMPLETED
    order = sorted(
        (j for p in submitted for j in all_jobs(app, f"p{p}")),
        key=lambda j: (j.started_at, j.id),
    )
    # Highest priority first, across bands and inside one band (1 before 2, 4 before 6) ...
    assert [j.priority for j in order] == [1] * 10 + [2] * 10 + [4] * 10 + [6] * 10 + [9] * 10
    # ... and jobs of one priority in the order they were submitted.
    for p, ids in submitted.items():
        assert [j.id for j in order if j.priority == p] == ids, p

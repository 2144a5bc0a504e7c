"""Scheduling and upkeep on a real broker (Redis, RabbitMQ) and PostgreSQL, with real workers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from syncjobs import JobStatus
from syncjobs.app import SyncJobs
from syncjobs.core.scheduling import Scheduler

from .conftest import Workers, lose_queued_messages, on_both_brokers, wait_for

pytestmark = pytest.mark.integration

#: 01:00 UTC two days ago: the jobs the schedulers submit meet the real clock in the ledger.
T0 = (datetime.now(UTC) - timedelta(days=2)).replace(hour=1, minute=0, second=0, microsecond=0)


@on_both_brokers
def test_three_schedulers_on_postgresql_fire_one_job_per_slot(
    client: Callable[..., SyncJobs],
) -> None:
    apps = [client() for _ in range(3)]  # three processes' worth of apps, one database
    barrier = threading.Barrier(3)

    def run(app: SyncJobs) -> None:
        scheduler = Scheduler(app)
        for minute in range(0, 61):  # maintain_jobs is due every 5 minutes
            barrier.wait()
            scheduler.tick(T0 + timedelta(minutes=minute, seconds=1))

    threads = [threading.Thread(target=run, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [j.idempotency_key for j in apps[0].jobs("system", job_type="maintain_jobs", limit=1000)]
    assert len(keys) == len(set(keys)) == 13  # 01:00, 01:05, … 02:00: once each


@on_both_brokers
def test_a_scheduler_down_across_two_slots_runs_once_when_back(
    client: Callable[..., SyncJobs],
) -> None:
    app = client()
    scheduler = Scheduler(app)
    scheduler.tick(T0)
    fired = [
        j for j in scheduler.tick(T0 + timedelta(minutes=12)) if j.job_type == "maintain_jobs"
    ]  # 01:05 and 01:10 missed
    assert [j.idempotency_key for j in fired] == [
        f"schedule:maintain_jobs:{T0 + timedelta(minutes=10):%Y-%m-%dT%H:%MZ}"
    ]


@on_both_brokers
def test_queued_messages_lost_mid_run_every_job_still_completes(
    client: Callable[..., SyncJobs], workers: Workers, broker: str, env: dict[str, str]
) -> None:
    app = client(SYNCJOBS_RESEND_PENDING_AFTER="1", SYNCJOBS_MAX_ACTIVE_JOBS_PER_OWNER="100")
    jobs = [
        app.submit("syncjobs.count", owner_id="u1", params={"to": 3, "step": 0.05})
        for _ in range(30)
    ]
    workers.start()
    wait_for(lambda: sum(app.status(j.id, owner_id="u1").is_terminal for j in jobs) >= 3)
    lose_queued_messages(broker, env["SYNCJOBS_BROKER_URL"])  # Redis flushed, queues purged
    time.sleep(1.5)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if all(app.status(j.id, owner_id="u1").is_terminal for j in jobs):
            break
        app.maintain()  # what maintain_jobs does every 5 minutes
        time.sleep(1.0)
    finals = [app.status(j.id, owner_id="u1") for j in jobs]
    assert [f.status for f in finals] == [JobStatus.COMPLETED] * 30
    assert all(f.result == {"counted": 3} for f in finals)


@on_both_brokers
@pytest.mark.parametrize("by", ["the next worker's recovery pass", "maintain_jobs"])
def test_a_sigkilled_workers_job_is_recovered_and_completed_by_another(
    client: Callable[..., SyncJobs], workers: Workers, by: str, broker: str
) -> None:
    settings = {"SYNCJOBS_BROKER_HEARTBEAT_TIMEOUT": "600"}  # Redis will not hand it over
    if by == "maintain_jobs":
        settings["SYNCJOBS_WORKER_RECOVERY"] = "false"
    app = client(**settings)
    first = workers.start(**settings)
    job = app.submit("syncjobs.count", owner_id="u1", params={"to": 20, "step": 0.1})
    wait_for(lambda: (app.status(job.id, owner_id="u1").progress_done or 0) >= 3)
    workers.kill(first)
    # RabbitMQ hands the killed worker's message back at once: a worker already running
    # would take the job (once stale) before maintain_jobs could, so it starts after it.
    late = by == "maintain_jobs" and broker == "rabbitmq"
    if not late:
        workers.start(**settings)
    if by == "maintain_jobs":
        time.sleep(2.5)  # SYNCJOBS_JOB_STALE_AFTER=2: its heartbeat is now stale
        assert app.maintain()["recovered"] == 1
    if late:
        workers.start(**settings)
    final = list(app.watch(job.id, owner_id="u1", timeout=120))[-1]
    assert final.status is JobStatus.COMPLETED and final.result == {"counted": 20}
    assert final.attempts == 2


@on_both_brokers
def test_a_tick_through_the_broker_fires_a_due_schedule_on_a_worker(
    client: Callable[..., SyncJobs], workers: Workers
) -> None:
    every_minute = {"SYNCJOBS_SCHEDULES": '{"maintain_jobs": {"cron": "* * * * *"}}'}
    app = client(**every_minute)
    workers.start(**every_minute)
    # What `periodiq syncjobs.actors` sends every minute: the worker that takes it fires the
    # slot of this minute (a schedule's first sight), and runs the job it submitted.
    app.broker.get_actor(app.binding.tick_actor).send()

    def fired() -> list[Any]:
        return app.jobs("system", job_type="maintain_jobs", limit=10)

    wait_for(lambda: any(j.status is JobStatus.COMPLETED for j in fired()), 60)
    [job] = fired()
    assert job.idempotency_key is not None and job.idempotency_key.startswith(
        "schedule:maintain_jobs:"
    )
    assert job.result is not None and "recovered" in job.result

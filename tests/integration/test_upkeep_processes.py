"""Scheduling and upkeep on the real Redis and PostgreSQL, with real worker processes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from syncjobs import JobStatus
from syncjobs.app import SyncJobs
from syncjobs.core.scheduling import Scheduler

from .conftest import Workers, wait_for

pytestmark = pytest.mark.integration

#: 01:00 UTC two days ago: the jobs the schedulers submit meet the real clock in the ledger.
T0 = (datetime.now(UTC) - timedelta(days=2)).replace(hour=1, minute=0, second=0, microsecond=0)


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


def test_redis_flushed_mid_run_every_job_still_completes(
    client: Callable[..., SyncJobs], workers: Workers, redis_server: Any
) -> None:
    app = client(SYNCJOBS_RESEND_PENDING_AFTER="1", SYNCJOBS_MAX_ACTIVE_JOBS_PER_OWNER="100")
    jobs = [
        app.submit("syncjobs.count", owner_id="u1", params={"to": 3, "step": 0.05})
        for _ in range(30)
    ]
    workers.start()
    wait_for(lambda: sum(app.status(j.id, owner_id="u1").is_terminal for j in jobs) >= 3)
    redis.Redis.from_url(redis_server.url).flushall()  # queued messages gone
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


@pytest.mark.parametrize("by", ["the next worker's recovery pass", "maintain_jobs"])
def test_a_sigkilled_workers_job_is_recovered_and_completed_by_another(
    client: Callable[..., SyncJobs], workers: Workers, by: str
) -> None:
    settings = {"SYNCJOBS_BROKER_HEARTBEAT_TIMEOUT": "600"}  # Redis will not hand it over
    if by == "maintain_jobs":
        settings["SYNCJOBS_WORKER_RECOVERY"] = "false"
    app = client(**settings)
    first = workers.start(**settings)
    job = app.submit("syncjobs.count", owner_id="u1", params={"to": 20, "step": 0.1})
    wait_for(lambda: (app.status(job.id, owner_id="u1").progress_done or 0) >= 3)
    workers.kill(first)
    workers.start(**settings)
    if by == "maintain_jobs":
        time.sleep(2.5)  # SYNCJOBS_JOB_STALE_AFTER=2: its heartbeat is now stale
        assert app.maintain()["recovered"] == 1
    final = list(app.watch(job.id, owner_id="u1", timeout=120))[-1]
    assert final.status is JobStatus.COMPLETED and final.result == {"counted": 20}
    assert final.attempts == 2

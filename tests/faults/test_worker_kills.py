"""Real workers SIGKILLed five times while they sync eight accounts over loopback HTTP.

Every kill lands while at least one sync is making progress; a new worker is started each
time. Redis hands a dead worker's messages over after ``broker_heartbeat_timeout`` (2 s in the
integration ``env``). A job is killed at most three times (sync_account allows 5 retries, and
each start counts as an attempt), so a job that still fails with ``attempts_exhausted`` is a
loss. At the end every account holds exactly its fake's dataset and its cursor is at the
fake's latest state.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from syncjobs import Job, JobStatus, SyncJobs
from syncjobs.clock import utcnow
from syncjobs.connections.credentials import generate_key
from syncjobs.testing.fakes import CombinedFakes, serve

from ._support import PROVIDERS, cursor_problem, holding
from .conftest import FileWorkers, Reporter

pytestmark = pytest.mark.integration

KILLS = 5
OWNERS = ["u1", "u2"]
MAX_KILLS_PER_JOB = 3


@pytest.fixture
def served() -> Iterator[tuple[CombinedFakes, str]]:
    fakes = CombinedFakes(items_per_provider=300, seed=41)
    for name in PROVIDERS:
        fakes[name].latency = 0.1
    with serve(fakes) as root:
        yield fakes, root


@pytest.fixture
def sync_env(env: dict[str, str], served: tuple[CombinedFakes, str]) -> dict[str, str]:
    fakes, root = served
    env["SYNCJOBS_ENCRYPTION_KEY"] = generate_key()
    for name in PROVIDERS:
        for key, value in dataclasses.asdict(fakes.config(name, root)).items():
            env[f"SYNCJOBS_{name.upper()}__{key.upper()}"] = str(value)
    return env


def sync_jobs(app: SyncJobs) -> list[Job]:
    return app.repository.list_jobs(
        owner_id=None, status=None, job_type="sync_account", limit=1000, offset=0
    )


def busy(jobs: list[Job], since: datetime) -> list[Job]:
    """Jobs the live worker (started at ``since``) is syncing: claimed by it, progressing."""
    recent = utcnow() - timedelta(seconds=1)
    return [
        j
        for j in jobs
        if j.status is JobStatus.PROCESSING
        and (j.progress_done or 0) > 0
        and j.started_at is not None
        and j.started_at >= since
        and j.updated_at >= recent
    ]


def wait_for_victims(
    app: SyncJobs, accounts: list[Any], fakes: CombinedFakes, since: datetime, timeout: float = 60
) -> list[Job]:
    """Wait until a sync is making progress and none would be killed too often."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = sync_jobs(app)
        if all(j.is_terminal for j in jobs):
            # Everything is synced: give the workers more to do (new items, new syncs).
            for name in PROVIDERS:
                fakes[name].add_items(30)
            for acc in accounts:
                app.accounts.sync(acc.id, owner_id=acc.owner_id)
            continue
        running = busy(jobs, since)
        spared = [
            j for j in jobs if j.status is JobStatus.PROCESSING and j.attempts > MAX_KILLS_PER_JOB
        ]
        if running and not spared:
            return running
        time.sleep(0.05)
    raise AssertionError("no sync to kill")


def test_worker_sigkilled_five_times_during_syncs(
    sync_env: dict[str, str],
    served: tuple[CombinedFakes, str],
    client: Any,
    file_workers: FileWorkers,
    report: Reporter,
) -> None:
    fakes, _ = served
    app: SyncJobs = client()
    accounts = [
        app.accounts.connect(owner, name, fakes[name].issue_tokens())
        for owner in OWNERS
        for name in PROVIDERS
    ]
    started = utcnow()
    worker = file_workers.start(queues="sync")
    for acc in accounts:
        app.accounts.sync(acc.id, owner_id=acc.owner_id)

    interruptions = 0  # syncs running on a worker at the moment it was killed
    for _ in range(KILLS):
        wait_for_victims(app, accounts, fakes, started)
        time.sleep(0.15)  # mid-page, not at a page boundary
        running = [
            j
            for j in sync_jobs(app)
            if j.status is JobStatus.PROCESSING
            and j.started_at is not None
            and j.started_at >= started
        ]
        file_workers.kill(worker)
        interruptions += len(running)
        started = utcnow()
        worker = file_workers.start(queues="sync")

    for name in PROVIDERS:
        fakes[name].latency = 0.0
    deadline = time.monotonic() + 120
    while not all(j.is_terminal for j in sync_jobs(app)):
        assert time.monotonic() < deadline, (
            "syncs did not finish:\n" + file_workers.log_text()[-3000:]
        )
        time.sleep(0.1)

    jobs = sync_jobs(app)
    exhausted = [j for j in jobs if j.error_code == "attempts_exhausted"]
    other = [
        f"{j.id} {j.status} {j.error_code}: {j.error_message}"
        for j in jobs
        if j.status is not JobStatus.COMPLETED and j not in exhausted
    ]
    lost = duplicated = 0
    problems = []
    for acc in accounts:
        missing, dups = holding(app, acc.id, fakes[acc.provider])
        lost, duplicated = lost + missing, duplicated + dups
        [now] = [a for a in app.accounts.list(acc.owner_id) if a.id == acc.id]
        problem = cursor_problem(acc.provider, now.cursor, fakes[acc.provider])
        if problem:
            problems.append(f"{acc.owner_id} {problem}")
    lost += len(exhausted)
    report(
        "worker_sigkilled_five_times",
        jobs=len(jobs),
        faults=KILLS,
        lost=lost,
        duplicated=duplicated,
    )
    assert interruptions >= KILLS  # every kill landed on syncs in progress
    assert max(j.attempts for j in jobs) <= MAX_KILLS_PER_JOB + 1
    assert exhausted == [] and other == [], other
    assert problems == []
    assert (lost, duplicated) == (0, 0)

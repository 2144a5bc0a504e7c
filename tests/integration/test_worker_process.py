"""Real processes: a `dramatiq syncjobs.actors` worker on Redis, the ledger on PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest

from syncjobs import ConcurrencyLimitError, JobStatus
from syncjobs.app import SyncJobs
from syncjobs.storage import SQLAlchemyRepository

from ..conftest import AppFactory, drop_schema
from .conftest import Workers, wait_for

pytestmark = pytest.mark.integration


def test_a_real_worker_runs_the_job_and_watch_sees_each_step_in_order(
    client: Callable[..., SyncJobs], workers: Workers
) -> None:
    app = client()
    workers.start()
    job = app.submit("syncjobs.count", owner_id="u1", params={"to": 8, "step": 0.15})
    seen = [(j.status, j.progress_done) for j in app.watch(job.id, owner_id="u1", timeout=90)]
    assert seen[0] == (JobStatus.PENDING, None)
    steps = [done for status, done in seen if status is JobStatus.PROCESSING and done]
    # Every step, live, in order; the last may arrive together with completion.
    assert steps[:7] == list(range(1, 8)) and steps == sorted(steps), seen
    assert seen[-1] == (JobStatus.COMPLETED, 8)
    final = app.status(job.id, owner_id="u1")
    assert final.status is JobStatus.COMPLETED and final.result == {"counted": 8}
    assert final.worker_id and final.attempts == 1


def test_a_job_whose_worker_is_sigkilled_completes_on_a_new_worker(
    client: Callable[..., SyncJobs], workers: Workers
) -> None:
    app = client()
    first = workers.start()
    job = app.submit("syncjobs.count", owner_id="u1", params={"to": 30, "step": 0.1})
    wait_for(lambda: (app.status(job.id, owner_id="u1").progress_done or 0) >= 5)
    workers.kill(first)
    killed_at = app.status(job.id, owner_id="u1")
    assert killed_at.status is JobStatus.PROCESSING and killed_at.attempts == 1
    workers.start()
    final = list(app.watch(job.id, owner_id="u1", timeout=120))[-1]
    assert final.status is JobStatus.COMPLETED, final
    assert final.result == {"counted": 30}
    assert final.attempts == 2 and final.worker_id != killed_at.worker_id


def test_a_job_killed_with_no_attempts_left_fails_instead_of_looping(
    client: Callable[..., SyncJobs], workers: Workers
) -> None:
    no_retries = {"SYNCJOBS_DEFAULT_MAX_RETRIES": "0"}
    app = client(**no_retries)
    first = workers.start(**no_retries)
    job = app.submit("syncjobs.count", owner_id="u1", params={"to": 30, "step": 0.1})
    wait_for(lambda: (app.status(job.id, owner_id="u1").progress_done or 0) >= 3)
    workers.kill(first)
    workers.start(**no_retries)
    final = list(app.watch(job.id, owner_id="u1", timeout=120))[-1]
    assert final.status is JobStatus.FAILED
    # Whichever comes first: the recovery pass finds it stale (worker_lost), or its message,
    # handed back by Redis, is claimed once more and refused (attempts_exhausted).
    assert final.error_code in {"worker_lost", "attempts_exhausted"}
    assert final.attempts == (1 if final.error_code == "worker_lost" else 2)  # never a 3rd
    assert [d.job_id for d in app.dead_letters(owner_id="u1")] == [job.id]


def test_fifty_concurrent_submits_for_one_owner_accept_exactly_the_limit(
    make_app: AppFactory, pg_repo: SQLAlchemyRepository
) -> None:
    app = make_app(pg_repo, max_active_jobs_per_owner=5)
    barrier = threading.Barrier(50)
    accepted: list[str] = []
    refused: list[str] = []

    def one(i: int) -> None:
        barrier.wait()
        try:
            accepted.append(app.submit("syncjobs.noop", owner_id="busy", params={}).id)
        except ConcurrencyLimitError:
            refused.append(str(i))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (len(accepted), len(refused)) == (5, 45)
    assert {j.id for j in pg_repo.list_jobs(owner_id="busy", limit=100)} == set(accepted)


def test_an_outdated_schema_is_refused_with_the_command_to_run(
    pg_repo: SQLAlchemyRepository,
) -> None:
    from syncjobs import SchemaOutdatedError

    url = pg_repo.engine.url.render_as_string(hide_password=False)
    with pytest.raises(SchemaOutdatedError, match="syncjobs db upgrade"):
        SQLAlchemyRepository(url, table_prefix="never_upgraded_")


def test_syncjobs_db_upgrade_creates_the_schema(env: dict[str, str]) -> None:
    prefix = env["SYNCJOBS_TABLE_PREFIX"] + "cli_"
    run_env = {**os.environ, **env, "SYNCJOBS_TABLE_PREFIX": prefix}
    cli = [sys.executable, "-m", "syncjobs", "db", "upgrade"]
    first = subprocess.run(cli, env=run_env, capture_output=True, text=True, check=True)
    again = subprocess.run(cli, env=run_env, capture_output=True, text=True, check=True)
    assert "applied revisions: syncjobs_0001" in first.stdout
    assert "up to date" in again.stdout
    repo = SQLAlchemyRepository(env["SYNCJOBS_DATABASE_URL"], table_prefix=prefix)
    try:
        assert repo.list_jobs() == []
    finally:
        drop_schema(repo)
        repo.close()

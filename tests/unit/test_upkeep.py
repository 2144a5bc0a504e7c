"""maintain_jobs and health(): the ledger mends what a dead worker or lost message broke."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from syncjobs import JobStatus
from syncjobs.clock import utcnow
from syncjobs.core.maintenance import recover
from syncjobs.settings import Settings
from syncjobs.storage import InMemoryRepository
from syncjobs.testing.contract import new_job

from ..conftest import AppFactory, run_until_idle


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def repo(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return InMemoryRepository()
    return request.getfixturevalue("pg_repo" if request.param == "postgres" else "sqlite_repo")


def test_a_job_of_a_dead_worker_is_requeued_and_completes(make_app: AppFactory, repo: Any) -> None:
    app = make_app(repo, job_stale_after=30)
    job = app.submit("syncjobs.count", owner_id="u1", params={"to": 2})
    app.broker.flush_all()  # the dead worker took the message with it
    repo.claim_job(job.id, worker_id="dead:1:1", now=utcnow() - timedelta(minutes=5))
    assert app.maintain()["recovered"] == 1
    back = app.status(job.id, owner_id="u1")
    assert (back.status, back.error_code, back.attempts) == (JobStatus.PENDING, "worker_lost", 1)
    run_until_idle(app)
    done = app.status(job.id, owner_id="u1")
    assert done.status is JobStatus.COMPLETED and done.attempts == 2


def test_a_dead_workers_job_out_of_attempts_fails_and_is_dead_lettered(
    make_app: AppFactory, repo: Any
) -> None:
    app = make_app(repo, default_max_retries=0)
    job = app.submit("syncjobs.count", owner_id="u1", params={"to": 2})
    repo.claim_job(job.id, worker_id="dead:1:1", now=utcnow() - timedelta(minutes=5))
    assert app.maintain()["failed"] == 1
    failed = app.status(job.id, owner_id="u1")
    assert (failed.status, failed.error_code) == (JobStatus.FAILED, "worker_lost")
    assert [d.job_id for d in app.dead_letters()] == [job.id]


def test_a_pending_job_whose_message_was_lost_is_sent_again(
    make_app: AppFactory, repo: Any
) -> None:
    app = make_app(repo, resend_pending_after=60)
    lost, _ = repo.create_job(
        new_job(
            "u1",
            job_type="syncjobs.noop",
            queue="syncjobs",
            params={},
            created_at=utcnow() - timedelta(minutes=10),
        ),
        active_limit=None,
    )
    fresh = app.submit("syncjobs.noop", owner_id="u1")
    result = app.maintain()
    assert result["resent"] == 1
    assert app.maintain()["resent"] == 0  # touched: not sent again at once
    run_until_idle(app)
    assert app.status(lost.id, owner_id="u1").status is JobStatus.COMPLETED
    assert app.status(fresh.id, owner_id="u1").status is JobStatus.COMPLETED


def test_expired_jobs_fail_and_old_finished_jobs_are_purged(
    make_app: AppFactory, repo: Any
) -> None:
    app = make_app(repo)
    doomed, _ = repo.create_job(
        new_job("u1", expires_at=utcnow() - timedelta(seconds=1)), active_limit=None
    )
    old, _ = repo.create_job(new_job("u1"), active_limit=None)
    repo.claim_job(old.id, worker_id="w", now=utcnow())
    repo.finish_job(old.id, status=JobStatus.COMPLETED, now=utcnow() - timedelta(days=8))
    result = app.maintain()
    assert (result["expired"], result["purged"]) == (1, 1)
    assert app.status(doomed.id, owner_id="u1").error_code == "expired"
    assert repo.get_job(old.id) is None


def test_a_duplicate_message_never_runs_a_job_twice(
    make_app: AppFactory, test_registry: Any
) -> None:
    from pydantic import BaseModel

    from syncjobs.core.registry import job_type

    class P(BaseModel):
        pass

    runs: list[int] = []
    started = threading.Event()

    @job_type("t.slow", params=P, registry=test_registry)
    def slow(ctx: Any, p: P) -> None:
        runs.append(1)
        started.set()
        time.sleep(0.6)

    app = make_app(heartbeat_interval=0.1, job_stale_after=0.3)
    job = app.submit("t.slow", owner_id="u1")
    with app.worker(threads=2):
        assert started.wait(5)
        app.send(job)  # e.g. a re-sent or redelivered message while it runs
        run_until_idle(app)
    assert runs == [1]
    assert app.status(job.id, owner_id="u1").status is JobStatus.COMPLETED


def test_health_needs_recent_worker_and_scheduler_heartbeats(
    make_app: AppFactory, repo: Any
) -> None:
    app = make_app(repo)
    sick = app.health()
    assert not sick.healthy and sick.problems == [
        "no worker heartbeat yet",
        "no scheduler tick yet",
    ]
    app.submit("syncjobs.noop", owner_id="u1")
    app.broker.get_actor("syncjobs.tick").send()
    run_until_idle(app)
    app.submit("syncjobs.count", owner_id="u1", params={"to": 1}, delay=60)
    well = app.health()
    assert well.healthy, well.problems
    assert well.jobs["syncjobs.noop"]["completed"] == 1
    waiting = well.jobs["syncjobs.count"]
    assert waiting["pending"] == 1 and waiting["oldest_pending_age"] is not None
    from syncjobs.core.maintenance import health

    stale = health(app, now=utcnow() + timedelta(hours=1))
    assert not stale.healthy and stale.problems[0].startswith("no worker heartbeat for")


def test_a_job_stuck_past_its_time_limit_is_requeued_even_while_heartbeating(
    make_app: AppFactory, repo: Any
) -> None:
    app = make_app(repo, default_time_limit=60, time_limit_grace=30)
    job = app.submit("syncjobs.count", owner_id="u1", params={"to": 1})
    repo.claim_job(job.id, worker_id="live:1:1", now=utcnow() - timedelta(minutes=5))
    repo.heartbeat("live:1", "worker", job_ids=[job.id], now=utcnow())
    assert app.maintain()["recovered"] == 1
    assert app.status(job.id, owner_id="u1").error_message == (
        "it ran past its time limit; re-queued"
    )


def test_the_recovery_pass_requeues_a_dead_workers_job_and_frees_the_owners_slot(
    make_app: AppFactory, repo: Any
) -> None:
    app = make_app(repo, job_stale_after=30, max_active_jobs_per_owner=1)
    job = app.submit("syncjobs.count", owner_id="u1", params={"to": 2})
    app.broker.flush_all()  # the dead worker took the message with it
    repo.claim_job(job.id, worker_id="dead:1:1", now=utcnow() - timedelta(minutes=5))
    done = recover(app)
    assert (done["recovered"], done["failed"], done["dead_workers"]) == (1, 0, 0)
    assert recover(app)["recovered"] == 0  # nothing stale is left: the pass is idempotent
    run_until_idle(app)
    assert app.status(job.id, owner_id="u1").status is JobStatus.COMPLETED
    # The owner's one active slot is free again.
    assert app.submit("syncjobs.noop", owner_id="u1").status is JobStatus.PENDING


def test_a_live_workers_job_is_left_alone_by_the_recovery_pass(
    make_app: AppFactory, repo: Any
) -> None:
    app = make_app(repo, job_stale_after=30)
    job = app.submit("syncjobs.count", owner_id="u1", params={"to": 2})
    repo.claim_job(job.id, worker_id="alive:1:1", now=utcnow() - timedelta(seconds=5))
    assert recover(app)["recovered"] == 0
    assert app.status(job.id, owner_id="u1").status is JobStatus.PROCESSING


def test_a_duplicate_delivery_is_one_info_line_and_no_warning(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app()
    job = app.submit("syncjobs.count", owner_id="u1", params={"to": 1})
    run_until_idle(app)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        app.send(job)  # a crash's redelivery of a message whose job already finished
        run_until_idle(app)
    done = app.status(job.id, owner_id="u1")
    assert (done.status, done.attempts) == (JobStatus.COMPLETED, 1)
    skipped = [r for r in caplog.records if "delivery skipped" in r.getMessage()]
    assert len(skipped) == 1 and skipped[0].levelno == logging.INFO
    assert job.id in skipped[0].getMessage() and "already completed" in skipped[0].getMessage()
    warned = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING and r.name.startswith(("dramatiq.worker", "syncjobs"))
    ]
    assert warned == []  # Dramatiq's "Message … was skipped." warning included


def test_heartbeat_settings_that_cannot_tell_a_crash_are_refused() -> None:
    with pytest.raises(ValidationError, match=r"SYNCJOBS_JOB_STALE_AFTER .* twice"):
        Settings(heartbeat_interval=20)
    with pytest.raises(ValidationError, match="SYNCJOBS_BROKER_HEARTBEAT_TIMEOUT"):
        Settings(broker_heartbeat_timeout=6)
    defaults = Settings()
    assert defaults.job_stale_after >= 3 * defaults.heartbeat_interval
    assert defaults.broker_heartbeat_timeout >= 3 * defaults.heartbeat_interval

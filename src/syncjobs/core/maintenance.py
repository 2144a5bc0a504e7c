"""Ledger upkeep (``maintain_jobs``), worker heartbeats, and ``health()``.

The ledger is the truth and the broker only carries work, so upkeep mends what the broker or a
worker lost: jobs whose worker died (no heartbeat) go back to pending or fail once out of
attempts; due pending jobs nobody touched for long get their message sent again (Redis flushed
or restarted without persistence); pending jobs past expiry fail; finished jobs past retention
are purged in small batches.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..clock import utcnow
from ..errors import ConfigurationError
from .app import JobApp
from .models import Job, JobStatus
from .redelivery import requeue_dead_workers
from .upkeep.store import UpkeepRepository

__all__ = ["Health", "Heartbeat", "health", "maintain", "recover", "upkeep_store"]

logger = logging.getLogger("syncjobs.upkeep")


def upkeep_store(app: JobApp) -> UpkeepRepository:
    """The app's repository as an upkeep store, or ConfigurationError."""
    repo = app.repository
    if not isinstance(repo, UpkeepRepository):
        raise ConfigurationError("upkeep needs a repository that implements UpkeepRepository")
    return repo


def recover(app: JobApp, now: datetime | None = None) -> dict[str, int]:
    """The fast pass every worker runs at each heartbeat: run again what dead workers held.

    Processing jobs whose worker stopped heartbeating go back to pending (or fail once out
    of attempts), and the broker hands dead workers' unacknowledged messages back to their
    queues. It costs one indexed query and one broker call per queue, whatever the ledger's
    size; returns how many jobs each step touched and how many dead workers were found.
    """
    now = now or utcnow()
    done = _recover_stale(app, now)
    done["dead_workers"] = requeue_dead_workers(app.broker)
    return done


def _recover_stale(app: JobApp, now: datetime) -> dict[str, int]:
    s, repo = app.settings, upkeep_store(app)
    done = {"recovered": 0, "failed": 0, "skipped": 0}
    stale_before = now - timedelta(seconds=s.job_stale_after)
    for job in repo.stale_jobs(stale_before=stale_before, limit=s.upkeep_batch):
        done[_reap(app, job, stale_before, now, "its worker stopped heartbeating")] += 1
    if done["recovered"] or done["failed"]:
        logger.info("recovered the jobs of dead workers: %s", done)
    return done


def maintain(app: JobApp, now: datetime | None = None) -> dict[str, int]:
    """Run one round of upkeep; return how many jobs each step touched."""
    now = now or utcnow()
    s, repo = app.settings, upkeep_store(app)
    done = {**_recover_stale(app, now), "resent": 0, "expired": 0, "purged": 0}
    for job in _overdue(app, now):  # heartbeating, but stuck past its time limit
        done[_reap(app, job, now + timedelta(seconds=1), now, "it ran past its time limit")] += 1
    done["expired"] = repo.expire_jobs(now=now, limit=s.upkeep_batch)
    idle_before = now - timedelta(seconds=s.resend_pending_after)
    for job in repo.unsent_jobs(idle_before=idle_before, now=now, limit=s.upkeep_batch):
        app.send(job)
        repo.touch_job(job.id, now=now)
        done["resent"] += 1
    done["purged"] = _purge(app, repo, now)
    for hook in list(app.upkeep_hooks):  # the layers above: e.g. expired connect attempts
        try:
            done.update(hook(now))
        except Exception:
            logger.exception("an upkeep hook failed")
    if any(done.values()):
        logger.info("upkeep: %s", done)
    return done


def _reap(app: JobApp, job: Job, stale_before: datetime, now: datetime, why: str) -> str:
    """Re-queue a crashed or stuck job, or fail it once out of attempts; return the outcome."""
    if job.attempts >= job.max_retries + 1:
        failed = app.finish_job(
            job.id,
            status=JobStatus.FAILED,
            now=now,
            error_code="worker_lost",
            error_message=f"{why} after {job.attempts} attempt(s); giving up",
            dead_letter=True,
        )
        return "skipped" if failed is None else "failed"
    back = upkeep_store(app).recover_job(
        job.id,
        stale_before=stale_before,
        run_at=now,
        now=now,
        error_code="worker_lost",
        error_message=f"{why}; re-queued",
    )
    if back is None:
        return "skipped"
    app.send(back)
    return "recovered"


def _overdue(app: JobApp, now: datetime) -> list[Job]:
    """Processing jobs running past their time limit plus grace (stuck on a live worker)."""
    s = app.settings
    found = []
    for job in app.repository.list_jobs(status=JobStatus.PROCESSING, limit=s.upkeep_batch):
        jt = app.registry.find(job.job_type)
        limit = jt.time_limit if jt and jt.time_limit else s.default_time_limit
        if job.started_at is not None and (now - job.started_at).total_seconds() > (
            limit + s.time_limit_grace
        ):
            found.append(job)
    return found


def _purge(app: JobApp, repo: UpkeepRepository, now: datetime) -> int:
    s, total = app.settings, 0
    for _ in range(100):  # small batches, so no lock is held long
        n = repo.purge_jobs(
            finished_before=now - timedelta(days=s.retention_finished_days),
            failed_before=now - timedelta(days=s.retention_failed_days),
            limit=s.upkeep_batch,
        )
        total += n
        if n < s.upkeep_batch:
            break
    return total


class Heartbeat:
    """A worker process's heartbeat thread: it and its running jobs are alive."""

    def __init__(self, app: JobApp) -> None:
        self.app = app
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.running: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, job_id: str) -> None:
        """A job started on this worker."""
        with self._lock:
            self.running.add(job_id)

    def discard(self, job_id: str) -> None:
        """A job ended on this worker."""
        with self._lock:
            self.running.discard(job_id)

    def beat(self) -> None:
        """Record one heartbeat now."""
        repo = self.app.repository
        if not isinstance(repo, UpkeepRepository):
            return
        with self._lock:
            ids = sorted(self.running)
        repo.heartbeat(self.worker, "worker", job_ids=ids, now=utcnow())

    def start(self) -> None:
        """Beat every ``heartbeat_interval`` seconds until stopped."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="syncjobs-heartbeat", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                self.beat()
                if self.app.settings.worker_recovery:
                    recover(self.app)
            except Exception:  # the database may be restarting: beat again later
                logger.warning("heartbeat failed; retrying", exc_info=True)
            if self._stop.wait(self.app.settings.heartbeat_interval):
                return

    def stop(self) -> None:
        """Stop beating."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None


@dataclass(frozen=True)
class Health:
    """What ``syncjobs.health()`` reports."""

    healthy: bool
    problems: list[str]
    worker_seen_at: datetime | None
    scheduler_seen_at: datetime | None
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "healthy": self.healthy,
            "problems": self.problems,
            "worker_seen_at": self.worker_seen_at.isoformat() if self.worker_seen_at else None,
            "scheduler_seen_at": self.scheduler_seen_at.isoformat()
            if self.scheduler_seen_at
            else None,
            "jobs": self.jobs,
        }


def health(app: JobApp, now: datetime | None = None) -> Health:
    """Healthy when a worker heartbeat and a scheduler tick are recent; per-type job counts."""
    now = now or utcnow()
    repo = upkeep_store(app)
    beats = repo.last_heartbeats()
    limit = timedelta(seconds=app.settings.health_max_age)
    problems = []
    for kind, what in (("worker", "no worker heartbeat"), ("scheduler", "no scheduler tick")):
        seen = beats.get(kind)
        if seen is None:
            problems.append(f"{what} yet")
        elif now - seen > limit:
            problems.append(f"{what} for {int((now - seen).total_seconds())}s")
    jobs = {}
    for job_type, counts in sorted(repo.job_counts().items()):
        oldest = counts.pop("oldest_pending_at", None)
        counts["oldest_pending_age"] = round((now - oldest).total_seconds(), 1) if oldest else None
        jobs[job_type] = counts
    return Health(
        healthy=not problems,
        problems=problems,
        worker_seen_at=beats.get("worker"),
        scheduler_seen_at=beats.get("scheduler"),
        jobs=jobs,
    )

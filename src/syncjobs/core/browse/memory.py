"""The job browser in process memory (mixed into ``InMemoryRepository``)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta

from ..models import DeadLetter, Job, JobStatus
from .common import (
    OUTCOMES,
    assign_running,
    bucket_count,
    check_aware,
    check_id,
    check_ids,
    check_limit,
    check_query,
    fill_buckets,
)
from .store import JobQuery, ThroughputBucket, WorkerInfo

__all__ = ["MemoryBrowseMixin"]


def _matches(job: Job, query: JobQuery) -> bool:
    return (
        (query.status is None or job.status is query.status)
        and (query.job_type is None or job.job_type == query.job_type)
        and (query.owner_id is None or job.owner_id == query.owner_id)
        and (query.created_after is None or job.created_at >= query.created_after)
        and (query.created_before is None or job.created_at < query.created_before)
        and (query.after is None or (job.created_at, job.id) < query.after)
    )


class MemoryBrowseMixin:
    """``JobBrowser`` in process memory, over the in-memory ledger and upkeep state.

    Needs ``_lock``, the ledger's ``_jobs`` and ``_dead`` (``MemoryLedgerMixin``) and the
    heartbeats' ``_workers`` (``MemoryUpkeepMixin``) in the same object.
    """

    _lock: threading.RLock
    _jobs: dict[str, Job]
    _dead: list[DeadLetter]
    _workers: dict[str, tuple[str, datetime, datetime]]

    def browse_jobs(self, query: JobQuery) -> list[Job]:
        """One page of jobs matching ``query``, newest first by ``(created_at, id)``."""
        check_query(query)
        with self._lock:
            found = [j for j in self._jobs.values() if _matches(j, query)]
            found.sort(key=lambda j: (j.created_at, j.id), reverse=True)
            return copy.deepcopy(found[: query.limit])

    def child_jobs(self, parent_id: str, *, limit: int = 50) -> list[Job]:
        """Jobs whose ``parent_id`` is ``parent_id``, oldest first."""
        check_id(parent_id, "parent_id")
        check_limit(limit)
        with self._lock:
            found = [j for j in self._jobs.values() if j.parent_id == parent_id]
            found.sort(key=lambda j: (j.created_at, j.id))
            return copy.deepcopy(found[:limit])

    def throughput(
        self, *, since: datetime, until: datetime, bucket_seconds: int
    ) -> list[ThroughputBucket]:
        """Jobs ended in ``[since, until)`` by bucket and outcome; every bucket present."""
        count = bucket_count(since, until, bucket_seconds)
        step = timedelta(seconds=bucket_seconds)
        with self._lock:
            ended = [
                ((j.completed_at - since) // step, j.status.value, 1)
                for j in self._jobs.values()
                if j.status in OUTCOMES
                and j.completed_at is not None
                and since <= j.completed_at < until
            ]
        return fill_buckets(since, bucket_seconds, count, ended)

    def workers(self, *, seen_after: datetime) -> list[WorkerInfo]:
        """Workers and the scheduler heard from since ``seen_after``, newest first."""
        check_aware(seen_after, "seen_after")
        with self._lock:
            found = [
                WorkerInfo(id=wid, kind=kind, started_at=started, seen_at=seen)
                for wid, (kind, started, seen) in self._workers.items()
                if seen >= seen_after
            ]
            running = [
                (j.id, j.worker_id)
                for j in self._jobs.values()
                if j.status is JobStatus.PROCESSING and j.worker_id is not None
            ]
        found.sort(key=lambda w: w.id)
        found.sort(key=lambda w: w.seen_at, reverse=True)
        return assign_running(found, running)

    def dead_letter_count(self) -> int:
        """How many dead letters there are."""
        with self._lock:
            return len(self._dead)

    def discard_dead_letters(self, job_ids: Sequence[str]) -> int:
        """Delete the dead letters of ``job_ids`` (the jobs stay failed); return how many."""
        doomed = set(check_ids(job_ids))
        with self._lock:
            kept = [d for d in self._dead if d.job_id not in doomed]
            gone = len(self._dead) - len(kept)
            self._dead[:] = kept
            return gone

"""The upkeep protocol: what keeps the ledger healthy (heartbeats, schedules, job upkeep).

Hosts implement it (``typing.Protocol``), never subclass it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ..models import Job, JobStatus

__all__ = ["UpkeepRepository", "empty_job_counts"]


def empty_job_counts() -> dict[str, Any]:
    """One job type's entry of ``job_counts`` before anything is counted."""
    counts: dict[str, Any] = {s.value: 0 for s in JobStatus}
    counts.update(dead_lettered=0, oldest_pending_at=None)
    return counts


@runtime_checkable
class UpkeepRepository(Protocol):
    """What keeps the ledger healthy: heartbeats, the schedule ledger, and job upkeep."""

    def heartbeat(
        self, worker_id: str, kind: str, *, job_ids: Sequence[str], now: datetime
    ) -> None:
        """Record that a worker (or the scheduler) is alive, and so are its running jobs."""
        ...

    def last_heartbeats(self) -> dict[str, datetime]:
        """The latest heartbeat of each kind ("worker", "scheduler")."""
        ...

    def schedule_slot(self, name: str) -> datetime | None:
        """The last slot fired of a schedule, or None if it never ran."""
        ...

    def claim_schedule_slot(
        self, name: str, *, previous: datetime | None, slot: datetime, now: datetime
    ) -> bool:
        """Move a schedule's last slot from ``previous`` to ``slot``; False if another won."""
        ...

    def stale_jobs(self, *, stale_before: datetime, limit: int) -> list[Job]:
        """Processing jobs whose worker has not heartbeaten since ``stale_before``."""
        ...

    def recover_job(
        self,
        job_id: str,
        *,
        stale_before: datetime,
        run_at: datetime,
        now: datetime,
        error_code: str,
        error_message: str,
    ) -> Job | None:
        """Put a stale processing job back to pending (its crashed attempt stays counted)."""
        ...

    def unsent_jobs(self, *, idle_before: datetime, now: datetime, limit: int) -> list[Job]:
        """Pending jobs due but untouched since ``idle_before``: their message may be lost."""
        ...

    def touch_job(self, job_id: str, *, now: datetime) -> None:
        """Note that a pending job's message was (re)sent."""
        ...

    def expire_jobs(self, *, now: datetime, limit: int) -> int:
        """Fail pending jobs past ``expires_at``; return how many."""
        ...

    def purge_jobs(self, *, finished_before: datetime, failed_before: datetime, limit: int) -> int:
        """Delete finished jobs (and their log lines and dead letters) past retention."""
        ...

    def job_counts(self) -> dict[str, dict[str, Any]]:
        """Per job type: counts by status, dead letters, oldest pending creation time."""
        ...

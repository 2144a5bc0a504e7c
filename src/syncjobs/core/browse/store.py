"""The job browser's protocol: every owner's jobs, page by page, and what runs them.

Hosts implement it (``typing.Protocol``), never subclass it. Pages are keyset-paginated on
``(created_at, id)`` so the millionth row costs what the first does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from ..models import Job, JobStatus

__all__ = ["JobBrowser", "JobQuery", "ThroughputBucket", "WorkerInfo"]


@dataclass(frozen=True)
class JobQuery:
    """Which jobs a page shows: filters, the keyset cursor, and the page size."""

    status: JobStatus | None = None
    job_type: str | None = None
    owner_id: str | None = None
    #: Created at or after this time.
    created_after: datetime | None = None
    #: Created strictly before this time.
    created_before: datetime | None = None
    #: The ``(created_at, id)`` of the previous page's last row: the page starts after it.
    after: tuple[datetime, str] | None = None
    limit: int = 50


@dataclass(frozen=True)
class ThroughputBucket:
    """Jobs that ended in one time bucket ``[start, start + bucket)``, by outcome."""

    start: datetime
    completed: int = 0
    failed: int = 0
    cancelled: int = 0


@dataclass(frozen=True)
class WorkerInfo:
    """One worker process (or the scheduler) as its heartbeats recorded it."""

    #: ``host:pid`` for a worker process, ``scheduler`` for the scheduler.
    id: str
    kind: str
    started_at: datetime
    seen_at: datetime
    #: Ids of the jobs processing on it now (their ``worker_id`` starts with ``id + ":"``).
    running: list[str] = field(default_factory=list)

    @property
    def host(self) -> str:
        """The host name part of the id."""
        return self.id.rsplit(":", 1)[0] if ":" in self.id else self.id

    @property
    def pid(self) -> int | None:
        """The process id part of the id, when it has one."""
        tail = self.id.rsplit(":", 1)[-1]
        return int(tail) if ":" in self.id and tail.isdigit() else None


@runtime_checkable
class JobBrowser(Protocol):
    """Every owner's jobs and dead letters, throughput, and the workers running them."""

    def browse_jobs(self, query: JobQuery) -> list[Job]:
        """One page of jobs matching ``query``, newest first by ``(created_at, id)``."""
        ...

    def child_jobs(self, parent_id: str, *, limit: int = 50) -> list[Job]:
        """Jobs whose ``parent_id`` is ``parent_id`` (follow-ups), oldest first."""
        ...

    def throughput(
        self, *, since: datetime, until: datetime, bucket_seconds: int
    ) -> list[ThroughputBucket]:
        """Jobs ended in ``[since, until)`` by bucket; every bucket present, oldest first."""
        ...

    def workers(self, *, seen_after: datetime) -> list[WorkerInfo]:
        """Workers and the scheduler heard from since ``seen_after``, newest first."""
        ...

    def dead_letter_count(self) -> int:
        """How many dead letters there are."""
        ...

    def discard_dead_letters(self, job_ids: Sequence[str]) -> int:
        """Delete the dead letters of ``job_ids`` (the jobs stay failed); return how many."""
        ...

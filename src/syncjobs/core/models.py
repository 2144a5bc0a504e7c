"""The job core's records: jobs, their statuses, log lines and dead letters."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..clock import utcnow

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "Claim",
    "DeadLetter",
    "Finish",
    "Job",
    "JobStatus",
    "LogLine",
    "NewJob",
    "iso",
    "utcnow",
]


class JobStatus(enum.StrEnum):
    """Where a job is in its life: pending → processing → completed | failed | cancelled."""

    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        """True for completed, failed and cancelled."""
        return self in TERMINAL_STATUSES


ACTIVE_STATUSES = frozenset({JobStatus.PENDING, JobStatus.PROCESSING})

TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})


@dataclass(frozen=True)
class NewJob:
    """A job about to be inserted into the ledger."""

    id: str
    owner_id: str
    job_type: str
    queue: str
    priority: int
    params: dict[str, Any]
    max_retries: int
    created_at: datetime
    scheduled_for: datetime | None = None
    expires_at: datetime | None = None
    idempotency_key: str | None = None
    parent_id: str | None = None


@dataclass(frozen=True)
class Claim:
    """One claim: a job taken by a worker thread, as ``JobStore.claim_job`` takes it."""

    job_id: str
    worker_id: str
    now: datetime
    stale_before: datetime | None = None


@dataclass(frozen=True)
class Finish:
    """One terminal write: a job's end, as ``JobStore.finish_job`` takes it."""

    job_id: str
    status: JobStatus
    now: datetime
    result: Any = None
    error_code: str | None = None
    error_message: str | None = None
    dead_letter: bool = False


@dataclass(frozen=True)
class Job:
    """A snapshot of one job's ledger row."""

    id: str
    owner_id: str
    job_type: str
    queue: str
    priority: int
    params: dict[str, Any]
    status: JobStatus
    created_at: datetime
    updated_at: datetime
    max_retries: int = 3
    retry_count: int = 0
    attempts: int = 0
    progress_percent: float = 0.0
    progress_done: int | None = None
    progress_total: int | None = None
    progress_message: str | None = None
    result: Any = None
    error_code: str | None = None
    error_message: str | None = None
    worker_id: str | None = None
    scheduled_for: datetime | None = None
    expires_at: datetime | None = None
    idempotency_key: str | None = None
    parent_id: str | None = None
    cancel_requested: bool = False
    checkpoint: Any = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    heartbeat_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        """True once the job is completed, failed or cancelled."""
        return self.status.is_terminal

    @property
    def progress_indeterminate(self) -> bool:
        """True while the job runs without a known total: there is no percent to show."""
        return self.status is JobStatus.PROCESSING and self.progress_total is None

    def eta_seconds(self, now: datetime | None = None) -> float | None:
        """Seconds left at the rate progress has been made since the job started, if known."""
        if self.status is not JobStatus.PROCESSING or self.started_at is None:
            return None
        done, total = self.progress_done, self.progress_total
        if not done or not total or done >= total:
            return 0.0 if done and total and done >= total else None
        elapsed = ((now or utcnow()) - self.started_at).total_seconds()
        if elapsed <= 0:
            return None
        return round((total - done) * elapsed / done, 1)

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        """A JSON-ready view: what a status endpoint returns."""
        return {
            "id": self.id,
            "job_type": self.job_type,
            "status": self.status.value,
            "progress_percent": None if self.progress_indeterminate else self.progress_percent,
            "progress_done": self.progress_done,
            "progress_total": self.progress_total,
            "progress_message": self.progress_message,
            "eta_seconds": self.eta_seconds(now),
            "result": self.result,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "retry_count": self.retry_count,
            "attempts": self.attempts,
            "max_retries": self.max_retries,
            "priority": self.priority,
            "parent_id": self.parent_id,
            "scheduled_for": iso(self.scheduled_for),
            "created_at": iso(self.created_at),
            "started_at": iso(self.started_at),
            "completed_at": iso(self.completed_at),
            "updated_at": iso(self.updated_at),
        }


def iso(value: datetime | None) -> str | None:
    """An ISO 8601 string of ``value``, or None."""
    return value.isoformat() if value is not None else None


@dataclass(frozen=True)
class LogLine:
    """One timestamped line a job logged."""

    id: int
    job_id: str
    at: datetime
    level: str
    message: str


@dataclass(frozen=True)
class DeadLetter:
    """A job that failed for good, with the params and error it failed with."""

    id: int
    job_id: str
    owner_id: str
    job_type: str
    params: dict[str, Any]
    error_code: str | None
    error_message: str | None
    attempts: int
    failed_at: datetime
    extra: dict[str, Any] = field(default_factory=dict)

"""What every job browser shares: argument checks, throughput buckets, workers' jobs."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from ...errors import InvalidInputError
from ..models import JobStatus
from .store import JobQuery, ThroughputBucket, WorkerInfo

__all__ = [
    "MAX_BUCKETS",
    "MAX_LIMIT",
    "OUTCOMES",
    "assign_running",
    "bucket_count",
    "check_aware",
    "check_id",
    "check_ids",
    "check_limit",
    "check_query",
    "fill_buckets",
]

#: The largest page a browser returns.
MAX_LIMIT = 1000
#: The most buckets one throughput call returns.
MAX_BUCKETS = 10_000
#: The statuses a job ends in, which throughput counts.
OUTCOMES = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED)


def check_limit(limit: object, name: str = "limit") -> int:
    """A page size in [1, MAX_LIMIT]."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError(f"{name} must be an integer between 1 and {MAX_LIMIT}")
    return limit


def check_id(value: object, name: str) -> str:
    """A non-empty id string."""
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{name} must be a non-empty string")
    return value


def check_ids(ids: object, name: str = "job_ids") -> list[str]:
    """A list of id strings (a lone string is refused, not read as its characters)."""
    if isinstance(ids, str | bytes) or not isinstance(ids, Iterable):
        raise InvalidInputError(f"{name} must be a sequence of ids, not {type(ids).__name__}")
    found = list(ids)
    if not all(isinstance(i, str) for i in found):
        raise InvalidInputError(f"{name} must hold strings")
    return found


def check_aware(value: object, name: str) -> None:
    """Raise ``InvalidInputError`` unless ``value`` is a timezone-aware datetime."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInputError(f"{name} must be a timezone-aware datetime")


def check_query(query: JobQuery) -> JobQuery:
    """``query`` if every field is valid, else an ``InvalidInputError`` naming the field."""
    if not isinstance(query, JobQuery):
        raise InvalidInputError(f"query must be a JobQuery, not {type(query).__name__}")
    check_limit(query.limit)
    if query.status is not None and not isinstance(query.status, JobStatus):
        raise InvalidInputError("status must be a JobStatus")
    for name in ("job_type", "owner_id"):
        value = getattr(query, name)
        if value is not None and (not isinstance(value, str) or not value):
            raise InvalidInputError(f"{name} must be a non-empty string")
    for name in ("created_after", "created_before"):
        if getattr(query, name) is not None:
            check_aware(getattr(query, name), name)
    if query.after is not None:
        if not isinstance(query.after, tuple) or len(query.after) != 2:
            raise InvalidInputError("after must be a (created_at, id) pair")
        check_aware(query.after[0], "after's created_at")
        if not isinstance(query.after[1], str):
            raise InvalidInputError("after's id must be a string")
    return query


def bucket_count(since: datetime, until: datetime, bucket_seconds: int) -> int:
    """How many buckets of ``bucket_seconds`` cover ``[since, until)``; checks the arguments."""
    check_aware(since, "since")
    check_aware(until, "until")
    if isinstance(bucket_seconds, bool) or not isinstance(bucket_seconds, int):
        raise InvalidInputError("bucket_seconds must be an integer")
    if bucket_seconds < 1:
        raise InvalidInputError("bucket_seconds must be at least 1")
    if until <= since:
        raise InvalidInputError("until must be after since")
    count = math.ceil((until - since) / timedelta(seconds=bucket_seconds))
    if count > MAX_BUCKETS:
        raise InvalidInputError(f"at most {MAX_BUCKETS} buckets: use larger buckets")
    return count


def fill_buckets(
    since: datetime,
    bucket_seconds: int,
    count: int,
    counts: Iterable[tuple[int, str, int]],
) -> list[ThroughputBucket]:
    """Every bucket from ``since``, oldest first, from ``(bucket index, status, n)`` rows."""
    found: dict[int, dict[str, int]] = {}
    outcomes = {s.value for s in OUTCOMES}
    for index, status, n in counts:
        if 0 <= index < count and status in outcomes:
            entry = found.setdefault(index, {})
            entry[status] = entry.get(status, 0) + n
    step = timedelta(seconds=bucket_seconds)
    return [
        ThroughputBucket(
            start=since + i * step,
            completed=found.get(i, {}).get(JobStatus.COMPLETED.value, 0),
            failed=found.get(i, {}).get(JobStatus.FAILED.value, 0),
            cancelled=found.get(i, {}).get(JobStatus.CANCELLED.value, 0),
        )
        for i in range(count)
    ]


def assign_running(
    workers: list[WorkerInfo], running: Iterable[tuple[str, str]]
) -> list[WorkerInfo]:
    """``workers`` with the ids of ``(job id, job worker_id)`` pairs running on each.

    A job runs on worker ``w`` when its ``worker_id`` starts with ``w.id + ":"``.
    """
    by_id: Mapping[str, WorkerInfo] = {w.id: w for w in workers}
    for job_id, job_worker in sorted(running):
        cut = job_worker.find(":")
        while cut != -1:
            owner = by_id.get(job_worker[:cut])
            if owner is not None:
                owner.running.append(job_id)
            cut = job_worker.find(":", cut + 1)
    return workers

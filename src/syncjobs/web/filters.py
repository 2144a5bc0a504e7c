"""The list pages' GET filters and keyset cursors, read from the query string with clear errors."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from starlette.datastructures import QueryParams

from ..connections.browse import AccountQuery
from ..connections.models import AccountState
from ..core.browse import JobQuery
from ..core.models import Job, JobStatus
from ..errors import InvalidInputError

__all__ = [
    "account_query",
    "job_cursor",
    "job_query",
    "parse_cursor",
    "parse_moment",
]

_TEXT = re.compile(r"^[\w.@:+/ -]{1,255}$")


def _text(params: QueryParams, name: str) -> str | None:
    value = params.get(name, "").strip()
    if not value:
        return None
    if not _TEXT.match(value):
        raise InvalidInputError(f"{name}: {value[:80]!r} is not a valid value")
    return value


def parse_moment(value: str, name: str, *, end: bool = False) -> datetime:
    """A ``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:MM[:SS]`` in UTC; a bare day ``end`` is its next day."""
    text = value.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInputError(
            f"{name}: {text[:40]!r} is not a date (YYYY-MM-DD) or a time (YYYY-MM-DDTHH:MM)"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def job_cursor(job: Job) -> str:
    """The keyset cursor that starts the page after ``job``."""
    return f"{job.created_at.isoformat()}|{job.id}"


def parse_cursor(value: str) -> tuple[datetime, str]:
    """The ``(created_at, id)`` of a ``job_cursor``, or InvalidInputError."""
    at, sep, job_id = value.partition("|")
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        moment = None
    if not sep or moment is None or not job_id or len(job_id) > 64:
        raise InvalidInputError(f"after: {value[:80]!r} is not a page cursor")
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)), job_id


def job_query(params: QueryParams, *, limit: int) -> JobQuery:
    """The ``JobQuery`` of the jobs page's filters (one more row than shown, to know of more)."""
    raw_status = params.get("status", "").strip()
    try:
        status = JobStatus(raw_status) if raw_status else None
    except ValueError:
        raise InvalidInputError(
            f"status: {raw_status[:40]!r} is not one of {', '.join(s.value for s in JobStatus)}"
        ) from None
    start, until = params.get("created_from", ""), params.get("created_to", "")
    after = params.get("after", "")
    query = JobQuery(
        status=status,
        job_type=_text(params, "type"),
        owner_id=_text(params, "owner"),
        created_after=parse_moment(start, "created from") if start.strip() else None,
        created_before=parse_moment(until, "created to", end=True) if until.strip() else None,
        after=parse_cursor(after) if after else None,
        limit=limit + 1,
    )
    if query.created_after and query.created_before and query.created_after >= query.created_before:
        raise InvalidInputError("created from must be before created to")
    return query


def account_query(params: QueryParams, *, limit: int) -> AccountQuery:
    """The ``AccountQuery`` of the accounts page's filters (one more row than shown)."""
    raw_state = params.get("state", "").strip()
    try:
        state = AccountState(raw_state) if raw_state else None
    except ValueError:
        raise InvalidInputError(
            f"state: {raw_state[:40]!r} is not one of {', '.join(s.value for s in AccountState)}"
        ) from None
    return AccountQuery(
        provider=_text(params, "provider"),
        owner_id=_text(params, "owner"),
        state=state,
        after_id=_text(params, "after"),
        limit=limit + 1,
    )

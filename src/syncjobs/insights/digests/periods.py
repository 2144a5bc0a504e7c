"""The periods digests report: whole days of the owner's own calendar.

A digest sent on a local day covers the owner's previous local day (daily) or the seven local
days before it (weekly), from local midnight to local midnight. A local day is 23 or 25 hours
long across a daylight-saving change, so the bounds are computed in the owner's zone and
turned into UTC instants, never by adding 24 hours to a UTC time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DigestPeriod", "digest_period", "local_day_bounds", "owner_zone"]


def owner_zone(name: str | None) -> ZoneInfo:
    """The owner's zone; UTC when the name is empty or unknown."""
    try:
        return ZoneInfo(name) if name else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_day_bounds(first: date, zone: ZoneInfo, *, days: int = 1) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC of ``days`` local days from ``first``'s midnight in ``zone``.

    A midnight that a daylight-saving jump skips starts the day at the jump.
    """
    start = datetime.combine(first, time(0), tzinfo=zone)
    end = datetime.combine(first + timedelta(days=days), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


@dataclass(frozen=True)
class DigestPeriod:
    """The local days one digest covers, and the key it is claimed under."""

    #: ``YYYY-MM-DD`` (daily) or ``YYYY-Www`` (weekly) of the local day it is sent on.
    key: str
    #: The first local day covered and how many.
    first_day: date
    days: int
    #: The covered days' bounds in UTC: ``[since, until)``.
    since: datetime
    until: datetime

    @property
    def label(self) -> str:
        """The covered day (daily) or ``first to last`` day (weekly), for people."""
        if self.days == 1:
            return self.first_day.isoformat()
        last = self.first_day + timedelta(days=self.days - 1)
        return f"{self.first_day.isoformat()} to {last.isoformat()}"


def digest_period(
    now: datetime, zone: ZoneInfo, *, weekly: bool, hour: int, weekday: int
) -> DigestPeriod | None:
    """The period of the digest due at ``now`` in ``zone``, or None when none is due.

    Due from ``hour`` o'clock local time (weekly ones on ``weekday``, 0 = Monday).
    """
    local = now.astimezone(zone)
    if local.hour < hour or (weekly and local.weekday() != weekday):
        return None
    today = local.date()
    if weekly:
        iso = local.isocalendar()
        key, days = f"{iso.year}-W{iso.week:02d}", 7
    else:
        key, days = today.isoformat(), 1
    first = today - timedelta(days=days)
    since, until = local_day_bounds(first, zone, days=days)
    return DigestPeriod(key=key, first_day=first, days=days, since=since, until=until)

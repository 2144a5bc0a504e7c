"""Short human forms for tables: relative times ("3m ago", "in 5m") and plain stamps."""

from __future__ import annotations

from datetime import datetime

from ..clock import utcnow
from ..core.models import Job

__all__ = ["ago", "span", "stamp"]


def span(seconds: float) -> str:
    """A duration in its largest whole unit: ``45s``, ``3m``, ``5h``, ``12d``."""
    s = abs(seconds)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "m")):
        if s >= size:
            return f"{int(s // size)}{unit}"
    return f"{int(s)}s"


def ago(at: datetime | None, now: datetime | None = None, *, none: str = "—") -> str:
    """``at`` relative to now: ``3m ago``, ``in 5m``, ``now``; ``none`` when there is none."""
    if at is None:
        return none
    seconds = (at - (now or utcnow())).total_seconds()
    if abs(seconds) < 1:
        return "now"
    return f"in {span(seconds)}" if seconds > 0 else f"{span(seconds)} ago"


def stamp(at: datetime, now: datetime | None = None) -> str:
    """An absolute UTC time to the second, then how long ago: ``2026-12-01 07:38:51 (3m ago)``."""
    return f"{at:%Y-%m-%d %H:%M:%S} ({ago(at, now)})"


def percent(job: Job) -> str:
    """A job's progress as a percent, or its count so far when the total is unknown."""
    if job.progress_indeterminate:
        return f"{job.progress_done or 0}/?"
    return f"{job.progress_percent:.0f}%"


def bar_total(job: Job) -> float | None:
    """The total a Rich bar should have: 100, or None (a pulsing bar) without a known total."""
    return None if job.progress_indeterminate else 100

"""``aggregate_usage``: per-owner usage, rolled up by hour, day, week and month (UTC)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from ...clock import utcnow
from ...core.context import JobContext
from ...core.middleware import describe
from ...core.registry import job_type
from ...errors import RetriableError
from ..models import UsageEvent, UsagePeriod, UsageRecord
from ..service import Insights

__all__ = ["UsageParams", "aggregate_usage", "bucket_start", "rollup"]

_COUNTERS = ("items_analysed", "ai_calls", "tokens", "api_calls", "quota_units")


class UsageParams(BaseModel):
    """Which days to recompute: ``days`` back from ``until`` (default: today, UTC)."""

    days: int | None = Field(default=None, ge=1, le=400)
    until: date | None = None


def bucket_start(at: datetime, period: UsagePeriod) -> datetime:
    """The UTC start of the bucket ``at`` falls in (weeks start on Monday)."""
    at = at.astimezone(UTC)
    if period is UsagePeriod.HOUR:
        return at.replace(minute=0, second=0, microsecond=0)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if period is UsagePeriod.DAY:
        return day
    if period is UsagePeriod.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def _bucket_end(start: datetime, period: UsagePeriod) -> datetime:
    if period is UsagePeriod.HOUR:
        return start + timedelta(hours=1)
    if period is UsagePeriod.DAY:
        return start + timedelta(days=1)
    if period is UsagePeriod.WEEK:
        return start + timedelta(days=7)
    return (start + timedelta(days=32)).replace(day=1)


def rollup(
    rows: Iterable[UsageEvent | UsageRecord], period: UsagePeriod, estimate: int
) -> list[UsageRecord]:
    """Sum events (or finer records) per owner and bucket.

    An event whose analyzer reported no tokens counts ``estimate`` tokens per item analysed.
    """
    sums: dict[tuple[str, datetime], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(_COUNTERS, 0)
    )
    for row in rows:
        at = row.at if isinstance(row, UsageEvent) else row.period_start
        acc = sums[(row.owner_id, bucket_start(at, period))]
        tokens = row.tokens
        if tokens is None:
            tokens = estimate * max(1, row.items_analysed)
        acc["tokens"] += tokens
        for name in ("items_analysed", "ai_calls", "api_calls", "quota_units"):
            acc[name] += getattr(row, name)
    return [
        UsageRecord(owner_id=owner, period=period, period_start=start, **values)
        for (owner, start), values in sorted(sums.items())
    ]


@job_type(
    "aggregate_usage", params=UsageParams, queue="syncjobs", schedule="0 1 * * *", time_limit=3600
)
def aggregate_usage(ctx: JobContext, params: UsageParams) -> dict[str, Any]:
    """Recompute hourly and daily usage of the last days, then their weeks and months."""
    return UsageAggregation(ctx, params).run()


class UsageAggregation:
    """One run of ``aggregate_usage``: four rollups, each recorded as a rollup run."""

    def __init__(self, ctx: JobContext, params: UsageParams) -> None:
        self.ctx, self.insights = ctx, Insights.of(ctx.app).repository
        s = ctx.app.settings
        self.estimate = s.estimated_tokens_per_item
        end_day = params.until or utcnow().date()
        self.end = datetime(end_day.year, end_day.month, end_day.day, tzinfo=UTC) + timedelta(
            days=1
        )
        self.start = self.end - timedelta(days=params.days or s.usage_lookback_days)
        self._events: list[UsageEvent] | None = None
        self.result: dict[str, Any] = {
            "window_start": self.start.isoformat(),
            "window_end": self.end.isoformat(),
            "errors": 0,
        }

    def run(self) -> dict[str, Any]:
        """Run the hour, day, week and month rollups in order; fail at the end on errors."""
        steps: list[tuple[UsagePeriod, Callable[[], tuple[int, int]]]] = [
            (UsagePeriod.HOUR, lambda: self._from_events(UsagePeriod.HOUR)),
            (UsagePeriod.DAY, lambda: self._from_events(UsagePeriod.DAY)),
            (UsagePeriod.WEEK, lambda: self._from_days(UsagePeriod.WEEK)),
            (UsagePeriod.MONTH, lambda: self._from_days(UsagePeriod.MONTH)),
        ]
        for done, (period, step) in enumerate(steps):
            self.ctx.check_cancelled()
            self._recorded(period, step)
            self.ctx.progress(done + 1, len(steps), f"{period.value} rollup done")
        if self.result["errors"]:
            raise RetriableError(f"{self.result['errors']} usage rollup(s) failed; see the log")
        return self.result

    def _recorded(self, period: UsagePeriod, step: Callable[[], tuple[int, int]]) -> None:
        started, clock = utcnow(), time.perf_counter()
        processed = written = errors = 0
        try:
            processed, written = step()
        except Exception as exc:
            errors = 1
            code, message = describe(exc)
            self.ctx.log(f"{period.value} rollup failed: {code}: {message}", level="error")
        start, end = self._window(period)
        self.insights.record_rollup_run(
            period=period,
            window_start=start,
            window_end=end,
            started_at=started,
            duration_ms=int((time.perf_counter() - clock) * 1000),
            records=processed,
            errors=errors,
            job_id=self.ctx.job_id,
        )
        self.result[period.value] = {"processed": processed, "written": written}
        self.result["errors"] += errors

    def _window(self, period: UsagePeriod) -> tuple[datetime, datetime]:
        if period in (UsagePeriod.HOUR, UsagePeriod.DAY):
            return self.start, self.end
        last = self.end - timedelta(microseconds=1)
        return bucket_start(self.start, period), _bucket_end(bucket_start(last, period), period)

    def _from_events(self, period: UsagePeriod) -> tuple[int, int]:
        if self._events is None:  # read once for the hour and the day rollups
            self._events = self.insights.usage_events(start=self.start, end=self.end)
        events = self._events
        records = rollup(events, period, self.estimate)
        self.insights.save_usage(records, now=utcnow())
        return len(events), len(records)

    def _from_days(self, period: UsagePeriod) -> tuple[int, int]:
        start, end = self._window(period)
        days = self.insights.list_usage(period=UsagePeriod.DAY, start=start, end=end)
        records = rollup(days, period, self.estimate)
        self.insights.save_usage(records, now=utcnow())
        return len(days), len(records)

"""Usage events, usage records and rollup runs in process memory (a mixin of
InMemoryRepository)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

from ..memory_state import MemoryInsightsState
from ..models import RollupRun, UsageEvent, UsagePeriod, UsageRecord
from .browse import ProviderUsageDay
from .browse_common import check_window

__all__ = ["MemoryUsage"]


class MemoryUsage(MemoryInsightsState):
    """UsageStore on the shared in-memory state (analyses count as usage events)."""

    def record_provider_usage(
        self,
        *,
        owner_id: str,
        account_id: str,
        provider: str,
        job_id: str | None,
        api_calls: int,
        quota_units: int,
        at: datetime,
    ) -> None:
        """Record what one sync cost at the provider."""
        with self._lock:
            self._provider_usage.append(
                (
                    provider,
                    UsageEvent(
                        owner_id=owner_id,
                        at=at,
                        tokens=0,
                        api_calls=api_calls,
                        quota_units=quota_units,
                    ),
                )
            )

    def provider_usage_by_day(self, *, start: datetime, end: datetime) -> list[ProviderUsageDay]:
        """Provider usage in ``[start, end)`` summed by (UTC day, provider), oldest first."""
        check_window(start, end)
        sums: dict[tuple[date, str], tuple[int, int]] = {}
        with self._lock:
            for provider, e in self._provider_usage:
                if start <= e.at < end:
                    key = (e.at.astimezone(UTC).date(), provider)
                    calls, units = sums.get(key, (0, 0))
                    sums[key] = (calls + e.api_calls, units + e.quota_units)
        return [
            ProviderUsageDay(day=day, provider=provider, api_calls=calls, quota_units=units)
            for (day, provider), (calls, units) in sorted(sums.items())
        ]

    def usage_events(self, *, start: datetime, end: datetime) -> list[UsageEvent]:
        """Analyses and provider usage in [start, end)."""
        with self._lock:
            analysed = sorted(
                (a for a in self._analyses.values() if start <= a.analyzed_at < end),
                key=lambda a: (a.analyzed_at, a.item_id),
            )
            synced = sorted(
                (e for _, e in self._provider_usage if start <= e.at < end), key=lambda e: e.at
            )
        return [
            UsageEvent(
                owner_id=a.owner_id,
                at=a.analyzed_at,
                items_analysed=1,
                ai_calls=a.ai_calls,
                tokens=a.tokens,
            )
            for a in analysed
        ] + synced

    def save_usage(self, records: Sequence[UsageRecord], *, now: datetime) -> int:
        """Upsert records on (owner, period, period_start), replacing their values."""
        with self._lock:
            keys = set()
            for record in records:
                key = (record.owner_id, UsagePeriod(record.period), record.period_start)
                self._usage[key] = record
                keys.add(key)
            return len(keys)

    def list_usage(
        self,
        *,
        owner_id: str | None = None,
        period: UsagePeriod,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[UsageRecord]:
        """Records of one period kind starting in [start, end), oldest first."""
        with self._lock:
            found = [
                r
                for r in self._usage.values()
                if r.period == period
                and owner_id in (None, r.owner_id)
                and (start is None or r.period_start >= start)
                and (end is None or r.period_start < end)
            ]
        return sorted(found, key=lambda r: (r.period_start, r.owner_id))

    def record_rollup_run(
        self,
        *,
        period: UsagePeriod,
        window_start: datetime,
        window_end: datetime,
        started_at: datetime,
        duration_ms: int,
        records: int,
        errors: int,
        job_id: str | None,
    ) -> RollupRun:
        """Record one rollup run."""
        with self._lock:
            run = RollupRun(
                id=next(self._ids),
                period=UsagePeriod(period),
                window_start=window_start,
                window_end=window_end,
                started_at=started_at,
                duration_ms=duration_ms,
                records=records,
                errors=errors,
                job_id=job_id,
            )
            self._rollups.append(run)
            return run

    def list_rollup_runs(self, *, limit: int = 50) -> list[RollupRun]:
        """Rollup runs, newest first."""
        with self._lock:
            runs = sorted(self._rollups, key=lambda r: (r.started_at, r.id), reverse=True)
        return runs[:limit]

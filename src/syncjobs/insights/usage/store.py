"""What the usage store keeps: provider usage, usage records and rollup runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from ..models import RollupRun, UsageEvent, UsagePeriod, UsageRecord

__all__ = ["UsageStore"]


@runtime_checkable
class UsageStore(Protocol):
    """Raw usage events (analyses, provider calls), their rollups, and the rollups' runs."""

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
        """Record what one sync cost at the provider (as the provider adapter counted it)."""
        ...

    def usage_events(self, *, start: datetime, end: datetime) -> list[UsageEvent]:
        """Every analysis (one event per item) and provider-usage record in [start, end)."""
        ...

    def save_usage(self, records: Sequence[UsageRecord], *, now: datetime) -> int:
        """Upsert records on (owner, period, period_start), replacing their values."""
        ...

    def list_usage(
        self,
        *,
        owner_id: str | None = None,
        period: UsagePeriod,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[UsageRecord]:
        """Usage records of a period kind with start in [start, end), oldest first."""
        ...

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
        """Record one run of one rollup."""
        ...

    def list_rollup_runs(self, *, limit: int = 50) -> list[RollupRun]:
        """Rollup runs, newest first."""
        ...

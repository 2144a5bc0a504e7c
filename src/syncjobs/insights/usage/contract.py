"""The contract of UsageStore: usage events, records and rollup runs."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ..contract_helpers import (
    ContractRepository,
    account_with_items,
    at,
    claim_batch,
    make_result,
    save_batch,
)
from ..models import UsageEvent, UsagePeriod, UsageRecord
from .store import UsageStore

__all__ = ["UsageStoreContract"]


class UsageStoreContract:
    """Usage events over an exact window, usage records' upserts and filters, rollup runs.

    Provide a ``repository`` fixture returning a fresh, empty repository that implements
    ``AccountRepository`` and ``AnalysisQueueStore`` too (analyses are usage events).
    """

    @pytest.fixture
    def repository(self) -> ContractRepository:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def test_usage_events_cover_the_window_exactly(self, repository: ContractRepository) -> None:
        assert isinstance(repository, UsageStore)
        acc, ids = account_with_items(repository, 3)
        claim_batch(repository)
        save_batch(
            repository,
            make_result(ids[0], acc, minutes=100, tokens=None, ai_calls=0),
            make_result(ids[1], acc, minutes=159.5, tokens=300, ai_calls=2),
            make_result(ids[2], acc, minutes=160),
            at=160,
        )
        for minutes, calls in ((99, 1), (100, 3), (160, 5)):
            repository.record_provider_usage(
                owner_id="owner-1",
                account_id=acc.id,
                provider="youtube",
                job_id=None,
                api_calls=calls,
                quota_units=calls * 100,
                at=at(minutes),
            )
        events = repository.usage_events(start=at(100), end=at(160))
        assert sorted(events, key=lambda e: (e.at, e.items_analysed)) == [
            UsageEvent("owner-1", at(100), api_calls=3, quota_units=300, tokens=0),
            UsageEvent("owner-1", at(100), items_analysed=1, ai_calls=0, tokens=None),
            UsageEvent("owner-1", at(159.5), items_analysed=1, ai_calls=2, tokens=300),
        ]
        assert repository.usage_events(start=at(0), end=at(99)) == []

    def test_save_usage_replaces_values(self, repository: ContractRepository) -> None:
        d0 = datetime(2024, 3, 10, tzinfo=UTC)
        day, hour = UsagePeriod.DAY, UsagePeriod.HOUR
        records = [
            UsageRecord(
                "a",
                day,
                d0,
                items_analysed=5,
                ai_calls=2,
                tokens=1000,
                api_calls=7,
                quota_units=700,
            ),
            UsageRecord("b", day, d0, items_analysed=1),
            UsageRecord("a", hour, d0, items_analysed=5),
        ]
        assert repository.save_usage(records, now=at(1)) == 3
        assert repository.save_usage(records, now=at(2)) == 3  # a re-run changes nothing
        assert repository.list_usage(period=day) == records[:2]
        fixed = dataclasses.replace(records[0], items_analysed=6, tokens=2**40, api_calls=0)
        assert repository.save_usage([fixed], now=at(3)) == 1
        assert repository.list_usage(period=day, owner_id="a") == [fixed]
        assert repository.list_usage(period=hour) == [records[2]]
        assert repository.list_usage(period=UsagePeriod.MONTH) == []
        assert repository.save_usage([], now=at(4)) == 0

    def test_list_usage_filters_by_owner_and_start(self, repository: ContractRepository) -> None:
        d0 = datetime(2024, 3, 10, tzinfo=UTC)
        days = [d0 + timedelta(days=i) for i in range(4)]
        repository.save_usage(
            [
                UsageRecord(owner, UsagePeriod.DAY, d, items_analysed=i)
                for i, d in enumerate(days)
                for owner in ("b", "a")
            ]
            + [UsageRecord("a", UsagePeriod.WEEK, d0, items_analysed=9)],
            now=at(1),
        )

        def keys(**kwargs: Any) -> list[tuple[str, int]]:
            found = repository.list_usage(period=UsagePeriod.DAY, **kwargs)
            return [(r.owner_id, (r.period_start - d0).days) for r in found]

        assert keys(start=days[1], end=days[3]) == [("a", 1), ("b", 1), ("a", 2), ("b", 2)]
        assert keys(owner_id="b", start=days[2]) == [("b", 2), ("b", 3)]
        assert keys(owner_id="a", end=days[1]) == [("a", 0)]
        assert keys(owner_id="c") == []
        [week] = repository.list_usage(period=UsagePeriod.WEEK)
        assert (week.period, week.period_start, week.items_analysed) == (UsagePeriod.WEEK, d0, 9)

    def test_rollup_runs_are_recorded_newest_first(self, repository: ContractRepository) -> None:
        hourly = repository.record_rollup_run(
            period=UsagePeriod.HOUR,
            window_start=at(0),
            window_end=at(60),
            started_at=at(61),
            duration_ms=12,
            records=3,
            errors=0,
            job_id=None,
        )
        daily = repository.record_rollup_run(
            period=UsagePeriod.DAY,
            window_start=at(-1440),
            window_end=at(0),
            started_at=at(62),
            duration_ms=1500,
            records=40,
            errors=1,
            job_id="job-1",
        )
        assert hourly.id != daily.id
        assert (hourly.period, hourly.window_start, hourly.window_end) == (
            UsagePeriod.HOUR,
            at(0),
            at(60),
        )
        assert (daily.records, daily.errors, daily.duration_ms, daily.job_id) == (
            40,
            1,
            1500,
            "job-1",
        )
        assert repository.list_rollup_runs() == [daily, hourly]
        assert repository.list_rollup_runs(limit=1) == [daily]

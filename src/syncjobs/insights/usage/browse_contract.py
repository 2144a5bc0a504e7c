"""The usage browser's contract: provider usage summed by UTC day and provider."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from ...errors import InvalidInputError
from .browse import ProviderUsageDay, UsageBrowser

__all__ = ["UsageBrowserContract"]

_D0 = datetime(2024, 3, 10, tzinfo=UTC)


def _at(hours: float) -> datetime:
    return _D0 + timedelta(hours=hours)


class UsageBrowserContract:
    """``provider_usage_by_day`` over an exact window; provide ``repository``.

    The repository must implement ``UsageStore`` too (it records the provider usage).
    """

    @pytest.fixture
    def repository(self) -> Any:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def _record(
        self, repo: Any, hours: float, provider: str, calls: int, owner: str = "o1"
    ) -> None:
        repo.record_provider_usage(
            owner_id=owner,
            account_id=f"acc-{owner}",
            provider=provider,
            job_id=None,
            api_calls=calls,
            quota_units=calls * 100,
            at=_at(hours),
        )

    def test_usage_sums_by_day_and_provider(self, repository: Any) -> None:
        assert isinstance(repository, UsageBrowser)
        for hours, provider, calls, owner in (
            (-0.5, "youtube", 1000, "o1"),  # before the window
            (0, "youtube", 1, "o1"),
            (3, "youtube", 2, "o2"),
            (23.99, "gmail", 4, "o1"),
            (24, "youtube", 8, "o1"),  # the next UTC day
            (30, "gmail", 16, "o3"),
            (48, "gmail", 2000, "o1"),  # at the end: outside
        ):
            self._record(repository, hours, provider, calls, owner)
        got = repository.provider_usage_by_day(start=_at(0), end=_at(48))
        d0, d1 = date(2024, 3, 10), date(2024, 3, 11)
        assert got == [
            ProviderUsageDay(day=d0, provider="gmail", api_calls=4, quota_units=400),
            ProviderUsageDay(day=d0, provider="youtube", api_calls=3, quota_units=300),
            ProviderUsageDay(day=d1, provider="gmail", api_calls=16, quota_units=1600),
            ProviderUsageDay(day=d1, provider="youtube", api_calls=8, quota_units=800),
        ]
        assert repository.provider_usage_by_day(start=_at(49), end=_at(72)) == []

    def test_days_are_utc_days(self, repository: Any) -> None:
        self._record(repository, 23.5, "youtube", 5)  # 01:30 the next day in CEST
        cest = timezone(timedelta(hours=2))
        got = repository.provider_usage_by_day(
            start=_at(0).astimezone(cest), end=_at(24).astimezone(cest)
        )
        assert [(u.day, u.api_calls) for u in got] == [(date(2024, 3, 10), 5)]

    def test_bad_windows_are_refused(self, repository: Any) -> None:
        with pytest.raises(InvalidInputError):
            repository.provider_usage_by_day(start=_at(1), end=_at(1))
        with pytest.raises(InvalidInputError):
            repository.provider_usage_by_day(start=datetime(2024, 3, 10), end=_at(1))

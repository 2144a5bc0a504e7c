"""Provider usage by day, for the operator's charts (a protocol beside ``UsageStore``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol, runtime_checkable

__all__ = ["ProviderUsageDay", "UsageBrowser"]


@dataclass(frozen=True)
class ProviderUsageDay:
    """What one provider cost on one UTC day: API calls and quota units, over all accounts."""

    day: date
    provider: str
    api_calls: int
    quota_units: int


@runtime_checkable
class UsageBrowser(Protocol):
    """Provider usage summed by UTC day."""

    def provider_usage_by_day(self, *, start: datetime, end: datetime) -> list[ProviderUsageDay]:
        """Usage recorded in ``[start, end)`` by (day, provider), oldest day first."""
        ...

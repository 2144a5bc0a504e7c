"""Provider usage, usage records and rollup runs in SQL (analyses count as usage events)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, cast, func, insert, select

from ...schema.base import SQLMixin
from ..models import RollupRun, UsageEvent, UsagePeriod, UsageRecord
from .browse import ProviderUsageDay
from .browse_common import check_window

__all__ = ["SQLUsageMixin"]

_USAGE_VALUES = ("items_analysed", "ai_calls", "tokens", "api_calls", "quota_units", "updated_at")


class SQLUsageMixin(SQLMixin):
    """UsageStore on SQLAlchemy Core (mixed into SQLAlchemyRepository)."""

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
        with self.engine.begin() as conn:
            conn.execute(
                insert(self.tables.provider_usage).values(
                    owner_id=owner_id,
                    account_id=account_id,
                    provider=provider,
                    job_id=job_id,
                    api_calls=api_calls,
                    quota_units=quota_units,
                    at=at,
                )
            )

    def provider_usage_by_day(self, *, start: datetime, end: datetime) -> list[ProviderUsageDay]:
        """Provider usage in ``[start, end)`` summed by (UTC day, provider) in the database."""
        check_window(start, end)
        pu = self.tables.provider_usage
        # PostgreSQL stores timestamptz (the day is taken in UTC); SQLite stores naive UTC.
        day = (
            cast(func.timezone("UTC", pu.c.at), Date) if self.is_postgres else func.date(pu.c.at)
        ).label("day")
        # No ORDER BY: a hash aggregate, not a sort of every row; the few groups sort here.
        stmt = (
            select(day, pu.c.provider, func.sum(pu.c.api_calls), func.sum(pu.c.quota_units))
            .where(pu.c.at >= start, pu.c.at < end)
            .group_by(day, pu.c.provider)
        )
        with self.engine.connect() as conn:
            found = [
                ProviderUsageDay(
                    day=d if isinstance(d, date) else date.fromisoformat(d),
                    provider=provider,
                    api_calls=int(calls),
                    quota_units=int(units),
                )
                for d, provider, calls, units in conn.execute(stmt)
            ]
        return sorted(found, key=lambda u: (u.day, u.provider))

    def usage_events(self, *, start: datetime, end: datetime) -> list[UsageEvent]:
        """Analyses and provider usage in [start, end)."""
        an, pu = self.tables.analyses, self.tables.provider_usage
        with self.engine.connect() as conn:
            analysed = conn.execute(
                select(an.c.owner_id, an.c.analyzed_at, an.c.ai_calls, an.c.tokens)
                .where(an.c.analyzed_at >= start, an.c.analyzed_at < end)
                .order_by(an.c.analyzed_at, an.c.item_id)
            ).all()
            synced = conn.execute(
                select(pu.c.owner_id, pu.c.at, pu.c.api_calls, pu.c.quota_units)
                .where(pu.c.at >= start, pu.c.at < end)
                .order_by(pu.c.at, pu.c.id)
            ).all()
        return [
            UsageEvent(
                owner_id=owner,
                at=at,
                items_analysed=1,
                ai_calls=int(calls),
                tokens=None if tokens is None else int(tokens),
            )
            for owner, at, calls, tokens in analysed
        ] + [
            UsageEvent(
                owner_id=owner, at=at, tokens=0, api_calls=int(calls), quota_units=int(units)
            )
            for owner, at, calls, units in synced
        ]

    def save_usage(self, records: Sequence[UsageRecord], *, now: datetime) -> int:
        """Upsert records on (owner, period, period_start), replacing their values."""
        rows = {
            (r.owner_id, r.period.value, r.period_start): {
                "owner_id": r.owner_id,
                "period": r.period.value,
                "period_start": r.period_start,
                "items_analysed": r.items_analysed,
                "ai_calls": r.ai_calls,
                "tokens": r.tokens,
                "api_calls": r.api_calls,
                "quota_units": r.quota_units,
                "updated_at": now,
            }
            for r in records
        }
        if rows:
            keys = ["owner_id", "period", "period_start"]
            with self.engine.begin() as conn:
                conn.execute(
                    self._upsert(self.tables.usage, keys, _USAGE_VALUES), list(rows.values())
                )
        return len(rows)

    def list_usage(
        self,
        *,
        owner_id: str | None = None,
        period: UsagePeriod,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[UsageRecord]:
        """Records of one period kind starting in [start, end), oldest first."""
        us = self.tables.usage
        stmt = select(us).where(us.c.period == period.value)
        if owner_id is not None:
            stmt = stmt.where(us.c.owner_id == owner_id)
        if start is not None:
            stmt = stmt.where(us.c.period_start >= start)
        if end is not None:
            stmt = stmt.where(us.c.period_start < end)
        stmt = stmt.order_by(us.c.period_start, us.c.owner_id)
        with self.engine.connect() as conn:
            return [
                UsageRecord(
                    owner_id=r["owner_id"],
                    period=UsagePeriod(r["period"]),
                    period_start=r["period_start"],
                    items_analysed=int(r["items_analysed"]),
                    ai_calls=int(r["ai_calls"]),
                    tokens=int(r["tokens"]),
                    api_calls=int(r["api_calls"]),
                    quota_units=int(r["quota_units"]),
                )
                for r in conn.execute(stmt).mappings()
            ]

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
        rr = self.tables.rollup_runs
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    insert(rr)
                    .values(
                        period=period.value,
                        window_start=window_start,
                        window_end=window_end,
                        started_at=started_at,
                        duration_ms=duration_ms,
                        records=records,
                        errors=errors,
                        job_id=job_id,
                    )
                    .returning(*rr.c)
                )
                .mappings()
                .one()
            )
        return _rollup_run(row)

    def list_rollup_runs(self, *, limit: int = 50) -> list[RollupRun]:
        """Rollup runs, newest first."""
        rr = self.tables.rollup_runs
        stmt = select(rr).order_by(rr.c.started_at.desc(), rr.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_rollup_run(r) for r in conn.execute(stmt).mappings()]


def _rollup_run(row: Any) -> RollupRun:
    return RollupRun(
        id=row["id"],
        period=UsagePeriod(row["period"]),
        window_start=row["window_start"],
        window_end=row["window_end"],
        started_at=row["started_at"],
        duration_ms=row["duration_ms"],
        records=row["records"],
        errors=row["errors"],
        job_id=row["job_id"],
    )

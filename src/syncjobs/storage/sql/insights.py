"""The seed jobs' storage in SQL: the analysis queue and results, preferences, trust scores,
usage, deliveries, circuit breakers, digests and retention (mixed into SQLAlchemyRepository).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    union,
    update,
)

from ...models import (
    Analysis,
    BreakerState,
    ChannelStats,
    Decision,
    Delivery,
    DigestFrequency,
    Notification,
    OwnerActivity,
    Preferences,
    QueuedItem,
    RollupRun,
    TrustScore,
    UsageEvent,
    UsagePeriod,
    UsageRecord,
)
from ._base import SQLMixin

__all__ = ["SQLInsightsMixin"]

QUEUED, ANALYZING, DONE, SKIPPED, FAILED = "queued", "analyzing", "done", "skipped", "failed"
#: Longest analysis error kept.
_ERROR_CHARS = 1000

_ANALYSIS_VALUES = (
    "owner_id",
    "account_id",
    "channel",
    "decision",
    "confidence",
    "tags",
    "analyzer",
    "tokens",
    "ai_calls",
    "duration_ms",
    "analyzed_at",
)
_TRUST_VALUES = (
    "score",
    "videos_analysed",
    "allow",
    "block",
    "review",
    "mean_confidence",
    "updated_at",
)
_USAGE_VALUES = ("items_analysed", "ai_calls", "tokens", "api_calls", "quota_units", "updated_at")
_PREFERENCE_VALUES = (
    "blocked_words",
    "allowed_channels",
    "blocked_channels",
    "viewer_age",
    "timezone",
    "digest",
    "webhook_url",
    "updated_at",
)


class SQLInsightsMixin(SQLMixin):
    """InsightsRepository on SQLAlchemy Core."""

    def _upsert_many(
        self,
        conn: Connection,
        table: Any,
        keys: Sequence[str],
        columns: Sequence[str],
        rows: list[dict[str, Any]],
    ) -> None:
        """Insert ``rows`` (unique on ``keys``), replacing ``columns`` of existing ones."""
        if rows:
            conn.execute(self._upsert(table, keys, columns), rows)

    # -- the analysis queue -----------------------------------------------------------
    def _waiting(self, stale_before: datetime | None) -> Any:
        """Live items to analyse: queued or analyzing, untouched since before ``stale_before``.

        A claim older than that was left by a dead worker; a queued item that failed carries
        its failure time there, so it waits as long before its next attempt.
        """
        it = self.tables.items
        waiting: ColumnElement[bool] = it.c.analysis_state.in_((QUEUED, ANALYZING))
        if stale_before is not None:
            waiting = and_(
                waiting,
                or_(it.c.analysis_claimed_at.is_(None), it.c.analysis_claimed_at < stale_before),
            )
        return and_(it.c.deleted_at.is_(None), waiting)

    def claim_analysis_batch(
        self, *, limit: int, now: datetime, stale_before: datetime
    ) -> list[QueuedItem]:
        """Take the best ``limit`` waiting items and mark them analyzing, in one transaction."""
        if limit <= 0:
            return []
        it, acc = self.tables.items, self.tables.accounts
        channel = func.coalesce(
            func.nullif(it.c.author, ""), func.nullif(acc.c.display_name, ""), acc.c.provider
        )
        stmt = (
            select(
                it.c.id,
                it.c.account_id,
                acc.c.owner_id,
                acc.c.provider,
                it.c.external_id,
                it.c.kind,
                it.c.title,
                it.c.text,
                it.c.author,
                channel.label("channel"),
                it.c.published_at,
                it.c.raw,
                it.c.first_seen_at,
                it.c.analysis_priority,
                it.c.review_flag,
                it.c.analysis_attempts,
            )
            .select_from(it.join(acc, acc.c.id == it.c.account_id))
            .where(self._waiting(stale_before))
            .order_by(
                it.c.review_flag.desc(), it.c.analysis_priority.desc(), it.c.first_seen_at, it.c.id
            )
            .limit(limit)
        )
        if self.is_postgres:
            # Concurrent claimers skip each other's rows instead of waiting for them; a row a
            # claimer committed meanwhile is re-checked against WHERE and dropped. (SQLite
            # serialises writers at BEGIN IMMEDIATE.)
            stmt = stmt.with_for_update(skip_locked=True, of=it)
        with self.engine.begin() as conn:
            rows = conn.execute(stmt).mappings().all()
            if not rows:
                return []
            conn.execute(
                update(it)
                .where(it.c.id.in_([r["id"] for r in rows]))
                .values(
                    analysis_state=ANALYZING,
                    analysis_claimed_at=now,
                )
            )
        return [
            QueuedItem(
                item_id=r["id"],
                account_id=r["account_id"],
                owner_id=r["owner_id"],
                provider=r["provider"],
                external_id=r["external_id"],
                kind=r["kind"],
                title=r["title"],
                text=r["text"],
                author=r["author"],
                channel=r["channel"],
                published_at=r["published_at"],
                raw=r["raw"],
                first_seen_at=r["first_seen_at"],
                priority=r["analysis_priority"],
                review_flag=bool(r["review_flag"]),
                attempts=r["analysis_attempts"],
            )
            for r in rows
        ]

    def analysis_backlog(self) -> int:
        """Live items queued or in analysis (stale or not)."""
        it = self.tables.items
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).select_from(it).where(self._waiting(None))
                ).scalar_one()
            )

    def save_analyses(
        self,
        *,
        results: Sequence[Analysis],
        skipped: Sequence[int] = (),
        failed: Mapping[int, str] | None = None,
        released: Sequence[int] = (),
        max_attempts: int,
        now: datetime,
    ) -> None:
        """Record a batch's results, skips, failures and releases in one transaction."""
        it, an = self.tables.items, self.tables.analyses
        latest = {a.item_id: a for a in results}
        failed = failed or {}
        with self.engine.begin() as conn:
            if latest:
                # An item deleted (with its account) while it was analysed gets no orphan row.
                lock = select(it.c.id).where(it.c.id.in_(list(latest))).order_by(it.c.id)
                if self.is_postgres:
                    # Rows locked in id order; items before analyses, as every deleter does.
                    lock = lock.with_for_update()
                present = {r[0] for r in conn.execute(lock)}
                self._upsert_many(
                    conn,
                    an,
                    ["item_id"],
                    _ANALYSIS_VALUES,
                    [_analysis_values(a) for i, a in latest.items() if i in present],
                )
                if present:
                    conn.execute(
                        update(it)
                        .where(it.c.id.in_(list(present)))
                        .values(
                            analysis_state=DONE,
                            review_flag=False,
                            analysis_error=None,
                            analysis_claimed_at=None,
                        )
                    )
            if skipped:
                conn.execute(
                    update(it)
                    .where(it.c.id.in_(list(skipped)))
                    .values(
                        analysis_state=SKIPPED,
                        review_flag=False,
                        analysis_error=None,
                        analysis_claimed_at=None,
                    )
                )
            if failed:
                conn.execute(
                    update(it)
                    .where(it.c.id == bindparam("b_id"))
                    .values(
                        analysis_attempts=it.c.analysis_attempts + 1,
                        analysis_error=bindparam("b_error"),
                        analysis_claimed_at=now,  # back off: waits like a stale claim
                        analysis_state=case(
                            (it.c.analysis_attempts + 1 < max_attempts, QUEUED), else_=FAILED
                        ),
                    ),
                    [
                        {"b_id": item_id, "b_error": (error or "")[:_ERROR_CHARS]}
                        for item_id, error in failed.items()
                    ],
                )
            if released:
                conn.execute(
                    update(it)
                    .where(it.c.id.in_(list(released)))
                    .values(
                        analysis_state=QUEUED,
                        analysis_claimed_at=None,
                    )
                )

    def queue_for_analysis(
        self, item_ids: Sequence[int], *, priority: int, review_flag: bool, now: datetime
    ) -> int:
        """(Re)queue live items with a priority and review flag."""
        if not item_ids:
            return 0
        it = self.tables.items
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    update(it)
                    .where(it.c.id.in_(list(set(item_ids))), it.c.deleted_at.is_(None))
                    .values(
                        analysis_state=QUEUED,
                        analysis_priority=priority,
                        review_flag=review_flag,
                        analysis_attempts=0,
                        analysis_error=None,
                        analysis_claimed_at=None,
                    )
                ).rowcount
            )

    def get_analysis(self, item_id: int) -> Analysis | None:
        """The latest analysis of an item."""
        an = self.tables.analyses
        with self.engine.connect() as conn:
            row = conn.execute(select(an).where(an.c.item_id == item_id)).mappings().first()
        return _analysis(row) if row is not None else None

    def list_analyses(
        self, *, owner_id: str, decision: str | None = None, limit: int = 100
    ) -> list[Analysis]:
        """An owner's analyses, newest first."""
        an = self.tables.analyses
        stmt = select(an).where(an.c.owner_id == owner_id)
        if decision is not None:
            stmt = stmt.where(an.c.decision == str(decision))
        stmt = stmt.order_by(an.c.analyzed_at.desc(), an.c.item_id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_analysis(r) for r in conn.execute(stmt).mappings()]

    def item_analysis_state(self, item_id: int) -> tuple[str, int, str | None] | None:
        """(state, attempts, last error) of an item."""
        it = self.tables.items
        with self.engine.connect() as conn:
            row = conn.execute(
                select(it.c.analysis_state, it.c.analysis_attempts, it.c.analysis_error).where(
                    it.c.id == item_id
                )
            ).first()
        return (row[0], int(row[1]), row[2]) if row is not None else None

    # -- preferences ------------------------------------------------------------------
    def get_preferences(self, owner_id: str) -> Preferences | None:
        """An owner's preferences."""
        pr = self.tables.preferences
        with self.engine.connect() as conn:
            row = conn.execute(select(pr).where(pr.c.owner_id == owner_id)).mappings().first()
        return _preferences(row) if row is not None else None

    def save_preferences(self, preferences: Preferences, *, now: datetime) -> Preferences:
        """Store (replace) an owner's preferences."""
        saved = preferences.normalised()
        values = {**saved.to_dict(), "updated_at": now}
        with self.engine.begin() as conn:
            self._upsert_many(
                conn, self.tables.preferences, ["owner_id"], _PREFERENCE_VALUES, [values]
            )
        return saved

    # -- trust scores -----------------------------------------------------------------
    def channel_stats(self, *, owner_id: str | None = None) -> list[ChannelStats]:
        """Decision counts and confidence sums per (owner, channel)."""
        an = self.tables.analyses

        def count(decision: Decision) -> Any:
            return func.sum(case((an.c.decision == decision.value, 1), else_=0))

        stmt = (
            select(
                an.c.owner_id,
                an.c.channel,
                count(Decision.ALLOW),
                count(Decision.BLOCK),
                count(Decision.REVIEW),
                func.sum(an.c.confidence),
            )
            .group_by(an.c.owner_id, an.c.channel)
            .order_by(an.c.owner_id, an.c.channel)
        )
        if owner_id is not None:
            stmt = stmt.where(an.c.owner_id == owner_id)
        with self.engine.connect() as conn:
            return [
                ChannelStats(
                    owner_id=owner,
                    channel=channel,
                    allow=int(allow or 0),
                    block=int(block or 0),
                    review=int(review or 0),
                    confidence_sum=int(conf or 0),
                )
                for owner, channel, allow, block, review, conf in conn.execute(stmt)
            ]

    def save_trust_scores(self, scores: Sequence[TrustScore]) -> int:
        """Upsert scores on (owner, channel)."""
        rows = {(s.owner_id, s.channel): dataclasses.asdict(s) for s in scores}
        with self.engine.begin() as conn:
            self._upsert_many(
                conn,
                self.tables.trust_scores,
                ["owner_id", "channel"],
                _TRUST_VALUES,
                list(rows.values()),
            )
        return len(rows)

    def list_trust_scores(self, *, owner_id: str) -> list[TrustScore]:
        """An owner's scores, lowest first."""
        ts = self.tables.trust_scores
        stmt = select(ts).where(ts.c.owner_id == owner_id).order_by(ts.c.score, ts.c.channel)
        with self.engine.connect() as conn:
            return [
                TrustScore(
                    owner_id=r["owner_id"],
                    channel=r["channel"],
                    score=float(r["score"]),
                    videos_analysed=r["videos_analysed"],
                    allow=r["allow"],
                    block=r["block"],
                    review=r["review"],
                    mean_confidence=float(r["mean_confidence"]),
                    updated_at=r["updated_at"],
                )
                for r in conn.execute(stmt).mappings()
            ]

    # -- usage ------------------------------------------------------------------------
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
        with self.engine.begin() as conn:
            self._upsert_many(
                conn,
                self.tables.usage,
                ["owner_id", "period", "period_start"],
                _USAGE_VALUES,
                list(rows.values()),
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

    # -- notifications ----------------------------------------------------------------
    def add_notification(
        self,
        *,
        owner_id: str,
        kind: str,
        title: str,
        body: str,
        data: dict[str, Any],
        now: datetime,
    ) -> Notification:
        """Record an in-app notification."""
        nt = self.tables.notifications
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    insert(nt)
                    .values(
                        owner_id=owner_id,
                        kind=kind,
                        title=title,
                        body=body,
                        data=data,
                        created_at=now,
                    )
                    .returning(*nt.c)
                )
                .mappings()
                .one()
            )
        return _notification(row)

    def list_notifications(self, *, owner_id: str, unread_only: bool = False) -> list[Notification]:
        """Return an owner's notifications, newest first."""
        nt = self.tables.notifications
        stmt = select(nt).where(nt.c.owner_id == owner_id)
        if unread_only:
            stmt = stmt.where(nt.c.read_at.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.order_by(nt.c.created_at.desc(), nt.c.id.desc())).mappings()
            return [_notification(r) for r in rows]

    def get_notification(self, notification_id: int) -> Notification | None:
        """One notification."""
        nt = self.tables.notifications
        with self.engine.connect() as conn:
            row = conn.execute(select(nt).where(nt.c.id == notification_id)).mappings().first()
        return _notification(row) if row is not None else None

    def mark_notifications_read(
        self, owner_id: str, notification_ids: Sequence[int] | None, *, now: datetime
    ) -> int:
        """Mark an owner's unread notifications (those of ``notification_ids``) read."""
        nt = self.tables.notifications
        stmt = update(nt).where(nt.c.owner_id == owner_id, nt.c.read_at.is_(None))
        if notification_ids is not None:
            if not notification_ids:
                return 0
            stmt = stmt.where(nt.c.id.in_(list(set(notification_ids))))
        with self.engine.begin() as conn:
            return int(conn.execute(stmt.values(read_at=now)).rowcount)

    def get_delivery(self, notification_id: int, notifier: str) -> Delivery | None:
        """One notifier's delivery of one notification."""
        dv = self.tables.deliveries
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    select(dv).where(
                        dv.c.notification_id == notification_id, dv.c.notifier == notifier
                    )
                )
                .mappings()
                .first()
            )
        return _delivery(row) if row is not None else None

    def record_delivery(
        self,
        notification_id: int,
        notifier: str,
        *,
        ok: bool,
        error: str | None,
        now: datetime,
    ) -> Delivery:
        """Count an attempt in one upsert; a delivered delivery stays delivered."""
        dv = self.tables.deliveries
        ins = self._insert(dv).values(
            notification_id=notification_id,
            notifier=notifier,
            delivered=ok,
            attempts=1,
            updated_at=now,
            delivered_at=now if ok else None,
            last_error=None if ok else error,
        )
        stmt = ins.on_conflict_do_update(
            index_elements=["notification_id", "notifier"],
            set_={
                "attempts": dv.c.attempts + 1,
                "updated_at": ins.excluded.updated_at,
                "delivered": or_(dv.c.delivered, ins.excluded.delivered),
                "delivered_at": func.coalesce(dv.c.delivered_at, ins.excluded.delivered_at),
                "last_error": func.coalesce(ins.excluded.last_error, dv.c.last_error),
            },
        ).returning(*dv.c)
        with self.engine.begin() as conn:
            return _delivery(conn.execute(stmt).mappings().one())

    def get_breaker(self, name: str) -> BreakerState:
        """A breaker's state (closed and clean when unknown)."""
        br = self.tables.breakers
        with self.engine.connect() as conn:
            row = conn.execute(
                select(br.c.failures, br.c.opened_until).where(br.c.name == name)
            ).first()
        return BreakerState(name) if row is None else BreakerState(name, int(row[0]), row[1])

    def record_breaker(
        self, name: str, *, ok: bool, threshold: int, cooldown: float, now: datetime
    ) -> BreakerState:
        """Record one call's outcome under the breaker row's lock."""
        br = self.tables.breakers
        with self.engine.begin() as conn:
            conn.execute(
                self._insert(br)
                .values(name=name, failures=0, opened_until=None, updated_at=now)
                .on_conflict_do_nothing(index_elements=["name"])
            )
            current = select(br.c.failures, br.c.opened_until).where(br.c.name == name)
            if self.is_postgres:
                current = current.with_for_update()
            failures, opened_until = conn.execute(current).one()
            state = BreakerState(name, int(failures), opened_until).after(
                ok=ok, threshold=threshold, cooldown=cooldown, now=now
            )
            conn.execute(
                update(br)
                .where(br.c.name == name)
                .values(failures=state.failures, opened_until=state.opened_until, updated_at=now)
            )
        return state

    # -- digests ----------------------------------------------------------------------
    def digest_owners(
        self, *, after: str | None, limit: int
    ) -> list[tuple[str, Preferences | None]]:
        """Owners with accounts or preferences after ``after``, ascending, with preferences."""
        acc, pr = self.tables.accounts, self.tables.preferences
        owners = union(
            select(acc.c.owner_id.label("owner_id")), select(pr.c.owner_id.label("owner_id"))
        ).subquery()
        stmt = select(owners.c.owner_id)
        if after is not None:
            stmt = stmt.where(owners.c.owner_id > after)
        stmt = stmt.order_by(owners.c.owner_id).limit(limit)
        with self.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(stmt)]
            prefs = (
                {
                    r["owner_id"]: _preferences(r)
                    for r in conn.execute(select(pr).where(pr.c.owner_id.in_(ids))).mappings()
                }
                if ids
                else {}
            )
        return [(owner, prefs.get(owner)) for owner in ids]

    def claim_digest(self, owner_id: str, kind: str, period_key: str, *, now: datetime) -> bool:
        """Insert the digest's row; False when it exists."""
        dg = self.tables.digests
        stmt = (
            self._insert(dg)
            .values(owner_id=owner_id, kind=kind, period_key=period_key, sent_at=now)
            .on_conflict_do_nothing(index_elements=["owner_id", "kind", "period_key"])
            .returning(dg.c.owner_id)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).first() is not None

    def release_digest(self, owner_id: str, kind: str, period_key: str) -> None:
        """Forget a digest claim."""
        dg = self.tables.digests
        with self.engine.begin() as conn:
            conn.execute(
                delete(dg).where(
                    dg.c.owner_id == owner_id, dg.c.kind == kind, dg.c.period_key == period_key
                )
            )

    def owner_activity(self, owner_id: str, *, since: datetime, until: datetime) -> OwnerActivity:
        """What happened for an owner in [since, until)."""
        t = self.tables
        it, acc, an, nt = t.items, t.accounts, t.analyses, t.notifications
        with self.engine.connect() as conn:
            synced = conn.execute(
                select(func.count())
                .select_from(it.join(acc, acc.c.id == it.c.account_id))
                .where(
                    acc.c.owner_id == owner_id,
                    it.c.first_seen_at >= since,
                    it.c.first_seen_at < until,
                )
            ).scalar_one()
            decided = {
                decision: int(n)
                for decision, n in conn.execute(
                    select(an.c.decision, func.count())
                    .where(
                        an.c.owner_id == owner_id,
                        an.c.analyzed_at >= since,
                        an.c.analyzed_at < until,
                    )
                    .group_by(an.c.decision)
                )
            }
            awaiting = conn.execute(
                select(func.count())
                .select_from(an.join(it, it.c.id == an.c.item_id))
                .where(
                    an.c.owner_id == owner_id,
                    an.c.decision == Decision.REVIEW.value,
                    it.c.deleted_at.is_(None),
                )
            ).scalar_one()
            unread = conn.execute(
                select(func.count())
                .select_from(nt)
                .where(nt.c.owner_id == owner_id, nt.c.read_at.is_(None))
            ).scalar_one()
        return OwnerActivity(
            items_synced=int(synced),
            items_analysed=sum(decided.values()),
            allowed=decided.get(Decision.ALLOW.value, 0),
            blocked=decided.get(Decision.BLOCK.value, 0),
            review=decided.get(Decision.REVIEW.value, 0),
            awaiting_review=int(awaiting),
            unread_notifications=int(unread),
        )

    # -- retention --------------------------------------------------------------------
    def delete_allowed_items(self, *, before: datetime, limit: int) -> int:
        """Delete one batch of old allowed (or allow-listed) items with their analyses."""
        if limit <= 0:
            return 0
        it, an = self.tables.items, self.tables.analyses
        allowed = exists().where(an.c.item_id == it.c.id, an.c.decision == Decision.ALLOW.value)
        deletable = and_(
            it.c.first_seen_at < before,
            or_(it.c.analysis_state == SKIPPED, and_(it.c.analysis_state == DONE, allowed)),
        )
        doomed = (
            select(it.c.id)
            .where(deletable)
            .order_by(it.c.first_seen_at, it.c.id)
            .limit(limit)
            .correlate(None)
        )
        with self.engine.begin() as conn:
            # The condition is checked again as the rows are deleted: an item queued again
            # meanwhile stays.
            ids = [
                r[0]
                for r in conn.execute(
                    delete(it)
                    .where(it.c.id.in_(doomed.scalar_subquery()), deletable)
                    .returning(it.c.id)
                )
            ]
            if ids:
                conn.execute(delete(an).where(an.c.item_id.in_(ids)))
        return len(ids)

    def delete_read_notifications(self, *, before: datetime, limit: int) -> int:
        """Delete one batch of notifications read before ``before``, with their deliveries."""
        if limit <= 0:
            return 0
        nt, dv = self.tables.notifications, self.tables.deliveries
        doomed = (
            select(nt.c.id)
            .where(nt.c.read_at.is_not(None), nt.c.read_at < before)
            .order_by(nt.c.read_at, nt.c.id)
            .limit(limit)
        )
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(doomed)]
            if not ids:
                return 0
            conn.execute(delete(dv).where(dv.c.notification_id.in_(ids)))
            return int(conn.execute(delete(nt).where(nt.c.id.in_(ids))).rowcount)


def _analysis_values(a: Analysis) -> dict[str, Any]:
    return {
        "item_id": a.item_id,
        "owner_id": a.owner_id,
        "account_id": a.account_id,
        "channel": a.channel,
        "decision": Decision(a.decision).value,
        "confidence": a.confidence,
        "tags": list(a.tags),
        "analyzer": a.analyzer,
        "tokens": a.tokens,
        "ai_calls": a.ai_calls,
        "duration_ms": a.duration_ms,
        "analyzed_at": a.analyzed_at,
    }


def _analysis(row: Any) -> Analysis:
    return Analysis(
        item_id=row["item_id"],
        owner_id=row["owner_id"],
        account_id=row["account_id"],
        channel=row["channel"],
        decision=Decision(row["decision"]),
        confidence=row["confidence"],
        tags=tuple(row["tags"]),
        analyzer=row["analyzer"],
        tokens=row["tokens"],
        ai_calls=row["ai_calls"],
        duration_ms=row["duration_ms"],
        analyzed_at=row["analyzed_at"],
    )


def _preferences(row: Any) -> Preferences:
    return Preferences(
        owner_id=row["owner_id"],
        blocked_words=tuple(row["blocked_words"]),
        allowed_channels=tuple(row["allowed_channels"]),
        blocked_channels=tuple(row["blocked_channels"]),
        viewer_age=row["viewer_age"],
        timezone=row["timezone"],
        digest=DigestFrequency(row["digest"]),
        webhook_url=row["webhook_url"],
    )


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


def _delivery(row: Any) -> Delivery:
    return Delivery(
        notification_id=row["notification_id"],
        notifier=row["notifier"],
        delivered=bool(row["delivered"]),
        attempts=row["attempts"],
        updated_at=row["updated_at"],
        delivered_at=row["delivered_at"],
        last_error=row["last_error"],
    )


def _notification(row: Any) -> Notification:
    return Notification(
        id=row["id"],
        owner_id=row["owner_id"],
        kind=row["kind"],
        title=row["title"],
        body=row["body"],
        created_at=row["created_at"],
        data=row["data"],
        read_at=row["read_at"],
    )

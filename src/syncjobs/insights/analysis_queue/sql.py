"""The analysis queue in SQL: the ``items.analysis_*`` columns and the analyses table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, case, func, or_, select, update

from ...schema.base import SQLMixin
from ..models import Analysis, Decision, QueuedItem
from .store import ANALYZING, DONE, FAILED, QUEUED, SKIPPED

__all__ = ["SQLAnalysisQueueMixin"]

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


class SQLAnalysisQueueMixin(SQLMixin):
    """AnalysisQueueStore on SQLAlchemy Core (mixed into SQLAlchemyRepository)."""

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

    def _claimable(self, *, limit: int, stale_before: datetime) -> Any:
        """The SELECT of the best ``limit`` waiting items with what an analyzer reads."""
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
        return stmt

    def claim_analysis_batch(
        self, *, limit: int, now: datetime, stale_before: datetime
    ) -> list[QueuedItem]:
        """Take the best ``limit`` waiting items and mark them analyzing, in one transaction."""
        if limit <= 0:
            return []
        it = self.tables.items
        with self.engine.begin() as conn:
            claimable = self._claimable(limit=limit, stale_before=stale_before)
            rows = conn.execute(claimable).mappings().all()
            if not rows:
                return []
            conn.execute(
                update(it)
                .where(it.c.id.in_([r["id"] for r in rows]))
                .values(analysis_state=ANALYZING, analysis_claimed_at=now)
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
        it = self.tables.items
        with self.engine.begin() as conn:
            self._store_results(conn, {a.item_id: a for a in results})
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
                self._store_failures(conn, failed, max_attempts=max_attempts, now=now)
            if released:
                conn.execute(
                    update(it)
                    .where(it.c.id.in_(list(released)))
                    .values(analysis_state=QUEUED, analysis_claimed_at=None)
                )

    def _store_results(self, conn: Connection, latest: dict[int, Analysis]) -> None:
        """Upsert the analyses of items that still exist and mark those items done."""
        if not latest:
            return
        it, an = self.tables.items, self.tables.analyses
        # An item deleted (with its account) while it was analysed gets no orphan row.
        lock = select(it.c.id).where(it.c.id.in_(list(latest))).order_by(it.c.id)
        if self.is_postgres:
            # Rows locked in id order; items before analyses, as every deleter does.
            lock = lock.with_for_update()
        present = {r[0] for r in conn.execute(lock)}
        rows = [_analysis_values(a) for i, a in latest.items() if i in present]
        if rows:
            conn.execute(self._upsert(an, ["item_id"], _ANALYSIS_VALUES), rows)
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

    def _store_failures(
        self, conn: Connection, failed: Mapping[int, str], *, max_attempts: int, now: datetime
    ) -> None:
        """Count a failed attempt of each item: queued again, backing off, or failed for good."""
        it = self.tables.items
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

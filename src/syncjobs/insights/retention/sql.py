"""Batched retention deletes in SQL: old allowed items, old read notifications."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, exists, or_, select

from ...schema.base import SQLMixin
from ..analysis_queue.store import DONE, SKIPPED
from ..models import Decision

__all__ = ["SQLRetentionMixin"]


class SQLRetentionMixin(SQLMixin):
    """RetentionStore on SQLAlchemy Core (mixed into SQLAlchemyRepository)."""

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

"""Notifications, deliveries and circuit breakers in SQL."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select, update

from ...schema.base import SQLMixin
from ..models import BreakerState, Delivery, Notification

__all__ = ["SQLNotificationsMixin", "notification_from_row"]


class SQLNotificationsMixin(SQLMixin):
    """NotificationStore on SQLAlchemy Core (mixed into SQLAlchemyRepository)."""

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
        return notification_from_row(row)

    def list_notifications(self, *, owner_id: str, unread_only: bool = False) -> list[Notification]:
        """Return an owner's notifications, newest first."""
        nt = self.tables.notifications
        stmt = select(nt).where(nt.c.owner_id == owner_id)
        if unread_only:
            stmt = stmt.where(nt.c.read_at.is_(None))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.order_by(nt.c.created_at.desc(), nt.c.id.desc())).mappings()
            return [notification_from_row(r) for r in rows]

    def get_notification(self, notification_id: int) -> Notification | None:
        """One notification."""
        nt = self.tables.notifications
        with self.engine.connect() as conn:
            row = conn.execute(select(nt).where(nt.c.id == notification_id)).mappings().first()
        return notification_from_row(row) if row is not None else None

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


def notification_from_row(row: Any) -> Notification:
    """A Notification from a row of the notifications table."""
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

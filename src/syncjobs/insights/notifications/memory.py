"""Notifications, deliveries and circuit breakers in process memory (a mixin of
InMemoryRepository)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..memory_state import MemoryInsightsState
from ..models import BreakerState, Delivery, Notification

__all__ = ["MemoryNotifications"]


class MemoryNotifications(MemoryInsightsState):
    """NotificationStore on the shared in-memory state."""

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
        with self._lock:
            note = Notification(
                id=next(self._ids),
                owner_id=owner_id,
                kind=kind,
                title=title,
                body=body,
                created_at=now,
                data=copy.deepcopy(data),
            )
            self._notes.append(note)
            return copy.deepcopy(note)

    def list_notifications(self, *, owner_id: str, unread_only: bool = False) -> list[Notification]:
        """Return an owner's notifications, newest first."""
        with self._lock:
            found = [
                n
                for n in self._notes
                if n.owner_id == owner_id and not (unread_only and n.read_at is not None)
            ]
            found.sort(key=lambda n: (n.created_at, n.id), reverse=True)
            return copy.deepcopy(found)

    def get_notification(self, notification_id: int) -> Notification | None:
        """One notification."""
        with self._lock:
            for note in self._notes:
                if note.id == notification_id:
                    return copy.deepcopy(note)
            return None

    def mark_notifications_read(
        self, owner_id: str, notification_ids: Sequence[int] | None, *, now: datetime
    ) -> int:
        """Mark an owner's unread notifications (those of ``notification_ids``) read."""
        wanted = None if notification_ids is None else set(notification_ids)
        with self._lock:
            marked = 0
            for i, note in enumerate(self._notes):
                if (
                    note.owner_id == owner_id
                    and note.read_at is None
                    and (wanted is None or note.id in wanted)
                ):
                    self._notes[i] = dataclasses.replace(note, read_at=now)
                    marked += 1
            return marked

    def get_delivery(self, notification_id: int, notifier: str) -> Delivery | None:
        """One notifier's delivery of one notification."""
        with self._lock:
            return self._deliveries.get((notification_id, notifier))

    def record_delivery(
        self,
        notification_id: int,
        notifier: str,
        *,
        ok: bool,
        error: str | None,
        now: datetime,
    ) -> Delivery:
        """Count an attempt; a delivered delivery stays delivered."""
        with self._lock:
            old = self._deliveries.get((notification_id, notifier))
            failure = None if ok else error
            if old is None:
                new = Delivery(
                    notification_id=notification_id,
                    notifier=notifier,
                    delivered=ok,
                    attempts=1,
                    updated_at=now,
                    delivered_at=now if ok else None,
                    last_error=failure,
                )
            else:
                new = dataclasses.replace(
                    old,
                    delivered=old.delivered or ok,
                    attempts=old.attempts + 1,
                    updated_at=now,
                    delivered_at=old.delivered_at or (now if ok else None),
                    last_error=failure if failure is not None else old.last_error,
                )
            self._deliveries[(notification_id, notifier)] = new
            return new

    def get_breaker(self, name: str) -> BreakerState:
        """A breaker's state (closed and clean when unknown)."""
        with self._lock:
            return self._breakers.get(name, BreakerState(name))

    def record_breaker(
        self, name: str, *, ok: bool, threshold: int, cooldown: float, now: datetime
    ) -> BreakerState:
        """Record one call's outcome."""
        with self._lock:
            state = self._breakers.get(name, BreakerState(name)).after(
                ok=ok, threshold=threshold, cooldown=cooldown, now=now
            )
            self._breakers[name] = state
            return state

"""What the notification store keeps: notifications, deliveries and circuit breakers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ..models import BreakerState, Delivery, Notification

__all__ = ["NotificationStore"]


@runtime_checkable
class NotificationStore(Protocol):
    """Owners' notifications, each notifier's delivery of them, and the notifiers' breakers."""

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
        ...

    def list_notifications(self, *, owner_id: str, unread_only: bool = False) -> list[Notification]:
        """Return an owner's notifications, newest first."""
        ...

    def get_notification(self, notification_id: int) -> Notification | None:
        """One notification, or None."""
        ...

    def mark_notifications_read(
        self, owner_id: str, notification_ids: Sequence[int] | None, *, now: datetime
    ) -> int:
        """Mark an owner's notifications read (all unread ones when ids is None)."""
        ...

    def get_delivery(self, notification_id: int, notifier: str) -> Delivery | None:
        """Whether a notifier delivered a notification yet."""
        ...

    def record_delivery(
        self,
        notification_id: int,
        notifier: str,
        *,
        ok: bool,
        error: str | None,
        now: datetime,
    ) -> Delivery:
        """Count a delivery attempt; once delivered, a delivery stays delivered."""
        ...

    def get_breaker(self, name: str) -> BreakerState:
        """A circuit breaker's state (closed with no failures when never used)."""
        ...

    def record_breaker(
        self, name: str, *, ok: bool, threshold: int, cooldown: float, now: datetime
    ) -> BreakerState:
        """Record a call's outcome, atomically.

        Success closes the breaker and resets its failures. A failure counts; at
        ``threshold`` consecutive failures (or any failure while half-open, after a
        cooldown) the breaker opens for ``cooldown`` seconds.
        """
        ...

"""The contract of NotificationStore: notifications, deliveries, circuit breakers."""

from __future__ import annotations

import pytest

from ..contract_helpers import add_note, at, run_threads
from ..models import BreakerState
from .store import NotificationStore

__all__ = ["NotificationStoreContract"]


class NotificationStoreContract:
    """Notifications (order, read marks), deliveries, and circuit breakers.

    Provide a ``repository`` fixture returning a fresh, empty ``NotificationStore``.
    """

    @pytest.fixture
    def repository(self) -> NotificationStore:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def test_notifications_newest_first(self, repository: NotificationStore) -> None:
        assert isinstance(repository, NotificationStore)
        data = {"account_id": "acc-1", "count": 3, "names": ["Zoë", "東京"]}
        first = repository.add_notification(
            owner_id="owner-1",
            kind="sync.failed",
            title="Sync failed ✗",
            body="Reconnect your channel — the token was revoked.",
            data=data,
            now=at(1),
        )
        assert (first.owner_id, first.kind, first.title, first.data) == (
            "owner-1",
            "sync.failed",
            "Sync failed ✗",
            data,
        )
        assert (first.created_at, first.read_at) == (at(1), None)
        for title, minutes in (("third", 3), ("second", 2), ("tie-a", 4), ("tie-b", 4)):
            repository.add_notification(
                owner_id="owner-1",
                kind="sync.done",
                title=title,
                body="",
                data={},
                now=at(minutes),
            )
        repository.add_notification(
            owner_id="owner-2", kind="sync.done", title="theirs", body="", data={}, now=at(9)
        )
        notes = repository.list_notifications(owner_id="owner-1")
        assert [n.title for n in notes] == ["tie-b", "tie-a", "third", "second", "Sync failed ✗"]
        assert notes[-1] == first
        unread = repository.list_notifications(owner_id="owner-1", unread_only=True)
        assert [n.id for n in unread] == [n.id for n in notes]
        assert [n.title for n in repository.list_notifications(owner_id="owner-2")] == ["theirs"]
        assert repository.list_notifications(owner_id="nobody", unread_only=True) == []

    def test_notifications_are_marked_read_per_owner(self, repository: NotificationStore) -> None:
        first, second, third = (add_note(repository, minutes=m) for m in (1, 2, 3))
        theirs = add_note(repository, "owner-2")
        assert repository.get_notification(first.id) == first
        assert repository.get_notification(10**9) is None
        assert repository.mark_notifications_read("owner-1", [first.id, theirs.id], now=at(5)) == 1
        read = repository.get_notification(first.id)
        assert read is not None and read.read_at == at(5)
        assert repository.mark_notifications_read("owner-1", [first.id], now=at(6)) == 0
        assert repository.mark_notifications_read("owner-1", [], now=at(6)) == 0
        again = repository.get_notification(first.id)
        assert again is not None and again.read_at == at(5)
        assert repository.mark_notifications_read("owner-1", None, now=at(7)) == 2
        assert repository.list_notifications(owner_id="owner-1", unread_only=True) == []
        assert [n.id for n in repository.list_notifications(owner_id="owner-1")] == [
            third.id,
            second.id,
            first.id,
        ]
        unread = repository.get_notification(theirs.id)
        assert unread is not None and unread.read_at is None

    def test_a_delivery_counts_attempts_and_stays_delivered(
        self, repository: NotificationStore
    ) -> None:
        note = add_note(repository)
        assert repository.get_delivery(note.id, "webhook") is None
        failed = repository.record_delivery(note.id, "webhook", ok=False, error="503 ✗", now=at(1))
        assert (failed.notification_id, failed.notifier, failed.delivered) == (
            note.id,
            "webhook",
            False,
        )
        assert (failed.attempts, failed.updated_at, failed.delivered_at, failed.last_error) == (
            1,
            at(1),
            None,
            "503 ✗",
        )
        assert repository.get_delivery(note.id, "webhook") == failed
        done = repository.record_delivery(note.id, "webhook", ok=True, error=None, now=at(2))
        assert (done.delivered, done.attempts, done.delivered_at) == (True, 2, at(2))
        late = repository.record_delivery(note.id, "webhook", ok=False, error="late", now=at(3))
        assert (late.delivered, late.attempts, late.delivered_at) == (True, 3, at(2))
        again = repository.record_delivery(note.id, "webhook", ok=True, error=None, now=at(4))
        assert (again.delivered, again.attempts, again.delivered_at) == (True, 4, at(2))
        assert repository.get_delivery(note.id, "webhook") == again
        assert repository.get_delivery(note.id, "email") is None

    def test_a_breaker_opens_at_the_threshold_and_success_closes_it(
        self, repository: NotificationStore
    ) -> None:
        assert repository.get_breaker("ai") == BreakerState("ai")

        def record(ok: bool, minutes: float) -> BreakerState:
            return repository.record_breaker(
                "ai", ok=ok, threshold=3, cooldown=60.0, now=at(minutes)
            )

        assert record(False, 0) == BreakerState("ai", 1, None)
        assert record(False, 1) == BreakerState("ai", 2, None)
        opened = record(False, 2)
        assert opened == BreakerState("ai", 3, at(3))
        assert opened.is_open(at(2.5)) and not opened.is_open(at(3))
        assert repository.get_breaker("ai") == opened
        assert record(True, 4) == BreakerState("ai", 0, None)
        assert repository.get_breaker("ai") == BreakerState("ai")
        assert record(False, 5) == BreakerState("ai", 1, None)
        assert repository.get_breaker("webhook") == BreakerState("webhook")

    def test_a_failure_while_half_open_reopens_the_breaker(
        self, repository: NotificationStore
    ) -> None:
        def record(ok: bool, minutes: float, threshold: int = 2) -> BreakerState:
            return repository.record_breaker(
                "hook", ok=ok, threshold=threshold, cooldown=60.0, now=at(minutes)
            )

        record(False, 0)
        assert record(False, 1) == BreakerState("hook", 2, at(2))
        # The cooldown is over: the breaker is half-open, one failure opens it again.
        assert record(False, 5, threshold=10) == BreakerState("hook", 3, at(6))
        assert record(True, 7, threshold=10) == BreakerState("hook", 0, None)

    def test_concurrent_breaker_failures_all_count(self, repository: NotificationStore) -> None:
        def fail() -> None:
            for _ in range(5):
                repository.record_breaker("busy", ok=False, threshold=1000, cooldown=1.0, now=at(0))

        assert run_threads(6, fail) == []
        assert repository.get_breaker("busy") == BreakerState("busy", 30, None)

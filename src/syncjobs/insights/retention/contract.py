"""The contract of RetentionStore: what goes past retention and what stays."""

from __future__ import annotations

import pytest

from ..contract_helpers import (
    ContractRepository,
    account_with_items,
    add_note,
    at,
    claim_batch,
    make_result,
    save_batch,
)
from ..models import Decision
from .store import RetentionStore

__all__ = ["RetentionStoreContract"]


class RetentionStoreContract:
    """Old allowed items go in batches (BLOCK, REVIEW and unanalysed ones stay); read
    notifications go with their deliveries (unread and recent ones stay).

    Provide a ``repository`` fixture returning a fresh, empty repository that implements
    ``AccountRepository``, ``AnalysisQueueStore``, ``TrustStore`` and ``NotificationStore``
    too (what is deleted is made, and checked, through them).
    """

    @pytest.fixture
    def repository(self) -> ContractRepository:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def test_delete_allowed_items_keeps_block_review_and_unanalysed_items(
        self, repository: ContractRepository
    ) -> None:
        assert isinstance(repository, RetentionStore)
        acc, ids = account_with_items(repository, 8)
        recent, recent_ids = account_with_items(repository, 1, external="UC-2", minutes=50)
        other, theirs = account_with_items(repository, 1, external="UC-3", owner_id="owner-2")
        claim_batch(repository)
        save_batch(
            repository,
            make_result(ids[0], acc, Decision.ALLOW),
            make_result(ids[1], acc, Decision.BLOCK),
            make_result(ids[2], acc, Decision.REVIEW),
            make_result(ids[6], acc, Decision.ALLOW),
            make_result(ids[7], acc, Decision.ALLOW),
            make_result(recent_ids[0], recent, Decision.ALLOW),
            make_result(theirs[0], other, Decision.ALLOW),
            skipped=[ids[3]],
            failed={ids[5]: "gave up"},
            released=[ids[4]],
            max_attempts=1,
        )
        repository.queue_for_analysis([ids[6]], priority=0, review_flag=False, now=at(102))
        repository.save_page(acc.id, items=[], deleted_ids=["UC-1-07"], cursor={}, now=at(103))
        gone = {ids[0], ids[3], ids[7], theirs[0]}
        assert repository.delete_allowed_items(before=at(30), limit=100) == 4
        assert repository.delete_allowed_items(before=at(30), limit=100) == 0
        for item_id in gone:
            assert repository.item_analysis_state(item_id) is None
            assert repository.get_analysis(item_id) is None
        kept = [i for i in ids if i not in gone]
        assert [it.id for it in repository.list_items(acc.id, include_deleted=True)] == kept
        assert repository.list_items(other.id, include_deleted=True) == []
        assert sorted(a.item_id for a in repository.list_analyses(owner_id="owner-1")) == sorted(
            [ids[1], ids[2], ids[6], recent_ids[0]]
        )
        states = [repository.item_analysis_state(i) for i in (ids[1], ids[2], ids[4], ids[5])]
        assert [s[0] if s else None for s in states] == ["done", "done", "queued", "failed"]

    def test_delete_allowed_items_works_in_batches(self, repository: ContractRepository) -> None:
        acc, ids = account_with_items(repository, 5)
        claim_batch(repository)
        save_batch(repository, *(make_result(i, acc) for i in ids))
        assert [repository.delete_allowed_items(before=at(30), limit=2) for _ in range(4)] == [
            2,
            2,
            1,
            0,
        ]
        assert repository.list_items(acc.id, include_deleted=True) == []
        assert repository.channel_stats() == []

    def test_delete_read_notifications_keeps_unread_and_recent_ones(
        self, repository: ContractRepository
    ) -> None:
        old = [add_note(repository, title=f"old {i}") for i in range(3)]
        unread = add_note(repository, title="unread")
        recent = add_note(repository, title="recent")
        theirs = add_note(repository, "owner-2", title="theirs")
        repository.mark_notifications_read("owner-1", [n.id for n in old], now=at(1))
        repository.mark_notifications_read("owner-1", [recent.id], now=at(50))
        repository.mark_notifications_read("owner-2", None, now=at(2))
        for note in (*old, unread, recent):
            repository.record_delivery(note.id, "webhook", ok=True, error=None, now=at(1))
        assert repository.delete_read_notifications(before=at(30), limit=3) == 3
        assert repository.delete_read_notifications(before=at(30), limit=3) == 1
        assert repository.delete_read_notifications(before=at(30), limit=3) == 0
        for note in (*old, theirs):
            assert repository.get_notification(note.id) is None
            assert repository.get_delivery(note.id, "webhook") is None
        for note in (unread, recent):
            assert repository.get_notification(note.id) is not None
            assert repository.get_delivery(note.id, "webhook") is not None
        assert [n.title for n in repository.list_notifications(owner_id="owner-1")] == [
            "recent",
            "unread",
        ]

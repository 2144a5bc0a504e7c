"""The contract of DigestStore: digest owners, claims and owners' activity."""

from __future__ import annotations

import pytest

from ..contract_helpers import (
    ContractRepository,
    account_with_items,
    add_account,
    add_note,
    at,
    claim_batch,
    make_result,
    run_threads,
    save_batch,
    video,
)
from ..models import Decision, DigestFrequency, OwnerActivity, Preferences
from .store import DigestStore

__all__ = ["DigestStoreContract"]


class DigestStoreContract:
    """Digest owners paged by id, one claim per digest period, and owners' activity.

    Provide a ``repository`` fixture returning a fresh, empty repository that implements
    ``AccountRepository``, ``PreferencesStore``, ``AnalysisQueueStore`` and
    ``NotificationStore`` too (what an owner's activity counts).
    """

    @pytest.fixture
    def repository(self) -> ContractRepository:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def test_digest_owners_page_through_owners_with_accounts_or_preferences(
        self, repository: ContractRepository
    ) -> None:
        assert isinstance(repository, DigestStore)
        for owner, external in (("d", "d1"), ("b", "b1"), ("d", "d2")):
            add_account(repository, external, owner_id=owner)
        prefs = {
            o: Preferences(o, digest=DigestFrequency.WEEKLY, timezone="Asia/Tokyo")
            for o in ("e", "a", "d")
        }
        for p in prefs.values():
            repository.save_preferences(p, now=at(0))
        expected = [("a", prefs["a"]), ("b", None), ("d", prefs["d"]), ("e", prefs["e"])]
        assert repository.digest_owners(after=None, limit=10) == expected
        assert repository.digest_owners(after=None, limit=2) == expected[:2]
        assert repository.digest_owners(after="b", limit=2) == expected[2:]
        assert repository.digest_owners(after="e", limit=2) == []

    def test_a_digest_is_claimed_once_per_period(self, repository: ContractRepository) -> None:
        assert repository.claim_digest("a", "daily", "2024-03-10", now=at(0))
        assert not repository.claim_digest("a", "daily", "2024-03-10", now=at(1))
        assert repository.claim_digest("a", "weekly", "2024-03-10", now=at(1))
        assert repository.claim_digest("a", "daily", "2024-03-11", now=at(1))
        assert repository.claim_digest("b", "daily", "2024-03-10", now=at(1))
        repository.release_digest("a", "daily", "2024-03-10")
        repository.release_digest("nobody", "daily", "2024-03-10")
        wins: list[bool] = []

        def claim() -> None:
            wins.append(repository.claim_digest("a", "daily", "2024-03-10", now=at(2)))

        assert run_threads(5, claim) == []
        assert sorted(wins) == [False, False, False, False, True]

    def test_owner_activity_counts_what_happened_in_the_window(
        self, repository: ContractRepository
    ) -> None:
        acc = add_account(repository)
        for i, minutes in enumerate((0, 1, 10, 11, 12, 20)):
            repository.save_page(
                acc.id, items=[video(f"v{i}")], deleted_ids=[], cursor={}, now=at(minutes)
            )
        ids = [it.id for it in repository.list_items(acc.id)]
        other, theirs = account_with_items(
            repository, 1, external="UC-2", owner_id="owner-2", minutes=10
        )
        claim_batch(repository)
        save_batch(
            repository,
            make_result(ids[0], acc, Decision.ALLOW, minutes=5),
            make_result(ids[1], acc, Decision.REVIEW, minutes=5),
            make_result(ids[2], acc, Decision.BLOCK, minutes=15),
            make_result(ids[3], acc, Decision.REVIEW, minutes=15),
            make_result(ids[4], acc, Decision.ALLOW, minutes=19.5),
            make_result(ids[5], acc, Decision.ALLOW, minutes=20),
            make_result(theirs[0], other, Decision.REVIEW, minutes=15),
        )
        repository.save_page(acc.id, items=[], deleted_ids=["v3"], cursor={}, now=at(30))
        for minutes in (1, 2, 3):
            add_note(repository, minutes=minutes)
        read = add_note(repository)
        repository.mark_notifications_read("owner-1", [read.id], now=at(4))
        add_note(repository, "owner-2")
        activity = repository.owner_activity("owner-1", since=at(10), until=at(20))
        assert activity == OwnerActivity(
            items_synced=3,
            items_analysed=3,
            allowed=1,
            blocked=1,
            review=1,
            awaiting_review=1,
            unread_notifications=3,
        )
        assert not activity.is_empty
        nothing = repository.owner_activity("nobody", since=at(10), until=at(20))
        assert nothing == OwnerActivity() and nothing.is_empty

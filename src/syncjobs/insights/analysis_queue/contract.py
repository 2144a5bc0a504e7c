"""The contract of AnalysisQueueStore: claims, results, failures, requeues, listings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ..contract_helpers import (
    ContractRepository,
    account_with_items,
    add_account,
    at,
    claim_batch,
    claimed_ids,
    make_result,
    run_threads,
    save_batch,
    video,
)
from ..models import ChannelStats, Decision
from .store import AnalysisQueueStore

__all__ = ["AnalysisQueueStoreContract"]


class AnalysisQueueStoreContract:
    """The analysis queue: claims, their order and staleness, results, skips, failures,
    releases, requeues, listings, and analyses deleted with their account.

    Provide a ``repository`` fixture returning a fresh, empty repository that implements
    ``AccountRepository`` too (items are made with ``create_account`` and ``save_page``) and
    ``TrustStore`` (one test checks ``channel_stats`` after a re-analysis).
    """

    @pytest.fixture
    def repository(self) -> ContractRepository:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def test_new_items_are_queued_and_a_claim_marks_them_analyzing(
        self, repository: ContractRepository
    ) -> None:
        assert isinstance(repository, AnalysisQueueStore)
        acc, ids = account_with_items(repository, 2)
        assert repository.item_analysis_state(ids[0]) == ("queued", 0, None)
        assert repository.item_analysis_state(10**9) is None
        assert repository.analysis_backlog() == 2
        batch = claim_batch(repository)
        assert [q.item_id for q in batch] == ids
        first = batch[0]
        assert (first.account_id, first.owner_id, first.provider) == (acc.id, "owner-1", "youtube")
        assert (first.external_id, first.kind) == ("UC-1-00", "video")
        assert first.title == "Café ☕ in 東京 — UC-1-00"
        assert first.text == 'Zoë\'s vlog: ümlauts, emoji 🎥 and "quotes"'
        assert first.author == first.channel == "Zoë Ångström"
        assert first.published_at == datetime(2024, 3, 9, 16, 30, 15, 250000, tzinfo=UTC)
        assert first.raw == {"snippet": {"tags": ["café", "東京"], "live": False}, "etag": 'W/"x1"'}
        assert (first.first_seen_at, first.priority, first.review_flag, first.attempts) == (
            at(0),
            0,
            False,
            0,
        )
        assert repository.item_analysis_state(ids[0]) == ("analyzing", 0, None)
        assert [it.analysis_state for it in repository.list_items(acc.id)] == ["analyzing"] * 2
        assert claim_batch(repository) == []  # claimed items are nobody else's
        assert repository.analysis_backlog() == 2  # still waiting for a result

    def test_claim_order_is_review_flag_then_priority_then_oldest(
        self, repository: ContractRepository
    ) -> None:
        _, ids = account_with_items(repository, 6)
        repository.queue_for_analysis([ids[4]], priority=5, review_flag=False, now=at(10))
        repository.queue_for_analysis([ids[5]], priority=1, review_flag=True, now=at(10))
        repository.queue_for_analysis([ids[3]], priority=5, review_flag=False, now=at(10))
        repository.queue_for_analysis([ids[1]], priority=-1, review_flag=False, now=at(10))
        best = claim_batch(repository, 3)
        assert [q.item_id for q in best] == [ids[5], ids[3], ids[4]]
        assert [(q.priority, q.review_flag) for q in best] == [(1, True), (5, False), (5, False)]
        assert claimed_ids(repository) == [ids[0], ids[2], ids[1]]

    def test_items_first_seen_together_are_claimed_by_lowest_id(
        self, repository: ContractRepository
    ) -> None:
        acc = add_account(repository)
        repository.save_page(
            acc.id, items=[video(f"v{i}") for i in range(5)], deleted_ids=[], cursor={}, now=at(0)
        )
        ids = sorted(it.id for it in repository.list_items(acc.id))
        assert claimed_ids(repository, 2) == ids[:2]
        assert claimed_ids(repository, 5) == ids[2:]

    def test_the_channel_falls_back_to_the_account_name_then_the_provider(
        self, repository: ContractRepository
    ) -> None:
        acc = add_account(repository)
        repository.save_page(
            acc.id,
            items=[video("v1", author=None), video("v2", author="")],
            deleted_ids=[],
            cursor={},
            now=at(0),
        )
        nameless = repository.create_account(
            owner_id="owner-1",
            provider="tiktok",
            external_id="tt-1",
            display_name=None,
            sync_interval=900,
            now=at(0),
        )
        repository.save_page(
            nameless.id, items=[video("v3", author=None)], deleted_ids=[], cursor={}, now=at(1)
        )
        assert [q.channel for q in claim_batch(repository)] == [
            "Zoë's channel ✓",
            "Zoë's channel ✓",
            "tiktok",
        ]

    def test_deleted_items_are_neither_claimed_nor_queued(
        self, repository: ContractRepository
    ) -> None:
        acc, ids = account_with_items(repository, 3)
        repository.save_page(acc.id, items=[], deleted_ids=["UC-1-01"], cursor={}, now=at(5))
        assert repository.analysis_backlog() == 2
        assert claimed_ids(repository) == [ids[0], ids[2]]
        assert repository.queue_for_analysis(ids, priority=0, review_flag=True, now=at(6)) == 2
        assert claimed_ids(repository, at=101) == [ids[0], ids[2]]

    def test_concurrent_claimers_never_get_the_same_item(
        self, repository: ContractRepository
    ) -> None:
        acc = add_account(repository)
        repository.save_page(
            acc.id,
            items=[video(f"v{i:02d}") for i in range(40)],
            deleted_ids=[],
            cursor={},
            now=at(0),
        )
        claimed: list[int] = []

        def claimer() -> None:
            while batch := claimed_ids(repository, 3):
                claimed.extend(batch)

        assert run_threads(4, claimer) == []
        assert len(claimed) == len(set(claimed)) == 40
        assert set(claimed) == {it.id for it in repository.list_items(acc.id)}
        assert repository.analysis_backlog() == 40

    def test_an_item_left_analyzing_too_long_is_claimed_again(
        self, repository: ContractRepository
    ) -> None:
        _, ids = account_with_items(repository, 2)
        assert claimed_ids(repository, 1, at=10, stale=0) == [ids[0]]
        assert claimed_ids(repository, at=20, stale=5) == [ids[1]]  # ids[0]: still alive
        again = claim_batch(repository, at=30, stale=15)
        assert [(q.item_id, q.attempts) for q in again] == [(ids[0], 0)]
        assert claim_batch(repository, at=31, stale=15) == []
        assert repository.item_analysis_state(ids[0]) == ("analyzing", 0, None)

    def test_results_are_stored_and_mark_the_item_done(
        self, repository: ContractRepository
    ) -> None:
        acc, ids = account_with_items(repository, 2)
        claim_batch(repository)
        blocked = make_result(ids[0], acc, Decision.BLOCK, confidence=91, tokens=None, ai_calls=0)
        save_batch(repository, blocked, released=[ids[1]])
        got = repository.get_analysis(ids[0])
        assert got == blocked
        assert got is not None and got.decision is Decision.BLOCK
        assert got.tags == ("kids", "東京 ✓") and got.tokens is None
        assert got.analyzed_at == at(101) and got.analyzed_at.tzinfo is not None
        assert repository.item_analysis_state(ids[0]) == ("done", 0, None)
        assert repository.list_items(acc.id)[0].analysis_state == "done"
        assert repository.get_analysis(ids[1]) is None
        assert repository.analysis_backlog() == 1
        assert repository.get_analysis(10**9) is None

    def test_failed_items_are_queued_again_until_max_attempts(
        self, repository: ContractRepository
    ) -> None:
        _, ids = account_with_items(repository, 2)
        repository.queue_for_analysis([ids[1]], priority=0, review_flag=True, now=at(1))
        claim_batch(repository)
        save_batch(repository, failed={ids[1]: "timeout ✗"}, max_attempts=2)
        assert repository.item_analysis_state(ids[1]) == ("queued", 1, "timeout ✗")
        # A failed item backs off: not claimable until its failure is older than stale_before.
        assert claim_batch(repository, at=102, stale=40) == []
        assert repository.analysis_backlog() == 2  # but it still waits for analysis
        # Then it is still flagged for review (no result yet), and it counts its attempt.
        again = claim_batch(repository, 1, at=160, stale=101.5)
        assert [(q.item_id, q.attempts, q.review_flag) for q in again] == [(ids[1], 1, True)]
        save_batch(repository, failed={ids[1]: "x" * 5000}, max_attempts=2, at=103)
        state = repository.item_analysis_state(ids[1])
        assert state is not None and state[:2] == ("failed", 2)
        assert state[2] is not None and state[2].startswith("xxx") and len(state[2]) <= 5000
        assert claim_batch(repository, at=104) == []
        assert repository.analysis_backlog() == 1  # ids[0] is still being analysed
        assert (
            repository.queue_for_analysis([ids[1]], priority=0, review_flag=False, now=at(105)) == 1
        )
        assert repository.item_analysis_state(ids[1]) == ("queued", 0, None)

    def test_released_items_go_back_without_counting_an_attempt(
        self, repository: ContractRepository
    ) -> None:
        _, ids = account_with_items(repository, 2)
        claim_batch(repository)
        save_batch(repository, failed={ids[0]: "boom"}, max_attempts=5)
        assert claimed_ids(repository, at=102) == []  # the failed one backs off
        assert claimed_ids(repository, at=102, stale=101.5) == [ids[0], ids[1]]
        save_batch(repository, released=ids, max_attempts=5, at=103)
        first, second = (repository.item_analysis_state(i) for i in ids)
        assert first is not None and first[:2] == ("queued", 1)
        assert second == ("queued", 0, None)
        assert [(q.item_id, q.attempts) for q in claim_batch(repository, at=104)] == [
            (ids[0], 1),
            (ids[1], 0),
        ]

    def test_an_item_whose_words_change_is_judged_again_but_not_for_new_counts(
        self, repository: ContractRepository
    ) -> None:
        acc, ids = account_with_items(repository, 2)
        claim_batch(repository)
        save_batch(repository, make_result(ids[0], acc), make_result(ids[1], acc))
        assert claim_batch(repository, at=110) == []
        first, second = (f"UC-1-{i:02d}" for i in range(2))
        repository.save_page(
            acc.id,
            items=[
                video(first, title="A brand new title"),  # what an analyzer reads changed
                video(second, metrics={"views": 99_999}),  # only the counts changed
            ],
            deleted_ids=[],
            cursor={},
            now=at(120),
        )
        assert repository.item_analysis_state(ids[0]) == ("queued", 0, None)
        assert repository.item_analysis_state(ids[1]) == ("done", 0, None)
        assert claimed_ids(repository, at=121) == [ids[0]]
        assert repository.get_analysis(ids[0]) is not None  # the old verdict stays until then

    def test_skipped_items_have_no_analysis(self, repository: ContractRepository) -> None:
        _, ids = account_with_items(repository, 2)
        claim_batch(repository)
        save_batch(repository, skipped=[ids[0]], released=[ids[1]])
        assert repository.item_analysis_state(ids[0]) == ("skipped", 0, None)
        assert repository.get_analysis(ids[0]) is None
        assert repository.list_analyses(owner_id="owner-1") == []
        assert repository.analysis_backlog() == 1
        assert claimed_ids(repository, at=102) == [ids[1]]

    def test_analysing_again_keeps_one_analysis_per_item(
        self, repository: ContractRepository
    ) -> None:
        acc, ids = account_with_items(repository, 1)
        claim_batch(repository)
        save_batch(repository, make_result(ids[0], acc, Decision.REVIEW, confidence=30))
        assert repository.queue_for_analysis(ids, priority=9, review_flag=True, now=at(102)) == 1
        assert repository.get_analysis(ids[0]) is not None  # kept until the new one comes
        [queued] = claim_batch(repository, at=103)
        assert (queued.priority, queued.review_flag, queued.attempts) == (9, True, 0)
        second = make_result(ids[0], acc, Decision.ALLOW, minutes=104, confidence=60, tokens=7)
        save_batch(repository, second, at=104)
        assert repository.get_analysis(ids[0]) == second
        assert repository.list_analyses(owner_id="owner-1") == [second]
        assert repository.channel_stats() == [
            ChannelStats("owner-1", "Zoë Ångström", allow=1, block=0, review=0, confidence_sum=60)
        ]

    def test_queue_for_analysis_counts_live_items_only(
        self, repository: ContractRepository
    ) -> None:
        acc, ids = account_with_items(repository, 3)
        repository.save_page(acc.id, items=[], deleted_ids=["UC-1-02"], cursor={}, now=at(5))
        claim_batch(repository)
        save_batch(repository, make_result(ids[0], acc), failed={ids[1]: "boom"})
        assert (
            repository.queue_for_analysis(
                [ids[0], ids[1], ids[2], 10**9, ids[0]], priority=2, review_flag=False, now=at(110)
            )
            == 2
        )
        assert repository.queue_for_analysis([], priority=2, review_flag=False, now=at(110)) == 0
        assert repository.item_analysis_state(ids[0]) == ("queued", 0, None)
        assert repository.item_analysis_state(ids[1]) == ("queued", 0, None)
        assert [(q.item_id, q.priority) for q in claim_batch(repository, at=111)] == [
            (ids[0], 2),
            (ids[1], 2),
        ]

    def test_list_analyses_newest_first_by_owner_and_decision(
        self, repository: ContractRepository
    ) -> None:
        acc, ids = account_with_items(repository, 4)
        other, theirs = account_with_items(repository, 1, external="UC-2", owner_id="owner-2")
        claim_batch(repository)
        results = [
            make_result(ids[0], acc, Decision.ALLOW, minutes=101),
            make_result(ids[1], acc, Decision.BLOCK, minutes=103),
            make_result(ids[2], acc, Decision.ALLOW, minutes=103),
            make_result(ids[3], acc, Decision.REVIEW, minutes=102),
            make_result(theirs[0], other, Decision.ALLOW, minutes=104),
        ]
        save_batch(repository, *results, at=104)
        newest = [ids[2], ids[1], ids[3], ids[0]]
        assert [a.item_id for a in repository.list_analyses(owner_id="owner-1")] == newest
        assert [a.item_id for a in repository.list_analyses(owner_id="owner-1", limit=2)] == (
            newest[:2]
        )
        assert [
            a.item_id for a in repository.list_analyses(owner_id="owner-1", decision="allow")
        ] == [ids[2], ids[0]]
        assert [
            a.item_id for a in repository.list_analyses(owner_id="owner-1", decision=Decision.BLOCK)
        ] == [ids[1]]
        assert repository.list_analyses(owner_id="owner-2") == [results[4]]
        assert repository.list_analyses(owner_id="nobody") == []

    def test_deleting_an_account_deletes_its_analyses(self, repository: ContractRepository) -> None:
        acc, ids = account_with_items(repository, 2)
        keep, kept = account_with_items(repository, 1, external="UC-2")
        late, late_ids = account_with_items(repository, 1, external="UC-3")
        claim_batch(repository)
        save_batch(repository, *(make_result(i, acc) for i in ids), make_result(kept[0], keep))
        assert repository.delete_account(acc.id)
        for item_id in ids:
            assert repository.get_analysis(item_id) is None
            assert repository.item_analysis_state(item_id) is None
        assert [a.item_id for a in repository.list_analyses(owner_id="owner-1")] == kept
        assert repository.channel_stats() == [
            ChannelStats("owner-1", "Zoë Ångström", allow=1, block=0, review=0, confidence_sum=80)
        ]
        # A result for an item deleted while it was analysed leaves nothing behind.
        assert repository.delete_account(late.id)
        save_batch(repository, make_result(late_ids[0], late), at=102)
        assert repository.get_analysis(late_ids[0]) is None
        assert repository.analysis_backlog() == 0

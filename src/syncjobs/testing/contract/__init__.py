"""The repository contracts: the behaviour every store must show, as pytest tests.

A host app that stores jobs its own way runs a suite against its implementation::

    from syncjobs.testing.contract import JobRepositoryContract

    class TestMyRepository(JobRepositoryContract):
        @pytest.fixture
        def repository(self):
            return MyRepository(...)

Each suite lives beside its protocol and is gathered here: ``JobRepositoryContract``
(``syncjobs.core.ledger``), ``UpkeepRepositoryContract`` (``syncjobs.core.upkeep``),
``AccountRepositoryContract`` (``syncjobs.accounts``: accounts and items), and
``InsightsRepositoryContract`` for the built-in jobs' records (its repository must be an
``AccountRepository`` too). syncjobs runs them all against ``InMemoryRepository`` and
``SQLAlchemyRepository`` on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import threading
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pytest

from ...accounts.contract import AccountRepositoryContract, AccountStoreContract
from ...accounts.items_contract import ItemStoreContract
from ...accounts.store import AccountRepository
from ...accounts.testdata import (
    T0,
    item_ids,
    make_account,
    minute,
    stored_account,
    video,
)
from ...core.ledger.contract import JobRepositoryContract, existing, new_job
from ...core.ledger.store import JobRepository
from ...core.upkeep.contract import UpkeepRepositoryContract
from ...models import (
    Account,
    Analysis,
    BreakerState,
    ChannelStats,
    Decision,
    DigestFrequency,
    Notification,
    OwnerActivity,
    Preferences,
    QueuedItem,
    TrustScore,
    UsageEvent,
    UsagePeriod,
    UsageRecord,
)
from ...protocols import InsightsRepository

__all__ = [
    "T0",
    "AccountRepositoryContract",
    "AccountStoreContract",
    "InsightsRepositoryContract",
    "InsightsStore",
    "ItemStoreContract",
    "JobRepositoryContract",
    "UpkeepRepositoryContract",
    "existing",
    "item_ids",
    "make_account",
    "minute",
    "new_job",
    "stored_account",
    "video",
]

_at, _account, _ids = minute, make_account, item_ids


# -- the seed jobs' records (InsightsRepository) --------------------------------------------


class InsightsStore(JobRepository, AccountRepository, InsightsRepository, Protocol):
    """What ``InsightsRepositoryContract`` runs against: the ledger, accounts and insights."""


def _seed(
    repo: InsightsStore,
    count: int,
    *,
    external: str = "UC-1",
    owner_id: str = "owner-1",
    minutes: float = 0,
) -> tuple[Account, list[int]]:
    """An account with ``count`` items, one first seen per minute from ``minutes`` on."""
    acc = _account(repo, external, owner_id=owner_id, minutes=minutes)
    for i in range(count):
        repo.save_page(
            acc.id,
            items=[video(f"{external}-{i:02d}")],
            deleted_ids=[],
            cursor={},
            now=_at(minutes + i),
        )
    return acc, [it.id for it in repo.list_items(acc.id)]


def _claim(
    repo: InsightsStore, limit: int = 100, *, at: float = 100, stale: float = 40
) -> list[QueuedItem]:
    return repo.claim_analysis_batch(limit=limit, now=_at(at), stale_before=_at(stale))


def _claimed_ids(repo: InsightsStore, limit: int = 100, **kwargs: Any) -> list[int]:
    return [q.item_id for q in _claim(repo, limit, **kwargs)]


def _result(
    item_id: int,
    acc: Account,
    decision: Decision = Decision.ALLOW,
    *,
    minutes: float = 101,
    confidence: int = 80,
    channel: str = "Zoë Ångström",
    tokens: int | None = 150,
    ai_calls: int = 1,
) -> Analysis:
    return Analysis(
        item_id=item_id,
        owner_id=acc.owner_id,
        account_id=acc.id,
        channel=channel,
        decision=decision,
        confidence=confidence,
        tags=("kids", "東京 ✓"),
        analyzer="keyword",
        tokens=tokens,
        ai_calls=ai_calls,
        duration_ms=42,
        analyzed_at=_at(minutes),
    )


def _save(repo: InsightsStore, *results: Analysis, at: float = 101, **kwargs: Any) -> None:
    kwargs.setdefault("max_attempts", 3)
    repo.save_analyses(results=list(results), now=_at(at), **kwargs)


def _threads(count: int, target: Any) -> list[BaseException]:
    """Run ``target`` in ``count`` threads started together; return what they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(count)

    def run() -> None:
        try:
            barrier.wait()
            target()
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


class InsightsRepositoryContract:
    """The analysis queue and results, preferences, trust scores, usage, deliveries,
    breakers, digests and retention.

    Provide a ``repository`` fixture returning a fresh, empty repository that implements
    ``AccountRepository`` too (items are made with ``create_account`` and ``save_page``).
    """

    @pytest.fixture
    def repository(self) -> InsightsStore:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    # -- the analysis queue -----------------------------------------------------------------
    def test_new_items_are_queued_and_a_claim_marks_them_analyzing(
        self, repository: InsightsStore
    ) -> None:
        assert isinstance(repository, InsightsRepository)
        acc, ids = _seed(repository, 2)
        assert repository.item_analysis_state(ids[0]) == ("queued", 0, None)
        assert repository.item_analysis_state(10**9) is None
        assert repository.analysis_backlog() == 2
        batch = _claim(repository)
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
            _at(0),
            0,
            False,
            0,
        )
        assert repository.item_analysis_state(ids[0]) == ("analyzing", 0, None)
        assert [it.analysis_state for it in repository.list_items(acc.id)] == ["analyzing"] * 2
        assert _claim(repository) == []  # claimed items are nobody else's
        assert repository.analysis_backlog() == 2  # still waiting for a result

    def test_claim_order_is_review_flag_then_priority_then_oldest(
        self, repository: InsightsStore
    ) -> None:
        _, ids = _seed(repository, 6)
        repository.queue_for_analysis([ids[4]], priority=5, review_flag=False, now=_at(10))
        repository.queue_for_analysis([ids[5]], priority=1, review_flag=True, now=_at(10))
        repository.queue_for_analysis([ids[3]], priority=5, review_flag=False, now=_at(10))
        repository.queue_for_analysis([ids[1]], priority=-1, review_flag=False, now=_at(10))
        best = _claim(repository, 3)
        assert [q.item_id for q in best] == [ids[5], ids[3], ids[4]]
        assert [(q.priority, q.review_flag) for q in best] == [(1, True), (5, False), (5, False)]
        assert _claimed_ids(repository) == [ids[0], ids[2], ids[1]]

    def test_items_first_seen_together_are_claimed_by_lowest_id(
        self, repository: InsightsStore
    ) -> None:
        acc = _account(repository)
        repository.save_page(
            acc.id, items=[video(f"v{i}") for i in range(5)], deleted_ids=[], cursor={}, now=_at(0)
        )
        ids = sorted(it.id for it in repository.list_items(acc.id))
        assert _claimed_ids(repository, 2) == ids[:2]
        assert _claimed_ids(repository, 5) == ids[2:]

    def test_the_channel_falls_back_to_the_account_name_then_the_provider(
        self, repository: InsightsStore
    ) -> None:
        acc = _account(repository)
        repository.save_page(
            acc.id,
            items=[video("v1", author=None), video("v2", author="")],
            deleted_ids=[],
            cursor={},
            now=_at(0),
        )
        nameless = repository.create_account(
            owner_id="owner-1",
            provider="tiktok",
            external_id="tt-1",
            display_name=None,
            sync_interval=900,
            now=_at(0),
        )
        repository.save_page(
            nameless.id, items=[video("v3", author=None)], deleted_ids=[], cursor={}, now=_at(1)
        )
        assert [q.channel for q in _claim(repository)] == [
            "Zoë's channel ✓",
            "Zoë's channel ✓",
            "tiktok",
        ]

    def test_deleted_items_are_neither_claimed_nor_queued(self, repository: InsightsStore) -> None:
        acc, ids = _seed(repository, 3)
        repository.save_page(acc.id, items=[], deleted_ids=["UC-1-01"], cursor={}, now=_at(5))
        assert repository.analysis_backlog() == 2
        assert _claimed_ids(repository) == [ids[0], ids[2]]
        assert repository.queue_for_analysis(ids, priority=0, review_flag=True, now=_at(6)) == 2
        assert _claimed_ids(repository, at=101) == [ids[0], ids[2]]

    def test_concurrent_claimers_never_get_the_same_item(self, repository: InsightsStore) -> None:
        acc = _account(repository)
        repository.save_page(
            acc.id,
            items=[video(f"v{i:02d}") for i in range(40)],
            deleted_ids=[],
            cursor={},
            now=_at(0),
        )
        claimed: list[int] = []

        def claimer() -> None:
            while batch := _claimed_ids(repository, 3):
                claimed.extend(batch)

        assert _threads(4, claimer) == []
        assert len(claimed) == len(set(claimed)) == 40
        assert set(claimed) == {it.id for it in repository.list_items(acc.id)}
        assert repository.analysis_backlog() == 40

    def test_an_item_left_analyzing_too_long_is_claimed_again(
        self, repository: InsightsStore
    ) -> None:
        _, ids = _seed(repository, 2)
        assert _claimed_ids(repository, 1, at=10, stale=0) == [ids[0]]
        assert _claimed_ids(repository, at=20, stale=5) == [ids[1]]  # ids[0]: still alive
        again = _claim(repository, at=30, stale=15)
        assert [(q.item_id, q.attempts) for q in again] == [(ids[0], 0)]
        assert _claim(repository, at=31, stale=15) == []
        assert repository.item_analysis_state(ids[0]) == ("analyzing", 0, None)

    # -- results ----------------------------------------------------------------------------
    def test_results_are_stored_and_mark_the_item_done(self, repository: InsightsStore) -> None:
        acc, ids = _seed(repository, 2)
        _claim(repository)
        blocked = _result(ids[0], acc, Decision.BLOCK, confidence=91, tokens=None, ai_calls=0)
        _save(repository, blocked, released=[ids[1]])
        got = repository.get_analysis(ids[0])
        assert got == blocked
        assert got is not None and got.decision is Decision.BLOCK
        assert got.tags == ("kids", "東京 ✓") and got.tokens is None
        assert got.analyzed_at == _at(101) and got.analyzed_at.tzinfo is not None
        assert repository.item_analysis_state(ids[0]) == ("done", 0, None)
        assert repository.list_items(acc.id)[0].analysis_state == "done"
        assert repository.get_analysis(ids[1]) is None
        assert repository.analysis_backlog() == 1
        assert repository.get_analysis(10**9) is None

    def test_failed_items_are_queued_again_until_max_attempts(
        self, repository: InsightsStore
    ) -> None:
        _, ids = _seed(repository, 2)
        repository.queue_for_analysis([ids[1]], priority=0, review_flag=True, now=_at(1))
        _claim(repository)
        _save(repository, failed={ids[1]: "timeout ✗"}, max_attempts=2)
        assert repository.item_analysis_state(ids[1]) == ("queued", 1, "timeout ✗")
        # A failed item backs off: not claimable until its failure is older than stale_before.
        assert _claim(repository, at=102, stale=40) == []
        assert repository.analysis_backlog() == 2  # but it still waits for analysis
        # Then it is still flagged for review (no result yet), and it counts its attempt.
        again = _claim(repository, 1, at=160, stale=101.5)
        assert [(q.item_id, q.attempts, q.review_flag) for q in again] == [(ids[1], 1, True)]
        _save(repository, failed={ids[1]: "x" * 5000}, max_attempts=2, at=103)
        state = repository.item_analysis_state(ids[1])
        assert state is not None and state[:2] == ("failed", 2)
        assert state[2] is not None and state[2].startswith("xxx") and len(state[2]) <= 5000
        assert _claim(repository, at=104) == []
        assert repository.analysis_backlog() == 1  # ids[0] is still being analysed
        assert (
            repository.queue_for_analysis([ids[1]], priority=0, review_flag=False, now=_at(105))
            == 1
        )
        assert repository.item_analysis_state(ids[1]) == ("queued", 0, None)

    def test_released_items_go_back_without_counting_an_attempt(
        self, repository: InsightsStore
    ) -> None:
        _, ids = _seed(repository, 2)
        _claim(repository)
        _save(repository, failed={ids[0]: "boom"}, max_attempts=5)
        assert _claimed_ids(repository, at=102) == []  # the failed one backs off
        assert _claimed_ids(repository, at=102, stale=101.5) == [ids[0], ids[1]]
        _save(repository, released=ids, max_attempts=5, at=103)
        first, second = (repository.item_analysis_state(i) for i in ids)
        assert first is not None and first[:2] == ("queued", 1)
        assert second == ("queued", 0, None)
        assert [(q.item_id, q.attempts) for q in _claim(repository, at=104)] == [
            (ids[0], 1),
            (ids[1], 0),
        ]

    def test_an_item_whose_words_change_is_judged_again_but_not_for_new_counts(
        self, repository: InsightsStore
    ) -> None:
        acc, ids = _seed(repository, 2)
        _claim(repository)
        _save(repository, _result(ids[0], acc), _result(ids[1], acc))
        assert _claim(repository, at=110) == []
        first, second = (f"UC-1-{i:02d}" for i in range(2))
        repository.save_page(
            acc.id,
            items=[
                video(first, title="A brand new title"),  # what an analyzer reads changed
                video(second, metrics={"views": 99_999}),  # only the counts changed
            ],
            deleted_ids=[],
            cursor={},
            now=_at(120),
        )
        assert repository.item_analysis_state(ids[0]) == ("queued", 0, None)
        assert repository.item_analysis_state(ids[1]) == ("done", 0, None)
        assert _claimed_ids(repository, at=121) == [ids[0]]
        assert repository.get_analysis(ids[0]) is not None  # the old verdict stays until then

    def test_skipped_items_have_no_analysis(self, repository: InsightsStore) -> None:
        _, ids = _seed(repository, 2)
        _claim(repository)
        _save(repository, skipped=[ids[0]], released=[ids[1]])
        assert repository.item_analysis_state(ids[0]) == ("skipped", 0, None)
        assert repository.get_analysis(ids[0]) is None
        assert repository.list_analyses(owner_id="owner-1") == []
        assert repository.analysis_backlog() == 1
        assert _claimed_ids(repository, at=102) == [ids[1]]

    def test_analysing_again_keeps_one_analysis_per_item(self, repository: InsightsStore) -> None:
        acc, ids = _seed(repository, 1)
        _claim(repository)
        _save(repository, _result(ids[0], acc, Decision.REVIEW, confidence=30))
        assert repository.queue_for_analysis(ids, priority=9, review_flag=True, now=_at(102)) == 1
        assert repository.get_analysis(ids[0]) is not None  # kept until the new one comes
        [queued] = _claim(repository, at=103)
        assert (queued.priority, queued.review_flag, queued.attempts) == (9, True, 0)
        second = _result(ids[0], acc, Decision.ALLOW, minutes=104, confidence=60, tokens=7)
        _save(repository, second, at=104)
        assert repository.get_analysis(ids[0]) == second
        assert repository.list_analyses(owner_id="owner-1") == [second]
        assert repository.channel_stats() == [
            ChannelStats("owner-1", "Zoë Ångström", allow=1, block=0, review=0, confidence_sum=60)
        ]

    def test_queue_for_analysis_counts_live_items_only(self, repository: InsightsStore) -> None:
        acc, ids = _seed(repository, 3)
        repository.save_page(acc.id, items=[], deleted_ids=["UC-1-02"], cursor={}, now=_at(5))
        _claim(repository)
        _save(repository, _result(ids[0], acc), failed={ids[1]: "boom"})
        assert (
            repository.queue_for_analysis(
                [ids[0], ids[1], ids[2], 10**9, ids[0]], priority=2, review_flag=False, now=_at(110)
            )
            == 2
        )
        assert repository.queue_for_analysis([], priority=2, review_flag=False, now=_at(110)) == 0
        assert repository.item_analysis_state(ids[0]) == ("queued", 0, None)
        assert repository.item_analysis_state(ids[1]) == ("queued", 0, None)
        assert [(q.item_id, q.priority) for q in _claim(repository, at=111)] == [
            (ids[0], 2),
            (ids[1], 2),
        ]

    def test_list_analyses_newest_first_by_owner_and_decision(
        self, repository: InsightsStore
    ) -> None:
        acc, ids = _seed(repository, 4)
        other, theirs = _seed(repository, 1, external="UC-2", owner_id="owner-2")
        _claim(repository)
        results = [
            _result(ids[0], acc, Decision.ALLOW, minutes=101),
            _result(ids[1], acc, Decision.BLOCK, minutes=103),
            _result(ids[2], acc, Decision.ALLOW, minutes=103),
            _result(ids[3], acc, Decision.REVIEW, minutes=102),
            _result(theirs[0], other, Decision.ALLOW, minutes=104),
        ]
        _save(repository, *results, at=104)
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

    # -- preferences and trust scores -------------------------------------------------------
    def test_preferences_round_trip_and_are_replaced(self, repository: InsightsStore) -> None:
        assert repository.get_preferences("owner-1") is None
        prefs = Preferences(
            owner_id="owner-1",
            blocked_words=("gore", "Blut ✗"),
            allowed_channels=("Zoë Ångström",),
            blocked_channels=("bad", "worse"),
            viewer_age=9,
            timezone="Europe/Berlin",
            digest=DigestFrequency.WEEKLY,
            webhook_url="https://example.test/hook?owner=1",
        )
        assert repository.save_preferences(prefs, now=_at(1)) == prefs
        got = repository.get_preferences("owner-1")
        assert got == prefs
        assert got is not None and got.digest is DigestFrequency.WEEKLY
        assert isinstance(got.blocked_words, tuple)
        plain = Preferences("owner-1")
        assert repository.save_preferences(plain, now=_at(2)) == plain
        assert repository.get_preferences("owner-1") == plain
        assert repository.get_preferences("owner-2") is None

    def test_channel_stats_count_decisions_and_sum_confidence(
        self, repository: InsightsStore
    ) -> None:
        acc, ids = _seed(repository, 5)
        other, theirs = _seed(repository, 1, external="UC-2", owner_id="owner-2")
        _claim(repository)
        _save(
            repository,
            _result(ids[0], acc, Decision.ALLOW, confidence=90, channel="A"),
            _result(ids[1], acc, Decision.BLOCK, confidence=70, channel="A"),
            _result(ids[2], acc, Decision.REVIEW, confidence=50, channel="A"),
            _result(ids[3], acc, Decision.ALLOW, confidence=40, channel="B"),
            _result(ids[4], acc, Decision.ALLOW, confidence=10, channel="B"),
            _result(theirs[0], other, Decision.BLOCK, confidence=99, channel="A"),
        )
        stats = repository.channel_stats()
        assert stats == [
            ChannelStats("owner-1", "A", allow=1, block=1, review=1, confidence_sum=210),
            ChannelStats("owner-1", "B", allow=2, block=0, review=0, confidence_sum=50),
            ChannelStats("owner-2", "A", allow=0, block=1, review=0, confidence_sum=99),
        ]
        assert stats[0].analysed == 3
        assert repository.channel_stats(owner_id="owner-2") == stats[2:]
        assert repository.channel_stats(owner_id="nobody") == []

    def test_trust_scores_upsert_and_come_lowest_first(self, repository: InsightsStore) -> None:
        b = TrustScore("owner-1", "B", 0.8, 10, 8, 1, 1, 75.5, _at(1))
        a = TrustScore("owner-1", "A", 0.25, 5, 1, 4, 0, 60.0, _at(1))
        c = TrustScore("owner-1", "C", 0.8, 3, 3, 0, 0, 90.0, _at(1))
        theirs = TrustScore("owner-2", "A", 1.0, 1, 1, 0, 0, 99.0, _at(1))
        assert repository.save_trust_scores([b, a, c, theirs]) == 4
        assert repository.list_trust_scores(owner_id="owner-1") == [a, b, c]
        assert repository.save_trust_scores([b, a, c, theirs]) == 4  # a re-run: no change
        assert repository.list_trust_scores(owner_id="owner-1") == [a, b, c]
        better = dataclasses.replace(a, score=0.9, videos_analysed=6, allow=2, updated_at=_at(2))
        assert repository.save_trust_scores([better]) == 1
        assert repository.list_trust_scores(owner_id="owner-1") == [b, c, better]
        assert repository.list_trust_scores(owner_id="owner-2") == [theirs]
        assert repository.save_trust_scores([]) == 0

    # -- usage ------------------------------------------------------------------------------
    def test_usage_events_cover_the_window_exactly(self, repository: InsightsStore) -> None:
        acc, ids = _seed(repository, 3)
        _claim(repository)
        _save(
            repository,
            _result(ids[0], acc, minutes=100, tokens=None, ai_calls=0),
            _result(ids[1], acc, minutes=159.5, tokens=300, ai_calls=2),
            _result(ids[2], acc, minutes=160),
            at=160,
        )
        for minutes, calls in ((99, 1), (100, 3), (160, 5)):
            repository.record_provider_usage(
                owner_id="owner-1",
                account_id=acc.id,
                provider="youtube",
                job_id=None,
                api_calls=calls,
                quota_units=calls * 100,
                at=_at(minutes),
            )
        events = repository.usage_events(start=_at(100), end=_at(160))
        assert sorted(events, key=lambda e: (e.at, e.items_analysed)) == [
            UsageEvent("owner-1", _at(100), api_calls=3, quota_units=300, tokens=0),
            UsageEvent("owner-1", _at(100), items_analysed=1, ai_calls=0, tokens=None),
            UsageEvent("owner-1", _at(159.5), items_analysed=1, ai_calls=2, tokens=300),
        ]
        assert repository.usage_events(start=_at(0), end=_at(99)) == []

    def test_save_usage_replaces_values(self, repository: InsightsStore) -> None:
        d0 = datetime(2024, 3, 10, tzinfo=UTC)
        day, hour = UsagePeriod.DAY, UsagePeriod.HOUR
        records = [
            UsageRecord(
                "a",
                day,
                d0,
                items_analysed=5,
                ai_calls=2,
                tokens=1000,
                api_calls=7,
                quota_units=700,
            ),
            UsageRecord("b", day, d0, items_analysed=1),
            UsageRecord("a", hour, d0, items_analysed=5),
        ]
        assert repository.save_usage(records, now=_at(1)) == 3
        assert repository.save_usage(records, now=_at(2)) == 3  # a re-run changes nothing
        assert repository.list_usage(period=day) == records[:2]
        fixed = dataclasses.replace(records[0], items_analysed=6, tokens=2**40, api_calls=0)
        assert repository.save_usage([fixed], now=_at(3)) == 1
        assert repository.list_usage(period=day, owner_id="a") == [fixed]
        assert repository.list_usage(period=hour) == [records[2]]
        assert repository.list_usage(period=UsagePeriod.MONTH) == []
        assert repository.save_usage([], now=_at(4)) == 0

    def test_list_usage_filters_by_owner_and_start(self, repository: InsightsStore) -> None:
        d0 = datetime(2024, 3, 10, tzinfo=UTC)
        days = [d0 + timedelta(days=i) for i in range(4)]
        repository.save_usage(
            [
                UsageRecord(owner, UsagePeriod.DAY, d, items_analysed=i)
                for i, d in enumerate(days)
                for owner in ("b", "a")
            ]
            + [UsageRecord("a", UsagePeriod.WEEK, d0, items_analysed=9)],
            now=_at(1),
        )

        def keys(**kwargs: Any) -> list[tuple[str, int]]:
            found = repository.list_usage(period=UsagePeriod.DAY, **kwargs)
            return [(r.owner_id, (r.period_start - d0).days) for r in found]

        assert keys(start=days[1], end=days[3]) == [("a", 1), ("b", 1), ("a", 2), ("b", 2)]
        assert keys(owner_id="b", start=days[2]) == [("b", 2), ("b", 3)]
        assert keys(owner_id="a", end=days[1]) == [("a", 0)]
        assert keys(owner_id="c") == []
        [week] = repository.list_usage(period=UsagePeriod.WEEK)
        assert (week.period, week.period_start, week.items_analysed) == (UsagePeriod.WEEK, d0, 9)

    def test_rollup_runs_are_recorded_newest_first(self, repository: InsightsStore) -> None:
        hourly = repository.record_rollup_run(
            period=UsagePeriod.HOUR,
            window_start=_at(0),
            window_end=_at(60),
            started_at=_at(61),
            duration_ms=12,
            records=3,
            errors=0,
            job_id=None,
        )
        daily = repository.record_rollup_run(
            period=UsagePeriod.DAY,
            window_start=_at(-1440),
            window_end=_at(0),
            started_at=_at(62),
            duration_ms=1500,
            records=40,
            errors=1,
            job_id="job-1",
        )
        assert hourly.id != daily.id
        assert (hourly.period, hourly.window_start, hourly.window_end) == (
            UsagePeriod.HOUR,
            _at(0),
            _at(60),
        )
        assert (daily.records, daily.errors, daily.duration_ms, daily.job_id) == (
            40,
            1,
            1500,
            "job-1",
        )
        assert repository.list_rollup_runs() == [daily, hourly]
        assert repository.list_rollup_runs(limit=1) == [daily]

    # -- notifications, deliveries, breakers ------------------------------------------------
    def _note(
        self, repo: InsightsStore, owner_id: str = "owner-1", minutes: float = 0, title: str = "n"
    ) -> Notification:
        return repo.add_notification(
            owner_id=owner_id,
            kind="analysis.blocked",
            title=title,
            body="Ünïcode ✓",
            data={"item": 1},
            now=_at(minutes),
        )

    def test_notifications_newest_first(self, repository: InsightsStore) -> None:
        data = {"account_id": "acc-1", "count": 3, "names": ["Zoë", "東京"]}
        first = repository.add_notification(
            owner_id="owner-1",
            kind="sync.failed",
            title="Sync failed ✗",
            body="Reconnect your channel — the token was revoked.",
            data=data,
            now=_at(1),
        )
        assert (first.owner_id, first.kind, first.title, first.data) == (
            "owner-1",
            "sync.failed",
            "Sync failed ✗",
            data,
        )
        assert (first.created_at, first.read_at) == (_at(1), None)
        for title, minutes in (("third", 3), ("second", 2), ("tie-a", 4), ("tie-b", 4)):
            repository.add_notification(
                owner_id="owner-1",
                kind="sync.done",
                title=title,
                body="",
                data={},
                now=_at(minutes),
            )
        repository.add_notification(
            owner_id="owner-2", kind="sync.done", title="theirs", body="", data={}, now=_at(9)
        )
        notes = repository.list_notifications(owner_id="owner-1")
        assert [n.title for n in notes] == ["tie-b", "tie-a", "third", "second", "Sync failed ✗"]
        assert notes[-1] == first
        unread = repository.list_notifications(owner_id="owner-1", unread_only=True)
        assert [n.id for n in unread] == [n.id for n in notes]
        assert [n.title for n in repository.list_notifications(owner_id="owner-2")] == ["theirs"]
        assert repository.list_notifications(owner_id="nobody", unread_only=True) == []

    def test_notifications_are_marked_read_per_owner(self, repository: InsightsStore) -> None:
        first, second, third = (self._note(repository, minutes=m) for m in (1, 2, 3))
        theirs = self._note(repository, "owner-2")
        assert repository.get_notification(first.id) == first
        assert repository.get_notification(10**9) is None
        assert repository.mark_notifications_read("owner-1", [first.id, theirs.id], now=_at(5)) == 1
        read = repository.get_notification(first.id)
        assert read is not None and read.read_at == _at(5)
        assert repository.mark_notifications_read("owner-1", [first.id], now=_at(6)) == 0
        assert repository.mark_notifications_read("owner-1", [], now=_at(6)) == 0
        again = repository.get_notification(first.id)
        assert again is not None and again.read_at == _at(5)
        assert repository.mark_notifications_read("owner-1", None, now=_at(7)) == 2
        assert repository.list_notifications(owner_id="owner-1", unread_only=True) == []
        assert [n.id for n in repository.list_notifications(owner_id="owner-1")] == [
            third.id,
            second.id,
            first.id,
        ]
        unread = repository.get_notification(theirs.id)
        assert unread is not None and unread.read_at is None

    def test_a_delivery_counts_attempts_and_stays_delivered(
        self, repository: InsightsStore
    ) -> None:
        note = self._note(repository)
        assert repository.get_delivery(note.id, "webhook") is None
        failed = repository.record_delivery(note.id, "webhook", ok=False, error="503 ✗", now=_at(1))
        assert (failed.notification_id, failed.notifier, failed.delivered) == (
            note.id,
            "webhook",
            False,
        )
        assert (failed.attempts, failed.updated_at, failed.delivered_at, failed.last_error) == (
            1,
            _at(1),
            None,
            "503 ✗",
        )
        assert repository.get_delivery(note.id, "webhook") == failed
        done = repository.record_delivery(note.id, "webhook", ok=True, error=None, now=_at(2))
        assert (done.delivered, done.attempts, done.delivered_at) == (True, 2, _at(2))
        late = repository.record_delivery(note.id, "webhook", ok=False, error="late", now=_at(3))
        assert (late.delivered, late.attempts, late.delivered_at) == (True, 3, _at(2))
        again = repository.record_delivery(note.id, "webhook", ok=True, error=None, now=_at(4))
        assert (again.delivered, again.attempts, again.delivered_at) == (True, 4, _at(2))
        assert repository.get_delivery(note.id, "webhook") == again
        assert repository.get_delivery(note.id, "email") is None

    def test_a_breaker_opens_at_the_threshold_and_success_closes_it(
        self, repository: InsightsStore
    ) -> None:
        assert repository.get_breaker("ai") == BreakerState("ai")

        def record(ok: bool, minutes: float) -> BreakerState:
            return repository.record_breaker(
                "ai", ok=ok, threshold=3, cooldown=60.0, now=_at(minutes)
            )

        assert record(False, 0) == BreakerState("ai", 1, None)
        assert record(False, 1) == BreakerState("ai", 2, None)
        opened = record(False, 2)
        assert opened == BreakerState("ai", 3, _at(3))
        assert opened.is_open(_at(2.5)) and not opened.is_open(_at(3))
        assert repository.get_breaker("ai") == opened
        assert record(True, 4) == BreakerState("ai", 0, None)
        assert repository.get_breaker("ai") == BreakerState("ai")
        assert record(False, 5) == BreakerState("ai", 1, None)
        assert repository.get_breaker("webhook") == BreakerState("webhook")

    def test_a_failure_while_half_open_reopens_the_breaker(self, repository: InsightsStore) -> None:
        def record(ok: bool, minutes: float, threshold: int = 2) -> BreakerState:
            return repository.record_breaker(
                "hook", ok=ok, threshold=threshold, cooldown=60.0, now=_at(minutes)
            )

        record(False, 0)
        assert record(False, 1) == BreakerState("hook", 2, _at(2))
        # The cooldown is over: the breaker is half-open, one failure opens it again.
        assert record(False, 5, threshold=10) == BreakerState("hook", 3, _at(6))
        assert record(True, 7, threshold=10) == BreakerState("hook", 0, None)

    def test_concurrent_breaker_failures_all_count(self, repository: InsightsStore) -> None:
        def fail() -> None:
            for _ in range(5):
                repository.record_breaker(
                    "busy", ok=False, threshold=1000, cooldown=1.0, now=_at(0)
                )

        assert _threads(6, fail) == []
        assert repository.get_breaker("busy") == BreakerState("busy", 30, None)

    # -- digests ----------------------------------------------------------------------------
    def test_digest_owners_page_through_owners_with_accounts_or_preferences(
        self, repository: InsightsStore
    ) -> None:
        for owner, external in (("d", "d1"), ("b", "b1"), ("d", "d2")):
            _account(repository, external, owner_id=owner)
        prefs = {
            o: Preferences(o, digest=DigestFrequency.WEEKLY, timezone="Asia/Tokyo")
            for o in ("e", "a", "d")
        }
        for p in prefs.values():
            repository.save_preferences(p, now=_at(0))
        expected = [("a", prefs["a"]), ("b", None), ("d", prefs["d"]), ("e", prefs["e"])]
        assert repository.digest_owners(after=None, limit=10) == expected
        assert repository.digest_owners(after=None, limit=2) == expected[:2]
        assert repository.digest_owners(after="b", limit=2) == expected[2:]
        assert repository.digest_owners(after="e", limit=2) == []

    def test_a_digest_is_claimed_once_per_period(self, repository: InsightsStore) -> None:
        assert repository.claim_digest("a", "daily", "2024-03-10", now=_at(0))
        assert not repository.claim_digest("a", "daily", "2024-03-10", now=_at(1))
        assert repository.claim_digest("a", "weekly", "2024-03-10", now=_at(1))
        assert repository.claim_digest("a", "daily", "2024-03-11", now=_at(1))
        assert repository.claim_digest("b", "daily", "2024-03-10", now=_at(1))
        repository.release_digest("a", "daily", "2024-03-10")
        repository.release_digest("nobody", "daily", "2024-03-10")
        wins: list[bool] = []

        def claim() -> None:
            wins.append(repository.claim_digest("a", "daily", "2024-03-10", now=_at(2)))

        assert _threads(5, claim) == []
        assert sorted(wins) == [False, False, False, False, True]

    def test_owner_activity_counts_what_happened_in_the_window(
        self, repository: InsightsStore
    ) -> None:
        acc = _account(repository)
        for i, minutes in enumerate((0, 1, 10, 11, 12, 20)):
            repository.save_page(
                acc.id, items=[video(f"v{i}")], deleted_ids=[], cursor={}, now=_at(minutes)
            )
        ids = [it.id for it in repository.list_items(acc.id)]
        other, theirs = _seed(repository, 1, external="UC-2", owner_id="owner-2", minutes=10)
        _claim(repository)
        _save(
            repository,
            _result(ids[0], acc, Decision.ALLOW, minutes=5),
            _result(ids[1], acc, Decision.REVIEW, minutes=5),
            _result(ids[2], acc, Decision.BLOCK, minutes=15),
            _result(ids[3], acc, Decision.REVIEW, minutes=15),
            _result(ids[4], acc, Decision.ALLOW, minutes=19.5),
            _result(ids[5], acc, Decision.ALLOW, minutes=20),
            _result(theirs[0], other, Decision.REVIEW, minutes=15),
        )
        repository.save_page(acc.id, items=[], deleted_ids=["v3"], cursor={}, now=_at(30))
        for minutes in (1, 2, 3):
            self._note(repository, minutes=minutes)
        read = self._note(repository)
        repository.mark_notifications_read("owner-1", [read.id], now=_at(4))
        self._note(repository, "owner-2")
        activity = repository.owner_activity("owner-1", since=_at(10), until=_at(20))
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
        nothing = repository.owner_activity("nobody", since=_at(10), until=_at(20))
        assert nothing == OwnerActivity() and nothing.is_empty

    # -- retention --------------------------------------------------------------------------
    def test_delete_allowed_items_keeps_block_review_and_unanalysed_items(
        self, repository: InsightsStore
    ) -> None:
        acc, ids = _seed(repository, 8)
        recent, recent_ids = _seed(repository, 1, external="UC-2", minutes=50)
        other, theirs = _seed(repository, 1, external="UC-3", owner_id="owner-2")
        _claim(repository)
        _save(
            repository,
            _result(ids[0], acc, Decision.ALLOW),
            _result(ids[1], acc, Decision.BLOCK),
            _result(ids[2], acc, Decision.REVIEW),
            _result(ids[6], acc, Decision.ALLOW),
            _result(ids[7], acc, Decision.ALLOW),
            _result(recent_ids[0], recent, Decision.ALLOW),
            _result(theirs[0], other, Decision.ALLOW),
            skipped=[ids[3]],
            failed={ids[5]: "gave up"},
            released=[ids[4]],
            max_attempts=1,
        )
        repository.queue_for_analysis([ids[6]], priority=0, review_flag=False, now=_at(102))
        repository.save_page(acc.id, items=[], deleted_ids=["UC-1-07"], cursor={}, now=_at(103))
        gone = {ids[0], ids[3], ids[7], theirs[0]}
        assert repository.delete_allowed_items(before=_at(30), limit=100) == 4
        assert repository.delete_allowed_items(before=_at(30), limit=100) == 0
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

    def test_delete_allowed_items_works_in_batches(self, repository: InsightsStore) -> None:
        acc, ids = _seed(repository, 5)
        _claim(repository)
        _save(repository, *(_result(i, acc) for i in ids))
        assert [repository.delete_allowed_items(before=_at(30), limit=2) for _ in range(4)] == [
            2,
            2,
            1,
            0,
        ]
        assert repository.list_items(acc.id, include_deleted=True) == []
        assert repository.channel_stats() == []

    def test_delete_read_notifications_keeps_unread_and_recent_ones(
        self, repository: InsightsStore
    ) -> None:
        old = [self._note(repository, title=f"old {i}") for i in range(3)]
        unread = self._note(repository, title="unread")
        recent = self._note(repository, title="recent")
        theirs = self._note(repository, "owner-2", title="theirs")
        repository.mark_notifications_read("owner-1", [n.id for n in old], now=_at(1))
        repository.mark_notifications_read("owner-1", [recent.id], now=_at(50))
        repository.mark_notifications_read("owner-2", None, now=_at(2))
        for note in (*old, unread, recent):
            repository.record_delivery(note.id, "webhook", ok=True, error=None, now=_at(1))
        assert repository.delete_read_notifications(before=_at(30), limit=3) == 3
        assert repository.delete_read_notifications(before=_at(30), limit=3) == 1
        assert repository.delete_read_notifications(before=_at(30), limit=3) == 0
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

    def test_deleting_an_account_deletes_its_analyses(self, repository: InsightsStore) -> None:
        acc, ids = _seed(repository, 2)
        keep, kept = _seed(repository, 1, external="UC-2")
        late, late_ids = _seed(repository, 1, external="UC-3")
        _claim(repository)
        _save(repository, *(_result(i, acc) for i in ids), _result(kept[0], keep))
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
        _save(repository, _result(late_ids[0], late), at=102)
        assert repository.get_analysis(late_ids[0]) is None
        assert repository.analysis_backlog() == 0

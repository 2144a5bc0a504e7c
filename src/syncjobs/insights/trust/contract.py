"""The contract of TrustStore: channel statistics and trust scores."""

from __future__ import annotations

import dataclasses

import pytest

from ..contract_helpers import (
    ContractRepository,
    account_with_items,
    at,
    claim_batch,
    make_result,
    save_batch,
)
from ..models import ChannelStats, Decision, TrustScore
from .store import TrustStore

__all__ = ["TrustStoreContract"]


class TrustStoreContract:
    """Channel statistics over the analyses, and trust scores' upserts and order.

    Provide a ``repository`` fixture returning a fresh, empty repository that implements
    ``AccountRepository`` and ``AnalysisQueueStore`` too (the statistics count analyses).
    """

    @pytest.fixture
    def repository(self) -> ContractRepository:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def test_channel_stats_count_decisions_and_sum_confidence(
        self, repository: ContractRepository
    ) -> None:
        assert isinstance(repository, TrustStore)
        acc, ids = account_with_items(repository, 5)
        other, theirs = account_with_items(repository, 1, external="UC-2", owner_id="owner-2")
        claim_batch(repository)
        save_batch(
            repository,
            make_result(ids[0], acc, Decision.ALLOW, confidence=90, channel="A"),
            make_result(ids[1], acc, Decision.BLOCK, confidence=70, channel="A"),
            make_result(ids[2], acc, Decision.REVIEW, confidence=50, channel="A"),
            make_result(ids[3], acc, Decision.ALLOW, confidence=40, channel="B"),
            make_result(ids[4], acc, Decision.ALLOW, confidence=10, channel="B"),
            make_result(theirs[0], other, Decision.BLOCK, confidence=99, channel="A"),
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

    def test_trust_scores_upsert_and_come_lowest_first(
        self, repository: ContractRepository
    ) -> None:
        b = TrustScore("owner-1", "B", 0.8, 10, 8, 1, 1, 75.5, at(1))
        a = TrustScore("owner-1", "A", 0.25, 5, 1, 4, 0, 60.0, at(1))
        c = TrustScore("owner-1", "C", 0.8, 3, 3, 0, 0, 90.0, at(1))
        theirs = TrustScore("owner-2", "A", 1.0, 1, 1, 0, 0, 99.0, at(1))
        assert repository.save_trust_scores([b, a, c, theirs]) == 4
        assert repository.list_trust_scores(owner_id="owner-1") == [a, b, c]
        assert repository.save_trust_scores([b, a, c, theirs]) == 4  # a re-run: no change
        assert repository.list_trust_scores(owner_id="owner-1") == [a, b, c]
        better = dataclasses.replace(a, score=0.9, videos_analysed=6, allow=2, updated_at=at(2))
        assert repository.save_trust_scores([better]) == 1
        assert repository.list_trust_scores(owner_id="owner-1") == [b, c, better]
        assert repository.list_trust_scores(owner_id="owner-2") == [theirs]
        assert repository.save_trust_scores([]) == 0

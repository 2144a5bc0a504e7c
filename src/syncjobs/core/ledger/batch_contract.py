"""The contract of ``JobBatchStore.create_jobs`` (``submit_many``'s one transaction), as tests.

A host store that implements ``create_jobs`` runs it beside ``JobRepositoryContract``::

    class TestMyBatches(JobBatchStoreContract):
        @pytest.fixture
        def repository(self):
            return MyRepository(...)
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from ...errors import ConcurrencyLimitError
from ..models import JobStatus
from .contract import existing, new_job

__all__ = ["JobBatchStoreContract"]


class JobBatchStoreContract:
    """Subclass me and provide a ``repository`` fixture: a fresh store with ``create_jobs``."""

    @pytest.fixture
    def repository(self) -> Any:
        """Override: return the store under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def test_a_batch_is_stored_as_pending_jobs_in_order(self, repository: Any) -> None:
        news = [new_job(f"owner-{i % 3}", params={"i": i}) for i in range(7)]
        rows = repository.create_jobs(news, active_limit=None)
        assert [(job.id, created) for job, created in rows] == [(n.id, True) for n in news]
        for (job, _), new in zip(rows, news, strict=True):
            got = existing(repository.get_job(new.id))
            assert got == job
            assert got.status is JobStatus.PENDING and got.params == new.params
            assert (got.owner_id, got.attempts, got.updated_at) == (
                new.owner_id,
                0,
                new.created_at,
            )

    def test_an_empty_batch_writes_nothing(self, repository: Any) -> None:
        assert repository.create_jobs([], active_limit=1) == []
        assert repository.list_jobs() == []

    def test_a_key_already_used_returns_that_job(self, repository: Any) -> None:
        first, _ = repository.create_job(new_job(idempotency_key="k"), active_limit=None)
        news = [new_job(idempotency_key="k"), new_job(idempotency_key="other")]
        rows = repository.create_jobs(news, active_limit=None)
        assert rows[0] == (first, False)
        assert rows[1][1] and rows[1][0].id == news[1].id
        assert repository.get_job(news[0].id) is None
        assert len(repository.list_jobs(owner_id="owner-1")) == 2

    def test_a_key_repeated_in_the_batch_is_one_job(self, repository: Any) -> None:
        news = [
            new_job(idempotency_key="twice"),
            new_job(idempotency_key="twice"),
            new_job("owner-2", idempotency_key="twice"),  # another owner's key is its own
        ]
        rows = repository.create_jobs(news, active_limit=None)
        assert [created for _, created in rows] == [True, False, True]
        assert rows[1][0].id == rows[0][0].id == news[0].id
        assert rows[2][0].id == news[2].id
        assert repository.get_job(news[1].id) is None

    def test_a_batch_past_an_owners_limit_writes_nothing(self, repository: Any) -> None:
        repository.create_job(new_job("busy"), active_limit=None)
        news = [new_job("free"), new_job("busy"), new_job("busy")]
        with pytest.raises(ConcurrencyLimitError, match="busy"):
            repository.create_jobs(news, active_limit=2)
        assert all(repository.get_job(n.id) is None for n in news)
        assert len(repository.list_jobs()) == 1
        rows = repository.create_jobs(news[:2], active_limit=2)
        assert [created for _, created in rows] == [True, True]

    def test_jobs_found_by_key_do_not_count_towards_the_limit(self, repository: Any) -> None:
        first, _ = repository.create_job(new_job(idempotency_key="a"), active_limit=None)
        rows = repository.create_jobs(
            [new_job(idempotency_key="a"), new_job(idempotency_key="b")], active_limit=2
        )
        assert rows[0] == (first, False) and rows[1][1]

    def test_concurrent_batches_never_exceed_the_limit(self, repository: Any) -> None:
        created: list[int] = []
        refused: list[str] = []
        barrier = threading.Barrier(6)

        def one() -> None:
            barrier.wait()
            try:
                rows = repository.create_jobs([new_job("busy"), new_job("busy")], active_limit=5)
                created.append(sum(1 for _, c in rows if c))
            except ConcurrencyLimitError:
                refused.append("x")

        threads = [threading.Thread(target=one) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert (sum(created), len(refused)) == (4, 4)
        assert len(repository.list_jobs(owner_id="busy")) == 4

    def test_concurrent_batches_with_one_key_make_one_job(self, repository: Any) -> None:
        ids: list[str] = []
        barrier = threading.Barrier(5)

        def one() -> None:
            barrier.wait()
            rows = repository.create_jobs(
                [new_job(idempotency_key="shared"), new_job(idempotency_key=None)],
                active_limit=None,
            )
            ids.append(rows[0][0].id)

        threads = [threading.Thread(target=one) for _ in range(5)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(set(ids)) == 1
        assert len(repository.list_jobs(owner_id="owner-1")) == 6

    def test_a_single_create_racing_a_batch_for_one_key_makes_one_job(
        self, repository: Any
    ) -> None:
        ids: list[str] = []
        barrier = threading.Barrier(6)

        def batch() -> None:
            barrier.wait()
            news = [new_job(f"o{i}", idempotency_key=f"k{i}") for i in range(20)]
            ids.append(repository.create_jobs(news, active_limit=None)[7][0].id)

        def single() -> None:
            barrier.wait()
            ids.append(
                repository.create_job(new_job("o7", idempotency_key="k7"), active_limit=None)[0].id
            )

        threads = [threading.Thread(target=f) for f in (batch, single) * 3]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(ids) == 6 and len(set(ids)) == 1

"""The job browser's contract: the behaviour every ``JobBrowser`` must show, as pytest tests.

Its repository is a ``JobRepository`` and an ``UpkeepRepository`` too: the browser reads the
ledger's jobs, dead letters and heartbeats.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ...errors import InvalidInputError
from ..ledger.contract import existing, new_job
from ..models import Job, JobStatus
from .store import JobBrowser, JobQuery, ThroughputBucket

__all__ = ["JobBrowserContract"]

#: A fixed instant with microseconds (bucket edges must not round them away).
B0 = datetime(2024, 3, 10, 12, 0, 0, 250_000, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return B0 + timedelta(seconds=seconds)


def _ids(jobs: list[Job]) -> list[str]:
    return [j.id for j in jobs]


class JobBrowserContract:
    """Pages, filters, follow-ups, throughput, workers and dead letters; provide ``repository``.

    The repository must implement ``JobRepository`` and ``UpkeepRepository`` too.
    """

    @pytest.fixture
    def repository(self) -> Any:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def _job(self, repo: Any, at: float, owner: str = "o1", **overrides: Any) -> Job:
        made = repo.create_job(new_job(owner, created_at=_at(at), **overrides), active_limit=None)
        return existing(made[0])

    def _ended(self, repo: Any, at: float, status: JobStatus, **overrides: Any) -> Job:
        job = self._job(repo, at - 30, **overrides)
        repo.claim_job(job.id, worker_id="h:1:1", now=_at(at - 20))
        return existing(repo.finish_job(job.id, status=status, now=_at(at), dead_letter=False))

    def _all_pages(self, repo: Any, query: JobQuery) -> list[list[Job]]:
        pages: list[list[Job]] = []
        while True:
            page = repo.browse_jobs(query)
            if not page:
                return pages
            pages.append(page)
            last = page[-1]
            query = JobQuery(**{**query.__dict__, "after": (last.created_at, last.id)})

    def test_filters_combine(self, repository: Any) -> None:
        assert isinstance(repository, JobBrowser)
        want = self._job(repository, 10, "o1", job_type="a")
        self._job(repository, 11, "o2", job_type="a")
        self._job(repository, 12, "o1", job_type="b")
        done = self._ended(repository, 40.5, JobStatus.COMPLETED, job_type="a")
        early = self._job(repository, 1, "o1", job_type="a")

        def found(**filters: Any) -> list[str]:
            return _ids(repository.browse_jobs(JobQuery(**filters)))

        assert found(owner_id="o1", job_type="a", status=JobStatus.PENDING) == [want.id, early.id]
        assert found(owner_id="o1", job_type="a", status=JobStatus.COMPLETED) == [done.id]
        assert found(job_type="a", created_after=_at(5), created_before=_at(11)) == [
            done.id,
            want.id,
        ]
        assert found(owner_id="o1", created_after=_at(10), created_before=_at(10)) == []
        assert found(owner_id="nobody") == []
        assert len(found()) == 5

    def test_pages_never_repeat_or_skip_rows_even_on_equal_times(self, repository: Any) -> None:
        made = [self._job(repository, t) for t in (5, 5, 5, 7, 7, 3, 9, 5)]
        pages = self._all_pages(repository, JobQuery(limit=3))
        assert [len(p) for p in pages] == [3, 3, 2]
        seen = [j.id for page in pages for j in page]
        newest_first = sorted(made, key=lambda j: (j.created_at, j.id), reverse=True)
        assert seen == _ids(newest_first)

    def test_pages_keep_their_filters(self, repository: Any) -> None:
        mine = [self._job(repository, t, "o1") for t in (1, 2, 2, 2, 3)]
        for t in (2, 2, 4):
            self._job(repository, t, "o2")
        pages = self._all_pages(repository, JobQuery(owner_id="o1", limit=2))
        seen = [j.id for page in pages for j in page]
        assert sorted(seen) == sorted(_ids(mine)) and len(set(seen)) == len(mine)
        first = repository.browse_jobs(JobQuery(owner_id="o1", limit=2))
        cursor = (first[-1].created_at, first[-1].id)
        after = repository.browse_jobs(JobQuery(owner_id="o1", after=cursor, limit=50))
        assert _ids(first + after) == seen

    def test_child_jobs_are_the_follow_ups_oldest_first(self, repository: Any) -> None:
        parent = self._job(repository, 0)
        kids = [self._job(repository, t, parent_id=parent.id) for t in (3, 1, 1)]
        self._job(repository, 2, parent_id=str(uuid.uuid4()))
        want = _ids(sorted(kids, key=lambda j: (j.created_at, j.id)))
        assert _ids(repository.child_jobs(parent.id)) == want
        assert _ids(repository.child_jobs(parent.id, limit=2)) == want[:2]
        assert repository.child_jobs(kids[0].id) == []

    def test_throughput_counts_by_outcome_with_every_bucket(self, repository: Any) -> None:
        for at, status in (
            (0, JobStatus.COMPLETED),  # on the first edge: bucket 0
            (59.999999, JobStatus.COMPLETED),
            (60, JobStatus.FAILED),  # exactly on an edge: bucket 1
            (150, JobStatus.FAILED),
            (170, JobStatus.CANCELLED),
            (299.999, JobStatus.COMPLETED),
            (330, JobStatus.COMPLETED),  # at until: outside
            (-0.000001, JobStatus.COMPLETED),  # before since: outside
        ):
            self._ended(repository, at, status)
        self._job(repository, 100)  # pending: never counted
        got = repository.throughput(since=_at(0), until=_at(330), bucket_seconds=60)
        assert got == [
            ThroughputBucket(start=_at(0), completed=2),
            ThroughputBucket(start=_at(60), failed=1),
            ThroughputBucket(start=_at(120), failed=1, cancelled=1),
            ThroughputBucket(start=_at(180)),
            ThroughputBucket(start=_at(240), completed=1),
            ThroughputBucket(start=_at(300)),
        ]
        quiet = repository.throughput(since=_at(1000), until=_at(1120), bucket_seconds=60)
        assert quiet == [ThroughputBucket(start=_at(1000)), ThroughputBucket(start=_at(1060))]

    def test_workers_list_their_running_jobs(self, repository: Any) -> None:
        running = [self._job(repository, t) for t in range(4)]
        for job, worker in zip(running, ("a:1:10", "a:1:11", "a:12:10", "b:1:10"), strict=True):
            repository.claim_job(job.id, worker_id=worker, now=_at(10))
        done = self._ended(repository, 20, JobStatus.COMPLETED)
        assert done.status is JobStatus.COMPLETED
        repository.heartbeat("a:1", "worker", job_ids=[], now=_at(30))
        repository.heartbeat("a:12", "worker", job_ids=[], now=_at(40))
        repository.heartbeat("a:1", "worker", job_ids=[running[0].id], now=_at(50))
        repository.heartbeat("scheduler", "scheduler", job_ids=[], now=_at(45))
        repository.heartbeat("gone:9", "worker", job_ids=[], now=_at(1))
        found = repository.workers(seen_after=_at(30))
        assert [(w.id, w.kind) for w in found] == [
            ("a:1", "worker"),
            ("scheduler", "scheduler"),
            ("a:12", "worker"),
        ]
        first = found[0]
        assert (first.started_at, first.seen_at) == (_at(30), _at(50))
        assert (first.host, first.pid) == ("a", 1)
        assert sorted(first.running) == sorted([running[0].id, running[1].id])
        assert found[1].running == [] and found[1].pid is None
        assert found[2].running == [running[2].id]

    def test_discard_deletes_only_the_named_dead_letters(self, repository: Any) -> None:
        dead = []
        for n in range(3):
            job = self._job(repository, n)
            repository.claim_job(job.id, worker_id="h:1:1", now=_at(10))
            failed = repository.finish_job(
                job.id, status=JobStatus.FAILED, now=_at(20 + n), dead_letter=True
            )
            dead.append(existing(failed))
        alive = self._job(repository, 5)
        assert repository.dead_letter_count() == 3
        gone = repository.discard_dead_letters([dead[0].id, dead[2].id, alive.id, "nope"])
        assert gone == 2
        assert repository.dead_letter_count() == 1
        assert [d.job_id for d in repository.list_dead_letters()] == [dead[1].id]
        assert existing(repository.get_job(dead[0].id)).status is JobStatus.FAILED
        assert repository.discard_dead_letters([]) == 0

    @pytest.mark.parametrize(
        "call",
        [
            lambda r: r.browse_jobs(JobQuery(limit=0)),
            lambda r: r.browse_jobs(JobQuery(created_after=datetime(2024, 1, 1))),
            lambda r: r.browse_jobs(JobQuery(after=(B0, 5))),  # type: ignore[arg-type]
            lambda r: r.child_jobs("x", limit=100_000),
            lambda r: r.child_jobs(None),
            lambda r: r.throughput(since=B0, until=B0, bucket_seconds=60),
            lambda r: r.throughput(since=B0, until=_at(60), bucket_seconds=0),
            lambda r: r.throughput(since=B0, until=_at(10**9), bucket_seconds=1),
            lambda r: r.discard_dead_letters("a-job-id"),
            lambda r: r.workers(seen_after=datetime(2024, 1, 1)),
        ],
    )
    def test_bad_arguments_are_refused(self, repository: Any, call: Any) -> None:
        with pytest.raises(InvalidInputError):
            call(repository)

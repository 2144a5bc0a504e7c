"""The job browser in SQL (mixed into ``SQLAlchemyRepository``), on SQLite and PostgreSQL.

Pages are keyset pages on ``(created_at, id)`` (a row-value comparison, which both dialects
answer from the jobs' ``(…, created_at, id)`` indexes); throughput is grouped in the
database, one row per bucket and outcome.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Integer, Select, cast, delete, extract, func, literal, select, tuple_

from ...schema.base import SQLMixin
from ..ledger.statements import job_from_row
from ..models import Job, JobStatus
from .common import (
    OUTCOMES,
    assign_running,
    bucket_count,
    check_aware,
    check_id,
    check_ids,
    check_limit,
    check_query,
    fill_buckets,
)
from .store import JobQuery, ThroughputBucket, WorkerInfo

__all__ = ["SQLBrowseMixin"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
#: Ids per DELETE … IN (…) (well under SQLite's bound-parameter limit).
_CHUNK = 500


class SQLBrowseMixin(SQLMixin):
    """``JobBrowser`` on SQLAlchemy Core, over the ledger's and upkeep's tables."""

    def _job_page(self, query: JobQuery) -> Select[Any]:
        jobs = self.tables.jobs
        stmt = select(jobs)
        if query.status is not None:
            stmt = stmt.where(jobs.c.status == query.status.value)
        if query.job_type is not None:
            stmt = stmt.where(jobs.c.job_type == query.job_type)
        if query.owner_id is not None:
            stmt = stmt.where(jobs.c.owner_id == query.owner_id)
        if query.created_after is not None:
            stmt = stmt.where(jobs.c.created_at >= query.created_after)
        if query.created_before is not None:
            stmt = stmt.where(jobs.c.created_at < query.created_before)
        if query.after is not None:
            at, job_id = query.after
            key = tuple_(jobs.c.created_at, jobs.c.id)
            stmt = stmt.where(key < tuple_(literal(at, jobs.c.created_at.type), literal(job_id)))
        order = (jobs.c.created_at.desc(), jobs.c.id.desc())
        return stmt.order_by(*order).limit(query.limit)

    def browse_jobs(self, query: JobQuery) -> list[Job]:
        """One page of jobs matching ``query``, newest first by ``(created_at, id)``."""
        stmt = self._job_page(check_query(query))
        with self.engine.connect() as conn:
            return [job_from_row(r) for r in conn.execute(stmt).mappings()]

    def child_jobs(self, parent_id: str, *, limit: int = 50) -> list[Job]:
        """Jobs whose ``parent_id`` is ``parent_id``, oldest first."""
        check_id(parent_id, "parent_id")
        jobs = self.tables.jobs
        stmt = (
            select(jobs)
            .where(jobs.c.parent_id == parent_id)
            .order_by(jobs.c.created_at, jobs.c.id)
            .limit(check_limit(limit))
        )
        with self.engine.connect() as conn:
            return [job_from_row(r) for r in conn.execute(stmt).mappings()]

    def _bucket_of(self, since: datetime, bucket_seconds: int) -> Any:
        """The SQL expression of a job's bucket index (from ``since``, by whole buckets)."""
        ended = self.tables.jobs.c.completed_at
        if self.is_postgres:
            offset = extract("epoch", ended - literal(since, ended.type))
            return cast(func.floor(offset / bucket_seconds), Integer)
        # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC): whole seconds and microseconds,
        # so the index is exact integer arithmetic.
        seconds = cast(func.strftime("%s", ended), Integer)
        micros = seconds * 1_000_000 + cast(func.substr(ended, 21, 6), Integer)
        start = (since - _EPOCH) // _MICRO
        return (micros - start) // (bucket_seconds * 1_000_000)

    def throughput(
        self, *, since: datetime, until: datetime, bucket_seconds: int
    ) -> list[ThroughputBucket]:
        """Jobs ended in ``[since, until)`` by bucket and outcome; every bucket present."""
        count = bucket_count(since, until, bucket_seconds)
        jobs = self.tables.jobs
        bucket = self._bucket_of(since, bucket_seconds).label("bucket")
        stmt = (
            select(bucket, jobs.c.status, func.count())
            .where(
                jobs.c.completed_at >= since,
                jobs.c.completed_at < until,
                jobs.c.status.in_([s.value for s in OUTCOMES]),
            )
            .group_by(bucket, jobs.c.status)
        )
        with self.engine.connect() as conn:
            rows = [(int(b), str(s), int(n)) for b, s, n in conn.execute(stmt)]
        return fill_buckets(since, bucket_seconds, count, rows)

    def workers(self, *, seen_after: datetime) -> list[WorkerInfo]:
        """Workers and the scheduler heard from since ``seen_after``, newest first."""
        check_aware(seen_after, "seen_after")
        t = self.tables
        w, jobs = t.workers, t.jobs
        with self.engine.connect() as conn:
            found = [
                WorkerInfo(id=r.id, kind=r.kind, started_at=r.started_at, seen_at=r.seen_at)
                for r in conn.execute(
                    select(w).where(w.c.seen_at >= seen_after).order_by(w.c.seen_at.desc(), w.c.id)
                )
            ]
            running = conn.execute(
                select(jobs.c.id, jobs.c.worker_id).where(
                    jobs.c.status == JobStatus.PROCESSING.value, jobs.c.worker_id.is_not(None)
                )
            ).all()
        return assign_running(found, [(r.id, r.worker_id) for r in running])

    def dead_letter_count(self) -> int:
        """How many dead letters there are."""
        dl = self.tables.dead_letters
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(dl)).scalar_one())

    def discard_dead_letters(self, job_ids: Sequence[str]) -> int:
        """Delete the dead letters of ``job_ids`` (the jobs stay failed); return how many."""
        ids = sorted(set(check_ids(job_ids)))
        dl = self.tables.dead_letters
        gone = 0
        with self.engine.begin() as conn:
            for i in range(0, len(ids), _CHUNK):
                chunk = ids[i : i + _CHUNK]
                gone += int(conn.execute(delete(dl).where(dl.c.job_id.in_(chunk))).rowcount)
        return gone

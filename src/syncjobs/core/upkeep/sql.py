"""Heartbeats, the schedule ledger, and job upkeep in SQL (mixed into SQLAlchemyRepository)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update

from ...schema.base import SQLMixin
from ..ledger.statements import JobStatements, job_from_row
from ..models import Job, JobStatus
from .store import empty_job_counts

__all__ = ["SQLUpkeepMixin"]

_FINISHED = [JobStatus.COMPLETED.value, JobStatus.CANCELLED.value]


class SQLUpkeepMixin(SQLMixin):
    """``UpkeepRepository`` on SQLAlchemy Core, over the SQL ledger's jobs table."""

    #: The ledger's statements (set by ``SQLLedgerMixin``): recovering a job notifies.
    job_statements: JobStatements

    def heartbeat(
        self, worker_id: str, kind: str, *, job_ids: Sequence[str], now: datetime
    ) -> None:
        """Record a live worker and refresh the heartbeat of the jobs it runs."""
        t = self.tables
        with self.engine.begin() as conn:
            conn.execute(
                self._upsert(t.workers, ["id"], ["seen_at"]),
                {"id": worker_id, "kind": kind, "started_at": now, "seen_at": now},
            )
            if job_ids:
                conn.execute(
                    update(t.jobs)
                    .where(
                        t.jobs.c.id.in_(list(job_ids)),
                        t.jobs.c.status == JobStatus.PROCESSING.value,
                    )
                    .values(heartbeat_at=now)
                )

    def last_heartbeats(self) -> dict[str, datetime]:
        """The latest heartbeat per kind."""
        w = self.tables.workers
        with self.engine.connect() as conn:
            rows = conn.execute(select(w.c.kind, func.max(w.c.seen_at)).group_by(w.c.kind))
            return {kind: _utc(seen) for kind, seen in rows if seen is not None}

    def schedule_slot(self, name: str) -> datetime | None:
        """The last slot a schedule fired."""
        sc = self.tables.schedules
        with self.engine.connect() as conn:
            found = conn.execute(select(sc.c.last_slot).where(sc.c.name == name)).scalar()
        return _utc(found) if found is not None else None

    def claim_schedule_slot(
        self, name: str, *, previous: datetime | None, slot: datetime, now: datetime
    ) -> bool:
        """Compare-and-set the schedule's last slot: exactly one scheduler wins a slot."""
        sc = self.tables.schedules
        with self.engine.begin() as conn:
            if previous is None:
                ins = (
                    self._insert(sc)
                    .values(name=name, last_slot=slot, updated_at=now)
                    .on_conflict_do_nothing(index_elements=["name"])
                    .returning(sc.c.name)
                )
                return conn.execute(ins).first() is not None
            return bool(
                conn.execute(
                    update(sc)
                    .where(sc.c.name == name, sc.c.last_slot == previous)
                    .values(last_slot=slot, updated_at=now)
                ).rowcount
            )

    def stale_jobs(self, *, stale_before: datetime, limit: int) -> list[Job]:
        """Processing jobs whose heartbeat is older than ``stale_before``."""
        jobs = self.tables.jobs
        stmt = (
            select(jobs)
            .where(jobs.c.status == JobStatus.PROCESSING.value, jobs.c.heartbeat_at < stale_before)
            .order_by(jobs.c.heartbeat_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [job_from_row(r) for r in conn.execute(stmt).mappings()]

    def recover_job(
        self,
        job_id: str,
        *,
        stale_before: datetime,
        run_at: datetime,
        now: datetime,
        error_code: str,
        error_message: str,
    ) -> Job | None:
        """Stale processing → pending, if it is still stale."""
        jobs = self.tables.jobs
        stmt = (
            update(jobs)
            .where(
                jobs.c.id == job_id,
                jobs.c.status == JobStatus.PROCESSING.value,
                jobs.c.heartbeat_at < stale_before,
            )
            .values(
                status=JobStatus.PENDING.value,
                scheduled_for=run_at,
                worker_id=None,
                error_code=error_code,
                error_message=error_message,
                updated_at=now,
            )
            .returning(*jobs.c)
        )
        with self.engine.begin() as conn:
            row = conn.execute(stmt).mappings().first()
            if row is not None:
                self.job_statements.notify(conn, job_id, row["status"])
        return job_from_row(row) if row is not None else None

    def unsent_jobs(self, *, idle_before: datetime, now: datetime, limit: int) -> list[Job]:
        """Due pending jobs nobody touched since ``idle_before``."""
        jobs = self.tables.jobs
        stmt = (
            select(jobs)
            .where(
                jobs.c.status == JobStatus.PENDING.value,
                jobs.c.updated_at < idle_before,
                or_(jobs.c.scheduled_for.is_(None), jobs.c.scheduled_for <= now),
            )
            .order_by(jobs.c.created_at)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [job_from_row(r) for r in conn.execute(stmt).mappings()]

    def touch_job(self, job_id: str, *, now: datetime) -> None:
        """Mark a pending job as just (re)sent."""
        jobs = self.tables.jobs
        with self.engine.begin() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.status == JobStatus.PENDING.value)
                .values(updated_at=now)
            )

    def expire_jobs(self, *, now: datetime, limit: int) -> int:
        """Fail pending jobs past their expiry."""
        jobs = self.tables.jobs
        ids = (
            select(jobs.c.id)
            .where(
                jobs.c.status == JobStatus.PENDING.value,
                jobs.c.expires_at < now,
                jobs.c.attempts == 0,
            )
            .limit(limit)
            .scalar_subquery()
        )
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    update(jobs)
                    .where(jobs.c.id.in_(ids), jobs.c.status == JobStatus.PENDING.value)
                    .values(
                        status=JobStatus.FAILED.value,
                        error_code="expired",
                        error_message="the job expired before a worker took it",
                        completed_at=now,
                        updated_at=now,
                    )
                ).rowcount
            )

    def purge_jobs(self, *, finished_before: datetime, failed_before: datetime, limit: int) -> int:
        """Delete one batch of jobs past retention, with their log lines and dead letters."""
        t = self.tables
        jobs = t.jobs
        doomed = (
            select(jobs.c.id)
            .where(
                or_(
                    (jobs.c.status.in_(_FINISHED)) & (jobs.c.completed_at < finished_before),
                    (jobs.c.status == JobStatus.FAILED.value)
                    & (jobs.c.completed_at < failed_before),
                )
            )
            .limit(limit)
        )
        with self.engine.begin() as conn:
            ids = [r[0] for r in conn.execute(doomed)]
            if not ids:
                return 0
            conn.execute(delete(t.job_log).where(t.job_log.c.job_id.in_(ids)))
            conn.execute(delete(t.dead_letters).where(t.dead_letters.c.job_id.in_(ids)))
            return int(conn.execute(delete(jobs).where(jobs.c.id.in_(ids))).rowcount)

    def job_counts(self) -> dict[str, dict[str, Any]]:
        """Per job type: counts by status, dead letters, oldest pending job's creation."""
        t = self.tables
        jobs, dl = t.jobs, t.dead_letters
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for job_type, status, n in conn.execute(
                select(jobs.c.job_type, jobs.c.status, func.count()).group_by(
                    jobs.c.job_type, jobs.c.status
                )
            ):
                out.setdefault(job_type, empty_job_counts())[status] = int(n)
            for job_type, n in conn.execute(
                select(dl.c.job_type, func.count()).group_by(dl.c.job_type)
            ):
                out.setdefault(job_type, empty_job_counts())["dead_lettered"] = int(n)
            for job_type, oldest in conn.execute(
                select(jobs.c.job_type, func.min(jobs.c.created_at))
                .where(jobs.c.status == JobStatus.PENDING.value)
                .group_by(jobs.c.job_type)
            ):
                out.setdefault(job_type, empty_job_counts())["oldest_pending_at"] = _utc(oldest)
        return out


def _utc(value: Any) -> datetime:
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

"""A realistic ledger for the dashboard's screenshots (``scripts/screenshots.py``).

Several owners with accounts on the four providers, synced for real from the bundled fake
provider APIs, two weeks of provider usage, host job types that completed, failed for good
(dead letters), were cancelled or wait; one import running at 40 % with its log; workers'
and the scheduler's heartbeats and the schedules' last fires. Finished jobs are spread over
the last hour, so the throughput chart has a shape.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import update

from syncjobs import FatalError, JobContext, JobStatus
from syncjobs.app import SyncJobs
from syncjobs.clock import utcnow
from syncjobs.connections.models import AccountState
from syncjobs.core.models import Job
from syncjobs.core.registry import Registry, job_type
from syncjobs.core.scheduling import effective_schedules, slots_between
from syncjobs.storage import SQLAlchemyRepository
from syncjobs.testing.fakes import CombinedFakes

from .harness import wait_until

__all__ = ["ACCOUNTS", "Shown", "declare_host_jobs", "populate"]

#: owner, provider, external id, display name.
ACCOUNTS = (
    ("acme-studio", "youtube", "UC-acme-main", "Acme Studio"),
    ("acme-studio", "instagram", "acme.studio", "@acme.studio"),
    ("acme-studio", "gmail", "press@acme.example", "press@acme"),
    ("bluebird-media", "tiktok", "bluebird", "@bluebird"),
    ("bluebird-media", "youtube", "UC-bluebird", "Bluebird Clips"),
    ("north-creek", "gmail", "hello@northcreek.example", "hello@northcreek"),
    ("north-creek", "instagram", "northcreek.co", "@northcreek.co"),
    ("olive-kids", "tiktok", "olive.kids", "@olive.kids"),
    ("olive-kids", "youtube", "UC-olive", "Olive Kids TV"),
    ("quartz-labs", "tiktok", "quartzlabs", "@quartzlabs"),
)
OWNERS = sorted({owner for owner, *_ in ACCOUNTS})


class Import(BaseModel):
    """Params of ``crm.import_contacts``."""

    source: str = "hubspot"
    batches: int = Field(default=5, ge=1, le=100)


class Export(BaseModel):
    """Params of ``reports.monthly_export``."""

    month: str = "2026-11"
    format: str = "csv"


class Thumbs(BaseModel):
    """Params of ``media.render_thumbnails``."""

    videos: int = Field(default=12, ge=1, le=500)


@dataclass
class HostGates:
    """The running import waits here between batches."""

    batch: threading.Semaphore
    #: Months whose export the upstream refuses.
    refused: frozenset[str] = frozenset({"2026-08", "2026-09", "2026-10"})


def declare_host_jobs(registry: Registry, gates: HostGates) -> None:
    """Job types a host might declare, for a realistic jobs list and schedules page."""

    @job_type("crm.import_contacts", params=Import, queue="default", registry=registry)
    def import_contacts(ctx: JobContext, p: Import) -> dict[str, int]:
        for batch in range(1, p.batches + 1):
            while not gates.batch.acquire(timeout=0.05):
                ctx.check_cancelled()
            ctx.log(f"batch {batch}: imported 250 contacts from {p.source}")
            ctx.progress(batch, p.batches, f"batch {batch} of {p.batches} from {p.source}")
        return {"contacts": 250 * p.batches}

    @job_type(
        "reports.monthly_export",
        params=Export,
        schedule="0 4 1 * *",
        max_retries=0,
        registry=registry,
    )
    def monthly_export(ctx: JobContext, p: Export) -> dict[str, Any]:
        if p.month in gates.refused:
            raise FatalError(f"warehouse refused the {p.month} export: table partition missing")
        ctx.progress(1, 1, "uploaded")
        return {"month": p.month, "rows": 18_204, "format": p.format}

    @job_type("media.render_thumbnails", params=Thumbs, schedule="*/15 * * * *", registry=registry)
    def render_thumbnails(ctx: JobContext, p: Thumbs) -> dict[str, int]:
        for done in range(1, p.videos + 1):
            ctx.progress(done, p.videos, f"video {done} of {p.videos}")
        return {"thumbnails": p.videos * 3}


@dataclass
class Shown:
    """What the screenshots point at."""

    running: Job


def populate(app: SyncJobs, fakes: CombinedFakes, gates: HostGates) -> Shown:
    """Fill the ledger of ``app`` (SQL) with the data set; return the running import."""
    repo = app.repository
    assert isinstance(repo, SQLAlchemyRepository), "the screenshots need a SQL ledger"
    now = utcnow()
    rng = random.Random(2026)
    finished = _sync_accounts(app, fakes)
    _usage_history(app, rng, now)
    finished += _host_jobs(app, rng)
    _spread(repo, finished, rng, now)
    running = app.submit(
        "crm.import_contacts", owner_id="north-creek", params={"source": "salesforce"}
    )
    gates.batch.release(2)
    wait_until(lambda: _job(app, running.id).progress_done == 2, 60, "the import at 40 %")
    _upkeep(app, now)
    return Shown(running=_job(app, running.id))


def _job(app: SyncJobs, job_id: str) -> Job:
    job = app.repository.get_job(job_id)
    assert job is not None
    return job


def _wait_finished(app: SyncJobs, jobs: list[Job]) -> list[Job]:
    wait_until(lambda: all(_job(app, j.id).is_terminal for j in jobs), 120, "jobs to finish")
    return [_job(app, j.id) for j in jobs]


def _sync_accounts(app: SyncJobs, fakes: CombinedFakes) -> list[Job]:
    syncs = []
    for owner, provider, external_id, name in ACCOUNTS:
        account = app.accounts.connect(
            owner,
            provider,
            fakes[provider].issue_tokens(),
            external_id=external_id,
            display_name=name,
        )
        syncs.append(app.accounts.sync(account.id, owner_id=owner))
    synced = _wait_finished(app, syncs)
    store = app.deps.accounts
    assert store is not None
    accounts = {a.external_id: a for a in store.list_accounts()}
    store.set_account_state(
        accounts["olive.kids"].id,
        AccountState.REAUTH_REQUIRED,
        now=utcnow(),
        error_code="reauthorization_required",
        error_message="TikTok revoked the refresh token: the owner must connect again",
    )
    store.set_account_state(accounts["press@acme.example"].id, AccountState.DISABLED, now=utcnow())
    return synced


def _usage_history(app: SyncJobs, rng: random.Random, now: datetime) -> None:
    """Thirteen earlier days of provider usage per account (today's came from the syncs)."""
    repo = app.repository
    assert isinstance(repo, SQLAlchemyRepository)
    units_per_call = {"youtube": 3, "gmail": 5, "instagram": 1, "tiktok": 2}
    store = app.deps.accounts
    assert store is not None
    midday = now.replace(hour=12, minute=0, second=0, microsecond=0)
    for account in store.list_accounts():
        base = rng.randint(20, 90)
        for days in range(1, 14):
            calls = max(1, int(base * rng.uniform(0.5, 1.4) * (1.3 if days % 7 < 2 else 1)))
            repo.record_provider_usage(
                owner_id=account.owner_id,
                account_id=account.id,
                provider=account.provider,
                job_id=None,
                api_calls=calls,
                quota_units=calls * units_per_call[account.provider],
                at=midday - timedelta(days=days, hours=rng.uniform(-9, 9)),
            )


def _host_jobs(app: SyncJobs, rng: random.Random) -> list[Job]:
    """Exports (three refused for good), thumbnail runs, a cancelled and a waiting job."""
    jobs: list[Job] = []
    for month in ("2026-07", "2026-08", "2026-09", "2026-10", "2026-11"):
        owner = rng.choice(OWNERS)
        jobs.append(app.submit("reports.monthly_export", owner_id=owner, params={"month": month}))
    for owner in OWNERS:
        for _ in range(rng.randint(2, 4)):
            videos = rng.randint(4, 40)
            jobs.append(
                app.submit("media.render_thumbnails", owner_id=owner, params={"videos": videos})
            )
    finished = _wait_finished(app, jobs)
    later = app.submit("crm.import_contacts", owner_id="quartz-labs", delay=3600)
    app.cancel(later.id, owner_id="quartz-labs")
    app.submit("crm.import_contacts", owner_id="olive-kids", params={"source": "csv"}, delay=900)
    return [*finished, _job(app, later.id)]


def _spread(repo: SQLAlchemyRepository, jobs: list[Job], rng: random.Random, now: datetime) -> None:
    """Move each finished job's times back by up to an hour, so they read like an hour's work."""
    table, dead = repo.tables.jobs, repo.tables.dead_letters
    with repo.engine.begin() as conn:
        for job in jobs:
            back = timedelta(minutes=rng.uniform(1, 58))
            took = timedelta(seconds=rng.uniform(2, 90))
            ended = now - back
            conn.execute(
                update(table)
                .where(table.c.id == job.id)
                .values(
                    created_at=ended - took - timedelta(seconds=rng.uniform(0, 20)),
                    started_at=ended - took if job.status != JobStatus.CANCELLED else None,
                    completed_at=ended,
                    updated_at=ended,
                )
            )
            conn.execute(update(dead).where(dead.c.job_id == job.id).values(failed_at=ended))


def _upkeep(app: SyncJobs, now: datetime) -> None:
    """Two more workers' heartbeats, the scheduler's tick, and the schedules' last slots."""
    repo = app.repository
    assert isinstance(repo, SQLAlchemyRepository)
    for worker in ("sync-worker-1:4121", "sync-worker-2:4188"):
        repo.heartbeat(worker, "worker", job_ids=[], now=now - timedelta(seconds=7))
    repo.heartbeat("scheduler", "scheduler", job_ids=[], now=now - timedelta(seconds=31))
    for schedule in effective_schedules(app):
        slots = slots_between(schedule, now - timedelta(days=8), now)
        if slots:  # a monthly schedule may not have fired in the last eight days: "never"
            repo.claim_schedule_slot(schedule.job_type, previous=None, slot=slots[-1], now=now)

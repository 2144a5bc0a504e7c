"""Fifty submits racing for one owner on PostgreSQL: the active-jobs limit holds exactly."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from dramatiq import Message
from sqlalchemy import func, select

from syncjobs import ConcurrencyLimitError, Job, SyncJobs
from syncjobs.storage import SQLAlchemyRepository

from ..conftest import AppFactory
from .conftest import Reporter

pytestmark = pytest.mark.integration

SUBMITS = 50
LIMIT = 5


def job_ids_sent(app: SyncJobs, job_type: str) -> list[str]:
    """The job id of every message waiting on the stub broker's queue of ``job_type``."""
    queue = app.broker.queues[app.binding.actor(job_type).queue_name].queue
    return [str(Message.decode(data).args[0]) for data in list(queue)]


def race(submit: Any, n: int) -> list[Job | BaseException]:
    """Call ``submit(i)`` from ``n`` threads released at once; each one's job or exception."""
    barrier = threading.Barrier(n)
    outcomes: list[Job | BaseException] = [RuntimeError("never ran")] * n

    def one(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = submit(i)
        except BaseException as exc:
            outcomes[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_fifty_concurrent_submits_for_one_owner(
    make_app: AppFactory, pg_repo: SQLAlchemyRepository, report: Reporter
) -> None:
    app = make_app(pg_repo, max_active_jobs_per_owner=LIMIT)
    outcomes = race(
        lambda i: app.submit("syncjobs.count", owner_id="u1", params={"to": i}), SUBMITS
    )
    accepted = [o for o in outcomes if isinstance(o, Job)]
    refused = [o for o in outcomes if isinstance(o, ConcurrencyLimitError)]
    other = [repr(o) for o in outcomes if not isinstance(o, Job | ConcurrencyLimitError)]
    jobs = pg_repo.tables.jobs
    with pg_repo.engine.connect() as conn:
        rows = conn.execute(
            select(func.count()).select_from(jobs).where(jobs.c.owner_id == "u1")
        ).scalar_one()
    queued = Counter(job_ids_sent(app, "syncjobs.count"))
    ids = {j.id for j in accepted}
    lost = max(0, LIMIT - len(accepted)) + sum(1 for i in ids if queued[i] == 0)
    duplicated = (
        max(0, len(accepted) - LIMIT)
        + sum(n - 1 for n in queued.values() if n > 1)
        + max(0, rows - len(ids))
    )
    report(
        "fifty_concurrent_submits",
        jobs=SUBMITS,
        faults=len(refused),
        lost=lost,
        duplicated=duplicated,
    )
    assert other == []
    assert len(accepted) == len(ids) == rows == LIMIT
    assert len(refused) == SUBMITS - LIMIT
    assert all(e.message for e in refused)
    assert set(queued) == ids and set(queued.values()) == {1}  # each enqueued exactly once
    assert (lost, duplicated) == (0, 0)


def test_fifty_concurrent_submits_with_one_idempotency_key(
    make_app: AppFactory, pg_repo: SQLAlchemyRepository, report: Reporter
) -> None:
    app = make_app(pg_repo, max_active_jobs_per_owner=LIMIT)
    outcomes = race(
        lambda i: app.submit("syncjobs.noop", owner_id="u2", params={}, idempotency_key="once"),
        SUBMITS,
    )
    other = [repr(o) for o in outcomes if not isinstance(o, Job)]
    ids = {o.id for o in outcomes if isinstance(o, Job)}
    jobs = pg_repo.tables.jobs
    with pg_repo.engine.connect() as conn:
        rows = conn.execute(
            select(func.count()).select_from(jobs).where(jobs.c.owner_id == "u2")
        ).scalar_one()
    sent = sum(1 for i in job_ids_sent(app, "syncjobs.noop") if i in ids)
    report(
        "fifty_concurrent_idempotent_submits",
        jobs=SUBMITS,
        faults=0,
        lost=1 - min(1, len(ids)),
        duplicated=max(0, len(ids) - 1) + max(0, sent - 1),
    )
    assert other == []
    assert len(ids) == rows == sent == 1

"""Redis, RabbitMQ and PostgreSQL restarted under a running workload: no job lost, none run
twice."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from syncjobs import JobStatus
from syncjobs.app import SyncJobs

from ..integration.conftest import Workers, wait_for
from .conftest import Reporter

pytestmark = pytest.mark.integration

N = 30


def _settle(app: SyncJobs, ids: list[str], seconds: float = 150) -> list[Any]:
    """Run upkeep (what maintain_jobs does every 5 minutes) until every job has finished."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if all(app.status(i, owner_id="u1").is_terminal for i in ids):
                break
            app.maintain()
        except Exception:  # the database may still be coming back
            pass
        time.sleep(1.0)
    return [app.status(i, owner_id="u1") for i in ids]


def _run(
    client: Callable[..., SyncJobs],
    workers: Workers,
    restart: Callable[[], None],
    case: str,
    report: Reporter,
) -> None:
    app = client(SYNCJOBS_RESEND_PENDING_AFTER="3", SYNCJOBS_MAX_ACTIVE_JOBS_PER_OWNER="100")
    ids = [
        app.submit("syncjobs.count", owner_id="u1", params={"to": 4, "step": 0.05}).id
        for _ in range(N)
    ]
    workers.start()
    wait_for(lambda: sum(app.status(i, owner_id="u1").is_terminal for i in ids) >= 5, 60)
    restart()
    finals = _settle(app, ids)
    lost = sum(f.status is not JobStatus.COMPLETED for f in finals)
    # One ledger row per job, completed at most once: a duplicate would be a second row.
    rows = len(app.jobs("u1", limit=1000))
    report(case, jobs=N, faults=1, lost=lost, duplicated=rows - N)
    assert lost == 0, [(f.id, f.status, f.error_code) for f in finals if f.error_code]
    assert rows == N and all(f.result == {"counted": 4} for f in finals)


def test_redis_restarted_mid_run(
    client: Callable[..., SyncJobs], workers: Workers, redis_server: Any, report: Reporter
) -> None:
    _run(client, workers, redis_server.restart, "redis_restarted", report)


@pytest.mark.parametrize("broker", ["rabbitmq"], indirect=True)
def test_rabbitmq_restarted_mid_run(
    client: Callable[..., SyncJobs], workers: Workers, rabbitmq_server: Any, report: Reporter
) -> None:
    _run(client, workers, rabbitmq_server.restart, "rabbitmq_restarted", report)


def test_postgresql_restarted_mid_run(
    client: Callable[..., SyncJobs], workers: Workers, postgres_server: Any, report: Reporter
) -> None:
    _run(client, workers, postgres_server.restart, "postgresql_restarted", report)

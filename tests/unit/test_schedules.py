"""Job types with a cron schedule: periodiq ticks submit one job per slot."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from syncjobs import ConfigurationError, JobContext, JobStatus
from syncjobs.registry import Registry, job_type

from ..conftest import AppFactory, run_until_idle


class Nothing(BaseModel):
    pass


@pytest.fixture
def ticked(test_registry: Registry) -> dict[str, int]:
    runs = {"n": 0}

    @job_type("t.nightly", params=Nothing, schedule="0 1 * * *", registry=test_registry)
    def nightly(ctx: JobContext, p: Nothing) -> int:
        runs["n"] += 1
        return runs["n"]

    return runs


def tick(app: Any, scheduled_at: str) -> None:
    actor = app.broker.get_actor("t.nightly@schedule")
    actor.send_with_options(scheduled_at=scheduled_at)


def test_each_slot_runs_once_however_many_schedulers_fire_it(
    make_app: AppFactory, ticked: dict[str, int]
) -> None:
    app = make_app()
    assert "periodic" in app.broker.get_actor("t.nightly@schedule").options
    for _ in range(3):  # three periodiq instances fire the same slot
        tick(app, "2026-11-23T01:00:00+00:00")
    tick(app, "2026-11-24T01:00:00+00:00")
    run_until_idle(app)
    jobs = app.jobs("system", job_type="t.nightly")
    assert len(jobs) == 2 and {j.status for j in jobs} == {JobStatus.COMPLETED}
    assert ticked["n"] == 2
    assert sorted(j.idempotency_key or "" for j in jobs) == [
        "schedule:t.nightly:2026-11-23T01:00", "schedule:t.nightly:2026-11-24T01:00"
    ]


def test_a_late_tick_is_not_dropped(make_app: AppFactory, ticked: dict[str, int]) -> None:
    app = make_app()
    tick(app, "2026-01-01T01:00:00+00:00")  # processed months after its slot
    run_until_idle(app)
    assert ticked["n"] == 1


def test_disabled_background_jobs_do_not_fire(make_app: AppFactory, ticked: Any) -> None:
    app = make_app(enabled=False)
    tick(app, "2026-11-23T01:00:00+00:00")
    run_until_idle(app)
    assert ticked["n"] == 0


def test_an_invalid_cron_expression_is_refused(test_registry: Registry) -> None:
    with pytest.raises(ConfigurationError, match="invalid cron schedule"):
        job_type("t.bad", params=Nothing, schedule="every day", registry=test_registry)

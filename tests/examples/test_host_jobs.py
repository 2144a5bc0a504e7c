"""examples/host_jobs.py: a scheduled host job whose result feeds its follow-up (``then=``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import ModuleType

import pytest

from syncjobs import InvalidInputError, JobStatus
from syncjobs.core.registry import Registry
from syncjobs.core.scheduling import Scheduler
from syncjobs.settings import ScheduleSettings
from syncjobs.storage import InMemoryRepository

from ..conftest import AppFactory, run_until_idle


def test_the_report_runs_with_progress_and_its_follow_up_gets_its_result(
    make_app: AppFactory, host_jobs: ModuleType
) -> None:
    app = make_app(InMemoryRepository())
    for _ in range(2):
        app.submit("syncjobs.noop", owner_id="ops", params={})
    run_until_idle(app)
    today = datetime.now(UTC).date()
    report = app.submit("example.nightly_report", owner_id="ops", params={"day": str(today)})
    run_until_idle(app)

    done = app.status(report.id, owner_id="ops")
    assert done.status is JobStatus.COMPLETED, done.error_message
    assert (done.progress_done, done.progress_total) == (5, 5)
    # Counted while it ran: the two no-ops, and itself, processing.
    assert done.result == {
        "report_id": f"jobs-{today}",
        "day": str(today),
        "total": 3,
        "counts": {"pending": 0, "processing": 1, "completed": 2, "failed": 0, "cancelled": 0},
    }
    [ready] = app.jobs("ops", job_type="example.report_ready")
    assert ready.parent_id == report.id
    assert ready.params == done.result
    assert ready.status is JobStatus.COMPLETED
    assert ready.result == {"announced": f"jobs-{today}", "total": 3, "parent_id": report.id}


def test_the_schedule_is_listed_and_fires_at_three_with_default_params(
    make_app: AppFactory, host_jobs: ModuleType, test_registry: Registry
) -> None:
    others = {
        jt.name: ScheduleSettings(enabled=False)
        for jt in test_registry
        if jt.schedule and jt.name != "example.nightly_report"
    }
    app = make_app(InMemoryRepository(), schedules=others)  # only the example's schedule fires
    [info] = [s for s in app.schedules() if s.job_type == "example.nightly_report"]
    assert (info.cron, info.timezone, info.enabled) == ("0 3 * * *", "UTC", True)
    assert info.next_fire is not None and (info.next_fire.hour, info.next_fire.minute) == (3, 0)

    night = (datetime.now(UTC) - timedelta(days=1)).replace(
        hour=2, minute=59, second=0, microsecond=0
    )
    scheduler = Scheduler(app)
    assert [j.job_type for j in scheduler.tick(night)] == []  # first sight: nothing missed
    fired = scheduler.tick(night + timedelta(minutes=1, seconds=20))
    assert [(j.job_type, j.owner_id, j.params) for j in fired] == [
        ("example.nightly_report", "system", {"day": None, "pause": 0.0})
    ]
    run_until_idle(app)
    report = app.status(fired[0].id, owner_id="system")
    assert report.status is JobStatus.COMPLETED, report.error_message
    assert report.result["day"] == str(datetime.now(UTC).date() - timedelta(days=1))
    [ready] = app.jobs("system", job_type="example.report_ready")
    assert ready.parent_id == report.id and ready.status is JobStatus.COMPLETED


def test_bad_params_are_refused_before_anything_is_created(
    make_app: AppFactory, host_jobs: ModuleType
) -> None:
    app = make_app(InMemoryRepository())
    with pytest.raises(InvalidInputError) as caught:
        app.submit("example.nightly_report", owner_id="ops", params={"day": "someday"})
    assert caught.value.errors[0]["loc"] == ["day"]
    assert app.jobs("ops") == []


def test_the_job_types_do_not_leak_out_of_the_fixture() -> None:
    from syncjobs.core.registry import default_registry

    assert "example.nightly_report" not in default_registry

"""Schedules: slot arithmetic in timezones, exactly-once claims, missed-slot policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from syncjobs import ConfigurationError, JobContext, JobStatus
from syncjobs.core.registry import Registry, job_type
from syncjobs.core.scheduling import Schedule, Scheduler, next_slot, slots_between
from syncjobs.settings import ScheduleSettings
from syncjobs.storage import InMemoryRepository

from ..conftest import AppFactory, run_until_idle

#: A fixed Monday for the pure slot arithmetic, which never reads the clock.
MONDAY = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
#: 01:00 UTC two days ago: schedulers tick from here, and the jobs they submit meet the real
#: clock in the ledger and the workers, so the start moves with today's date.
T0 = (datetime.now(UTC) - timedelta(days=2)).replace(hour=1, minute=0, second=0, microsecond=0)


def slot_key(job_type: str, hours: int) -> str:
    """The idempotency key of ``job_type``'s slot ``hours`` after T0."""
    return f"schedule:{job_type}:{T0 + timedelta(hours=hours):%Y-%m-%dT%H:%MZ}"


def sched(cron: str, tz: str = "UTC", missed: str = "once", limit: int = 24) -> Schedule:
    return Schedule("x", cron, tz, True, missed, limit, False)


class Nothing(BaseModel):
    pass


@pytest.fixture
def hourly(test_registry: Registry) -> dict[str, int]:
    runs = {"n": 0}

    @job_type("t.hourly", params=Nothing, schedule="0 * * * *", registry=test_registry)
    def work(ctx: JobContext, p: Nothing) -> int:
        runs["n"] += 1
        return runs["n"]

    return runs


def hourly_jobs(app: Any) -> list[str]:
    return sorted(
        j.idempotency_key or "" for j in app.jobs("system", job_type="t.hourly", limit=1000)
    )


def test_slots_in_utc_and_in_a_timezone_with_dst() -> None:
    assert slots_between(sched("*/15 * * * *"), MONDAY, MONDAY + timedelta(hours=1)) == [
        MONDAY + timedelta(minutes=m) for m in (15, 30, 45, 60)
    ]
    nine = sched("0 9 * * *", tz="America/New_York")
    # 09:00 in New York is 14:00 UTC in winter and 13:00 UTC in summer.
    assert next_slot(nine, MONDAY) == datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
    assert next_slot(nine, datetime(2026, 7, 1, tzinfo=UTC)) == datetime(
        2026, 7, 1, 13, 0, tzinfo=UTC
    )
    # Across the March change the local slot keeps its wall-clock time.
    days = slots_between(nine, datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 3, 10, tzinfo=UTC))
    assert [d.hour for d in days] == [14, 13, 13]
    weekly = sched("0 2 * * 0")  # Sundays 02:00
    assert next_slot(weekly, MONDAY) == datetime(2026, 11, 29, 2, 0, tzinfo=UTC)


def test_a_new_schedule_fires_only_at_its_slot(make_app: AppFactory, hourly: Any) -> None:
    app = make_app()
    scheduler = Scheduler(app)

    def tick(at: timedelta) -> list[str]:
        return [
            j.idempotency_key or "" for j in scheduler.tick(T0 + at) if j.job_type == "t.hourly"
        ]

    assert tick(timedelta(minutes=30)) == []  # first sight, not a slot
    assert tick(timedelta(minutes=45)) == []
    assert tick(timedelta(hours=1, seconds=3)) == [slot_key("t.hourly", 1)]
    assert tick(timedelta(hours=1, seconds=40)) == []  # same minute again


def test_three_schedulers_fire_each_slot_once(make_app: AppFactory, hourly: Any) -> None:
    repo = InMemoryRepository()
    apps = [make_app(repo) for _ in range(3)]
    for minute in range(0, 5 * 60 + 1):
        now = T0 + timedelta(minutes=minute, seconds=1)
        for app in apps:
            Scheduler(app).tick(now)
    assert hourly_jobs(apps[0]) == [slot_key("t.hourly", h) for h in range(6)]


@pytest.mark.parametrize(
    ("policy", "back_at", "expected"),
    [
        ("once", timedelta(hours=3, minutes=30), ["04:00"]),
        ("catch_up", timedelta(hours=3, minutes=30), ["02:00", "03:00", "04:00"]),
        ("skip", timedelta(hours=3, minutes=30), []),
        ("skip", timedelta(hours=3, minutes=1), ["04:00"]),
    ],
)
def test_a_scheduler_down_across_slots_runs_per_policy(
    make_app: AppFactory, hourly: Any, policy: str, back_at: timedelta, expected: list[str]
) -> None:
    app = make_app(schedules={"t.hourly": ScheduleSettings(missed=policy)})
    scheduler = Scheduler(app)
    scheduler.tick(T0)  # fires 01:00, then nothing runs until back_at
    fired = [j for j in scheduler.tick(T0 + back_at) if j.job_type == "t.hourly"]
    assert sorted(j.idempotency_key[-6:-1] for j in fired if j.idempotency_key) == expected
    run_until_idle(app)
    assert {j.status for j in app.jobs("system", job_type="t.hourly")} == {JobStatus.COMPLETED}


def test_catch_up_is_bounded(make_app: AppFactory, hourly: Any) -> None:
    app = make_app(schedules={"t.hourly": ScheduleSettings(missed="catch_up", catch_up_limit=3)})
    scheduler = Scheduler(app)
    scheduler.tick(T0)
    fired = scheduler.tick(T0 + timedelta(days=2))
    assert len([j for j in fired if j.job_type == "t.hourly"]) == 3


def test_last_fired_is_none_until_a_slot_fires(make_app: AppFactory, hourly: Any) -> None:
    app = make_app()
    scheduler = Scheduler(app)
    scheduler.tick(T0 + timedelta(minutes=30))  # first sight, between two slots: fires nothing

    def last_fired() -> datetime | None:
        [info] = [s for s in app.schedules() if s.job_type == "t.hourly"]
        return info.last_fired

    assert hourly_jobs(app) == [] and last_fired() is None
    scheduler.tick(T0 + timedelta(minutes=90))
    assert hourly_jobs(app) == [slot_key("t.hourly", 1)]
    assert last_fired() == T0 + timedelta(hours=1)


def test_settings_override_cron_timezone_and_can_disable(make_app: AppFactory, hourly: Any) -> None:
    app = make_app(
        schedules={"t.hourly": ScheduleSettings(cron="30 9 * * *", timezone="Europe/Paris")}
    )
    [info] = [s for s in app.schedules() if s.job_type == "t.hourly"]
    assert (info.cron, info.timezone, info.enabled) == ("30 9 * * *", "Europe/Paris", True)
    assert info.next_fire is not None and info.next_fire.astimezone(UTC).hour == 8
    off = make_app(schedules={"t.hourly": ScheduleSettings(enabled=False)})
    Scheduler(off).tick(T0)
    assert off.jobs("system", job_type="t.hourly") == []
    assert [s.next_fire for s in off.schedules() if s.job_type == "t.hourly"] == [None]
    everything_off = make_app(enabled=False)
    assert Scheduler(everything_off).tick(T0) == []
    bad = make_app(schedules={"t.hourly": ScheduleSettings(timezone="Mars/Olympus")})
    with pytest.raises(ConfigurationError, match="unknown timezone"):
        bad.schedules()


def test_the_minute_tick_through_the_broker_runs_the_scheduler(
    make_app: AppFactory, hourly: Any
) -> None:
    app = make_app()
    # The tick periodiq sends for the current minute: a tick older than the late-tick window
    # is skipped by periodiq's middleware, so it must be stamped with the real clock.
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    for _ in range(2):  # two periodiq processes beat the same minute
        app.broker.get_actor("syncjobs.tick").send_with_options(scheduled_at=str(minute))
    run_until_idle(app)
    assert app.health().scheduler_seen_at is not None
    assert "periodic" in app.broker.get_actor("syncjobs.tick").options


def test_on_startup_schedules_run_once_when_workers_boot(
    make_app: AppFactory, hourly: dict[str, int]
) -> None:
    app = make_app(schedules={"t.hourly": ScheduleSettings(on_startup=True)})
    run_until_idle(app)
    run_until_idle(app)  # a second boot in the same minute does not fire again
    assert hourly["n"] == 1
    [job] = app.jobs("system", job_type="t.hourly")
    assert (job.idempotency_key or "").startswith("startup:t.hourly:")


def test_builtin_schedules_are_listed(make_app: AppFactory) -> None:
    app = make_app()
    listed = {s.job_type: s.cron for s in app.schedules()}
    assert listed["sync_due_accounts"] == "*/30 * * * *"
    assert listed["maintain_jobs"] == "*/5 * * * *"

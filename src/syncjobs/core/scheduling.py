"""Schedules that fire exactly once per slot and never silently miss one.

periodiq only beats time: ``periodiq syncjobs.actors`` sends the ``syncjobs.tick`` message
every minute. The worker that takes it runs :class:`Scheduler.tick`, which, for every
schedule, works out the slots due since the last one fired (in the schedule's own timezone),
claims them in the database with a compare-and-set on the schedule ledger (so however many
periodiq processes run, one tick wins each slot) and submits the jobs under an idempotency key
per slot. Slots missed while nothing ran are handled by the schedule's ``missed`` policy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ConfigurationError
from .app import SYSTEM_OWNER, JobApp
from .models import Job
from .upkeep.store import UpkeepRepository

__all__ = ["Schedule", "ScheduleInfo", "Scheduler", "next_slot", "slots_between"]

logger = logging.getLogger("syncjobs.scheduling")

#: How far ahead ``next_slot`` looks, and how far back a catch-up looks at most.
_HORIZON = timedelta(days=400)
#: A ``skip`` schedule still runs a slot this late (a tick that came a little late).
_SKIP_GRACE = timedelta(minutes=2)


@dataclass(frozen=True)
class Schedule:
    """A periodic job type's effective schedule (declared, then overridden by settings)."""

    job_type: str
    cron: str
    timezone: str
    enabled: bool
    missed: str
    catch_up_limit: int
    on_startup: bool

    def spec(self) -> Any:
        """The parsed cron expression."""
        from periodiq import cron

        return cron(self.cron)

    def zone(self) -> ZoneInfo:
        """The schedule's timezone."""
        try:
            return ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigurationError(
                f"unknown timezone {self.timezone!r} for {self.job_type}"
            ) from None


@dataclass(frozen=True)
class ScheduleInfo:
    """What ``syncjobs.schedules()`` reports of one schedule."""

    job_type: str
    cron: str
    timezone: str
    enabled: bool
    missed: str
    last_fired: datetime | None
    next_fire: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "job_type": self.job_type,
            "cron": self.cron,
            "timezone": self.timezone,
            "enabled": self.enabled,
            "missed": self.missed,
            "last_fired": self.last_fired.isoformat() if self.last_fired else None,
            "next_fire": self.next_fire.isoformat() if self.next_fire else None,
        }


def _minutes(after: datetime, until: datetime, spec: Any, zone: ZoneInfo) -> Iterator[datetime]:
    """UTC minutes in (after, until] whose local time matches ``spec``, skipping dead hours."""
    t = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    end = until.astimezone(UTC)
    while t <= end:
        local = t.astimezone(zone)
        if local.month not in spec.month or not _day_ok(spec, local):
            t += timedelta(minutes=24 * 60 - (local.hour * 60 + local.minute))
        elif local.hour not in spec.hour:
            t += timedelta(minutes=60 - local.minute)
        else:
            if local.minute in spec.minute:
                yield t
            t += timedelta(minutes=1)


def _day_ok(spec: Any, local: datetime) -> bool:
    # Cron's Sunday is 0 or 7; periodiq's own validate() only knows 7 (isoweekday).
    weekday = local.isoweekday()
    dom_ok, dow_ok = local.day in spec.dom, weekday in spec.dow or weekday % 7 in spec.dow
    if spec.is_dow_restricted and spec.is_dom_restricted:
        return dom_ok or dow_ok
    return dom_ok and dow_ok


def slots_between(schedule: Schedule, after: datetime, until: datetime) -> list[datetime]:
    """The schedule's slots in (after, until], oldest first, at most 400 days back."""
    after = max(after, until - _HORIZON)
    return list(_minutes(after, until, schedule.spec(), schedule.zone()))


def next_slot(schedule: Schedule, after: datetime) -> datetime | None:
    """The first slot after ``after``, within 400 days."""
    return next(_minutes(after, after + _HORIZON, schedule.spec(), schedule.zone()), None)


def effective_schedules(app: JobApp) -> list[Schedule]:
    """Every job type with a schedule, declared or set in settings."""
    found = []
    for jt in app.registry:
        over = app.settings.schedules.get(jt.name)
        cron = (over.cron if over else None) or jt.schedule
        if not cron:
            continue
        found.append(
            Schedule(
                job_type=jt.name,
                cron=cron,
                timezone=(over.timezone if over else None) or app.settings.timezone,
                enabled=over.enabled if over else True,
                missed=over.missed if over else "once",
                catch_up_limit=over.catch_up_limit if over else 24,
                on_startup=over.on_startup if over else False,
            )
        )
    return found


def _slot_key(job_type: str, slot: datetime) -> str:
    return f"schedule:{job_type}:{slot.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


class Scheduler:
    """Fires due schedule slots once each, given the time (injectable for tests)."""

    def __init__(self, app: JobApp) -> None:
        self.app = app
        repo = app.repository
        if not isinstance(repo, UpkeepRepository):
            raise ConfigurationError("schedules need a repository with the schedule ledger")
        self.repo: UpkeepRepository = repo

    def tick(self, now: datetime) -> list[Job]:
        """Fire every due slot of every enabled schedule; return the jobs submitted."""
        self.repo.heartbeat("scheduler", "scheduler", job_ids=[], now=now)
        if not self.app.settings.enabled:
            return []
        fired: list[Job] = []
        for schedule in effective_schedules(self.app):
            if schedule.enabled:
                fired += self._run(schedule, now)
        return fired

    def _run(self, schedule: Schedule, now: datetime) -> list[Job]:
        last = self.repo.schedule_slot(schedule.job_type)
        floor = now.astimezone(UTC).replace(second=0, microsecond=0)
        if last is None:  # first sight: nothing before now was missed
            due = slots_between(schedule, floor - timedelta(minutes=1), now)
            claimed = due[-1] if due else floor
        else:
            due = slots_between(schedule, last, now)
            if not due:
                return []
            claimed = due[-1]
        if not self.repo.claim_schedule_slot(
            schedule.job_type, previous=last, slot=claimed, now=now
        ):
            return []  # another scheduler fired these slots
        chosen = self._by_policy(schedule, due, now)
        if len(chosen) < len(due):
            logger.warning(
                "%s: %d missed slot(s) since %s; policy %r runs %d",
                schedule.job_type,
                len(due),
                last,
                schedule.missed,
                len(chosen),
            )
        return [self.fire(schedule.job_type, slot) for slot in chosen]

    @staticmethod
    def _by_policy(schedule: Schedule, due: list[datetime], now: datetime) -> list[datetime]:
        if not due:
            return []
        if schedule.missed == "catch_up":
            return due[-schedule.catch_up_limit :]
        if schedule.missed == "skip":
            return [due[-1]] if now - due[-1] <= _SKIP_GRACE else []
        return [due[-1]]

    def fire(self, job_type: str, slot: datetime, *, key: str | None = None) -> Job:
        """Submit the job of one slot (idempotent per slot)."""
        return self.app.submit(
            job_type,
            owner_id=SYSTEM_OWNER,
            params={},
            idempotency_key=key or _slot_key(job_type, slot),
            enforce_limit=False,
        )

    def startup(self, now: datetime) -> list[Job]:
        """Run the schedules marked ``on_startup`` (once per minute however many boot)."""
        if not self.app.settings.enabled:
            return []
        minute = now.astimezone(UTC).replace(second=0, microsecond=0)
        return [
            self.fire(s.job_type, minute, key=f"startup:{s.job_type}:{minute:%Y-%m-%dT%H:%MZ}")
            for s in effective_schedules(self.app)
            if s.enabled and s.on_startup
        ]

    def listing(self, now: datetime) -> list[ScheduleInfo]:
        """Every schedule with its last slot fired (None if none yet) and its next slot."""
        return [
            ScheduleInfo(
                job_type=s.job_type,
                cron=s.cron,
                timezone=s.timezone,
                enabled=s.enabled,
                missed=s.missed,
                last_fired=self._last_fired(s),
                next_fire=next_slot(s, now) if s.enabled else None,
            )
            for s in effective_schedules(self.app)
        ]

    def _last_fired(self, schedule: Schedule) -> datetime | None:
        """The last slot claimed, if it is one of the cron's slots.

        A scheduler's first tick claims the minute it starts in, slot or not, so that nothing
        before it counts as missed: that minute fired nothing.
        """
        slot = self.repo.schedule_slot(schedule.job_type)
        if slot is None or slots_between(schedule, slot - timedelta(minutes=1), slot) != [slot]:
            return None
        return slot

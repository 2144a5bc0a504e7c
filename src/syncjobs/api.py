"""The module-level API: ``syncjobs.submit``, ``syncjobs.status`` and friends.

Each call goes to the current application (``syncjobs.factory.get_app``): the one
``register_actors`` or ``create_app`` made, or one built from ``SYNCJOBS_*`` settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel

from .connections.connect import Callback, Connected, ConnectStart
from .connections.models import Account
from .core.bulk import JobSpec
from .core.maintenance import Health
from .core.models import Job, JobStatus, LogLine
from .core.scheduling import ScheduleInfo
from .factory import get_app
from .insights.models import Notification, Preferences, TrustScore, UsagePeriod, UsageRecord
from .providers.types import TokenSet

__all__ = [
    "accounts",
    "begin_connect",
    "cancel",
    "complete_connect",
    "connect_account",
    "disconnect_account",
    "health",
    "jobs",
    "log",
    "mark_read",
    "notifications",
    "notify",
    "preferences",
    "retry",
    "schedules",
    "set_preferences",
    "status",
    "submit",
    "submit_many",
    "sync_account",
    "trust_scores",
    "usage",
    "watch",
]


def submit(
    job_type: str,
    *,
    owner_id: str,
    params: BaseModel | dict[str, Any] | None = None,
    priority: int | None = None,
    idempotency_key: str | None = None,
    delay: float | timedelta | None = None,
) -> Job:
    """Validate, record and enqueue a job; returns it at once (status ``pending``)."""
    return get_app().submit(
        job_type,
        owner_id=owner_id,
        params=params,
        priority=priority,
        idempotency_key=idempotency_key,
        delay=delay,
    )


def submit_many(specs: Iterable[JobSpec | Mapping[str, Any]]) -> list[Job]:
    """Submit many jobs at once (one ledger transaction, one batched send); one job per spec.

    All or nothing on bad input: one invalid spec raises InvalidInputError naming its index
    and nothing is written or sent. Keys already used return their job, as ``submit`` does.
    """
    return get_app().submit_many(specs)


def status(job_id: str, *, owner_id: str) -> Job:
    """Return a job's status, progress, ETA, result and error (another owner's: not found)."""
    return get_app().status(job_id, owner_id=owner_id)


def cancel(job_id: str, *, owner_id: str) -> Job:
    """Cancel a job: at once if pending, at its next ``check_cancelled()`` if running."""
    return get_app().cancel(job_id, owner_id=owner_id)


def retry(job_id: str, *, owner_id: str) -> Job:
    """Run a failed or cancelled job again."""
    return get_app().retry(job_id, owner_id=owner_id)


def jobs(
    owner_id: str,
    *,
    status: JobStatus | str | None = None,
    job_type: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[Job]:
    """List an owner's jobs, newest first."""
    return get_app().jobs(owner_id, status=status, job_type=job_type, limit=limit, offset=offset)


def log(job_id: str, *, owner_id: str, limit: int = 100, after_id: int = 0) -> list[LogLine]:
    """Return a job's log lines in order."""
    return get_app().log(job_id, owner_id=owner_id, limit=limit, after_id=after_id)


def watch(job_id: str, *, owner_id: str, timeout: float | None = None) -> Iterator[Job]:
    """Yield the job now and at every change until it finishes (or ``timeout`` passes)."""
    return get_app().watch(job_id, owner_id=owner_id, timeout=timeout)


def connect_account(
    owner_id: str,
    provider: str,
    tokens: TokenSet | dict[str, Any],
    *,
    external_id: str | None = None,
    display_name: str | None = None,
    sync_interval: int | None = None,
) -> Account:
    """Connect an owner's YouTube, Gmail, Instagram or TikTok account; tokens stored encrypted."""
    return get_app().accounts.connect(
        owner_id,
        provider,
        tokens,
        external_id=external_id,
        display_name=display_name,
        sync_interval=sync_interval,
    )


def begin_connect(
    owner_id: str,
    provider: str,
    *,
    redirect_uri: str | None = None,
    account_id: str | None = None,
) -> ConnectStart:
    """Start connecting an owner's account: returns the provider's consent URL and state."""
    return get_app().accounts.begin_connect(
        owner_id, provider, redirect_uri=redirect_uri, account_id=account_id
    )


def complete_connect(owner_id: str, callback: Callback) -> Connected:
    """Finish a connect from the provider's callback (query params, query string or URL)."""
    return get_app().accounts.complete_connect(owner_id, callback)


def accounts(owner_id: str) -> list[Account]:
    """List an owner's connected accounts."""
    return get_app().accounts.list(owner_id)


def disconnect_account(account_id: str, *, owner_id: str) -> None:
    """Remove an account with its tokens and synced items."""
    get_app().accounts.disconnect(account_id, owner_id=owner_id)


def sync_account(account_id: str, *, owner_id: str, full: bool = False) -> Job:
    """Queue an incremental (or ``full``) sync of an account now; returns its job."""
    return get_app().accounts.sync(account_id, owner_id=owner_id, full=full)


def health() -> Health:
    """Healthy when a worker heartbeat and a scheduler tick are recent; per-type job counts."""
    return get_app().health()


def schedules() -> list[ScheduleInfo]:
    """Every schedule: cron, timezone, enabled, last slot fired, next slot."""
    return get_app().schedules()


def notify(
    owner_id: str, *, kind: str, title: str, body: str, data: dict[str, Any] | None = None
) -> Notification:
    """Record a notification for an owner and deliver it through every configured notifier."""
    return get_app().insights.notify(owner_id, kind=kind, title=title, body=body, data=data)


def notifications(owner_id: str, *, unread_only: bool = False) -> list[Notification]:
    """An owner's in-app notifications, newest first."""
    return get_app().insights.notifications(owner_id, unread_only=unread_only)


def mark_read(owner_id: str, notification_ids: list[int] | None = None) -> int:
    """Mark an owner's notifications read (all unread ones when no ids are given)."""
    return get_app().insights.mark_read(owner_id, notification_ids)


def preferences(owner_id: str) -> Preferences:
    """An owner's analysis and digest preferences (defaults when none were set)."""
    return get_app().insights.preferences(owner_id)


def set_preferences(owner_id: str, **changes: Any) -> Preferences:
    """Change some of an owner's preferences (blocked words, channels, age, timezone…)."""
    return get_app().insights.set_preferences(owner_id, **changes)


def trust_scores(owner_id: str) -> list[TrustScore]:
    """An owner's per-channel trust scores (0..1), least trusted first."""
    return get_app().insights.trust_scores(owner_id)


def usage(
    owner_id: str,
    *,
    period: UsagePeriod | str = UsagePeriod.DAY,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[UsageRecord]:
    """An owner's usage (items analysed, AI calls, tokens, API calls, quota) per period."""
    return get_app().insights.usage(owner_id, period=period, start=start, end=end)

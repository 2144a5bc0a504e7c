"""``deliver_notification`` and ``send_digests``: notifications out through the Notifiers."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from ...clock import utcnow
from ...core.context import JobContext
from ...core.middleware import describe
from ...core.registry import job_type
from ...errors import FatalError, InvalidInputError, RateLimitedError, RetriableError
from ..digests.periods import DigestPeriod, digest_period, owner_zone
from ..models import DigestFrequency, OwnerActivity, Preferences
from ..preference_changes import valid_timezone
from ..service import Insights

__all__ = ["DeliverParams", "DigestParams", "deliver_notification", "digest_due", "send_digests"]


class DeliverParams(BaseModel):
    """Which notification to deliver, through which notifier."""

    notification_id: int = Field(ge=1)
    notifier: str = Field(min_length=1, max_length=64)


@job_type(
    "deliver_notification", params=DeliverParams, queue="notify", max_retries=5, time_limit=120
)
def deliver_notification(ctx: JobContext, params: DeliverParams) -> dict[str, Any]:
    """Deliver one notification once, behind its notifier's circuit breaker."""
    extras, s = Insights.of(ctx.app), ctx.app.settings
    insights = extras.repository
    note = insights.get_notification(params.notification_id)
    if note is None or note.owner_id != ctx.owner_id:
        raise InvalidInputError(f"no notification {params.notification_id} for this owner")
    notifier = extras.notifier(params.notifier)
    done = insights.get_delivery(note.id, notifier.name)
    if done is not None and done.delivered:
        return {"delivered": True, "already": True, "attempts": done.attempts}
    breaker_name = f"notifier:{notifier.name}"
    now = utcnow()
    breaker = insights.get_breaker(breaker_name)
    if breaker.is_open(now):
        assert breaker.opened_until is not None
        wait = max(1.0, (breaker.opened_until - now).total_seconds())
        raise RateLimitedError(
            f"the {notifier.name} notifier failed {breaker.failures} times in a row; its "
            f"circuit is open for {wait:.0f} s more",
            retry_after=wait,
            reason="circuit_open",
        )
    try:
        applied = notifier.deliver(note, insights.get_preferences(note.owner_id))
    except (RetriableError, FatalError) as exc:
        code, message = describe(exc)
        insights.record_delivery(
            note.id, notifier.name, ok=False, error=f"{code}: {message}", now=utcnow()
        )
        if isinstance(exc, RetriableError):  # the receiver is down: count it against it
            state = insights.record_breaker(
                breaker_name,
                ok=False,
                threshold=s.breaker_threshold,
                cooldown=s.breaker_cooldown,
                now=utcnow(),
            )
            if state.is_open(utcnow()):
                ctx.log(
                    f"{notifier.name} circuit opened after {state.failures} failures",
                    level="warning",
                )
        raise
    insights.record_breaker(
        breaker_name,
        ok=True,
        threshold=s.breaker_threshold,
        cooldown=s.breaker_cooldown,
        now=utcnow(),
    )
    if not applied:
        return {"delivered": False, "skipped": f"{notifier.name} does not apply to this owner"}
    delivery = insights.record_delivery(note.id, notifier.name, ok=True, error=None, now=utcnow())
    return {"delivered": True, "already": False, "attempts": delivery.attempts}


class DigestParams(BaseModel):
    """Which digests to consider (default both) and the instant to judge "due" at."""

    frequency: Literal["daily", "weekly"] | None = None
    at: datetime | None = None


def digest_due(
    preferences: Preferences, now: datetime, *, hour: int, weekday: int
) -> tuple[str, DigestPeriod] | None:
    """(kind, period) of the digest due for this owner now, or None.

    A digest is due from ``hour`` o'clock in the owner's timezone (weekly ones on
    ``weekday``) and covers the owner's previous local day (the seven before, weekly), from
    local midnight to local midnight (23 or 25 hours across a daylight-saving change).
    """
    if preferences.digest is DigestFrequency.OFF:
        return None
    zone = owner_zone(preferences.timezone if valid_timezone(preferences.timezone) else None)
    weekly = preferences.digest is DigestFrequency.WEEKLY
    period = digest_period(now, zone, weekly=weekly, hour=hour, weekday=weekday)
    return None if period is None else (f"digest_{preferences.digest.value}", period)


@job_type(
    "send_digests", params=DigestParams, queue="notify", schedule="0 * * * *", time_limit=3600
)
def send_digests(ctx: JobContext, params: DigestParams) -> dict[str, int]:
    """Send each due owner's daily or weekly digest, 50 owners a batch, skipping empty ones."""
    extras, s = Insights.of(ctx.app), ctx.app.settings
    insights = extras.repository
    now = params.at or utcnow()
    counts = {"owners": 0, "due": 0, "sent": 0, "empty": 0, "already": 0, "errors": 0}
    after: str | None = None
    while True:
        ctx.check_cancelled()
        batch = insights.digest_owners(after=after, limit=s.digest_batch_size)
        if not batch:
            break
        for owner_id, stored in batch:
            counts["owners"] += 1
            prefs = stored or extras.default_preferences(owner_id)
            if params.frequency and prefs.digest.value != params.frequency:
                continue
            due = digest_due(prefs, now, hour=s.digest_hour, weekday=s.digest_weekday)
            if due is None:
                continue
            counts["due"] += 1
            counts[_send_one(ctx, owner_id, *due)] += 1
        after = batch[-1][0]
        ctx.progress(
            counts["owners"],
            None,
            f"{counts['owners']} owners checked, {counts['sent']} digests sent",
        )
        if len(batch) < s.digest_batch_size:
            break
    ctx.progress(
        counts["owners"],
        counts["owners"],
        f"{counts['sent']} digests sent, {counts['empty']} owners had nothing new",
    )
    if counts["errors"]:
        raise RetriableError(f"{counts['errors']} digests could not be sent; see the log")
    return counts


def _send_one(ctx: JobContext, owner_id: str, kind: str, period: DigestPeriod) -> str:
    """Send one owner's digest once per period; return which count it adds to."""
    extras = Insights.of(ctx.app)
    insights = extras.repository
    key = period.key
    if not insights.claim_digest(owner_id, kind, key, now=utcnow()):
        return "already"
    try:
        activity = insights.owner_activity(owner_id, since=period.since, until=period.until)
        if activity.is_empty:
            return "empty"  # the claim stays: nothing to say for this period
        label = "Daily" if kind == "digest_daily" else "Weekly"
        extras.notify(
            owner_id,
            kind=kind,
            title=f"{label} digest for {period.label}",
            body=_digest_body(activity),
            data={
                "period": key,
                "days": period.label,
                "since": period.since.isoformat(),
                "until": period.until.isoformat(),
                **asdict(activity),
            },
        )
        return "sent"
    except Exception as exc:
        insights.release_digest(owner_id, kind, key)
        code, message = describe(exc)
        ctx.log(f"digest of {owner_id} for {key} failed: {code}: {message}", level="error")
        return "errors"


def _digest_body(a: OwnerActivity) -> str:
    lines = [
        f"{a.items_synced} new items synced, {a.items_analysed} analysed: "
        f"{a.allowed} allowed, {a.blocked} blocked, {a.review} to review.",
    ]
    if a.awaiting_review:
        lines.append(f"{a.awaiting_review} items are waiting for your review.")
    if a.unread_notifications:
        lines.append(f"You have {a.unread_notifications} unread notifications.")
    if a.api_calls or a.ai_calls:
        lines.append(
            f"Usage: {a.api_calls} provider API calls ({a.quota_units} quota units), "
            f"{a.ai_calls} AI calls ({a.tokens} tokens)."
        )
    return " ".join(lines)  # one line: notification bodies carry no control characters

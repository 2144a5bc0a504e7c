"""The extras' records: analyses, verdicts, preferences, trust, usage and notifications."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from ..core.models import iso

__all__ = [
    "Analysis",
    "BreakerState",
    "ChannelStats",
    "Decision",
    "Delivery",
    "DigestFrequency",
    "Notification",
    "OwnerActivity",
    "Preferences",
    "QueuedItem",
    "RollupRun",
    "TrustScore",
    "UsageEvent",
    "UsagePeriod",
    "UsageRecord",
    "Verdict",
]


@dataclass(frozen=True)
class Notification:
    """An in-app notification for an owner."""

    id: int
    owner_id: str
    kind: str
    title: str
    body: str
    created_at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    read_at: datetime | None = None


class Decision(enum.StrEnum):
    """What an analyzer concluded about an item."""

    ALLOW = "allow"
    BLOCK = "block"
    REVIEW = "review"


class DigestFrequency(enum.StrEnum):
    """How often an owner wants a digest of what happened."""

    OFF = "off"
    DAILY = "daily"
    WEEKLY = "weekly"


@dataclass(frozen=True)
class Preferences:
    """An owner's analysis and notification preferences (what the KeywordAnalyzer reads)."""

    owner_id: str
    blocked_words: tuple[str, ...] = ()
    allowed_channels: tuple[str, ...] = ()
    blocked_channels: tuple[str, ...] = ()
    #: The age of whoever watches; None when unknown (no age rules apply).
    viewer_age: int | None = None
    #: IANA zone the owner's digests are timed in.
    timezone: str = "UTC"
    digest: DigestFrequency = DigestFrequency.DAILY
    #: Where the webhook notifier posts this owner's notifications (None: the settings' URL).
    webhook_url: str | None = None

    def normalised(self) -> Preferences:
        """A copy with tuples for its lists and a DigestFrequency for its digest (as stored)."""
        return replace(
            self,
            blocked_words=tuple(self.blocked_words),
            allowed_channels=tuple(self.allowed_channels),
            blocked_channels=tuple(self.blocked_channels),
            digest=DigestFrequency(self.digest),
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "owner_id": self.owner_id,
            "blocked_words": list(self.blocked_words),
            "allowed_channels": list(self.allowed_channels),
            "blocked_channels": list(self.blocked_channels),
            "viewer_age": self.viewer_age,
            "timezone": self.timezone,
            "digest": self.digest.value,
            "webhook_url": self.webhook_url,
        }


@dataclass(frozen=True)
class QueuedItem:
    """A synced item claimed for analysis, with what an analyzer needs to judge it."""

    item_id: int
    account_id: str
    owner_id: str
    provider: str
    external_id: str
    kind: str
    title: str | None
    text: str | None
    author: str | None
    #: The channel the item's trust score is kept under (author, else the account's name).
    channel: str
    published_at: datetime | None
    raw: dict[str, Any]
    first_seen_at: datetime
    priority: int = 0
    review_flag: bool = False
    attempts: int = 0


@dataclass(frozen=True)
class Analysis:
    """The latest analysis of one item."""

    item_id: int
    owner_id: str
    account_id: str
    channel: str
    decision: Decision
    confidence: int
    tags: tuple[str, ...]
    analyzer: str
    #: Tokens the analyzer reported; None when it reported none.
    tokens: int | None
    #: Calls made to an AI service for this item (0 for offline analyzers).
    ai_calls: int
    duration_ms: int
    analyzed_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "item_id": self.item_id,
            "owner_id": self.owner_id,
            "account_id": self.account_id,
            "channel": self.channel,
            "decision": self.decision.value,
            "confidence": self.confidence,
            "tags": list(self.tags),
            "analyzer": self.analyzer,
            "tokens": self.tokens,
            "ai_calls": self.ai_calls,
            "duration_ms": self.duration_ms,
            "analyzed_at": iso(self.analyzed_at),
        }


@dataclass(frozen=True)
class ChannelStats:
    """How one owner's items from one channel were judged, over all their analyses."""

    owner_id: str
    channel: str
    allow: int
    block: int
    review: int
    confidence_sum: int

    @property
    def analysed(self) -> int:
        """How many analysed items the stats cover."""
        return self.allow + self.block + self.review


@dataclass(frozen=True)
class TrustScore:
    """A channel's trust score for one owner, 0 (distrust) to 1 (trust)."""

    owner_id: str
    channel: str
    score: float
    videos_analysed: int
    allow: int
    block: int
    review: int
    mean_confidence: float
    updated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "owner_id": self.owner_id,
            "channel": self.channel,
            "score": self.score,
            "videos_analysed": self.videos_analysed,
            "allow": self.allow,
            "block": self.block,
            "review": self.review,
            "mean_confidence": self.mean_confidence,
            "updated_at": iso(self.updated_at),
        }


class UsagePeriod(enum.StrEnum):
    """The length of a usage rollup bucket (weeks start on Monday; all buckets in UTC)."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class UsageEvent:
    """One source record of usage: an analysis or a sync's provider calls."""

    owner_id: str
    at: datetime
    items_analysed: int = 0
    ai_calls: int = 0
    #: Tokens as reported; None when the analyzer reported none.
    tokens: int | None = 0
    api_calls: int = 0
    quota_units: int = 0


@dataclass(frozen=True)
class UsageRecord:
    """An owner's usage over one bucket; upserted on (owner, period, start)."""

    owner_id: str
    period: UsagePeriod
    period_start: datetime
    items_analysed: int = 0
    ai_calls: int = 0
    tokens: int = 0
    api_calls: int = 0
    quota_units: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "owner_id": self.owner_id,
            "period": self.period.value,
            "period_start": iso(self.period_start),
            "items_analysed": self.items_analysed,
            "ai_calls": self.ai_calls,
            "tokens": self.tokens,
            "api_calls": self.api_calls,
            "quota_units": self.quota_units,
        }


@dataclass(frozen=True)
class RollupRun:
    """One run of one usage rollup: what it covered, how long it took, what it wrote."""

    id: int
    period: UsagePeriod
    window_start: datetime
    window_end: datetime
    started_at: datetime
    duration_ms: int
    records: int
    errors: int
    job_id: str | None = None


@dataclass(frozen=True)
class Delivery:
    """Whether one notifier delivered one notification."""

    notification_id: int
    notifier: str
    delivered: bool
    attempts: int
    updated_at: datetime
    delivered_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class BreakerState:
    """A circuit breaker: consecutive failures, and until when it is open."""

    name: str
    failures: int = 0
    opened_until: datetime | None = None

    def is_open(self, now: datetime) -> bool:
        """True while calls must not be made."""
        return self.opened_until is not None and now < self.opened_until

    def after(self, *, ok: bool, threshold: int, cooldown: float, now: datetime) -> BreakerState:
        """The breaker after one call's outcome.

        A success closes it and forgets its failures. A failure counts, and opens it for
        ``cooldown`` seconds at ``threshold`` failures, or when it was half-open (its cooldown
        over, a trial call failed).
        """
        if ok:
            return BreakerState(self.name)
        half_open = self.opened_until is not None and now >= self.opened_until
        failures = self.failures + 1
        opened_until = self.opened_until
        if failures >= threshold or half_open:
            opened_until = now + timedelta(seconds=cooldown)
        return BreakerState(self.name, failures, opened_until)


@dataclass(frozen=True)
class OwnerActivity:
    """What happened for one owner between two instants: a digest's content."""

    items_synced: int = 0
    items_analysed: int = 0
    allowed: int = 0
    blocked: int = 0
    review: int = 0
    #: Items whose latest analysis says REVIEW (at the end of the window, over all time).
    awaiting_review: int = 0
    unread_notifications: int = 0
    #: Usage in the window: provider API calls and quota units of syncs, AI calls and tokens
    #: of analyses (the window is the owner's local day or week in a digest).
    api_calls: int = 0
    quota_units: int = 0
    ai_calls: int = 0
    tokens: int = 0

    @property
    def is_empty(self) -> bool:
        """True when there is nothing to report."""
        return not (self.items_synced or self.items_analysed or self.awaiting_review)


@dataclass(frozen=True)
class Verdict:
    """What an analyzer returns for one item."""

    decision: Decision
    #: 0 to 100.
    confidence: int
    tags: tuple[str, ...] = ()
    #: Tokens the AI service reported; None when it reported none (then estimated).
    tokens: int | None = 0
    #: Calls made to an AI service (0 for offline analyzers).
    ai_calls: int = 0

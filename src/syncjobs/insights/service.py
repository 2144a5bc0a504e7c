"""``Insights``: the extras' side of an app — notifications, preferences, trust and usage.

An app carries one ``Insights`` extension (``Insights.of(app)``). It listens to the job core
(a dead letter tells the operator) and to accounts (a sync's provider usage is recorded; an
account that needs reconnecting tells its owner). See docs/architecture.md.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from .._validate import integer, text
from ..clock import utcnow
from ..connections.models import Account
from ..connections.service import PROVIDER_LABELS, Accounts, ProviderUsage
from ..core.app import JobApp
from ..core.bulk import JobSpec
from ..core.checks import check_owner
from ..core.models import Job
from ..errors import ConfigurationError, InvalidInputError, ReauthorizationRequiredError
from .analyzers import Analyzer, build_analyzer
from .models import DigestFrequency, Notification, Preferences, TrustScore, UsagePeriod, UsageRecord
from .notifiers import Notifier, build_notifiers
from .preference_changes import apply_changes
from .stores import InsightsStores
from .webhook_guard import check_webhook_url

__all__ = ["Insights", "reconnect_url"]

logger = logging.getLogger("syncjobs")


def reconnect_url(template: str | None, provider: str, account_id: str) -> str | None:
    """``template`` (``settings.reconnect_url``) with ``{provider}`` and ``{account_id}``
    filled in, URL-quoted; None when no template is set."""
    if not template:
        return None
    return template.replace("{provider}", quote(provider, safe="")).replace(
        "{account_id}", quote(account_id, safe="")
    )


@dataclass
class Insights:
    """The extras of an app: their store, the analyzer and the notifiers."""

    app: JobApp
    #: Analyses, preferences, trust, usage, notifications, breakers and digests.
    store: InsightsStores | None
    #: What ``analyze_items`` judges items with (default: built from settings on first use).
    analyzer_override: Analyzer | None = None
    #: Where notifications go (default: built from settings on first use).
    notifiers_override: list[Notifier] | None = None
    #: An httpx transport the analyzer and notifiers use instead of the network.
    transport: httpx.BaseTransport | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @staticmethod
    def of(app: JobApp) -> Insights:
        """The ``Insights`` extension of ``app``."""
        return app.extension(Insights)

    def attach(self, accounts: Accounts) -> None:
        """Listen to the job core's dead letters and to accounts' usage and reauthorisation."""
        self.app.dead_letter_hooks.append(self.tell_operator)
        self.app.close_hooks.append(self.close)
        accounts.usage_hooks.append(self.record_usage)
        accounts.reauth_hooks.append(self.tell_owner_to_reconnect)

    # -- services -------------------------------------------------------------------------
    @property
    def repository(self) -> InsightsStores:
        """The extras' stores: analyses, preferences, trust, usage, notifications, digests."""
        if self.store is None:
            raise ConfigurationError("this needs an InsightsStores in Deps.insights")
        return self.store

    @property
    def analyzer(self) -> Analyzer:
        """The analyzer ``analyze_items`` uses (built from settings on first use)."""
        with self._lock:
            if self.analyzer_override is None:
                self.analyzer_override = build_analyzer(self.app.settings, self.transport)
            return self.analyzer_override

    @property
    def notifiers(self) -> list[Notifier]:
        """Every notifier a notification goes through (built from settings on first use)."""
        with self._lock:
            if self.notifiers_override is None:
                self.notifiers_override = build_notifiers(self.app.settings, self.transport)
            return self.notifiers_override

    def notifier(self, name: str) -> Notifier:
        """The notifier called ``name``."""
        for notifier in self.notifiers:
            if notifier.name == name:
                return notifier
        raise ConfigurationError(
            f"no notifier named {name!r} (configured: "
            f"{', '.join(n.name for n in self.notifiers) or 'none'})"
        )

    def close(self) -> None:
        """Close the analyzer, if one was built."""
        if self.analyzer_override is not None:
            self.analyzer_override.close()

    # -- notifications --------------------------------------------------------------------
    def notify(
        self,
        owner_id: str,
        *,
        kind: str,
        title: str,
        body: str,
        data: dict[str, Any] | None = None,
        external: bool = True,
    ) -> Notification:
        """Record a notification and queue its delivery through every notifier."""
        owner = check_owner(owner_id)
        payload = dict(data or {})
        try:
            json.dumps(payload)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"notification data must be JSON: {exc}") from None
        note = self.repository.add_notification(
            owner_id=owner,
            kind=text(kind, "kind", max_len=64),
            title=text(title, "title", max_len=255),
            body=text(body, "body", max_len=10_000),
            data=payload,
            now=utcnow(),
        )
        deliveries = []
        for notifier in self.notifiers:
            if notifier.name == "in_app":  # the row just written is the in-app notification
                self.repository.record_delivery(
                    note.id, notifier.name, ok=True, error=None, now=utcnow()
                )
            elif external:
                deliveries.append(
                    JobSpec(
                        "deliver_notification",
                        owner_id=owner,
                        params={"notification_id": note.id, "notifier": notifier.name},
                        idempotency_key=f"notify:{note.id}:{notifier.name}",
                    )
                )
        if deliveries:  # one delivery job per external notifier, submitted together
            self.app.submit_many(deliveries, enforce_limit=False)
        return note

    def notifications(self, owner_id: str, *, unread_only: bool = False) -> list[Notification]:
        """An owner's in-app notifications, newest first."""
        return self.repository.list_notifications(
            owner_id=check_owner(owner_id), unread_only=unread_only
        )

    def mark_read(self, owner_id: str, notification_ids: list[int] | None = None) -> int:
        """Mark an owner's notifications read (all of them when no ids are given)."""
        ids = (
            None
            if notification_ids is None
            else [integer(i, "notification id", low=1, high=2**62) for i in notification_ids]
        )
        return self.repository.mark_notifications_read(check_owner(owner_id), ids, now=utcnow())

    # -- preferences, trust, usage --------------------------------------------------------
    def preferences(self, owner_id: str) -> Preferences:
        """An owner's preferences (defaults when none were set)."""
        owner = check_owner(owner_id)
        stored = self.repository.get_preferences(owner)
        return stored if stored is not None else self.default_preferences(owner)

    def default_preferences(self, owner_id: str) -> Preferences:
        """The preferences of an owner who set none."""
        settings = self.app.settings
        return Preferences(
            owner_id=owner_id,
            timezone=settings.timezone,
            digest=DigestFrequency(settings.default_digest),
        )

    def set_preferences(self, owner_id: str, **changes: Any) -> Preferences:
        """Change some of an owner's preferences; unknown or invalid values raise."""
        current = self.preferences(owner_id)
        changed = apply_changes(current, changes)
        if changes.get("webhook_url"):
            allow = self.app.settings.webhook_allow_private
            check_webhook_url(str(changes["webhook_url"]), allow_private=allow)
        return self.repository.save_preferences(changed, now=utcnow())

    def trust_scores(self, owner_id: str) -> list[TrustScore]:
        """An owner's channel trust scores, least trusted first."""
        return self.repository.list_trust_scores(owner_id=check_owner(owner_id))

    def usage(
        self,
        owner_id: str,
        *,
        period: UsagePeriod | str = UsagePeriod.DAY,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> list[UsageRecord]:
        """An owner's usage records of one period kind, oldest first."""
        try:
            kind = UsagePeriod(period)
        except ValueError:
            raise InvalidInputError(
                f"unknown period {period!r}: use hour, day, week or month"
            ) from None
        for name, value in (("start", start), ("end", end)):
            if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
                raise InvalidInputError(f"{name} must be an aware datetime")
        return self.repository.list_usage(
            owner_id=check_owner(owner_id), period=kind, start=start, end=end
        )

    # -- hooks ----------------------------------------------------------------------------
    def record_usage(self, usage: ProviderUsage) -> None:
        """Record what a sync cost at its provider, for ``aggregate_usage``."""
        if self.store is None:
            return
        self.store.record_provider_usage(
            owner_id=usage.owner_id,
            account_id=usage.account_id,
            provider=usage.provider,
            job_id=usage.job_id,
            api_calls=usage.api_calls,
            quota_units=usage.quota_units,
            at=usage.at,
        )

    def tell_owner_to_reconnect(self, account: Account, exc: ReauthorizationRequiredError) -> None:
        """Notify an account's owner that it needs reconnecting."""
        label = PROVIDER_LABELS.get(account.provider, account.provider)
        url = reconnect_url(self.app.settings.reconnect_url, account.provider, account.id)
        how = (
            f"open {url} and approve access again"
            if url
            else f"connect your {label} account again from the app"
        )
        self.notify(
            account.owner_id,
            kind="reauth_required",
            title=f"{label} connection expired",
            body=f"{label} no longer accepts this app's access to your account. To resume "
            f"syncing, {how}: the account keeps its synced items and carries on where it "
            "stopped.",
            data={"account_id": account.id, "provider": account.provider, "reconnect_url": url},
        )

    def tell_operator(self, job: Job) -> None:
        """Tell the operator that a job failed for good."""
        if self.store is None:
            return
        self.notify(
            self.app.settings.operator_owner_id,
            kind="dead_letter",
            title=f"Job {job.job_type} failed for good",
            body=f"{job.error_code or 'error'}: {(job.error_message or '')[:500]}",
            data={
                "job_id": job.id,
                "owner_id": job.owner_id,
                "job_type": job.job_type,
                "error_code": job.error_code,
                "attempts": job.attempts,
            },
            # A failing notifier must not notify about itself forever.
            external=job.job_type != "deliver_notification",
        )

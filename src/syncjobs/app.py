"""The whole application: ``register_actors(broker, deps, settings)`` and what it returns.

``SyncJobs`` is the job core's ``JobApp`` with the accounts and the extras attached: the
ledger operations are its own, ``app.accounts`` connects and syncs accounts, and
``app.insights`` holds notifications, preferences, trust scores and usage. Importing this
module declares the built-in job types. See docs/architecture.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dramatiq
import httpx

from . import builtin_jobs  # noqa: F401  (declares the built-in job types)
from .clock import utcnow
from .connections.connect_state import ConnectStateStore
from .connections.service import Accounts
from .connections.store import AccountRepository, CredentialStore
from .core.app import JobApp
from .core.binding import bind_actors
from .core.current import set_app
from .core.ledger.store import JobRepository
from .core.maintenance import Health, health, maintain
from .core.registry import Registry, default_registry
from .core.scheduling import ScheduleInfo, Scheduler
from .insights.analyzers import Analyzer
from .insights.notifiers import Notifier
from .insights.service import Insights
from .insights.stores import InsightsStores
from .settings import Settings

__all__ = ["Deps", "SyncJobs", "register_actors"]


@dataclass
class Deps:
    """What job bodies need, built once per process: storage and pluggable services."""

    repository: JobRepository
    #: Accounts and synced items; defaults to ``repository`` when it implements them.
    accounts: AccountRepository | None = None
    #: Where account tokens live (the SQL store encrypts them).
    credentials: CredentialStore | None = None
    #: Pending connect attempts (the OAuth state); defaults to ``repository`` when it keeps them.
    connect_states: ConnectStateStore | None = None
    #: An httpx transport every provider uses instead of the network (tests, demo); not
    #: Google's code exchange in ``complete_connect``, which google-auth-oauthlib sends with
    #: ``requests`` (serve the fakes on loopback to test it).
    transport: httpx.BaseTransport | None = None
    #: The extras' stores (analyses, preferences, trust, usage, notifications…); defaults to
    #: ``repository`` too.
    insights: InsightsStores | None = None
    #: What ``analyze_items`` judges items with (default: built from settings).
    analyzer: Analyzer | None = None
    #: Where notifications go (default: built from ``settings.notifiers``).
    notifiers: list[Notifier] | None = None
    #: Anything else a host's job types need, by name.
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.accounts is None and isinstance(self.repository, AccountRepository):
            self.accounts = self.repository
        if self.insights is None and isinstance(self.repository, InsightsStores):
            self.insights = self.repository
        if self.connect_states is None and isinstance(self.repository, ConnectStateStore):
            self.connect_states = self.repository


class SyncJobs(JobApp):
    """A bound syncjobs application: jobs, accounts and the extras on one Dramatiq broker."""

    def __init__(
        self, broker: dramatiq.Broker, deps: Deps, settings: Settings, registry: Registry
    ) -> None:
        super().__init__(broker, deps.repository, settings, registry)
        self.deps = deps
        accounts = Accounts(
            self,
            deps.accounts,
            deps.credentials,
            deps.transport,
            connect_states=deps.connect_states,
        )
        insights = Insights(
            self,
            deps.insights,
            analyzer_override=deps.analyzer,
            notifiers_override=deps.notifiers,
            transport=deps.transport,
        )
        insights.attach(accounts)
        self.upkeep_hooks.append(accounts.purge_connect_states)
        self.add_extension(accounts)
        self.add_extension(insights)
        self.binding = bind_actors(self)

    @property
    def accounts(self) -> Accounts:
        """Connect, list, disconnect and sync owners' accounts."""
        return self.extension(Accounts)

    @property
    def insights(self) -> Insights:
        """Notifications, preferences, trust scores and usage."""
        return self.extension(Insights)

    def schedules(self) -> list[ScheduleInfo]:
        """Every schedule: cron, timezone, enabled, last slot fired, next slot."""
        return Scheduler(self).listing(utcnow())

    def health(self) -> Health:
        """Healthy when a worker heartbeat and a scheduler tick are recent; job counts."""
        return health(self)

    def maintain(self) -> dict[str, int]:
        """Run one round of ledger upkeep now (``maintain_jobs`` does it every 5 minutes)."""
        return maintain(self)


def register_actors(
    broker: dramatiq.Broker,
    deps: Deps,
    settings: Settings | None = None,
    *,
    registry: Registry | None = None,
    make_current: bool = True,
) -> SyncJobs:
    """Bind every registered job type to ``broker`` and return the application.

    ``broker`` may be the host's own (Redis, RabbitMQ or any Dramatiq broker, with the host's
    actors and middleware on it): each job type runs as actor ``settings.actor_prefix`` +
    its name (``syncjobs.sync_account``). Binding is all or nothing: if a name is taken by
    another actor, or declaring fails, it raises ``ConfigurationError`` and leaves the broker
    as it was. Binding the same broker again replaces the earlier binding (no second
    middleware); the new app is the one the workers run jobs with.

    Args:
        broker: The Dramatiq broker workers consume from and submits send to.
        deps: Storage and services the job bodies use.
        settings: Settings (default: read from the environment).
        registry: Job types to bind (default: every ``@job_type`` declared so far).
        make_current: Make this app the one ``syncjobs.submit`` and friends use.
    """
    app = SyncJobs(broker, deps, settings or Settings(), registry or default_registry)
    if make_current:
        set_app(app)
    return app

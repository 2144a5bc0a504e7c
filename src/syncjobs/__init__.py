"""syncjobs: tracked background jobs for syncing users' connected accounts, on Dramatiq.

Importing this package creates no broker, opens no connection and loads no heavy dependency:
each public name is imported on first use. The first call of a module-level function
(``submit``, ``status``…) builds the app from ``SYNCJOBS_*`` settings, unless
``register_actors`` or ``create_app`` made one already.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    AccountMismatchError,
    AccountNotFoundError,
    ConcurrencyLimitError,
    ConfigurationError,
    ConnectStateError,
    ConsentDeniedError,
    FatalError,
    InvalidInputError,
    JobCancelledError,
    JobNotFoundError,
    MissingScopesError,
    PermissionDeniedError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
    ReauthorizationRequiredError,
    RetriableError,
    SchemaOutdatedError,
    SyncJobsError,
    UnexpectedResponseError,
)

if TYPE_CHECKING:
    from .api import (
        accounts,
        begin_connect,
        cancel,
        complete_connect,
        connect_account,
        disconnect_account,
        health,
        jobs,
        log,
        mark_read,
        notifications,
        notify,
        preferences,
        retry,
        schedules,
        set_preferences,
        status,
        submit,
        submit_many,
        sync_account,
        trust_scores,
        usage,
        watch,
    )
    from .app import Deps, SyncJobs, register_actors
    from .connections.connect import Connected, ConnectStart
    from .connections.models import Account, AccountState
    from .core.bulk import JobSpec
    from .core.context import JobContext
    from .core.models import Job, JobStatus, LogLine
    from .core.registry import job_type
    from .factory import create_app
    from .insights.analyzers import Analyzer
    from .insights.models import (
        Decision,
        DigestFrequency,
        Notification,
        Preferences,
        QueuedItem,
        TrustScore,
        UsagePeriod,
        UsageRecord,
        Verdict,
    )
    from .insights.notifiers import Notifier
    from .providers.types import TokenSet
    from .settings import Settings

#: Where each lazily imported public name lives.
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        [
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
        ],
        ".api",
    ),
    **dict.fromkeys(["Deps", "SyncJobs", "register_actors"], ".app"),
    "JobContext": ".core.context",
    "JobSpec": ".core.bulk",
    "job_type": ".core.registry",
    "create_app": ".factory",
    **dict.fromkeys(["Account", "AccountState"], ".connections.models"),
    **dict.fromkeys(["ConnectStart", "Connected"], ".connections.connect"),
    **dict.fromkeys(["Job", "JobStatus", "LogLine"], ".core.models"),
    **dict.fromkeys(
        [
            "Decision",
            "DigestFrequency",
            "Notification",
            "Preferences",
            "QueuedItem",
            "TrustScore",
            "UsagePeriod",
            "UsageRecord",
            "Verdict",
        ],
        ".insights.models",
    ),
    "Analyzer": ".insights.analyzers",
    "Notifier": ".insights.notifiers",
    "TokenSet": ".providers.types",
    "Settings": ".settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'syncjobs' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Account",
    "AccountMismatchError",
    "AccountNotFoundError",
    "AccountState",
    "Analyzer",
    "ConcurrencyLimitError",
    "ConfigurationError",
    "ConnectStart",
    "ConnectStateError",
    "Connected",
    "ConsentDeniedError",
    "Decision",
    "Deps",
    "DigestFrequency",
    "FatalError",
    "InvalidInputError",
    "Job",
    "JobCancelledError",
    "JobContext",
    "JobNotFoundError",
    "JobSpec",
    "JobStatus",
    "LogLine",
    "MissingScopesError",
    "Notification",
    "Notifier",
    "PermissionDeniedError",
    "Preferences",
    "ProviderError",
    "ProviderUnavailableError",
    "QueuedItem",
    "RateLimitedError",
    "ReauthorizationRequiredError",
    "RetriableError",
    "SchemaOutdatedError",
    "Settings",
    "SyncJobs",
    "SyncJobsError",
    "TokenSet",
    "TrustScore",
    "UnexpectedResponseError",
    "UsagePeriod",
    "UsageRecord",
    "Verdict",
    "__version__",
    "accounts",
    "begin_connect",
    "cancel",
    "complete_connect",
    "connect_account",
    "create_app",
    "disconnect_account",
    "health",
    "job_type",
    "jobs",
    "log",
    "mark_read",
    "notifications",
    "notify",
    "preferences",
    "register_actors",
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

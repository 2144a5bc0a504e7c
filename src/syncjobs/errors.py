"""The errors syncjobs raises, grouped by what the caller should do.

::

    SyncJobsError
    ├── ConfigurationError              bad settings, unknown provider
    ├── SchemaOutdatedError             the database schema is older than this version needs
    ├── InvalidInputError               bad params, unknown job type: nothing was created
    │   ├── ConnectStateError           a connect callback's state is unknown, used, expired
    │   │                               or another owner's (.reason): nothing was stored
    │   └── AccountMismatchError        a reconnect was granted for a different account
    ├── JobNotFoundError                also for another owner's job (existence never leaks)
    ├── AccountNotFoundError            also for another owner's account
    ├── ConcurrencyLimitError           the owner already has the maximum of active jobs
    ├── JobCancelledError               raised inside a job at a cancellation check
    └── ProviderError                   .provider .status_code
        ├── RetriableError              backoff retry
        │   ├── RateLimitedError        .retry_after: wait exactly that, without burning a retry
        │   └── ProviderUnavailableError   5xx, timeouts, connection errors
        └── FatalError                  no retry
            ├── ReauthorizationRequiredError   account paused, owner notified
            │   └── TokenRejectedError         the API rejected the token after a refresh
            ├── PermissionDeniedError
            │   ├── ConsentDeniedError         the owner declined the consent page
            │   └── MissingScopesError         consent granted without scopes the sync needs
            └── UnexpectedResponseError        payload failed validation
                ├── StaleCursorError           a stored page token or history id expired
                └── ResourceNotFoundError      404 for one resource (deleted meanwhile)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AccountMismatchError",
    "AccountNotFoundError",
    "ConcurrencyLimitError",
    "ConfigurationError",
    "ConnectStateError",
    "ConsentDeniedError",
    "FatalError",
    "InvalidInputError",
    "JobCancelledError",
    "JobNotFoundError",
    "MissingScopesError",
    "PermissionDeniedError",
    "ProviderError",
    "ProviderUnavailableError",
    "RateLimitedError",
    "ReauthorizationRequiredError",
    "ResourceNotFoundError",
    "RetriableError",
    "SchemaOutdatedError",
    "StaleCursorError",
    "SyncJobsError",
    "TokenRejectedError",
    "UnexpectedResponseError",
]


class SyncJobsError(Exception):
    """Base class for every error syncjobs raises."""

    #: A short, stable, machine-readable code stored in the ledger's ``error_code``.
    code: str = "error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or self.__class__.__name__).strip())

    @property
    def message(self) -> str:
        """The human-readable message."""
        return str(self.args[0]) if self.args else ""


class ConfigurationError(SyncJobsError):
    """Raised when settings are wrong, or a provider or job type is unknown."""

    code = "configuration_error"


class SchemaOutdatedError(ConfigurationError):
    """Raised when the database schema is older than this version of syncjobs needs."""

    code = "schema_outdated"


class InvalidInputError(SyncJobsError):
    """Raised when params or arguments are invalid; nothing was created or changed."""

    code = "invalid_input"

    def __init__(self, message: str | None = None, *, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        #: pydantic-style error dicts, each with a ``loc`` field path, when available.
        self.errors: list[dict[str, Any]] = errors or []


class ConnectStateError(InvalidInputError):
    """Raised when a connect callback's state is unknown, already used, expired or foreign."""

    code = "invalid_connect_state"

    def __init__(self, message: str | None = None, *, reason: str = "unknown") -> None:
        super().__init__(message)
        #: ``unknown`` (never issued or already used), ``expired`` or ``wrong_owner``.
        self.reason = reason


class AccountMismatchError(InvalidInputError):
    """Raised when a reconnect was granted for a different provider account than the one paused."""

    code = "account_mismatch"


class JobNotFoundError(SyncJobsError):
    """Raised when a job does not exist or belongs to another owner."""

    code = "job_not_found"


class AccountNotFoundError(SyncJobsError):
    """Raised when an account does not exist or belongs to another owner."""

    code = "account_not_found"


class ConcurrencyLimitError(SyncJobsError):
    """Raised when the owner already has the maximum number of active jobs."""

    code = "concurrency_limit"


class JobCancelledError(SyncJobsError):
    """Raised inside a running job when a cancellation check finds it cancelled."""

    code = "cancelled"


class ProviderError(SyncJobsError):
    """Raised when a provider's API call fails."""

    code = "provider_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        provider: str | None = None,
        status_code: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status_code = status_code
        #: The provider's own error reason or code (``quotaExceeded``, ``190``…), if any.
        self.reason = reason


class RetriableError(ProviderError):
    """Raised when a call failed in a way that a later retry may fix."""

    code = "retriable"


class RateLimitedError(RetriableError):
    """Raised when the provider rate-limits us; retry after exactly ``retry_after`` seconds."""

    code = "rate_limited"

    def __init__(
        self,
        message: str | None = None,
        *,
        retry_after: float,
        provider: str | None = None,
        status_code: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, provider=provider, status_code=status_code, reason=reason)
        self.retry_after = max(0.0, float(retry_after))


class ProviderUnavailableError(RetriableError):
    """Raised on 5xx answers, timeouts and connection errors."""

    code = "provider_unavailable"


class FatalError(ProviderError):
    """Raised when a call failed in a way no retry will fix."""

    code = "fatal"


class ReauthorizationRequiredError(FatalError):
    """Raised when the account's credentials are dead and its owner must reconnect it."""

    code = "reauthorization_required"


class PermissionDeniedError(FatalError):
    """Raised when the provider refuses access to the resource."""

    code = "permission_denied"


class ConsentDeniedError(PermissionDeniedError):
    """Raised when the owner declined the provider's consent page (``access_denied``)."""

    code = "consent_denied"


class MissingScopesError(PermissionDeniedError):
    """Raised when consent was granted without scopes the built-in sync needs."""

    code = "missing_scopes"

    def __init__(
        self, message: str | None = None, *, provider: str | None = None, missing: list[str]
    ) -> None:
        super().__init__(message, provider=provider, reason="missing_scopes")
        #: The scopes the sync needs that the owner did not grant.
        self.missing = list(missing)


class UnexpectedResponseError(FatalError):
    """Raised when a provider's payload fails validation."""

    code = "unexpected_response"


class TokenRejectedError(ReauthorizationRequiredError):
    """Raised when the API rejects the access token even after the one refresh allowed."""


class StaleCursorError(UnexpectedResponseError):
    """Raised when the provider no longer accepts a stored page token or history id."""

    code = "stale_cursor"


class ResourceNotFoundError(UnexpectedResponseError):
    """Raised when the provider answers 404 for a resource (e.g. a message deleted meanwhile)."""

    code = "not_found"

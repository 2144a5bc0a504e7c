"""HTTP answers and transport failures mapped to the error tree, for every client syncjobs builds.

Providers, the OpenAI-compatible analyzer and the webhook notifier all read an answer the
same way: a status (and, for providers, the API's own error reason) gives a
:class:`Meaning`; the meaning gives the error class. What differs per client is small and
passed in: extra reasons (providers), extra retriable statuses (webhooks), other error
classes or words (the analyzer, the notifier).
"""

from __future__ import annotations

import email.utils
import enum
import math
from collections.abc import Callable, Container, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from ..errors import (
    PermissionDeniedError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
    ReauthorizationRequiredError,
    ResourceNotFoundError,
    StaleCursorError,
    TokenRejectedError,
    UnexpectedResponseError,
)

__all__ = [
    "ERROR_TYPES",
    "UNAVAILABLE_STATUSES",
    "ErrorMap",
    "Meaning",
    "Reasons",
    "error_for",
    "meaning_of",
    "parse_retry_after",
    "post",
    "send",
    "transport_error",
]


class Meaning(enum.StrEnum):
    """What a failed HTTP answer means for the caller."""

    STALE_CURSOR = "stale_cursor"
    QUOTA_EXHAUSTED = "quota_exhausted"
    RATE_LIMITED = "rate_limited"
    REAUTHORIZE = "reauthorize"
    TOKEN_REJECTED = "token_rejected"
    PERMISSION_DENIED = "permission_denied"
    UNAVAILABLE = "unavailable"
    NOT_FOUND = "not_found"
    UNEXPECTED = "unexpected"


#: The error class of each meaning (a client may pass its own mapping).
ERROR_TYPES: Mapping[Meaning, type[ProviderError]] = {
    Meaning.STALE_CURSOR: StaleCursorError,
    Meaning.QUOTA_EXHAUSTED: RateLimitedError,
    Meaning.RATE_LIMITED: RateLimitedError,
    Meaning.REAUTHORIZE: ReauthorizationRequiredError,
    Meaning.TOKEN_REJECTED: TokenRejectedError,
    Meaning.PERMISSION_DENIED: PermissionDeniedError,
    Meaning.UNAVAILABLE: ProviderUnavailableError,
    Meaning.NOT_FOUND: ResourceNotFoundError,
    Meaning.UNEXPECTED: UnexpectedResponseError,
}

#: Statuses below 500 that are worth retrying (every 5xx is).
UNAVAILABLE_STATUSES: frozenset[int] = frozenset({408})

#: A provider's error reasons by what they mean; they win over the status where it says so.
Reasons = Mapping[Meaning, Container[str | None]]
_NO_REASONS: Reasons = {}


def meaning_of(
    status: int,
    reason: str | None = None,
    *,
    reasons: Reasons = _NO_REASONS,
    unavailable: Container[int] = UNAVAILABLE_STATUSES,
) -> Meaning:
    """Return what a failed answer means, from its status and the provider's reason.

    The checks run in a fixed order, each by reason or status: stale cursor, exhausted
    quota, rate limit (or 429), reauthorization, token rejected (or 401 unless the reason
    denies permission), permission denied (or 403), unavailable (or 5xx and ``unavailable``),
    not found (404), and anything else is unexpected.
    """

    def said(meaning: Meaning) -> bool:
        return reason in reasons.get(meaning, ())

    for meaning in (Meaning.STALE_CURSOR, Meaning.QUOTA_EXHAUSTED):
        if said(meaning):
            return meaning
    if said(Meaning.RATE_LIMITED) or status == 429:
        return Meaning.RATE_LIMITED
    if said(Meaning.REAUTHORIZE):
        return Meaning.REAUTHORIZE
    if said(Meaning.TOKEN_REJECTED) or (status == 401 and not said(Meaning.PERMISSION_DENIED)):
        return Meaning.TOKEN_REJECTED
    if said(Meaning.PERMISSION_DENIED) or status == 403:
        return Meaning.PERMISSION_DENIED
    if said(Meaning.UNAVAILABLE) or status >= 500 or status in unavailable:
        return Meaning.UNAVAILABLE
    if status == 404:
        return Meaning.NOT_FOUND
    return Meaning.UNEXPECTED


def error_for(
    meaning: Meaning,
    message: str,
    *,
    provider: str,
    status_code: int | None = None,
    reason: str | None = None,
    retry_after: float = 0.0,
    types: Mapping[Meaning, type[ProviderError]] = ERROR_TYPES,
) -> ProviderError:
    """Build the error ``meaning`` stands for (a meaning ``types`` lacks is unexpected)."""
    kind = types.get(meaning) or types[Meaning.UNEXPECTED]
    common: dict[str, Any] = {"provider": provider, "status_code": status_code, "reason": reason}
    if issubclass(kind, RateLimitedError):
        return kind(message, retry_after=retry_after, **common)
    return kind(message, **common)


@dataclass(frozen=True)
class ErrorMap:
    """One client's status policy: its name, default wait, retriable statuses, classes, words."""

    provider: str
    default_retry_after: float
    #: What the message says for each meaning (a missing one uses UNEXPECTED's words).
    phrases: Mapping[Meaning, str]
    types: Mapping[Meaning, type[ProviderError]] = field(default_factory=lambda: ERROR_TYPES)
    unavailable: frozenset[int] = UNAVAILABLE_STATUSES

    def meaning(self, status: int) -> Meaning:
        """Return what a failed answer with ``status`` means for this client."""
        return meaning_of(status, unavailable=self.unavailable)

    def error(
        self, response: httpx.Response, *, label: str, reason: str | None = None, detail: str = ""
    ) -> ProviderError | None:
        """Return the error ``response`` means, or None for a 2xx answer.

        The message reads ``<label>: <phrase> (HTTP <status>)``, then ``, retry in <n>s`` for
        a rate limit (from ``Retry-After``, else the default) and ``: <detail>`` if given.
        """
        if response.is_success:
            return None
        status = response.status_code
        meaning = self.meaning(status)
        phrase = self.phrases.get(meaning) or self.phrases[Meaning.UNEXPECTED]
        message = f"{label}: {phrase} (HTTP {status})"
        wait = 0.0
        if meaning is Meaning.RATE_LIMITED:
            wait = parse_retry_after(response.headers.get("Retry-After"), self.default_retry_after)
            message += f", retry in {wait:g}s"
        if detail:
            message += f": {detail}"
        return error_for(
            meaning,
            message,
            provider=self.provider,
            status_code=status,
            reason=reason,
            retry_after=wait,
            types=self.types,
        )

    def raise_for(
        self, response: httpx.Response, *, label: str, reason: str | None = None, detail: str = ""
    ) -> None:
        """Raise the error ``response`` means (see :meth:`error`); return on a 2xx answer."""
        error = self.error(response, label=label, reason=reason, detail=detail)
        if error is not None:
            raise error


def parse_retry_after(value: str | None, default: float, now: datetime | None = None) -> float:
    """Seconds a ``Retry-After`` header asks for (seconds or HTTP date), else ``default``."""
    if not value or not value.strip():
        return default
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return default
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if not math.isfinite(seconds):
        return default
    return max(0.0, seconds)


def transport_error(
    exc: httpx.TransportError,
    *,
    label: str,
    provider: str,
    timeout: float | None = None,
    connection_reason: str = "transport_error",
) -> ProviderUnavailableError:
    """Map a timeout or transport failure to ProviderUnavailableError (retriable).

    ``label`` starts the message (never the URL: paths may carry secrets); ``timeout``, when
    given, is named in a timeout's message.
    """
    if isinstance(exc, httpx.TimeoutException):
        waited = "the request timed out" if timeout is None else f"no answer within {timeout:g} s"
        return ProviderUnavailableError(f"{label}: {waited}", provider=provider, reason="timeout")
    return ProviderUnavailableError(
        f"{label}: connection failed ({type(exc).__name__})",
        provider=provider,
        reason=connection_reason,
    )


def send(
    request: Callable[[], httpx.Response],
    *,
    label: str,
    provider: str,
    timeout: float | None = None,
    connection_reason: str = "transport_error",
    chain: bool = False,
) -> httpx.Response:
    """Run ``request``; a timeout or transport failure raises :func:`transport_error`'s error.

    ``chain`` keeps the httpx exception as the cause; without it the error carries no trace
    of that exception (not even as its context): the request's URL may carry a token.
    """
    try:
        return request()
    except httpx.TransportError as exc:
        error = transport_error(
            exc,
            label=label,
            provider=provider,
            timeout=timeout,
            connection_reason=connection_reason,
        )
        cause = exc if chain else None
    raise error from cause


def post(
    client: httpx.Client, url: str, *, label: str, provider: str, **kwargs: Any
) -> httpx.Response:
    """POST ``url``; a timeout or transport error raises ProviderUnavailableError (retriable)."""
    return send(lambda: client.post(url, **kwargs), label=label, provider=provider)

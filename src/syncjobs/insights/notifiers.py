"""The Notifier protocol and the built-in notifiers: in-app rows, and a signed webhook.

A webhook delivery is a ``POST`` of the notification as compact JSON with headers::

    X-Syncjobs-Delivery: <notification id>      (the idempotency key to dedupe on)
    X-Syncjobs-Timestamp: <unix seconds>
    X-Syncjobs-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>

Receivers check it with :func:`verify_webhook`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import httpx

from .._http import ErrorMap, Meaning, install_log_redaction, post
from .._version import __version__
from ..errors import (
    ConfigurationError,
    FatalError,
    InvalidInputError,
    ProviderUnavailableError,
    RateLimitedError,
)
from .models import Notification, Preferences
from .webhook_guard import GuardedTransport, check_webhook_url

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "InAppNotifier",
    "Notifier",
    "WebhookNotifier",
    "build_notifiers",
    "notification_body",
    "sign_webhook",
    "verify_webhook",
]

DELIVERY_HEADER = "X-Syncjobs-Delivery"
TIMESTAMP_HEADER = "X-Syncjobs-Timestamp"
SIGNATURE_HEADER = "X-Syncjobs-Signature"
_SCHEME = "sha256="
_USER_AGENT = f"syncjobs/{__version__}"

#: How a receiver's answers map to errors: 429 waits, 408/425/5xx retry, the rest is fatal.
_ERRORS = ErrorMap(
    provider="webhook",
    default_retry_after=60.0,
    phrases={
        Meaning.RATE_LIMITED: "rate limited",
        Meaning.UNAVAILABLE: "the receiver is unavailable",
        Meaning.UNEXPECTED: "the receiver refused it",
    },
    types={
        Meaning.RATE_LIMITED: RateLimitedError,
        Meaning.UNAVAILABLE: ProviderUnavailableError,
        Meaning.UNEXPECTED: FatalError,
    },
    unavailable=frozenset({408, 425}),
)


@runtime_checkable
class Notifier(Protocol):
    """Delivers a notification somewhere (in-app rows, a webhook, e-mail…).

    Raise ``RetriableError`` (or ``RateLimitedError``) when delivery may work later and
    ``FatalError`` when it never will. Delivery must be safe to repeat: the notification
    id is the idempotency key a receiver dedupes on.
    """

    name: str

    def deliver(self, notification: Notification, preferences: Preferences | None) -> bool:
        """Deliver; return False when this notifier does not apply to the owner."""
        ...


def sign_webhook(secret: str, body: bytes, timestamp: str | int) -> str:
    """The ``X-Syncjobs-Signature`` value of ``body`` sent at ``timestamp``."""
    message = f"{timestamp}.".encode() + body
    return _SCHEME + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_webhook(
    secret: str,
    body: bytes,
    *,
    timestamp: str,
    signature: str,
    tolerance: float = 300,
    now: float | None = None,
) -> bool:
    """True when ``signature`` signs ``body`` at a ``timestamp`` within ``tolerance`` seconds.

    Never raises: a missing, malformed or stale header is simply False.
    """
    try:
        if not secret or not isinstance(body, bytes | bytearray):
            return False
        if not isinstance(timestamp, str) or not isinstance(signature, str):
            return False
        stamp = timestamp.strip()
        if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 15:
            return False
        current = time.time() if now is None else float(now)
        if abs(current - int(stamp)) > tolerance:
            return False
        given = signature.strip()
        if not given.startswith(_SCHEME) or not given.isascii():
            return False
        expected = sign_webhook(secret, bytes(body), stamp)
        return hmac.compare_digest(expected.encode(), given.lower().encode())
    except Exception:
        return False


def notification_body(notification: Notification) -> bytes:
    """The webhook body: compact, key-sorted JSON of the notification."""
    payload: dict[str, Any] = {
        "id": notification.id,
        "owner_id": notification.owner_id,
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "data": notification.data,
        "created_at": notification.created_at.isoformat(),
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str).encode()


class InAppNotifier:
    """The in-app channel: the stored notification row already is the notification."""

    name = "in_app"

    def deliver(self, notification: Notification, preferences: Preferences | None) -> bool:
        """Nothing to send: the row is there; always True."""
        return True


class WebhookNotifier:
    """POSTs each notification, HMAC-signed, to the owner's webhook URL (or the default)."""

    name = "webhook"

    def __init__(
        self,
        secret: str,
        default_url: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
        allow_private: bool = False,
    ) -> None:
        if not secret:
            raise ConfigurationError(
                "the webhook notifier needs a signing secret: set SYNCJOBS_WEBHOOK_SECRET"
            )
        self._secret = secret
        self.default_url = default_url or None
        if self.default_url is not None:
            try:
                check_webhook_url(self.default_url, allow_private=allow_private)
            except InvalidInputError as exc:
                raise ConfigurationError(f"SYNCJOBS_WEBHOOK_URL: {exc}") from None
        self._clock = clock
        install_log_redaction()
        # Resolves, refuses internal addresses (unless allowed), connects to the checked one.
        guarded = GuardedTransport(transport, allow_private=allow_private)
        self._client = httpx.Client(timeout=timeout, transport=guarded, follow_redirects=False)

    def __repr__(self) -> str:
        return f"WebhookNotifier(default_url={self.default_url!r})"

    def deliver(self, notification: Notification, preferences: Preferences | None) -> bool:
        """POST the notification; False when no URL applies, True once the receiver took it."""
        url = (preferences.webhook_url if preferences else None) or self.default_url
        if not url:
            return False
        host = self._check_url(url)
        body = notification_body(notification)
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": _USER_AGENT,
            DELIVERY_HEADER: str(notification.id),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign_webhook(self._secret, body, timestamp),
        }
        response = post(
            self._client,
            url,
            label=f"webhook {host}",
            provider=self.name,
            content=body,
            headers=headers,
        )
        return self._outcome(response, host)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    def _check_url(self, url: str) -> str:
        """The URL's host; FatalError when it is not an absolute http(s) URL."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            host = None
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not host:
            raise FatalError(
                "webhook: the URL is not an absolute http(s) URL",
                provider=self.name,
                reason="invalid_url",
            )
        return host

    def _outcome(self, response: httpx.Response, host: str) -> bool:
        _ERRORS.raise_for(response, label=f"webhook {host}")
        return True


def build_notifiers(
    settings: Settings, transport: httpx.BaseTransport | None = None
) -> list[Notifier]:
    """The built-in notifiers ``settings.notifiers`` names, in order, each once."""
    notifiers: list[Notifier] = []
    seen: set[str] = set()
    for name in settings.notifiers:
        if name in seen:
            continue
        seen.add(name)
        if name == "in_app":
            notifiers.append(InAppNotifier())
        elif name == "webhook":  # refuses an empty secret
            notifiers.append(
                WebhookNotifier(
                    settings.webhook_secret.get_secret_value(),
                    settings.webhook_url,
                    transport=transport,
                    allow_private=settings.webhook_allow_private,
                )
            )
        else:
            raise ConfigurationError(f"unknown notifier {name!r}; one of in_app, webhook")
    return notifiers

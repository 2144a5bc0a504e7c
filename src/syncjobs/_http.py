"""HTTP helpers shared by the providers, the analyzer and the webhook notifier."""

from __future__ import annotations

import email.utils
import math
from datetime import UTC, datetime
from typing import Any

import httpx

from .errors import ProviderUnavailableError

__all__ = ["parse_retry_after", "post"]


def post(
    client: httpx.Client, url: str, *, label: str, provider: str, **kwargs: Any
) -> httpx.Response:
    """POST ``url``; a timeout or transport error raises ProviderUnavailableError (retriable).

    ``label`` starts the error message (never the URL: paths may carry secrets).
    """
    try:
        return client.post(url, **kwargs)
    except httpx.TimeoutException:
        raise ProviderUnavailableError(
            f"{label}: the request timed out", provider=provider, reason="timeout"
        ) from None
    except httpx.TransportError as exc:
        raise ProviderUnavailableError(
            f"{label}: connection failed ({type(exc).__name__})",
            provider=provider,
            reason="transport_error",
        ) from None


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

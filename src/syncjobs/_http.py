"""One POST that turns timeouts and connection failures into ProviderUnavailableError."""

from __future__ import annotations

from typing import Any

import httpx

from .errors import ProviderUnavailableError

__all__ = ["post"]


def post(client: httpx.Client, url: str, *, label: str, provider: str,
         **kwargs: Any) -> httpx.Response:
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
            f"{label}: connection failed ({type(exc).__name__})", provider=provider,
            reason="transport_error",
        ) from None

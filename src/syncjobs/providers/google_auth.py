"""Google OAuth refresh through google-auth, over the adapter's own httpx client.

google-auth has no httpx transport, so :class:`HttpxRequest` adapts an ``httpx.Client`` to
``google.auth.transport.Request``; :class:`GoogleProvider` is the base of the YouTube and
Gmail adapters and refreshes with ``google.oauth2.credentials.Credentials.refresh``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC
from typing import Any, ClassVar

import httpx
from google.auth import exceptions as google_exceptions
from google.auth import transport as google_transport
from google.oauth2.credentials import Credentials

from ..errors import ProviderError, ProviderUnavailableError, ReauthorizationRequiredError
from . import DEFAULT_TOKEN_URLS
from .http import HTTPProvider
from .types import TokenSet

__all__ = ["GoogleProvider", "HttpxRequest", "HttpxResponse"]


class HttpxResponse(google_transport.Response):
    """An httpx response seen through google-auth's ``Response`` interface."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    @property
    def status(self) -> int:
        """The HTTP status code."""
        return self.response.status_code

    @property
    def headers(self) -> Mapping[str, str]:
        """The response headers."""
        return self.response.headers

    @property
    def data(self) -> bytes:
        """The response body."""
        return self.response.content


class HttpxRequest(google_transport.Request):
    """google-auth's ``Request`` on top of an httpx send function; keeps the last answer."""

    def __init__(self, send: Callable[..., httpx.Response]) -> None:
        self._send = send
        #: The last response received, so its error can be classified like any other.
        self.last_response: httpx.Response | None = None

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> HttpxResponse:
        """Send one request for google-auth; transport failures become its TransportError."""
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        try:
            response = self._send(method, url, content=body, headers=dict(headers or {}), **extra)
        except httpx.HTTPError as exc:
            raise google_exceptions.TransportError(type(exc).__name__) from exc  # type: ignore[no-untyped-call]
        self.last_response = response
        return HttpxResponse(response)


class GoogleProvider(HTTPProvider):
    """Base of the Google adapters: Google error bodies and refresh through google-auth."""

    error_style: ClassVar[str] = "google"
    default_token_url: ClassVar[str] = DEFAULT_TOKEN_URLS["google"]

    def refresh_tokens(self, tokens: TokenSet) -> TokenSet:
        """Refresh with ``Credentials.refresh`` over this adapter's client (counted calls)."""
        request = HttpxRequest(self.send_unauthenticated)
        credentials = Credentials(  # type: ignore[no-untyped-call]
            token=tokens.access_token,
            refresh_token=tokens.refresh_token,
            token_uri=self.token_url,
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
        )
        try:
            credentials.refresh(request)  # type: ignore[no-untyped-call]
        except google_exceptions.RefreshError as exc:
            raise self._refresh_failure(request.last_response, exc) from None
        except google_exceptions.TransportError as exc:
            raise ProviderUnavailableError(
                f"{self.name}: the token endpoint could not be reached ({exc})", provider=self.name
            ) from None
        payload: dict[str, Any] = {"access_token": credentials.token}
        if request.last_response is not None and request.last_response.is_success:
            answered = request.last_response.json()
            payload["expires_in"] = answered.get("expires_in")
            payload["scope"] = answered.get("scope")
        elif credentials.expiry is not None:
            left = credentials.expiry.replace(tzinfo=UTC) - self.now()
            payload["expires_in"] = int(left.total_seconds())
        if credentials.refresh_token and credentials.refresh_token != tokens.refresh_token:
            payload["refresh_token"] = credentials.refresh_token
        return self.token_set(payload, tokens)

    def _refresh_failure(
        self, response: httpx.Response | None, exc: google_exceptions.RefreshError
    ) -> ProviderError:
        """Map google-auth's RefreshError: by the token endpoint's answer when there is one."""
        if response is not None:
            error = self.classify(response, endpoint="token")
            if error is not None:
                return error
        if getattr(exc, "retryable", False):
            return ProviderUnavailableError(
                f"{self.name}: token refresh failed transiently", provider=self.name
            )
        detail = self.scrub(str(exc.args[0]) if exc.args else "")
        return ReauthorizationRequiredError(
            f"{self.name}: token refresh failed ({detail})",
            provider=self.name,
            reason="invalid_grant" if "invalid_grant" in str(exc) else None,
        )

"""Instagram's connect flow (Instagram API with Instagram Login), over httpx.

Consent without PKCE (scopes comma-separated); the code is exchanged for a short-lived token
(``POST …/oauth/access_token``), which is exchanged at once for the 60-day long-lived one
(``GET …/access_token?grant_type=ig_exchange_token``, the sibling of the refresh endpoint).
The stored token set is the long-lived token, without a refresh token (the sync refreshes it
by its age).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

import httpx

from ...clock import utcnow
from ...errors import ConfigurationError, SyncJobsError, UnexpectedResponseError
from .. import DEFAULT_EXCHANGE_URLS, DEFAULT_TOKEN_URLS
from ..http import HTTPProvider
from ..types import ProviderConfig, TokenSet
from ..util import to_int
from .base import ConsentFlow, Grant

__all__ = ["InstagramConsent", "long_lived_url"]

#: Words of an ``OAuthException`` message that blame the app's client setup, not the code.
_CLIENT_WORDS = ("client secret", "client_id", "platform app", "redirect_uri")


def long_lived_url(token_url: str) -> str:
    """The long-lived exchange URL: the refresh URL with its last segment ``access_token``."""
    head, _, _ = token_url.rstrip("/").rpartition("/")
    return f"{head}/access_token"


class InstagramConsent(ConsentFlow):
    """Connect an Instagram professional account (short-lived, then long-lived token)."""

    name: ClassVar[str] = "instagram"
    uses_pkce: ClassVar[bool] = False
    scope_separator: ClassVar[str] = ","

    def exchange(
        self,
        config: ProviderConfig,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str | None,
        transport: httpx.BaseTransport | None,
    ) -> Grant:
        """Code → short-lived token → long-lived token; identify with ``/me``."""
        answer = self.post_form(
            config.exchange_url or DEFAULT_EXCHANGE_URLS["instagram"],
            {
                "client_id": self.client_id(config),
                "client_secret": config.client_secret,
                "grant_type": "authorization_code",
                "redirect_uri": redirect_uri,
                "code": code.removesuffix("#_"),
            },
            config=config,
            transport=transport,
        )
        short = self.short_lived(answer)
        long_lived = self.post_form(
            long_lived_url(config.token_url or DEFAULT_TOKEN_URLS["instagram"]),
            {
                "grant_type": "ig_exchange_token",
                "client_secret": config.client_secret,
                "access_token": str(short["access_token"]),
            },
            config=config,
            transport=transport,
            method="GET",
        )
        if not long_lived.get("access_token"):
            raise self.no_token("the long-lived exchange")
        now = utcnow()
        expires_in = to_int(long_lived.get("expires_in"))
        granted = self.scopes_from(short.get("permissions"))
        tokens = TokenSet(
            access_token=str(long_lived["access_token"]),
            expires_at=now + timedelta(seconds=expires_in) if expires_in else None,
            issued_at=now,
            scope=",".join(granted),
        )
        external_id, display_name = self.identify(config, tokens, transport)
        return Grant(tokens, external_id, display_name, granted)

    def exchange_error(self, status: int, body: Mapping[str, Any]) -> SyncJobsError:
        """Graph says everything with ``OAuthException``: its message tells the app's fault."""
        said = str(body.get("error_message") or "")
        if status < 500 and any(word in said.lower() for word in _CLIENT_WORDS):
            return ConfigurationError(
                f"instagram code exchange: the provider refused the app's OAuth client "
                f"({said[:200]}); check the client id, client secret and redirect URI"
            )
        return super().exchange_error(status, body)

    def short_lived(self, answer: dict[str, Any]) -> dict[str, Any]:
        """The short-lived token record (``{"data": [...]}`` or the older flat answer)."""
        data = answer.get("data")
        record = (
            data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else answer
        )
        if not record.get("access_token"):
            raise self.no_token("the code exchange")
        if isinstance(record.get("permissions"), list):
            record = record | {"permissions": ",".join(map(str, record["permissions"]))}
        return record

    def no_token(self, where: str) -> UnexpectedResponseError:
        """The error of an answer without a token."""
        return UnexpectedResponseError(
            f"instagram: {where} answered without an access token",
            provider=self.name,
            reason="invalid_payload",
        )

    def identify_with(self, adapter: HTTPProvider) -> tuple[str, str | None]:
        """The account's id and username (``/me?fields=user_id,username``)."""
        body = self.get_json(adapter, "me", fields="user_id,username")
        user_id = body.get("user_id") or body.get("id")
        if not user_id:
            raise adapter.unexpected("identify", "the profile has no user_id")
        username = body.get("username")
        return str(user_id), str(username) if username else None

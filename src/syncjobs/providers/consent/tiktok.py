"""TikTok's connect flow (Login Kit for web), over httpx.

Consent with PKCE whose challenge is the HEX SHA-256 of the verifier (TikTok's documented
format, not RFC 7636's base64url); scopes comma-separated; the parameter naming the app is
``client_key``. The exchange answers a refresh token that rotates: it is stored as returned.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import ClassVar

import httpx

from ...clock import utcnow
from ...errors import UnexpectedResponseError
from .. import DEFAULT_TOKEN_URLS
from ..http import HTTPProvider
from ..types import ProviderConfig, TokenSet
from ..util import to_int
from .base import ConsentFlow, Grant

__all__ = ["TikTokConsent", "hex_challenge"]


def hex_challenge(verifier: str) -> str:
    """TikTok's S256 challenge: the hex SHA-256 of the verifier."""
    return hashlib.sha256(verifier.encode("ascii")).hexdigest()


class TikTokConsent(ConsentFlow):
    """Connect a TikTok account (``user.info.basic``, ``video.list``)."""

    name: ClassVar[str] = "tiktok"
    scope_separator: ClassVar[str] = ","
    client_id_param: ClassVar[str] = "client_key"

    def code_challenge(self, verifier: str) -> str:
        """TikTok's challenge: hex, not base64url."""
        return hex_challenge(verifier)

    def exchange(
        self,
        config: ProviderConfig,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str | None,
        transport: httpx.BaseTransport | None,
    ) -> Grant:
        """Code → access and refresh tokens; identify with ``/v2/user/info/``."""
        answer = self.post_form(
            config.token_url or DEFAULT_TOKEN_URLS["tiktok"],
            {
                "client_key": self.client_id(config),
                "client_secret": config.client_secret,
                "code": code,
                "grant_type": "authorization_code",
                "redirect_uri": redirect_uri,
                "code_verifier": code_verifier or "",
            },
            config=config,
            transport=transport,
        )
        if not answer.get("access_token"):
            raise UnexpectedResponseError(
                "tiktok: the code exchange answered without an access token",
                provider=self.name,
                reason="invalid_payload",
            )
        now = utcnow()
        expires_in = to_int(answer.get("expires_in"))
        refresh_in = to_int(answer.get("refresh_expires_in"))
        granted = self.scopes_from(answer.get("scope"))
        refresh = answer.get("refresh_token")
        tokens = TokenSet(
            access_token=str(answer["access_token"]),
            refresh_token=str(refresh) if refresh else None,
            expires_at=now + timedelta(seconds=expires_in) if expires_in else None,
            issued_at=now,
            refresh_expires_at=now + timedelta(seconds=refresh_in) if refresh_in else None,
            scope=",".join(granted),
        )
        external_id, display_name = self.identify(config, tokens, transport)
        return Grant(tokens, external_id, display_name, granted)

    def identify_with(self, adapter: HTTPProvider) -> tuple[str, str | None]:
        """The account's open id and display name."""
        body = self.get_json(adapter, "v2/user/info/", fields="open_id,display_name")
        data = body.get("data")
        user = data.get("user") if isinstance(data, dict) else None
        if not isinstance(user, dict) or not user.get("open_id"):
            raise adapter.unexpected("identify", "the user info has no open_id")
        name = user.get("display_name")
        return str(user["open_id"]), str(name) if name else None

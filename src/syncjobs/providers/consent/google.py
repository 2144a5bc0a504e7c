"""YouTube and Gmail connect flows, through google-auth-oauthlib.

The consent URL and the code exchange are google-auth-oauthlib's ``Flow`` (``access_type=
offline``, ``prompt=consent``, ``include_granted_scopes=true``, PKCE S256 with our verifier).
``Flow`` talks to the token endpoint with ``requests``, not httpx, so the exchange does not go
through ``Accounts.transport``: in tests the fakes are served on loopback over real HTTP. The
identify call (``channels.list`` or Gmail's profile) uses the adapter's httpx client.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any, ClassVar

import httpx
import requests
from google_auth_oauthlib.flow import Flow
from oauthlib.oauth2.rfc6749.errors import MissingTokenError, OAuth2Error

from ..._http import install_log_redaction
from ...clock import utcnow
from ...errors import (
    MissingScopesError,
    ProviderUnavailableError,
    SyncJobsError,
    UnexpectedResponseError,
)
from .. import DEFAULT_TOKEN_URLS
from ..http import HTTPProvider
from ..types import ProviderConfig, TokenSet
from .base import ConsentFlow, Grant, check_endpoint
from .loopback import loopback_http

__all__ = ["GmailConsent", "GoogleConsent", "YouTubeConsent"]


class GoogleConsent(ConsentFlow):
    """Google's authorisation-code flow with PKCE, offline access and incremental scopes."""

    def token_url(self, config: ProviderConfig) -> str:
        """The token endpoint the code is exchanged at."""
        return check_endpoint(config.token_url or DEFAULT_TOKEN_URLS["google"], "token_url")

    def flow(self, config: ProviderConfig, *, redirect_uri: str, code_verifier: str | None) -> Any:
        """google-auth-oauthlib's ``Flow`` for this app, callback URL and verifier."""
        client_config = {
            "web": {
                "client_id": self.client_id(config),
                "client_secret": config.client_secret,
                "auth_uri": self.auth_url(config),
                "token_uri": self.token_url(config),
            }
        }
        return Flow.from_client_config(
            client_config,
            scopes=list(self.scopes),
            redirect_uri=redirect_uri,
            code_verifier=code_verifier,
            autogenerate_code_verifier=False,
        )

    def authorization_url(
        self, config: ProviderConfig, *, redirect_uri: str, state: str, code_verifier: str | None
    ) -> str:
        """Google's consent URL (offline access, consent prompt, PKCE S256)."""
        flow = self.flow(config, redirect_uri=redirect_uri, code_verifier=code_verifier)
        with loopback_http(self.auth_url(config)):
            url, _ = flow.authorization_url(
                access_type="offline",
                prompt="consent",
                include_granted_scopes="true",
                state=state,
            )
        return str(url)

    def exchange(
        self,
        config: ProviderConfig,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str | None,
        transport: httpx.BaseTransport | None,
    ) -> Grant:
        """``Flow.fetch_token`` then ``flow.credentials``; identify over httpx."""
        flow = self.flow(config, redirect_uri=redirect_uri, code_verifier=code_verifier)
        self.fetch(flow, code=code, token_url=self.token_url(config))
        tokens, granted = self.tokens_of(flow)
        external_id, display_name = self.identify(config, tokens, transport)
        return Grant(tokens, external_id, display_name, granted)

    def fetch(self, flow: Any, *, code: str, token_url: str) -> None:
        """Run the token request; map oauthlib's errors and scope warning to the error tree."""
        answered: dict[str, int] = {}

        def note_status(response: requests.Response) -> requests.Response:
            answered["status"] = response.status_code
            return response

        flow.oauth2session.register_compliance_hook("access_token_response", note_status)
        install_log_redaction()  # requests-oauthlib's DEBUG lines show the form and tokens
        with loopback_http(token_url):
            try:
                flow.fetch_token(code=code, include_client_id=True)
            except OAuth2Error as exc:
                raise self.token_error(exc, answered.get("status", 0)) from None
            except requests.RequestException as exc:
                raise ProviderUnavailableError(
                    f"{self.name} code exchange: connection failed ({type(exc).__name__})",
                    provider=self.name,
                    reason="connection_error",
                ) from None
            except Warning as warning:  # requests-oauthlib: the granted scopes differ
                token = getattr(warning, "token", None)
                if token is None:
                    raise
                self.check_scope_change(warning)
                flow.oauth2session.token = token

    def check_scope_change(self, warning: Warning) -> None:
        """Raise MissingScopesError when Google granted fewer scopes than asked for."""
        asked = set(getattr(warning, "old_scope", None) or ())
        granted = set(getattr(warning, "new_scope", None) or ())
        missing = sorted(asked - granted)
        if missing:
            raise MissingScopesError(
                f"{self.name}: consent was granted without {', '.join(missing)}, which the "
                "sync needs; connect again and allow every permission",
                provider=self.name,
                missing=missing,
            )

    def token_error(self, exc: OAuth2Error, status: int) -> SyncJobsError:
        """Map an oauthlib token error (InvalidGrantError…) by its OAuth error and status."""
        if isinstance(exc, MissingTokenError) and status < 500:
            return UnexpectedResponseError(
                f"{self.name} code exchange: the answer has no access token",
                provider=self.name,
                status_code=status or None,
            )
        body = {"error": exc.error, "error_description": exc.description or ""}
        return self.exchange_error(status or exc.status_code, body)

    def tokens_of(self, flow: Any) -> tuple[TokenSet, tuple[str, ...]]:
        """The token set and granted scopes of ``flow.credentials``."""
        try:
            credentials = flow.credentials
        except (KeyError, ValueError):
            raise UnexpectedResponseError(
                f"{self.name} code exchange: the answer lacks expires_in or access_token",
                provider=self.name,
            ) from None
        granted = credentials.granted_scopes
        if granted is None:  # the answer named no scopes: those asked for were granted
            granted = credentials.scopes or []
        if isinstance(granted, str):
            granted = granted.split()
        expiry = credentials.expiry
        tokens = TokenSet(
            access_token=credentials.token,
            refresh_token=credentials.refresh_token,
            expires_at=expiry.replace(tzinfo=UTC) if expiry is not None else None,
            issued_at=utcnow(),
            scope=" ".join(granted) or None,
        )
        return tokens, tuple(granted)


class YouTubeConsent(GoogleConsent):
    """Connect a YouTube channel (``youtube.readonly``)."""

    name: ClassVar[str] = "youtube"

    def identify_with(self, adapter: HTTPProvider) -> tuple[str, str | None]:
        """The channel's id and title (``channels.list?part=id,snippet&mine=true``)."""
        items = self.get_json(adapter, "channels", part="id,snippet", mine="true").get("items")
        first = items[0] if isinstance(items, list) and items else None
        if not isinstance(first, dict) or not first.get("id"):
            raise UnexpectedResponseError(
                "youtube identify: this Google account has no YouTube channel",
                provider=self.name,
                reason="no_channel",
            )
        title = (first.get("snippet") or {}).get("title")
        return str(first["id"]), str(title) if title else None


class GmailConsent(GoogleConsent):
    """Connect a Gmail mailbox (``gmail.readonly``)."""

    name: ClassVar[str] = "gmail"

    def identify_with(self, adapter: HTTPProvider) -> tuple[str, str | None]:
        """The mailbox's address (Gmail's ``profile``), as both id and name."""
        address = self.get_json(adapter, "profile").get("emailAddress")
        if not address:
            raise adapter.unexpected("identify", "the profile has no emailAddress")
        return str(address), str(address)

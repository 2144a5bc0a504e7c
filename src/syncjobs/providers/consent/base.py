"""What every connect flow shares: the consent URL, the callback's error, the code exchange.

A :class:`ConsentFlow` knows one provider's OAuth authorisation-code flow: the consent page's
query (:meth:`~ConsentFlow.authorization_url`), what an ``error=`` on the callback means
(:meth:`~ConsentFlow.callback_error`), and how a code becomes a :class:`Grant`: tokens, the
account's id and name (one identify call with the new token), and the scopes granted.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

import httpx

from ..._http import install_log_redaction, scrub, send
from ...errors import (
    ConfigurationError,
    ConsentDeniedError,
    PermissionDeniedError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
    SyncJobsError,
    UnexpectedResponseError,
)
from .. import DEFAULT_AUTH_URLS, DEFAULT_BASE_URLS, SYNC_SCOPES, get_provider
from ..http import HTTPProvider
from ..types import ProviderConfig, TokenSet

__all__ = [
    "CLIENT_ERRORS",
    "ConsentFlow",
    "Grant",
    "check_endpoint",
    "is_loopback",
    "s256_challenge",
]

#: Token-endpoint errors that mean the app's OAuth client is set up wrong, not the owner.
CLIENT_ERRORS = frozenset(
    {"invalid_client", "unauthorized_client", "redirect_uri_mismatch", "invalid_scope"}
)
_LOOPBACK_NAMES = frozenset({"localhost"})


@dataclass(frozen=True)
class Grant:
    """What a code exchange gave: tokens, the provider account, and the scopes granted."""

    tokens: TokenSet
    external_id: str
    display_name: str | None
    granted_scopes: tuple[str, ...]


def s256_challenge(verifier: str) -> str:
    """The RFC 7636 S256 code challenge: base64url of SHA-256, without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def is_loopback(url: str) -> bool:
    """Tell whether ``url``'s host is this machine (127.0.0.1, ::1, localhost)."""
    host = urlsplit(url).hostname or ""
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str, what: str) -> str:
    """Refuse an endpoint that is not https (plain http only for loopback hosts: the fakes)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and is_loopback(url):
        return url
    raise ConfigurationError(
        f"{what} must be an https URL (plain http only for 127.0.0.1, ::1 or localhost), "
        f"got {parts.scheme or 'no scheme'}://{parts.hostname or ''}"
    )


class ConsentFlow:
    """One provider's authorisation-code flow (the built-ins subclass it)."""

    name: ClassVar[str] = ""
    #: Whether the flow sends a PKCE challenge.
    uses_pkce: ClassVar[bool] = True
    #: How the consent page's ``scope`` parameter joins scopes.
    scope_separator: ClassVar[str] = " "
    #: The consent query's client id parameter (TikTok: ``client_key``).
    client_id_param: ClassVar[str] = "client_id"

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes this flow asks for: those the built-in sync needs."""
        return SYNC_SCOPES[self.name]

    def new_code_verifier(self) -> str | None:
        """A fresh PKCE code verifier (43-128 unreserved characters), or None without PKCE."""
        return secrets.token_urlsafe(48) if self.uses_pkce else None

    def code_challenge(self, verifier: str) -> str:
        """The PKCE challenge sent for ``verifier`` (S256, base64url by default)."""
        return s256_challenge(verifier)

    def auth_url(self, config: ProviderConfig) -> str:
        """The consent page's URL (https, or http on loopback)."""
        return check_endpoint(config.auth_url or DEFAULT_AUTH_URLS[self.name], "auth_url")

    def client_id(self, config: ProviderConfig) -> str:
        """The app's client id, or ConfigurationError when it is not set."""
        if not config.client_id:
            raise ConfigurationError(f"{self.name}: no client_id configured for connect flows")
        return config.client_id

    def consent_params(
        self, config: ProviderConfig, *, redirect_uri: str, state: str, code_verifier: str | None
    ) -> dict[str, str]:
        """The consent page's query parameters."""
        params = {
            self.client_id_param: self.client_id(config),
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": self.scope_separator.join(self.scopes),
            "state": state,
        }
        if self.uses_pkce and code_verifier:
            params["code_challenge"] = self.code_challenge(code_verifier)
            params["code_challenge_method"] = "S256"
        return params

    def authorization_url(
        self, config: ProviderConfig, *, redirect_uri: str, state: str, code_verifier: str | None
    ) -> str:
        """The consent URL to send the owner to."""
        params = self.consent_params(
            config, redirect_uri=redirect_uri, state=state, code_verifier=code_verifier
        )
        return f"{self.auth_url(config)}?{urlencode(params)}"

    def callback_error(self, query: Mapping[str, str]) -> ProviderError | None:
        """The error the callback reports (``access_denied`` → ConsentDeniedError), or None."""
        error = query.get("error")
        if not error:
            return None
        said = query.get("error_description") or query.get("error_reason") or error
        detail = scrub(said)[:200]
        if error == "access_denied":
            return ConsentDeniedError(
                f"{self.name}: the owner declined the consent page ({detail})",
                provider=self.name,
                reason=error,
            )
        if error in CLIENT_ERRORS:
            return PermissionDeniedError(
                f"{self.name}: the provider refused the connect ({error}: {detail}); check "
                "the app's client id, redirect URI and scopes",
                provider=self.name,
                reason=error,
            )
        if error in ("server_error", "temporarily_unavailable"):
            return ProviderUnavailableError(
                f"{self.name}: the consent page failed ({error}); try again",
                provider=self.name,
                reason=error,
            )
        return PermissionDeniedError(
            f"{self.name}: the consent was not given ({error}: {detail})",
            provider=self.name,
            reason=error,
        )

    def exchange(
        self,
        config: ProviderConfig,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str | None,
        transport: httpx.BaseTransport | None,
    ) -> Grant:
        """Exchange the callback's code for tokens and identify the account."""
        raise NotImplementedError  # pragma: no cover

    # -- shared by the httpx-based exchanges -----------------------------------------------------

    def adapter(
        self, config: ProviderConfig, tokens: TokenSet, transport: httpx.BaseTransport | None
    ) -> HTTPProvider:
        """The provider's sync adapter on ``tokens``: its client, errors and redaction."""
        adapter = get_provider(self.name)(
            tokens=tokens, save_tokens=lambda _: None, config=config, transport=transport
        )
        assert isinstance(adapter, HTTPProvider)
        return adapter

    def base_url(self, config: ProviderConfig) -> str:
        """The API root the identify call goes to."""
        return (config.base_url or DEFAULT_BASE_URLS[self.name]).rstrip("/")

    def identify(
        self, config: ProviderConfig, tokens: TokenSet, transport: httpx.BaseTransport | None
    ) -> tuple[str, str | None]:
        """The account's external id and display name, from one API call with ``tokens``."""
        adapter = self.adapter(config, tokens, transport)
        try:
            return self.identify_with(adapter)
        finally:
            adapter.close()

    def identify_with(self, adapter: HTTPProvider) -> tuple[str, str | None]:
        """Ask the API who ``adapter``'s token belongs to."""
        raise NotImplementedError  # pragma: no cover

    def get_json(self, adapter: HTTPProvider, path: str, **params: str) -> dict[str, Any]:
        """GET ``path`` with the adapter (errors mapped) and return its JSON object."""
        response = adapter.call("GET", path, endpoint="identify", params=params)
        body = adapter.json_of(response, endpoint="identify")
        if not isinstance(body, dict):
            raise adapter.unexpected("identify", "the body is not a JSON object")
        return body

    def scopes_from(self, said: object) -> tuple[str, ...]:
        """The granted scopes a provider listed (comma or space separated; None: as asked)."""
        if not isinstance(said, str) or not said.strip():
            return self.scopes
        return tuple(part for part in said.replace(",", " ").split() if part)

    def post_form(
        self,
        url: str,
        data: Mapping[str, str],
        *,
        config: ProviderConfig,
        transport: httpx.BaseTransport | None,
        method: str = "POST",
    ) -> dict[str, Any]:
        """Call a code-exchange endpoint; map its error answer; return its JSON object."""
        check_endpoint(url, "the code exchange URL")
        install_log_redaction(config.client_secret)  # httpx logs URLs (Instagram's carry it)
        label = f"{self.name} code exchange"
        with httpx.Client(timeout=config.timeout, transport=transport) as client:
            if method == "POST":
                response = send(
                    lambda: client.post(url, data=dict(data)), label=label, provider=self.name
                )
            else:
                response = send(
                    lambda: client.get(url, params=dict(data)), label=label, provider=self.name
                )
        try:
            body = response.json()
        except ValueError:
            body = None
        answer = body if isinstance(body, dict) else {}
        said_error = isinstance(answer.get("error"), str) and bool(answer["error"])
        if response.is_success and isinstance(body, dict) and not said_error:
            return body
        status = response.status_code if not response.is_success else 400
        raise self.exchange_error(status, answer)

    def exchange_error(self, status: int, body: Mapping[str, Any]) -> SyncJobsError:
        """Map a code exchange's failed answer to the error tree (never echoing secrets)."""
        error = str(body.get("error") or body.get("error_type") or "")
        said = body.get("error_description") or body.get("error_message") or ""
        detail = scrub(str(said))[:200] or f"HTTP {status}"
        where = f"{self.name} code exchange"
        if status == 429:
            return RateLimitedError(
                f"{where}: rate limited", retry_after=30.0, provider=self.name, status_code=status
            )
        if status >= 500 or error in ("server_error", "temporarily_unavailable"):
            return ProviderUnavailableError(
                f"{where}: the provider failed ({detail}); try again",
                provider=self.name,
                status_code=status,
                reason=error or None,
            )
        if error in CLIENT_ERRORS:
            return ConfigurationError(
                f"{where}: the provider refused the app's OAuth client ({error}: {detail}); "
                "check the client id, client secret and redirect URI"
            )
        if status in (400, 401, 403) or error:
            return PermissionDeniedError(
                f"{where}: the provider refused the authorisation code ({error or status}: "
                f"{detail}); start the connect again",
                provider=self.name,
                status_code=status,
                reason=error or None,
            )
        return UnexpectedResponseError(
            f"{where}: unexpected answer (HTTP {status})", provider=self.name, status_code=status
        )

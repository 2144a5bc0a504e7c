"""The token half of an adapter: the token set, its clock, and refreshes under a lock.

:class:`TokenFlow` keeps the account's current :class:`~syncjobs.providers.types.TokenSet`,
refreshes it when due or once after a rejection (under the account's lock, saving the new
set before it is used), and says when the owner must reconnect instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import httpx

from ..clock import utcnow
from ..errors import ReauthorizationRequiredError
from .types import TokenSet
from .util import to_int

__all__ = ["Clock", "TokenFlow"]

Clock = Callable[[], datetime]


class TokenFlow:
    """An account's OAuth tokens: refresh when due or after a rejection, save before use."""

    name: ClassVar[str] = "http"
    #: Refresh this long before the access token's known expiry.
    refresh_margin: ClassVar[timedelta] = timedelta(minutes=5)

    def __init__(
        self,
        *,
        tokens: TokenSet,
        save_tokens: Callable[[TokenSet], None],
        lock: threading.Lock | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._tokens = tokens
        self._save_tokens = save_tokens
        self._lock = lock or threading.Lock()
        self._clock: Clock = clock or utcnow

    @property
    def tokens(self) -> TokenSet:
        """The token set in use (the latest one after a refresh)."""
        return self._tokens

    def now(self) -> datetime:
        """Return the adapter's clock reading (aware UTC)."""
        return self._clock().astimezone(UTC)

    def refresh_due(self, tokens: TokenSet, now: datetime) -> bool:
        """Tell whether ``tokens`` should be refreshed before the next call."""
        return tokens.expires_at is not None and now >= tokens.expires_at - self.refresh_margin

    def can_refresh(self, tokens: TokenSet, now: datetime) -> bool:
        """Tell whether ``tokens`` can be refreshed at all."""
        return bool(tokens.refresh_token)

    def refresh_tokens(self, tokens: TokenSet) -> TokenSet:
        """Exchange ``tokens`` for a new token set at the provider's token endpoint."""
        raise NotImplementedError  # pragma: no cover

    def authorize(self, request: httpx.Request, access_token: str) -> None:
        """Put ``access_token`` on ``request`` (a Bearer header by default)."""
        request.headers["Authorization"] = f"Bearer {access_token}"

    def fresh_access_token(self) -> str:
        """Return an access token, refreshing it first when it is known expired or near expiry."""
        tokens, now = self._tokens, self.now()
        expired = tokens.expires_at is not None and now >= tokens.expires_at
        if not self.can_refresh(tokens, now):
            if expired:
                raise self._reauth("the access token expired and cannot be refreshed")
            return tokens.access_token
        if self.refresh_due(tokens, now):
            return self._refresh_locked(tokens.access_token, when_due=True)
        return tokens.access_token

    def refresh_after_rejection(self, rejected: str) -> str:
        """Refresh once after the API rejected ``rejected``; raise when that is impossible."""
        if not self.can_refresh(self._tokens, self.now()):
            raise self._reauth("the API rejected the access token and it cannot be refreshed")
        return self._refresh_locked(rejected, when_due=False)

    def _refresh_locked(self, stale: str, *, when_due: bool) -> str:
        with self._lock:
            current = self._tokens
            if current.access_token != stale:
                return current.access_token  # refreshed meanwhile by another request
            if when_due and not self.refresh_due(current, self.now()):
                return current.access_token
            new = self.refresh_tokens(current)
            self._save_tokens(new)  # before use: rotated refresh tokens must never be lost
            self._tokens = new
            return new.access_token

    def token_set(self, payload: Mapping[str, Any], previous: TokenSet) -> TokenSet:
        """Build the token set a token endpoint answered, keeping what it did not renew."""
        now = self.now()
        expires_in = to_int(payload.get("expires_in"))
        refresh_expires_in = to_int(payload.get("refresh_expires_in"))
        new_refresh = payload.get("refresh_token")
        return TokenSet(
            access_token=str(payload["access_token"]),
            refresh_token=str(new_refresh) if new_refresh else previous.refresh_token,
            expires_at=now + timedelta(seconds=expires_in) if expires_in else None,
            issued_at=now,
            refresh_expires_at=(
                now + timedelta(seconds=refresh_expires_in)
                if refresh_expires_in
                else previous.refresh_expires_at
            ),
            scope=str(payload["scope"]) if payload.get("scope") else previous.scope,
        )

    def _reauth(self, message: str) -> ReauthorizationRequiredError:
        return ReauthorizationRequiredError(f"{self.name}: {message}", provider=self.name)

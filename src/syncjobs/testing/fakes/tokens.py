"""The tokens a fake has issued: access and refresh grants, their lifetimes and state."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Grant", "TokenBook"]


@dataclass
class Grant:
    """One issued token: when it was issued, when it expires, and whether it still works."""

    issued_at: float
    expires_at: float | None
    state: str = "valid"  # valid | invalidated (by "unauthorized") | revoked


class TokenBook:
    """Access and refresh tokens the fake has issued, with their lifetimes and state."""

    def __init__(self, seed: int, access_prefix: str, refresh_prefix: str) -> None:
        self._seed = seed
        self._prefixes = {"access": access_prefix, "refresh": refresh_prefix}
        self._serial = 0
        self.access: dict[str, Grant] = {}
        self.refresh: dict[str, Grant] = {}

    def _name(self, kind: str) -> str:
        self._serial += 1
        digest = hashlib.sha256(f"{kind}:{self._seed}:{self._serial}".encode()).hexdigest()
        return self._prefixes[kind] + digest[:40]

    def new_access(self, issued_at: float, expires_in: int) -> str:
        """Issue an access token."""
        token = self._name("access")
        self.access[token] = Grant(issued_at, issued_at + expires_in)
        return token

    def new_refresh(self, issued_at: float, expires_in: int | None) -> str:
        """Issue a refresh token (``expires_in`` None: no expiry)."""
        token = self._name("refresh")
        expires = issued_at + expires_in if expires_in is not None else None
        self.refresh[token] = Grant(issued_at, expires)
        return token

    @staticmethod
    def problem(grants: Mapping[str, Grant], token: str | None, now: float) -> str | None:
        """Why ``token`` is unusable ("missing", "unknown", "expired", state) or None."""
        if not token:
            return "missing"
        grant = grants.get(token)
        if grant is None:
            return "unknown"
        if grant.state != "valid":
            return grant.state
        if grant.expires_at is not None and now >= grant.expires_at:
            return "expired"
        return None

    def set_state(self, grants: dict[str, Grant], token: str | None, state: str) -> None:
        """Mark a token invalidated/revoked (no-op for unknown tokens)."""
        if token and token in grants:
            grants[token].state = state

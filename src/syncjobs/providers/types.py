"""The provider contract: what a sync job gives an adapter and what it gets back."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel

from ..errors import ConfigurationError

__all__ = [
    "Item",
    "KnownItems",
    "Page",
    "Provider",
    "ProviderConfig",
    "ProviderFactory",
    "TokenSet",
    "check_stats_window",
]


class TokenSet(BaseModel):
    """An account's OAuth tokens; never logged, never put in params, results or errors."""

    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None
    #: When the access token was issued (Instagram refreshes only tokens >= 24 h old).
    issued_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    scope: str | None = None

    def __repr__(self) -> str:
        return "TokenSet(<redacted>)"

    __str__ = __repr__


@dataclass(frozen=True)
class Item:
    """One synced record (a video, an email, a post), normalised across providers."""

    external_id: str
    kind: str
    title: str | None = None
    text: str | None = None
    author: str | None = None
    published_at: datetime | None = None
    metrics: Mapping[str, int] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Page:
    """What one step of a sync produced; the cursor is committed with its items."""

    #: New or changed items, with details fetched.
    items: list[Item]
    #: The cursor to store once this page's items are stored (provider-specific JSON).
    cursor: dict[str, Any]
    #: External ids the provider reports deleted.
    deleted_ids: list[str] = field(default_factory=list)
    #: Items seen but already stored unchanged (no detail fetch spent on them).
    unchanged: int = 0
    #: API calls and quota units this page cost, the token refresh included.
    api_calls: int = 0
    quota_units: int = 0
    #: The provider's estimate of items in this run, for progress; None if unknown.
    total_hint: int | None = None
    #: True when a full resync started: items not seen again by the end may be stale.
    full_resync: bool = False


class KnownItems(Protocol):
    """Tells an adapter which external ids the account already stores."""

    def __call__(self, external_ids: Sequence[str]) -> set[str]:
        """Return the subset of ``external_ids`` already stored for the account."""
        ...


@dataclass(frozen=True)
class ProviderConfig:
    """Where and as whom an adapter talks to its API."""

    client_id: str = ""
    client_secret: str = ""
    base_url: str | None = None
    token_url: str | None = None
    timeout: float = 30.0
    #: Counts of items published this many days back are refreshed by incremental syncs
    #: (YouTube, Instagram, TikTok; 0 turns the refresh off).
    stats_window_days: int = 30
    #: At most this many recent items are refreshed per sync (0 turns the refresh off).
    stats_max_items: int = 200
    #: The consent page owners are sent to (``DEFAULT_AUTH_URLS`` when None).
    auth_url: str | None = None
    #: Where an authorisation code is exchanged, when not ``token_url`` (Instagram).
    exchange_url: str | None = None
    #: The OAuth callback URL registered with the provider (else the app-wide one).
    redirect_uri: str | None = None

    def __post_init__(self) -> None:
        check_stats_window(self.stats_window_days, self.stats_max_items)


#: The largest ``stats_window_days`` and ``stats_max_items`` accepted.
MAX_STATS_WINDOW_DAYS = 365
MAX_STATS_ITEMS = 1000


def check_stats_window(days: object, items: object) -> None:
    """Raise ConfigurationError unless the statistics window is two whole numbers in range."""
    for name, value, top in (
        ("stats_window_days", days, MAX_STATS_WINDOW_DAYS),
        ("stats_max_items", items, MAX_STATS_ITEMS),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
            raise ConfigurationError(
                f"{name} must be a whole number from 0 to {top}, not {value!r}"
            )


@runtime_checkable
class Provider(Protocol):
    """An adapter for one external API (built-ins: youtube, gmail, instagram, tiktok)."""

    name: str

    def sync(
        self, cursor: Mapping[str, Any] | None, *, full: bool, known: KnownItems
    ) -> Iterator[Page]:
        """Yield pages of changes since ``cursor`` (everything when None or ``full``)."""
        ...

    def close(self) -> None:
        """Release the adapter's HTTP client."""
        ...


#: Builds an adapter for one account. ``save_tokens`` must be called with every new token
#: set (refresh tokens rotate); ``transport`` lets tests and the demo reach fakes in-process.
ProviderFactory = Callable[..., Provider]

"""Connected accounts' records: accounts, their state, synced items and page counts."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..core.models import iso

__all__ = [
    "Account",
    "AccountState",
    "PageCounts",
    "StoredItem",
]


class AccountState(enum.StrEnum):
    """Whether an account syncs: active, paused until its owner reconnects, or disabled."""

    ACTIVE = "active"
    REAUTH_REQUIRED = "reauth_required"
    DISABLED = "disabled"


@dataclass(frozen=True)
class Account:
    """A connected provider account of an owner (credentials are stored apart, encrypted)."""

    id: str
    owner_id: str
    provider: str
    state: AccountState
    created_at: datetime
    updated_at: datetime
    external_id: str | None = None
    display_name: str | None = None
    cursor: dict[str, Any] | None = None
    sync_interval: int = 1800
    next_sync_at: datetime | None = None
    last_synced_at: datetime | None = None
    last_sync_job_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (no cursor internals, no credentials)."""
        return {
            "id": self.id,
            "owner_id": self.owner_id,
            "provider": self.provider,
            "state": self.state.value,
            "external_id": self.external_id,
            "display_name": self.display_name,
            "sync_interval": self.sync_interval,
            "next_sync_at": iso(self.next_sync_at),
            "last_synced_at": iso(self.last_synced_at),
            "last_sync_job_id": self.last_sync_job_id,
            "error_code": self.error_code,
            "error_message": self.error_message,
            "created_at": iso(self.created_at),
        }


@dataclass(frozen=True)
class StoredItem:
    """One synced item as stored for an account."""

    id: int
    account_id: str
    external_id: str
    kind: str
    title: str | None
    text: str | None
    author: str | None
    published_at: datetime | None
    metrics: dict[str, Any]
    raw: dict[str, Any]
    content_hash: str
    first_seen_at: datetime
    last_modified_at: datetime
    deleted_at: datetime | None
    analysis_state: str


@dataclass(frozen=True)
class PageCounts:
    """What storing one page changed."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

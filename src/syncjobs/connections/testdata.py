"""Test data of the accounts' contract suites (also used by the built-in jobs' suites)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from ..providers.types import Item
from .models import Account
from .store import AccountStore, ItemStore

__all__ = ["T0", "item_ids", "make_account", "minute", "stored_account", "video"]

#: Fixed, aware instants: T0 plus whole minutes.
T0 = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
_CEST = timezone(timedelta(hours=2))


def minute(minutes: float) -> datetime:
    """``T0`` plus ``minutes``."""
    return T0 + timedelta(minutes=minutes)


def video(external_id: str, **overrides: Any) -> Item:
    """A realistic synced item (unicode text, non-UTC publish time, metrics, raw JSON)."""
    values: dict[str, Any] = {
        "external_id": external_id,
        "kind": "video",
        "title": f"Café ☕ in 東京 — {external_id}",
        "text": 'Zoë\'s vlog: ümlauts, emoji 🎥 and "quotes"',
        "author": "Zoë Ångström",
        "published_at": datetime(2024, 3, 9, 18, 30, 15, 250000, tzinfo=_CEST),
        "metrics": {"views": 1200, "likes": 87, "comments": 4},
        "raw": {"snippet": {"tags": ["café", "東京"], "live": False}, "etag": 'W/"x1"'},
    }
    values.update(overrides)
    return Item(**values)


def make_account(
    repo: AccountStore,
    external_id: str | None = "UC-1",
    *,
    owner_id: str = "owner-1",
    provider: str = "youtube",
    minutes: float = 0,
) -> Account:
    """Create an account with a unicode display name, made ``minutes`` after ``T0``."""
    return repo.create_account(
        owner_id=owner_id,
        provider=provider,
        external_id=external_id,
        display_name="Zoë's channel ✓",
        sync_interval=900,
        now=minute(minutes),
    )


def item_ids(repo: ItemStore, account_id: str, **kwargs: Any) -> list[str]:
    """The external ids of ``list_items(account_id, **kwargs)``."""
    return [it.external_id for it in repo.list_items(account_id, **kwargs)]


def stored_account(repo: AccountStore, account_id: str) -> Account:
    """The stored account, asserting there is one."""
    acc = repo.get_account(account_id)
    assert acc is not None
    return acc

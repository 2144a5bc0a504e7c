"""The account browser's protocol: every owner's accounts, page by page, with item counts.

Hosts implement it (``typing.Protocol``), never subclass it. Pages are keyset-paginated on
the account id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .models import Account, AccountState

__all__ = ["AccountBrowser", "AccountQuery", "AccountRow"]


@dataclass(frozen=True)
class AccountQuery:
    """Which accounts a page shows: filters, the keyset cursor, and the page size."""

    provider: str | None = None
    owner_id: str | None = None
    state: AccountState | None = None
    #: The previous page's last account id: the page starts after it.
    after_id: str | None = None
    limit: int = 50


@dataclass(frozen=True)
class AccountRow:
    """An account and how many items it holds (deleted items not counted)."""

    account: Account
    items: int


@runtime_checkable
class AccountBrowser(Protocol):
    """Every owner's accounts, with their item counts."""

    def browse_accounts(self, query: AccountQuery) -> list[AccountRow]:
        """One page of accounts matching ``query``, ordered by id."""
        ...

    def account_states(self) -> dict[str, dict[str, int]]:
        """Account counts by provider, then by state."""
        ...

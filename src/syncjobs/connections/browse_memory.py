"""The account browser in process memory (mixed into ``InMemoryRepository``)."""

from __future__ import annotations

import copy
import threading

from .browse import AccountQuery, AccountRow
from .browse_common import check_account_query
from .models import Account, StoredItem

__all__ = ["MemoryAccountBrowserMixin"]


class MemoryAccountBrowserMixin:
    """``AccountBrowser`` over the in-memory accounts and items (``MemoryAccountsMixin``)."""

    _lock: threading.RLock
    _accounts: dict[str, Account]
    _items: dict[str, dict[str, StoredItem]]

    def browse_accounts(self, query: AccountQuery) -> list[AccountRow]:
        """One page of accounts matching ``query``, ordered by id, with live item counts."""
        check_account_query(query)
        with self._lock:
            found = sorted(
                (
                    a
                    for a in self._accounts.values()
                    if query.provider in (None, a.provider)
                    and query.owner_id in (None, a.owner_id)
                    and query.state in (None, a.state)
                    and (query.after_id is None or a.id > query.after_id)
                ),
                key=lambda a: a.id,
            )[: query.limit]
            return [
                AccountRow(
                    account=copy.deepcopy(a),
                    items=sum(
                        1 for it in self._items.get(a.id, {}).values() if it.deleted_at is None
                    ),
                )
                for a in found
            ]

    def account_states(self) -> dict[str, dict[str, int]]:
        """Account counts by provider, then by state (only the states that occur)."""
        with self._lock:
            out: dict[str, dict[str, int]] = {}
            for a in self._accounts.values():
                states = out.setdefault(a.provider, {})
                states[a.state.value] = states.get(a.state.value, 0) + 1
            return out

"""Accounts and their synced items in process memory (mixed into ``InMemoryRepository``)."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import threading
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..providers.types import Item
from .fingerprint import content_hash
from .models import Account, AccountState, PageCounts, StoredItem

__all__ = ["MemoryAccountsMixin"]


class MemoryAccountsMixin:
    """``AccountRepository`` in dicts (credentials live in ``InMemoryCredentialStore``).

    Needs ``_lock`` (an RLock) and ``_ids`` (a counter shared by the stores) set first. A
    store that keeps state per item (the analysis queue) overrides the two hooks,
    ``_items_forgotten`` and ``_item_rejudged``.
    """

    _lock: threading.RLock
    _ids: itertools.count[int]

    def _init_accounts(self) -> None:
        self._accounts: dict[str, Account] = {}
        #: account id → external id → item; ``_seen`` holds each item's last_seen_at.
        self._items: dict[str, dict[str, StoredItem]] = {}
        self._seen: dict[tuple[str, str], datetime] = {}
        #: item id → (account id, external id).
        self._item_keys: dict[int, tuple[str, str]] = {}

    def _items_forgotten(self, item_ids: Sequence[int]) -> None:
        """Hook: these items were deleted; drop what is kept about them elsewhere."""

    def _item_rejudged(self, item_id: int) -> None:
        """Hook: what an analyzer reads of this item changed; it is queued to be judged again."""

    def _forget_items(self, item_ids: Sequence[int]) -> None:
        """Delete items (by id), then tell ``_items_forgotten``."""
        for item_id in item_ids:
            key = self._item_keys.pop(item_id, None)
            if key is not None:
                self._items.get(key[0], {}).pop(key[1], None)
                self._seen.pop(key, None)
        self._items_forgotten(item_ids)

    # -- accounts (AccountStore) ----------------------------------------------------------
    def create_account(
        self,
        *,
        owner_id: str,
        provider: str,
        external_id: str | None,
        display_name: str | None,
        sync_interval: int,
        now: datetime,
    ) -> Account:
        """Add an account, or reactivate the owner's existing one for the same external id."""
        with self._lock:
            for acc in self._accounts.values():
                if external_id is not None and (acc.owner_id, acc.provider, acc.external_id) == (
                    owner_id,
                    provider,
                    external_id,
                ):
                    return self._put_account(
                        dataclasses.replace(
                            acc,
                            state=AccountState.ACTIVE,
                            error_code=None,
                            error_message=None,
                            display_name=display_name or acc.display_name,
                            sync_interval=sync_interval,
                            updated_at=now,
                        )
                    )
            return self._put_account(
                Account(
                    id=str(uuid.uuid4()),
                    owner_id=owner_id,
                    provider=provider,
                    state=AccountState.ACTIVE,
                    created_at=now,
                    updated_at=now,
                    external_id=external_id,
                    display_name=display_name,
                    sync_interval=sync_interval,
                    next_sync_at=now,
                )
            )

    def _put_account(self, account: Account) -> Account:
        self._accounts[account.id] = account
        return copy.deepcopy(account)

    def _update_account(self, account_id: str, **changes: Any) -> Account | None:
        with self._lock:
            acc = self._accounts.get(account_id)
            return None if acc is None else self._put_account(dataclasses.replace(acc, **changes))

    def get_account(self, account_id: str) -> Account | None:
        """Return one account."""
        with self._lock:
            return copy.deepcopy(self._accounts.get(account_id))

    def account_ids_starting(self, prefix: str, *, limit: int = 10) -> list[str]:
        """Ids starting with ``prefix``, in order (``AccountIdLookup``)."""
        with self._lock:
            return sorted(i for i in self._accounts if i.startswith(prefix))[: max(limit, 0)]

    def list_accounts(self, *, owner_id: str | None = None) -> list[Account]:
        """Return accounts, oldest first."""
        with self._lock:
            found = [a for a in self._accounts.values() if owner_id in (None, a.owner_id)]
            return copy.deepcopy(sorted(found, key=lambda a: (a.created_at, a.id)))

    def delete_account(self, account_id: str) -> bool:
        """Remove an account with its items and their analyses (no credentials here)."""
        with self._lock:
            self._forget_items([it.id for it in self._items.get(account_id, {}).values()])
            self._items.pop(account_id, None)
            return self._accounts.pop(account_id, None) is not None

    def set_account_state(
        self,
        account_id: str,
        state: AccountState,
        *,
        now: datetime,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> Account | None:
        """Change an account's state."""
        return self._update_account(
            account_id,
            state=state,
            error_code=error_code,
            error_message=error_message,
            updated_at=now,
        )

    def start_sync(self, account_id: str, *, job_id: str, now: datetime) -> Account | None:
        """Record the job that syncs the account now."""
        return self._update_account(account_id, last_sync_job_id=job_id, updated_at=now)

    # -- synced items (ItemStore) ---------------------------------------------------------
    def known_items(
        self, account_id: str, external_ids: Sequence[str], *, now: datetime
    ) -> set[str]:
        """Return the stored live ids among ``external_ids`` and mark them seen."""
        with self._lock:
            items = self._items.get(account_id, {})
            found = {e for e in external_ids if e in items and items[e].deleted_at is None}
            for ext_id in found:
                self._seen[(account_id, ext_id)] = now
            return found

    def save_page(
        self,
        account_id: str,
        *,
        items: Sequence[Item],
        deleted_ids: Sequence[str],
        cursor: dict[str, Any],
        now: datetime,
    ) -> PageCounts:
        """Upsert items, mark deletions and store the cursor in one step."""
        with self._lock:
            counts = {"added": 0, "updated": 0, "unchanged": 0}
            latest = {item.external_id: item for item in items}  # a page may repeat an id
            digests = {ext_id: content_hash(item) for ext_id, item in latest.items()}  # may raise
            for ext_id, item in latest.items():
                counts[self._upsert_item(account_id, item, digests[ext_id], now)] += 1
            deleted = self._mark_deleted(account_id, set(deleted_ids), now)
            if account_id in self._accounts:
                self._update_account(account_id, cursor=copy.deepcopy(cursor), updated_at=now)
            return PageCounts(**counts, deleted=deleted)

    def _upsert_item(self, account_id: str, item: Item, digest: str, now: datetime) -> str:
        items = self._items.setdefault(account_id, {})
        old = items.get(item.external_id)
        self._seen[(account_id, item.external_id)] = now
        if old is not None and old.content_hash == digest and old.deleted_at is None:
            return "unchanged"
        item_id = old.id if old is not None else next(self._ids)
        self._item_keys[item_id] = (account_id, item.external_id)
        judged = old is not None and (old.title, old.text, old.author) == (
            item.title,
            item.text,
            item.author,
        )
        if old is not None and not judged:  # what an analyzer reads changed: judge it again
            self._item_rejudged(item_id)
        items[item.external_id] = StoredItem(
            id=item_id,
            account_id=account_id,
            external_id=item.external_id,
            kind=item.kind,
            title=item.title,
            text=item.text,
            author=item.author,
            published_at=item.published_at,
            metrics=copy.deepcopy(dict(item.metrics)),
            raw=copy.deepcopy(dict(item.raw)),
            content_hash=digest,
            first_seen_at=old.first_seen_at if old is not None else now,
            last_modified_at=now,
            deleted_at=None,
            analysis_state=old.analysis_state if old is not None and judged else "queued",
        )
        return "added" if old is None else "updated"

    def _mark_deleted(self, account_id: str, external_ids: set[str], now: datetime) -> int:
        items = self._items.get(account_id, {})
        live = [e for e in external_ids if e in items and items[e].deleted_at is None]
        for ext_id in live:
            items[ext_id] = dataclasses.replace(items[ext_id], deleted_at=now, last_modified_at=now)
        return len(live)

    def sweep_unseen(self, account_id: str, *, since: datetime, now: datetime) -> int:
        """Mark deleted every live item not seen since ``since``."""
        with self._lock:
            stale = {
                e for e in self._items.get(account_id, {}) if self._seen[(account_id, e)] < since
            }
            return self._mark_deleted(account_id, stale, now)

    def finish_sync(self, account_id: str, *, now: datetime, next_sync_at: datetime) -> None:
        """Record a successful sync."""
        self._update_account(
            account_id,
            last_synced_at=now,
            next_sync_at=next_sync_at,
            error_code=None,
            error_message=None,
            updated_at=now,
        )

    def due_accounts(self, *, now: datetime, limit: int) -> list[Account]:
        """Active accounts due for a sync, most overdue first (never scheduled: first of all)."""
        with self._lock:
            due = [
                a
                for a in self._accounts.values()
                if a.state is AccountState.ACTIVE
                and (a.next_sync_at is None or a.next_sync_at <= now)
            ]
            due.sort(key=lambda a: (a.next_sync_at is not None, a.next_sync_at or now, a.id))
            return copy.deepcopy(due[:limit])

    def list_items(
        self, account_id: str, *, include_deleted: bool = False, limit: int = 1000, offset: int = 0
    ) -> list[StoredItem]:
        """Return an account's items ordered by external id."""
        with self._lock:
            found = [
                it
                for _, it in sorted(self._items.get(account_id, {}).items())
                if include_deleted or it.deleted_at is None
            ]
            return copy.deepcopy(found[offset : offset + limit])

"""The accounts' protocols: connected accounts, their synced items, and their tokens.

Hosts implement these (``typing.Protocol``), never subclass them; ``AccountRepository`` is
``AccountStore`` and ``ItemStore`` together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ..providers.types import Item, TokenSet
from .models import Account, AccountState, PageCounts, StoredItem

__all__ = [
    "AccountIdLookup",
    "AccountRepository",
    "AccountStore",
    "CredentialStore",
    "ItemStore",
    "RotationReport",
]


@runtime_checkable
class AccountStore(Protocol):
    """Connected accounts: their state, their sync schedule and who syncs them now."""

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
        """Add an account (same owner, provider and external id: the existing one, reactivated)."""
        ...

    def get_account(self, account_id: str) -> Account | None:
        """Return one account."""
        ...

    def list_accounts(self, *, owner_id: str | None = None) -> list[Account]:
        """Return accounts, oldest first."""
        ...

    def delete_account(self, account_id: str) -> bool:
        """Remove an account, its items and credentials; True if it existed."""
        ...

    def set_account_state(
        self,
        account_id: str,
        state: AccountState,
        *,
        now: datetime,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> Account | None:
        """Change an account's state (and its last error)."""
        ...

    def start_sync(self, account_id: str, *, job_id: str, now: datetime) -> Account | None:
        """Record that ``job_id`` now syncs the account."""
        ...

    def finish_sync(self, account_id: str, *, now: datetime, next_sync_at: datetime) -> None:
        """Record a successful sync and when the next one is due."""
        ...

    def due_accounts(self, *, now: datetime, limit: int) -> list[Account]:
        """Active accounts whose next sync is due, most overdue first."""
        ...


@runtime_checkable
class AccountIdLookup(Protocol):
    """Accounts found by the first characters of their id, as the command line shows them."""

    def account_ids_starting(self, prefix: str, *, limit: int = 10) -> list[str]:
        """Ids of the accounts whose id starts with ``prefix``, in id order, at most ``limit``."""
        ...


@runtime_checkable
class ItemStore(Protocol):
    """The items synced from each account, and the account's cursor saved with each page."""

    def known_items(
        self, account_id: str, external_ids: Sequence[str], *, now: datetime
    ) -> set[str]:
        """Return the ids already stored (not deleted); mark them seen at ``now``."""
        ...

    def save_page(
        self,
        account_id: str,
        *,
        items: Sequence[Item],
        deleted_ids: Sequence[str],
        cursor: dict[str, Any],
        now: datetime,
    ) -> PageCounts:
        """Upsert a page's items, mark its deletions and store the cursor in ONE transaction."""
        ...

    def sweep_unseen(self, account_id: str, *, since: datetime, now: datetime) -> int:
        """Mark deleted the live items not seen since ``since`` (end of a full run)."""
        ...

    def list_items(
        self, account_id: str, *, include_deleted: bool = False, limit: int = 1000, offset: int = 0
    ) -> list[StoredItem]:
        """Return an account's items by external id."""
        ...


@runtime_checkable
class AccountRepository(AccountStore, ItemStore, Protocol):
    """Connected accounts (``AccountStore``) and their synced items (``ItemStore``)."""


@dataclass(frozen=True)
class RotationReport:
    """What a key rotation did: token sets re-sealed, and those rewritten meanwhile (skipped)."""

    rotated: int
    skipped: int


@runtime_checkable
class CredentialStore(Protocol):
    """Loads and saves accounts' token sets (the SQL store encrypts them at rest)."""

    def save_tokens(self, account_id: str, tokens: TokenSet) -> None:
        """Store (replace) the account's tokens."""
        ...

    def load_tokens(self, account_id: str) -> TokenSet | None:
        """Return the account's tokens, or None."""
        ...

    def delete_tokens(self, account_id: str) -> None:
        """Forget the account's tokens."""
        ...

    def rotate_tokens(
        self, *, batch_size: int = 100, progress: Callable[[int, int], None] | None = None
    ) -> RotationReport:
        """Re-seal every token set with the newest key, a batch at a time.

        A row rewritten meanwhile (by a worker refreshing tokens) is left as it is: it was
        sealed with the newest key already. ``progress(done, total)`` runs after each batch.
        """
        ...

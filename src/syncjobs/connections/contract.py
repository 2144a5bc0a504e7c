"""The accounts' contract: the behaviour every ``AccountRepository`` must show, as pytest tests.

A host app that stores accounts its own way runs ``AccountRepositoryContract`` (accounts and
their items) against its implementation, as ``JobRepositoryContract`` is run for the ledger.
"""

from __future__ import annotations

import uuid

import pytest

from ..providers.types import TokenSet
from .items_contract import ItemStoreContract
from .models import AccountState
from .store import AccountIdLookup, AccountRepository, CredentialStore
from .testdata import T0, item_ids, make_account, minute, stored_account, video

__all__ = ["AccountIdLookupContract", "AccountRepositoryContract", "AccountStoreContract"]


class AccountStoreContract:
    """Subclass me and provide a ``repository`` fixture returning a fresh, empty repository.

    Not pinned here (the protocol cannot produce it): accounts whose ``next_sync_at`` is
    NULL come first in ``due_accounts``.
    """

    @pytest.fixture
    def repository(self) -> AccountRepository:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def test_create_then_get_round_trips(self, repository: AccountRepository) -> None:
        acc = make_account(repository)
        got = stored_account(repository, acc.id)
        assert got == acc
        assert (got.owner_id, got.provider, got.external_id) == ("owner-1", "youtube", "UC-1")
        assert got.display_name == "Zoë's channel ✓" and got.sync_interval == 900
        assert got.state is AccountState.ACTIVE
        assert (got.created_at, got.updated_at, got.next_sync_at) == (T0, T0, T0)
        assert got.created_at.tzinfo is not None
        assert (got.cursor, got.last_synced_at, got.last_sync_job_id) == (None, None, None)
        assert (got.error_code, got.error_message) == (None, None)
        assert repository.get_account(str(uuid.uuid4())) is None

    def test_list_accounts_oldest_first_by_owner(self, repository: AccountRepository) -> None:
        late = make_account(repository, "late", minutes=5)
        early = make_account(repository, "early", minutes=1)
        other = make_account(repository, "theirs", owner_id="owner-2", minutes=3)
        assert [a.id for a in repository.list_accounts(owner_id="owner-1")] == [early.id, late.id]
        assert [a.id for a in repository.list_accounts()] == [early.id, other.id, late.id]
        assert repository.list_accounts(owner_id="nobody") == []

    def test_same_external_id_reactivates_the_account(self, repository: AccountRepository) -> None:
        acc = make_account(repository)
        repository.set_account_state(
            acc.id,
            AccountState.REAUTH_REQUIRED,
            now=minute(1),
            error_code="reauth_required",
            error_message="token revoked",
        )
        repository.save_page(acc.id, items=[], deleted_ids=[], cursor={"t": "p2"}, now=minute(2))
        again = repository.create_account(
            owner_id="owner-1",
            provider="youtube",
            external_id="UC-1",
            display_name=None,
            sync_interval=600,
            now=minute(3),
        )
        assert again.id == acc.id and again == stored_account(repository, acc.id)
        assert again.state is AccountState.ACTIVE
        assert (again.error_code, again.error_message) == (None, None)
        assert again.display_name == "Zoë's channel ✓" and again.sync_interval == 600
        assert (again.created_at, again.updated_at, again.cursor) == (T0, minute(3), {"t": "p2"})
        renamed = repository.create_account(
            owner_id="owner-1",
            provider="youtube",
            external_id="UC-1",
            display_name="Neu",
            sync_interval=600,
            now=minute(4),
        )
        assert renamed.id == acc.id and renamed.display_name == "Neu"
        others = {
            make_account(repository, owner_id="owner-2").id,
            make_account(repository, provider="tiktok").id,
            make_account(repository, None).id,
            make_account(repository, None).id,
        }
        assert len(others) == 4 and acc.id not in others
        assert len(repository.list_accounts()) == 5

    def test_delete_removes_items_and_credentials(self, repository: AccountRepository) -> None:
        acc, keep = make_account(repository, "a"), make_account(repository, "b")
        for account in (acc, keep):
            repository.save_page(
                account.id,
                items=[video("v01"), video("v02")],
                deleted_ids=["v02"],
                cursor={},
                now=T0,
            )
        store = repository if isinstance(repository, CredentialStore) else None
        if store is not None:
            store.save_tokens(acc.id, TokenSet(access_token="at-1", refresh_token="rt-1"))
            store.save_tokens(keep.id, TokenSet(access_token="at-2"))
        assert repository.delete_account(acc.id) is True
        assert repository.get_account(acc.id) is None
        assert repository.list_items(acc.id, include_deleted=True) == []
        assert repository.known_items(acc.id, ["v01"], now=minute(1)) == set()
        assert repository.delete_account(acc.id) is False
        assert item_ids(repository, keep.id, include_deleted=True) == ["v01", "v02"]
        assert [a.id for a in repository.list_accounts()] == [keep.id]
        if store is not None:
            assert store.load_tokens(acc.id) is None
            kept = store.load_tokens(keep.id)
            assert kept is not None and kept.access_token == "at-2"

    def test_set_account_state_records_and_clears_errors(
        self, repository: AccountRepository
    ) -> None:
        acc = make_account(repository)
        paused = repository.set_account_state(
            acc.id,
            AccountState.REAUTH_REQUIRED,
            now=minute(1),
            error_code="reauth_required",
            error_message="refresh token revoked — reconnect ✋",
        )
        assert paused is not None and paused == stored_account(repository, acc.id)
        assert paused.state is AccountState.REAUTH_REQUIRED and paused.updated_at == minute(1)
        assert (paused.error_code, paused.error_message) == (
            "reauth_required",
            "refresh token revoked — reconnect ✋",
        )
        active = repository.set_account_state(acc.id, AccountState.ACTIVE, now=minute(2))
        assert active is not None and active.state is AccountState.ACTIVE
        assert (active.error_code, active.error_message) == (None, None)
        disabled = repository.set_account_state(acc.id, AccountState.DISABLED, now=minute(3))
        assert disabled is not None and disabled.state is AccountState.DISABLED
        assert stored_account(repository, acc.id).state is AccountState.DISABLED
        assert (
            repository.set_account_state(str(uuid.uuid4()), AccountState.DISABLED, now=minute(4))
            is None
        )

    def test_start_sync_records_the_job(self, repository: AccountRepository) -> None:
        acc = make_account(repository)
        job_id = str(uuid.uuid4())
        started = repository.start_sync(acc.id, job_id=job_id, now=minute(1))
        assert started is not None and started == stored_account(repository, acc.id)
        assert (started.last_sync_job_id, started.updated_at) == (job_id, minute(1))
        assert started.state is AccountState.ACTIVE and started.last_synced_at is None
        assert repository.start_sync(str(uuid.uuid4()), job_id=job_id, now=minute(1)) is None

    def test_finish_sync_records_the_run_and_clears_errors(
        self, repository: AccountRepository
    ) -> None:
        acc = make_account(repository)
        repository.set_account_state(
            acc.id,
            AccountState.ACTIVE,
            now=minute(1),
            error_code="rate_limited",
            error_message="429",
        )
        repository.finish_sync(acc.id, now=minute(2), next_sync_at=minute(17))
        got = stored_account(repository, acc.id)
        assert (got.last_synced_at, got.next_sync_at, got.updated_at) == (
            minute(2),
            minute(17),
            minute(2),
        )
        assert (got.error_code, got.error_message) == (None, None)
        assert got.state is AccountState.ACTIVE
        repository.finish_sync(
            str(uuid.uuid4()), now=minute(2), next_sync_at=minute(17)
        )  # no error

    def test_due_accounts_active_and_due_most_overdue_first(
        self, repository: AccountRepository
    ) -> None:
        oldest = make_account(repository, "oldest", minutes=-60)
        fresh = make_account(repository, "fresh")
        soon, later = make_account(repository, "soon"), make_account(repository, "later")
        repository.finish_sync(soon.id, now=T0, next_sync_at=minute(5))
        repository.finish_sync(later.id, now=T0, next_sync_at=minute(10))
        for name, state in (
            ("off", AccountState.DISABLED),
            ("reauth", AccountState.REAUTH_REQUIRED),
        ):
            acc = make_account(repository, name, minutes=-120)
            repository.set_account_state(acc.id, state, now=T0)
        assert [a.id for a in repository.due_accounts(now=minute(6), limit=10)] == [
            oldest.id,
            fresh.id,
            soon.id,
        ]
        assert [a.id for a in repository.due_accounts(now=minute(10), limit=10)] == [
            oldest.id,
            fresh.id,
            soon.id,
            later.id,
        ]
        assert [a.id for a in repository.due_accounts(now=minute(10), limit=2)] == [
            oldest.id,
            fresh.id,
        ]
        assert repository.due_accounts(now=minute(-61), limit=10) == []
        due = repository.due_accounts(now=minute(6), limit=1)[0]
        assert due == stored_account(repository, oldest.id) and due.next_sync_at == minute(-60)


class AccountRepositoryContract(AccountStoreContract, ItemStoreContract):
    """Both suites: accounts and their synced items."""


class AccountIdLookupContract:
    """Subclass me and provide a ``repository`` fixture: a fresh ``AccountIdLookup`` store."""

    @pytest.fixture
    def repository(self) -> AccountRepository:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def test_ids_starting_with_a_prefix(self, repository: AccountRepository) -> None:
        assert isinstance(repository, AccountIdLookup)
        made = sorted(make_account(repository, f"UC-{n}").id for n in range(3))
        for account_id in made:
            assert account_id in repository.account_ids_starting(account_id[:8])
            assert repository.account_ids_starting(account_id) == [account_id]
        assert repository.account_ids_starting("") == made
        assert repository.account_ids_starting("", limit=2) == made[:2]
        assert repository.account_ids_starting("not-an-id") == []

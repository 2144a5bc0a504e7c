"""The account browser's contract: the behaviour every ``AccountBrowser`` must show.

Its repository is an ``AccountRepository`` too: the browser reads its accounts and items.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..errors import InvalidInputError
from .browse import AccountBrowser, AccountQuery, AccountRow
from .models import Account, AccountState
from .testdata import make_account, minute, video

__all__ = ["AccountBrowserContract"]


class AccountBrowserContract:
    """Account pages, filters, live item counts and state counts; provide ``repository``."""

    @pytest.fixture
    def repository(self) -> Any:
        """Override: return the repository under test (an ``AccountRepository`` too)."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def _accounts(self, repo: Any) -> list[Account]:
        made = []
        for n, (owner, provider, state) in enumerate(
            [
                ("o1", "youtube", AccountState.ACTIVE),
                ("o1", "gmail", AccountState.ACTIVE),
                ("o2", "youtube", AccountState.REAUTH_REQUIRED),
                ("o1", "youtube", AccountState.REAUTH_REQUIRED),
                ("o2", "gmail", AccountState.DISABLED),
                ("o3", "youtube", AccountState.ACTIVE),
                ("o1", "youtube", AccountState.ACTIVE),
            ]
        ):
            acc = make_account(repo, f"ext-{n}", owner_id=owner, provider=provider, minutes=n)
            if state is not AccountState.ACTIVE:
                acc = repo.set_account_state(acc.id, state, now=minute(n + 1))
            made.append(acc)
        return made

    def test_filters_combine(self, repository: Any) -> None:
        assert isinstance(repository, AccountBrowser)
        made = self._accounts(repository)

        def found(**filters: Any) -> list[str]:
            return [r.account.id for r in repository.browse_accounts(AccountQuery(**filters))]

        want = sorted([made[0].id, made[6].id])
        assert found(owner_id="o1", provider="youtube", state=AccountState.ACTIVE) == want
        assert found(provider="gmail") == sorted([made[1].id, made[4].id])
        assert found(state=AccountState.REAUTH_REQUIRED, owner_id="o2") == [made[2].id]
        assert found(owner_id="o3", provider="gmail") == []
        assert found() == sorted(a.id for a in made)

    def test_pages_never_repeat_or_skip(self, repository: Any) -> None:
        made = self._accounts(repository)
        seen: list[str] = []
        query = AccountQuery(limit=3)
        while page := repository.browse_accounts(query):
            assert len(page) <= 3
            seen += [r.account.id for r in page]
            query = AccountQuery(limit=3, after_id=page[-1].account.id)
        assert seen == sorted(a.id for a in made)
        youtube = AccountQuery(provider="youtube", limit=2)
        first = repository.browse_accounts(youtube)
        rest = repository.browse_accounts(
            AccountQuery(provider="youtube", after_id=first[-1].account.id)
        )
        ids = [r.account.id for r in first + rest]
        assert ids == sorted(a.id for a in made if a.provider == "youtube")

    def test_item_counts_exclude_deleted_items(self, repository: Any) -> None:
        full, empty, other = (make_account(repository, f"x{n}") for n in range(3))
        repository.save_page(
            full.id,
            items=[video(f"v{n}") for n in range(5)],
            deleted_ids=[],
            cursor={},
            now=minute(1),
        )
        repository.save_page(full.id, items=[], deleted_ids=["v1", "v3"], cursor={}, now=minute(2))
        repository.save_page(
            other.id, items=[video("v1")], deleted_ids=[], cursor={}, now=minute(1)
        )
        rows = {r.account.id: r for r in repository.browse_accounts(AccountQuery())}
        assert {k: r.items for k, r in rows.items()} == {full.id: 3, empty.id: 0, other.id: 1}
        row = rows[full.id]
        assert isinstance(row, AccountRow) and row.account == repository.get_account(full.id)

    def test_account_states_count_by_provider_then_state(self, repository: Any) -> None:
        assert repository.account_states() == {}
        self._accounts(repository)
        assert repository.account_states() == {
            "youtube": {"active": 3, "reauth_required": 2},
            "gmail": {"active": 1, "disabled": 1},
        }

    @pytest.mark.parametrize(
        "query",
        [
            AccountQuery(limit=0),
            AccountQuery(limit=10_000),
            AccountQuery(state="active"),  # type: ignore[arg-type]
            AccountQuery(after_id=""),
        ],
    )
    def test_bad_queries_are_refused(self, repository: Any, query: AccountQuery) -> None:
        with pytest.raises(InvalidInputError):
            repository.browse_accounts(query)

"""The synced items' contract, continued: large pages, odd ids and items that are not JSON.

Part of ``ItemStoreContract``; its repository is an ``AccountStore`` too.
"""

from __future__ import annotations

from datetime import datetime

import pytest

from ..errors import InvalidInputError
from .models import PageCounts
from .store import AccountRepository
from .testdata import make_account, minute, stored_account, video

__all__ = ["ODD_IDS", "ItemBulkContract"]

#: External ids that trip naive quoting: SQL and COPY escapes, array literals, placeholders,
#: whitespace, unicode, and the longest id a store must keep (255 characters).
ODD_IDS = (
    "a,b",
    "{x,y}",
    '"quoted"',
    "it's",
    "back\\slash",
    "\\N",
    "tab\there",
    "new\nline",
    "cr\rlf",
    "NULL",
    "null",
    "%s",
    "%(id)s",
    "$1",
    "?",
    "  spaced  ",
    "semi;colon -- comment",
    "<tag>&amp;",
    "[1, 2]",
    "Ümlaut 東京 🎥",
    "x" * 255,
)

BIG = 5000


def _mid(n: int) -> str:
    return f"m{n:05d}"


class ItemBulkContract:
    """Large pages, odd external ids and bad item content (mixed into ``ItemStoreContract``)."""

    def test_a_page_of_five_thousand_items_counts_exactly(
        self, repository: AccountRepository
    ) -> None:
        acc = make_account(repository)
        first = [video(_mid(n), metrics={"views": n}) for n in range(BIG)]
        assert repository.save_page(
            acc.id, items=first, deleted_ids=[], cursor={"page": 1}, now=minute(1)
        ) == PageCounts(added=BIG)
        # 0-999 retitled, 1000-1999 new metrics, 2000-3999 the same, 4000-4999 not sent
        # (4000-4299 reported deleted), 1,500 new ones; every tenth item sent twice.
        second = [video(_mid(n), title=f"retitled {n}", metrics={"views": n}) for n in range(1000)]
        second += [video(_mid(n), metrics={"views": n + 1}) for n in range(1000, 2000)]
        second += [video(_mid(n), metrics={"views": n}) for n in range(2000, 4000)]
        second += [video(_mid(n)) for n in range(BIG, BIG + 1500)]
        second += second[::10]
        gone = [_mid(n) for n in range(4000, 4300)] + ["never-stored"]
        counts = repository.save_page(
            acc.id, items=second, deleted_ids=gone, cursor={"page": 2}, now=minute(2)
        )
        assert counts == PageCounts(added=1500, updated=2000, unchanged=2000, deleted=300)
        live = {it.external_id: it for it in repository.list_items(acc.id, limit=10_000)}
        assert len(live) == BIG + 1500 - 300
        assert _mid(4000) not in live and _mid(4300) in live and _mid(BIG + 1499) in live
        assert (live[_mid(7)].title, live[_mid(7)].last_modified_at) == ("retitled 7", minute(2))
        assert (live[_mid(1234)].metrics, live[_mid(1234)].first_seen_at) == (
            {"views": 1235},
            minute(1),
        )
        assert live[_mid(2345)].last_modified_at == minute(1)
        assert stored_account(repository, acc.id).cursor == {"page": 2}
        # Delivered again (a retry after the commit): everything unchanged, nothing doubled.
        again = repository.save_page(
            acc.id, items=second, deleted_ids=gone, cursor={"page": 2}, now=minute(3)
        )
        assert again == PageCounts(unchanged=5500)
        assert len(repository.list_items(acc.id, include_deleted=True, limit=10_000)) == 6500
        known = repository.known_items(acc.id, [_mid(n) for n in range(BIG + 1500)], now=minute(4))
        assert len(known) == BIG + 1500 - 300 and _mid(4299) not in known
        assert repository.sweep_unseen(acc.id, since=minute(4), now=minute(5)) == 0

    def test_ids_with_odd_characters_round_trip(self, repository: AccountRepository) -> None:
        acc = make_account(repository)
        items = [video(i, title=f"title of {i}") for i in ODD_IDS]
        assert repository.save_page(
            acc.id, items=items, deleted_ids=[], cursor={}, now=minute(1)
        ) == PageCounts(added=len(ODD_IDS))
        stored = {it.external_id: it.title for it in repository.list_items(acc.id)}
        assert stored == {i: f"title of {i}" for i in ODD_IDS}
        known = repository.known_items(acc.id, [*ODD_IDS, "a", "b", "x"], now=minute(2))
        assert known == set(ODD_IDS)
        changed = [video(i, title=f"new title of {i}") for i in ODD_IDS[:5]]
        assert repository.save_page(
            acc.id, items=items[5:] + changed, deleted_ids=[], cursor={}, now=minute(3)
        ) == PageCounts(updated=5, unchanged=len(ODD_IDS) - 5)
        assert repository.save_page(
            acc.id, items=[], deleted_ids=list(ODD_IDS[5:10]), cursor={}, now=minute(4)
        ) == PageCounts(deleted=5)
        left = {it.external_id: it.title for it in repository.list_items(acc.id)}
        assert set(left) == set(ODD_IDS) - set(ODD_IDS[5:10])
        assert (
            left["a,b"] == "new title of a,b"
            and left["Ümlaut 東京 🎥"] == "title of Ümlaut 東京 🎥"
        )
        assert repository.sweep_unseen(acc.id, since=minute(3), now=minute(5)) == 0

    def test_an_item_that_is_not_json_fails_the_page_and_stores_nothing(
        self, repository: AccountRepository
    ) -> None:
        acc = make_account(repository)
        repository.save_page(
            acc.id, items=[video("v00")], deleted_ids=[], cursor={"p": 0}, now=minute(1)
        )
        for bad in (
            video("v02", raw={"at": datetime(2024, 1, 1)}),
            video("v02", metrics={"views": float("nan")}),
        ):
            with pytest.raises(InvalidInputError, match="'v02'"):
                repository.save_page(
                    acc.id,
                    items=[video("v01"), bad],
                    deleted_ids=["v00"],
                    cursor={"p": 1},
                    now=minute(2),
                )
            assert [it.external_id for it in repository.list_items(acc.id)] == ["v00"]
            assert stored_account(repository, acc.id).cursor == {"p": 0}

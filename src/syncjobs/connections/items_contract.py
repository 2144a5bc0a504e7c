"""The synced items' contract: the behaviour every ``ItemStore`` must show, as pytest tests.

Its repository is an ``AccountStore`` too: items belong to accounts.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from .items_bulk_contract import ItemBulkContract
from .models import PageCounts
from .store import AccountRepository
from .testdata import item_ids, make_account, minute, stored_account, video

__all__ = ["ItemStoreContract"]


class ItemStoreContract(ItemBulkContract):
    """Subclass me and provide a ``repository`` fixture returning a fresh, empty repository."""

    @pytest.fixture
    def repository(self) -> AccountRepository:
        """Override: return the repository under test."""
        raise NotImplementedError("provide a `repository` fixture")  # pragma: no cover

    def test_save_page_stores_every_field(self, repository: AccountRepository) -> None:
        acc = make_account(repository)
        counts = repository.save_page(
            acc.id,
            items=[
                video("v01"),
                video(
                    "v02",
                    kind="short",
                    title=None,
                    text=None,
                    author=None,
                    published_at=None,
                    metrics={},
                    raw={},
                ),
            ],
            deleted_ids=[],
            cursor={},
            now=minute(1),
        )
        assert counts == PageCounts(added=2)
        first, second = repository.list_items(acc.id)
        assert (first.account_id, first.external_id, first.kind) == (acc.id, "v01", "video")
        assert first.title == "Café ☕ in 東京 — v01" and first.author == "Zoë Ångström"
        assert first.text == 'Zoë\'s vlog: ümlauts, emoji 🎥 and "quotes"'
        assert first.published_at == datetime(2024, 3, 9, 16, 30, 15, 250000, tzinfo=UTC)
        assert first.published_at is not None and first.published_at.tzinfo is not None
        assert first.metrics == {"views": 1200, "likes": 87, "comments": 4}
        assert first.raw == {"snippet": {"tags": ["café", "東京"], "live": False}, "etag": 'W/"x1"'}
        assert (first.first_seen_at, first.last_modified_at, first.deleted_at) == (
            minute(1),
            minute(1),
            None,
        )
        assert first.analysis_state == "queued" and first.content_hash
        assert (second.kind, second.title, second.text, second.author) == (
            "short",
            None,
            None,
            None,
        )
        assert (second.published_at, second.metrics, second.raw) == (None, {}, {})
        assert second.content_hash != first.content_hash and second.id != first.id

    def test_save_page_counts_added_updated_unchanged_deleted(
        self, repository: AccountRepository
    ) -> None:
        acc = make_account(repository)
        first = repository.save_page(
            acc.id,
            items=[video("v01"), video("v02"), video("v03")],
            deleted_ids=[],
            cursor={"page": 1},
            now=minute(1),
        )
        assert first == PageCounts(added=3)
        before = {it.external_id: it for it in repository.list_items(acc.id)}
        second = repository.save_page(
            acc.id,
            items=[video("v01"), video("v02", metrics={"views": 1300, "likes": 90}), video("v04")],
            deleted_ids=["v03", "never-stored"],
            cursor={"page": 2},
            now=minute(2),
        )
        assert second == PageCounts(added=1, updated=1, unchanged=1, deleted=1)
        assert item_ids(repository, acc.id) == ["v01", "v02", "v04"]
        after = {it.external_id: it for it in repository.list_items(acc.id, include_deleted=True)}
        assert after["v01"] == before["v01"]
        v02 = after["v02"]
        assert v02.metrics == {"views": 1300, "likes": 90}
        assert (v02.id, v02.first_seen_at, v02.last_modified_at) == (
            before["v02"].id,
            minute(1),
            minute(2),
        )
        assert v02.content_hash != before["v02"].content_hash
        assert (after["v03"].deleted_at, after["v03"].last_modified_at) == (
            minute(2),
            minute(2),
        )
        assert after["v03"].first_seen_at == minute(1)
        again = repository.save_page(
            acc.id, items=[], deleted_ids=["v03"], cursor={}, now=minute(3)
        )
        assert again == PageCounts()
        back = repository.save_page(
            acc.id, items=[video("v03")], deleted_ids=[], cursor={}, now=minute(4)
        )
        assert back == PageCounts(updated=1)  # a deleted item that comes back is updated
        v03 = repository.list_items(acc.id, limit=1, offset=2)[0]
        assert (v03.external_id, v03.deleted_at, v03.id) == ("v03", None, before["v03"].id)
        assert (v03.first_seen_at, v03.last_modified_at) == (minute(1), minute(4))

    def test_an_id_repeated_in_one_page_counts_once(self, repository: AccountRepository) -> None:
        acc = make_account(repository)
        counts = repository.save_page(
            acc.id,
            items=[video("v01", title="draft"), video("v02"), video("v01", title="final")],
            deleted_ids=[],
            cursor={},
            now=minute(1),
        )
        assert counts == PageCounts(added=2)
        assert [(it.external_id, it.title) for it in repository.list_items(acc.id)] == [
            ("v01", "final"),
            ("v02", "Café ☕ in 東京 — v02"),
        ]
        same = repository.save_page(
            acc.id,
            items=[video("v01", title="final"), video("v01", title="final")],
            deleted_ids=[],
            cursor={},
            now=minute(2),
        )
        assert same == PageCounts(unchanged=1)
        last_wins = repository.save_page(
            acc.id,
            items=[video("v01", title="final"), video("v01", title="edited")],
            deleted_ids=[],
            cursor={},
            now=minute(3),
        )
        assert last_wins == PageCounts(updated=1)
        assert [it.title for it in repository.list_items(acc.id, limit=1)] == ["edited"]

    def test_a_redelivered_page_is_unchanged_and_never_duplicates(
        self, repository: AccountRepository
    ) -> None:
        acc = make_account(repository)
        repository.save_page(
            acc.id, items=[video("v00")], deleted_ids=[], cursor={"p": 0}, now=minute(1)
        )
        page: dict[str, Any] = {
            "items": [video("v01"), video("v02", metrics={"views": 5})],
            "deleted_ids": ["v00"],
            "cursor": {"page_token": "CAUQAA", "n": 2},
        }
        assert repository.save_page(acc.id, **page, now=minute(2)) == PageCounts(added=2, deleted=1)
        stored = repository.list_items(acc.id, include_deleted=True)
        # The worker crashed after the commit; the broker delivers the same page again.
        assert repository.save_page(acc.id, **page, now=minute(3)) == PageCounts(unchanged=2)
        assert repository.list_items(acc.id, include_deleted=True) == stored
        assert item_ids(repository, acc.id) == ["v01", "v02"]
        assert stored_account(repository, acc.id).cursor == {"page_token": "CAUQAA", "n": 2}

    def test_the_cursor_is_stored_with_the_page(self, repository: AccountRepository) -> None:
        acc = make_account(repository)
        cursor = {
            "page_token": "CDIQAA",
            "since": "2024-03-10T12:00:00+00:00",
            "seen": [1, 2, 3],
            "label": "Ünïcode ✓",
            "done": False,
            "next": None,
        }
        counts = repository.save_page(
            acc.id, items=[video("v01")], deleted_ids=[], cursor=cursor, now=minute(1)
        )
        assert counts == PageCounts(added=1)
        got = stored_account(repository, acc.id)
        assert got.cursor == cursor and got.updated_at == minute(1)
        empty = repository.save_page(
            acc.id, items=[], deleted_ids=[], cursor={"page_token": None}, now=minute(2)
        )
        assert empty == PageCounts()
        assert stored_account(repository, acc.id).cursor == {"page_token": None}

    def test_known_items_returns_live_ids_and_marks_them_seen(
        self, repository: AccountRepository
    ) -> None:
        acc, other = make_account(repository, "a"), make_account(repository, "b")
        repository.save_page(
            acc.id,
            items=[video("v01"), video("v02"), video("v03")],
            deleted_ids=[],
            cursor={},
            now=minute(1),
        )
        repository.save_page(acc.id, items=[], deleted_ids=["v03"], cursor={}, now=minute(2))
        known = repository.known_items(acc.id, ["v01", "v03", "v99", "v01"], now=minute(3))
        assert known == {"v01"}
        assert repository.known_items(other.id, ["v01", "v02"], now=minute(3)) == set()
        assert repository.known_items(acc.id, [], now=minute(3)) == set()
        assert repository.sweep_unseen(acc.id, since=minute(3), now=minute(4)) == 1
        assert item_ids(repository, acc.id) == ["v01"]
        assert repository.list_items(acc.id)[0].last_modified_at == minute(1)  # seen, not modified

    def test_sweep_unseen_deletes_what_the_run_did_not_see(
        self, repository: AccountRepository
    ) -> None:
        acc, other = make_account(repository, "a"), make_account(repository, "b")
        items = [video(f"v0{i}") for i in range(1, 6)]
        repository.save_page(acc.id, items=items, deleted_ids=[], cursor={}, now=minute(1))
        repository.save_page(other.id, items=items, deleted_ids=[], cursor={}, now=minute(1))
        run_started = minute(2)
        repository.save_page(
            acc.id,
            items=[video("v01"), video("v02", title="new")],
            deleted_ids=[],
            cursor={},
            now=minute(2),
        )
        repository.known_items(acc.id, ["v03"], now=minute(3))
        assert repository.sweep_unseen(acc.id, since=run_started, now=minute(4)) == 2
        assert item_ids(repository, acc.id) == ["v01", "v02", "v03"]
        gone = repository.list_items(acc.id, include_deleted=True)[3:]
        assert [(it.external_id, it.deleted_at, it.last_modified_at) for it in gone] == [
            ("v04", minute(4), minute(4)),
            ("v05", minute(4), minute(4)),
        ]
        assert repository.sweep_unseen(acc.id, since=run_started, now=minute(5)) == 0
        assert len(repository.list_items(other.id)) == 5

    def test_list_items_pages_by_external_id(self, repository: AccountRepository) -> None:
        acc = make_account(repository)
        repository.save_page(
            acc.id,
            items=[video(e) for e in ("e04", "e01", "e05", "e03", "e02")],
            deleted_ids=[],
            cursor={},
            now=minute(1),
        )
        repository.save_page(acc.id, items=[], deleted_ids=["e02"], cursor={}, now=minute(2))
        assert item_ids(repository, acc.id) == ["e01", "e03", "e04", "e05"]
        assert item_ids(repository, acc.id, limit=2, offset=1) == ["e03", "e04"]
        assert item_ids(repository, acc.id, include_deleted=True) == [
            "e01",
            "e02",
            "e03",
            "e04",
            "e05",
        ]
        assert item_ids(repository, acc.id, include_deleted=True, limit=2, offset=1) == [
            "e02",
            "e03",
        ]
        assert item_ids(repository, acc.id, offset=10) == []
        assert repository.list_items(str(uuid.uuid4())) == []

    def test_returned_records_are_copies(self, repository: AccountRepository) -> None:
        acc = make_account(repository)
        repository.save_page(
            acc.id, items=[video("v01")], deleted_ids=[], cursor={"seen": [1]}, now=minute(1)
        )
        item = repository.list_items(acc.id)[0]
        item.metrics["views"] = -1
        item.raw["snippet"]["tags"].append("hacked")
        account = stored_account(repository, acc.id)
        assert account.cursor is not None
        account.cursor["seen"].append(2)
        again = repository.list_items(acc.id)[0]
        assert again.metrics["views"] == 1200 and again.raw["snippet"]["tags"] == ["café", "東京"]
        assert stored_account(repository, acc.id).cursor == {"seen": [1]}

"""Sync semantics of the four adapters against the fake servers."""

from __future__ import annotations

import json
from datetime import UTC

import pytest

from syncjobs.providers.types import Provider
from syncjobs.testing.fakes import FAKES

from .test_providers_support import (
    LIST_ENDPOINTS,
    PROVIDERS,
    build,
    freeze,
    harness,
    resync_calls,
)

KINDS = {"youtube": "video", "gmail": "email", "instagram": "post", "tiktok": "video"}


@pytest.mark.parametrize("loopback", [False, True], ids=["in-process", "loopback"])
@pytest.mark.parametrize("name", PROVIDERS)
def test_first_sync_equals_the_dataset_and_a_resync_costs_the_stated_calls(
    name: str, loopback: bool
) -> None:
    with harness(name, loopback=loopback) as h:
        assert isinstance(h.provider, Provider)
        pages = h.sync()
        assert h.matches()
        assert len(h.store.items) == 60
        assert pages[0].full_resync and not any(p.full_resync for p in pages[1:])
        # Each page reports what it cost, and the sum is what the fake counted.
        assert sum(p.api_calls for p in pages) == h.fake.requests == h.provider.api_calls
        assert sum(p.quota_units for p in pages) == h.fake.quota_units
        assert "search.list" not in h.fake.calls

        h.fake.reset_counters()
        again = h.sync()
        # One list call, plus the statistics refresh of recent items (see resync_calls).
        assert h.fake.calls == h.resync_calls()
        assert sum(p.api_calls for p in again) == sum(h.resync_calls().values())
        assert h.store.changed == [] and not any(p.deleted_ids for p in again)
        assert again[0].api_calls == 1
        assert h.matches()


@pytest.mark.parametrize("name", PROVIDERS)
def test_items_are_normalised(name: str) -> None:
    with harness(name, items=5) as h:
        pages = h.sync()
        items = [item for page in pages for item in page.items]
        assert len(items) == 5
        for item in items:
            assert item.kind == KINDS[name]
            assert item.published_at is not None and item.published_at.tzinfo is not None
            assert item.published_at.utcoffset() == UTC.utcoffset(None)
            assert all(isinstance(v, int) for v in item.metrics.values())
            assert item.raw == h.fake.dataset()[item.external_id]
        sample = items[0]
        if name == "youtube":
            stats = sample.raw["statistics"]
            assert sample.metrics["views"] == int(stats["viewCount"])
            assert sample.title == sample.raw["snippet"]["title"]
        elif name == "gmail":
            headers = {h["name"]: h["value"] for h in sample.raw["payload"]["headers"]}
            assert sample.title == headers["Subject"] and sample.author == headers["From"]
            assert int(sample.published_at.timestamp() * 1000) == int(sample.raw["internalDate"])
        elif name == "instagram":
            assert sample.text == sample.raw["caption"]
            assert sample.metrics["likes"] == sample.raw["like_count"]
        else:
            assert sample.published_at.timestamp() == sample.raw["create_time"]
            assert sample.metrics["views"] == sample.raw["view_count"]


@pytest.mark.parametrize("name", PROVIDERS)
def test_added_items_are_picked_up_with_one_list_call(name: str) -> None:
    with harness(name) as h:
        h.sync()
        added = h.fake.add_items(3)
        h.fake.reset_counters()
        h.sync()
        assert set(h.store.changed) == set(added)
        assert h.matches()
        assert h.fake.calls[LIST_ENDPOINTS[name]] == 1


@pytest.mark.parametrize("name", PROVIDERS)
def test_many_added_items_page_down_to_the_high_water_mark(name: str) -> None:
    with harness(name) as h:
        h.sync()
        added = h.fake.add_items(45)
        h.sync()
        assert set(h.store.changed) == set(added)
        assert h.matches()


@pytest.mark.parametrize("name", PROVIDERS)
def test_changes_to_recent_items_are_picked_up(name: str) -> None:
    with harness(name) as h:
        h.sync()
        newest = list(h.fake.dataset())[:3]
        changed = h.fake.change_items(newest)
        h.fake.reset_counters()
        pages = h.sync()
        assert {i.external_id for p in pages for i in p.items} == set(changed)
        assert h.matches()


@pytest.mark.parametrize("name", ["youtube", "instagram", "tiktok"])
def test_older_changes_and_deletes_show_up_in_a_full_sync(name: str) -> None:
    # Newest-first feeds see edits and deletes among the newest page_size items only;
    # older ones are found by a full run (Page.full_resync + the job's sweep).
    with harness(name) as h:
        h.sync()
        oldest = list(h.fake.dataset())[-6:]
        h.fake.change_items(oldest[:3])
        h.fake.delete_items(oldest[3:])
        incremental = h.sync()
        assert h.store.changed == [] and not any(p.deleted_ids for p in incremental)
        assert not h.matches()
        pages = h.sync(full=True)
        assert pages[0].full_resync
        assert h.matches()


@pytest.mark.parametrize("name", ["youtube", "instagram", "tiktok"])
def test_deletes_among_recent_items_are_detected_without_a_full_sync(name: str) -> None:
    with harness(name) as h:
        h.sync()
        gone = h.fake.delete_items(list(h.fake.dataset())[1:4])
        h.fake.reset_counters()
        pages = h.sync()
        assert sorted(d for p in pages for d in p.deleted_ids) == sorted(gone)
        assert h.matches()
        assert h.fake.calls[LIST_ENDPOINTS[name]] == 1


def test_gmail_applies_adds_changes_and_deletes_from_history() -> None:
    with harness("gmail") as h:
        h.sync()
        added = h.fake.add_items(4)
        changed = h.fake.change_items(5)
        deleted = h.fake.delete_items([i for i in h.fake.dataset() if i not in added + changed][:3])
        h.fake.reset_counters()
        pages = h.sync()
        assert {i.external_id for p in pages for i in p.items} == set(added) | set(changed)
        assert sorted(d for p in pages for d in p.deleted_ids) == sorted(deleted)
        assert h.matches()
        assert h.store.cursor == {"v": 1, "history_id": h.fake.latest_cursor_value(), "run": None}
        assert h.fake.calls["history.list"] == 1
        assert h.fake.calls["messages.get"] == len(set(added) | set(changed))
        assert h.fake.calls["messages.list"] == 0


def test_gmail_skips_messages_added_then_deleted_in_the_same_history() -> None:
    with harness("gmail") as h:
        h.sync()
        added = h.fake.add_items(2)
        h.fake.delete_items(added[:1])
        h.fake.reset_counters()
        pages = h.sync()
        assert [i.external_id for p in pages for i in p.items] == added[1:]
        assert h.fake.calls["messages.get"] == 1
        assert h.matches()


@pytest.mark.parametrize("name", PROVIDERS)
@pytest.mark.parametrize("stop_after", [1, 2])
def test_an_interrupted_first_sync_resumes_to_exactly_the_dataset(
    name: str, stop_after: int
) -> None:
    with harness(name) as h:
        first = h.sync(stop_after=stop_after)
        assert len(first) == stop_after
        assert 0 < len(h.store.items) < 60
        h.fake.reset_counters()
        # A new process: a new adapter, the last committed cursor.
        later = h.reconnect(tokens=h.provider.tokens)
        h.store.run(later)
        assert h.matches()
        if name == "youtube":
            assert h.fake.calls["channels.list"] == 0  # the uploads playlist id is in the cursor
            assert h.fake.calls["playlistItems.list"] == 6 - stop_after
        if name == "gmail":
            assert h.fake.calls["messages.get"] == 60 - len(first[0].items) * stop_after
            assert h.fake.calls["profile"] == 0


@pytest.mark.parametrize("name", PROVIDERS)
def test_an_interrupted_full_sync_resumes_when_the_job_retries_with_full(name: str) -> None:
    with harness(name) as h:
        h.sync()
        h.fake.delete_items(list(h.fake.dataset())[-2:])
        h.sync(full=True, stop_after=2)
        h.fake.reset_counters()
        pages = h.sync(full=True)  # the retried job passes full=True again: resume, not restart
        assert not pages[0].full_resync
        assert h.matches()
        assert "profile" not in h.fake.calls and "channels.list" not in h.fake.calls


@pytest.mark.parametrize("name", PROVIDERS)
def test_an_interrupted_incremental_sync_resumes_to_exactly_the_dataset(name: str) -> None:
    with harness(name) as h:
        h.sync()
        h.fake.add_items(35)
        h.fake.change_items(list(h.fake.dataset())[:2])
        h.sync(stop_after=1)
        assert not h.matches()
        h.store.run(h.reconnect(tokens=h.provider.tokens))
        assert h.matches()
        h.fake.reset_counters()
        h.sync()
        assert h.store.changed == []
        assert h.fake.calls == h.resync_calls()


@pytest.mark.parametrize("name", PROVIDERS)
def test_cursors_are_json_and_never_carry_tokens(name: str) -> None:
    with harness(name) as h:
        pages = h.sync()
        for page in pages:
            text = json.dumps(page.cursor)
            for secret in h.secrets():
                assert secret not in text


def test_youtube_cursor_caches_the_uploads_playlist_and_the_high_water_mark() -> None:
    with harness("youtube") as h:
        h.sync()
        cursor = h.store.cursor
        assert cursor is not None
        assert cursor["extra"] == {"uploads": h.fake.uploads_playlist_id}
        assert cursor["run"] is None
        newest = h.fake.dataset()[h.fake.latest_cursor_value()]
        assert cursor["hwm"].replace("+00:00", "Z") == newest["snippet"]["publishedAt"]
        # The window remembers the stats_max_items (200) newest: here all 60 videos.
        assert len(cursor["window"]) == 60


def test_youtube_restarts_from_the_top_when_a_stored_page_token_went_stale() -> None:
    with harness("youtube") as h:
        h.sync(stop_after=2)
        assert h.store.cursor is not None
        h.store.cursor["run"]["next"] = "bm90LWEtdG9rZW4"  # rejected: invalidPageToken
        h.sync()
        assert h.matches()


def test_youtube_rediscovers_a_playlist_that_no_longer_exists() -> None:
    with harness("youtube") as h:
        h.sync()
        assert h.store.cursor is not None
        h.store.cursor["extra"]["uploads"] = "UUgone"
        h.fake.reset_counters()
        h.sync()
        assert h.fake.calls["channels.list"] == 1
        assert h.store.cursor["extra"]["uploads"] == h.fake.uploads_playlist_id
        assert h.matches()


def test_gmail_full_sync_adopts_the_history_id_read_before_listing() -> None:
    fake = FAKES["gmail"](items=30)
    with harness("gmail", fake=fake) as h:
        start = fake.latest_cursor_value()
        pages = h.sync(stop_after=1)
        assert pages[0].total_hint == 30
        fake.add_items(2)  # arrives during the full sync: history must still deliver it
        h.sync()
        assert h.store.cursor is not None and h.store.cursor["history_id"] == start
        h.sync()
        assert h.matches()


def test_gmail_batches_at_most_fifty_messages() -> None:
    with harness("gmail", items=130, page_size=500) as h:
        pages = h.sync()
        assert [len(p.items) for p in pages] == [130]  # one stored page per listing
        assert h.fake.calls["batch"] == 3 and h.fake.calls["messages.list"] == 1
        assert h.matches()


@pytest.mark.parametrize("name", PROVIDERS)
def test_total_hint_reports_the_providers_count(name: str) -> None:
    with harness(name) as h:
        pages = h.sync()
        expected = {"youtube": 60, "gmail": 60, "instagram": 60, "tiktok": None}[name]
        assert pages[0].total_hint == expected


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_thousand_items_cost_what_the_design_says(name: str) -> None:
    fake = FAKES[name](items=1000, seed=3)
    freeze(fake)
    provider = build(fake, name, transport=fake.transport(), page_size=0)  # 0: the default
    try:
        store: dict[str, object] = {}
        cursor = None
        for page in provider.sync(
            None, full=False, known=lambda ids: {i for i in ids if i in store}
        ):
            store.update((item.external_id, item.raw) for item in page.items)
            cursor = page.cursor
        assert store == fake.dataset()
        expected = {
            "youtube": (41, 41),  # channels + 20 playlistItems + 20 videos
            "gmail": (23, 5011),  # profile + 2 lists (500) + 20 batches of 50 gets
            "instagram": (21, 21),  # me (media_count) + 20 pages of 50
        }
        if name in expected:
            assert (provider.api_calls, provider.quota_units) == expected[name]
        else:  # 20 a page, but some pages are short
            assert provider.api_calls == fake.calls["video.list"] <= 100
        assert provider.api_calls == fake.requests
        calls = provider.api_calls
        for _page in provider.sync(cursor, full=False, known=lambda ids: set(ids)):
            pass
        assert provider.api_calls - calls == sum(resync_calls(name, provider, fake).values())
    finally:
        provider.close()

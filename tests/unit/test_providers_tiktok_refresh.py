"""TikTok: recent videos the list walk did not return are refreshed via /v2/video/query/."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from syncjobs.providers.types import Page, ProviderConfig
from syncjobs.testing.fakes import FAKES

from .test_providers_support import Harness, harness

WINDOW = timedelta(days=30)  # stats_window_days: 30 by default


class Clock:
    """The adapter's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


class Spy(httpx.BaseTransport):
    """Forwards to the fake and records the ids of every /v2/video/query/ call."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.queried: list[list[str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.rstrip("/").endswith("/video/query"):
            self.queried.append(json.loads(request.read())["filters"]["video_ids"])
        return self.inner.handle_request(request)


@contextmanager
def tiktok(*, items: int, added: int = 0, seed: int = 4) -> Iterator[tuple[Harness, Clock, Spy]]:
    """A synced harness (seed 4: full first pages) with ``added`` videos posted just now."""
    fake: Any = FAKES["tiktok"](items=items, seed=seed)
    clock, spy = Clock(), Spy(fake.transport())
    with harness("tiktok", fake=fake, transport=spy, clock=clock) as h:
        if added:
            fake.add_items(added)
        h.sync()
        assert h.matches()
        yield h, clock, spy


def recent_ids(h: Harness, clock: Clock) -> list[str]:
    """The fake's videos posted within the window, newest first."""
    since = (clock.now - WINDOW).timestamp()
    videos = sorted(h.fake.dataset().values(), key=lambda v: v["create_time"], reverse=True)
    return [v["id"] for v in videos if v["create_time"] >= since]


def later(h: Harness, clock: Clock, delta: timedelta = timedelta(hours=2)) -> None:
    """Let time pass for the adapter and the fake (which re-signs every cover URL)."""
    clock.advance(delta)
    then = h.fake.clock() + delta.total_seconds()
    h.fake.clock = lambda: then


def listed_first(pages: list[Page]) -> int:
    """How many videos the first (the only) list page of an incremental run returned."""
    return pages[0].unchanged + len(pages[0].items)


def delivered(pages: list[Page]) -> dict[str, dict[str, Any]]:
    return {item.external_id: dict(item.raw) for page in pages for item in page.items}


def test_a_resync_queries_the_recent_videos_beyond_the_first_page() -> None:
    with tiktok(items=20, added=50) as (h, clock, spy):
        recent = recent_ids(h, clock)
        old = set(h.fake.dataset()) - set(recent)
        assert len(recent) >= 50 and old
        cursor = h.store.cursor
        assert cursor is not None and set(cursor["recent"]) == set(recent)
        assert spy.queried == []  # the first (full) sync lists everything

        before = {i: h.store.items[i] for i in recent}
        later(h, clock)
        changed = h.fake.change_items(recent[-5:])
        h.fake.reset_counters()
        pages = h.sync()

        first = listed_first(pages)
        expected = math.ceil((len(recent) - first) / 20)
        assert expected >= 2
        assert h.fake.calls == {"video.list": 1, "video.query": expected}
        assert all(1 <= len(ids) <= 20 for ids in spy.queried)
        assert sorted(i for ids in spy.queried for i in ids) == sorted(recent[first:])
        assert sum(p.api_calls for p in pages) == h.fake.requests == 1 + expected
        assert [p.api_calls for p in pages[1:]] == [1] * expected
        assert all(p.quota_units == 1 for p in pages[1:])
        # Every recent video comes back with its new counts and re-signed cover URL.
        got, now = delivered(pages), h.fake.dataset()
        assert set(got) == set(recent)
        assert all(got[i] == now[i] for i in recent)
        assert all(got[i]["view_count"] > before[i]["view_count"] for i in changed)
        assert all(got[i]["cover_image_url"] != before[i]["cover_image_url"] for i in recent)
        for video_id in recent:
            assert h.store.items[video_id] == now[video_id]
        # Older videos are neither queried nor delivered: only their cover URL is stale.
        for video_id in old:
            stored = h.store.items[video_id]
            assert stored["cover_image_url"] != now[video_id]["cover_image_url"]
            assert {**stored, "cover_image_url": ""} == {**now[video_id], "cover_image_url": ""}
        # The refresh pages carry the committed cursor of the finished walk.
        assert all(p.cursor["run"] is None for p in pages)
        assert {p.cursor["hwm"] for p in pages} == {pages[0].cursor["hwm"]}

        # Just refreshed: the next re-sync is one list call again.
        h.fake.reset_counters()
        again = h.sync()
        assert h.fake.calls == {"video.list": 1}
        assert [len(p.items) for p in again] == [0]


def test_changed_counts_beyond_the_first_page_are_picked_up() -> None:
    with tiktok(items=10, added=30) as (h, clock, _spy):
        recent = recent_ids(h, clock)
        before = {i: h.store.items[i]["view_count"] for i in recent}
        clock.advance(timedelta(hours=2))  # the fake's clock stays: cover URLs unchanged
        changed = h.fake.change_items(recent[-3:])
        pages = h.sync()
        got = delivered(pages)
        for video_id in changed:
            assert got[video_id]["view_count"] > before[video_id]
            assert got[video_id]["title"].endswith(f"(edited {got[video_id]['view_count']})")
        assert h.matches()


def test_videos_outside_the_window_are_never_queried() -> None:
    with tiktok(items=60, added=12) as (h, clock, spy):
        recent = recent_ids(h, clock)
        old = [i for i in h.fake.dataset() if i not in recent]
        assert len(recent) > 8 and len(old) >= 50
        later(h, clock)
        h.fake.change_items(old[:5])
        pages = h.sync()
        queried = {i for ids in spy.queried for i in ids}
        assert queried and queried <= set(recent) and not queried & set(old)
        assert not set(delivered(pages)) & set(old)
        cursor = h.store.cursor
        assert cursor is not None and set(cursor["recent"]) == set(recent)


def test_the_window_slides_videos_out_of_the_refresh() -> None:
    with tiktok(items=10, added=30) as (h, clock, spy):
        later(h, clock, WINDOW + timedelta(hours=1))  # everything is older than a week now
        h.fake.reset_counters()
        assert [len(p.items) for p in h.sync()] == [0]
        # (A day passed: the access token was refreshed too.)
        assert h.fake.calls == {"video.list": 1, "token": 1} and spy.queried == []
        assert h.store.cursor is not None and h.store.cursor["recent"] == {}


def test_a_deleted_recent_video_is_reported_deleted() -> None:
    with tiktok(items=20, added=30) as (h, clock, _spy):
        recent = recent_ids(h, clock)
        gone = h.fake.delete_items([recent[12], recent[25]])  # beyond the first page
        later(h, clock)
        h.fake.reset_counters()
        pages = h.sync()
        assert sorted(d for p in pages for d in p.deleted_ids) == sorted(gone)
        assert h.fake.calls == {"video.list": 1, "video.query": 2}  # 22 ids left to query
        assert h.store.cursor is not None and not set(gone) & set(h.store.cursor["recent"])
        assert {i: h.store.items[i] for i in recent if i not in gone} == {
            i: v for i, v in h.fake.dataset().items() if i in recent
        }
        assert not set(gone) & set(h.store.items)


@pytest.mark.parametrize("elapsed", [timedelta(0), timedelta(hours=2)])
def test_an_unchanged_resync_with_every_recent_video_on_the_first_page_is_one_call(
    elapsed: timedelta,
) -> None:
    with tiktok(items=30, added=3) as (h, clock, spy):
        recent = recent_ids(h, clock)
        assert 3 <= len(recent) <= 8  # seed 4: the first page holds 8
        later(h, clock, elapsed)
        h.fake.reset_counters()
        pages = h.sync()
        assert h.fake.calls == {"video.list": 1} and spy.queried == []
        assert sum(p.api_calls for p in pages) == 1
        if elapsed:
            # Due for a refresh, but the list page just returned them: no query needed.
            assert set(delivered(pages)) == set(recent)
            assert pages[-1].api_calls == 0
            assert all(h.store.items[i] == h.fake.dataset()[i] for i in recent)
        else:
            assert [len(p.items) for p in pages] == [0]
        assert not any(p.deleted_ids for p in pages)


def test_a_full_run_needs_no_query() -> None:
    with tiktok(items=20, added=30) as (h, clock, spy):
        later(h, clock)
        h.fake.reset_counters()
        h.sync(full=True)
        assert "video.query" not in h.fake.calls and spy.queried == []
        assert h.matches()
        h.fake.reset_counters()
        h.sync()
        assert h.fake.calls == {"video.list": 1}


def test_the_recent_ids_are_capped() -> None:
    limit = ProviderConfig().stats_max_items
    with tiktok(items=5, added=limit + 30) as (h, clock, _spy):
        cursor = h.store.cursor
        assert cursor is not None and len(cursor["recent"]) == limit
        assert list(cursor["recent"]) == recent_ids(h, clock)[:limit]
        later(h, clock)
        h.fake.reset_counters()
        pages = h.sync()
        assert h.fake.calls["video.query"] == math.ceil((limit - listed_first(pages)) / 20)
        assert h.fake.calls["video.query"] <= limit // 20


@pytest.mark.parametrize("stop_after", [1, 2, 3])
def test_a_run_stopped_during_the_refresh_resumes_to_exactly_the_dataset(
    stop_after: int,
) -> None:
    with tiktok(items=20, added=60) as (h, clock, _spy):
        recent = recent_ids(h, clock)
        clock.advance(timedelta(hours=2))  # the fake's clock stays: cover URLs unchanged
        h.fake.change_items(recent[10:50:3])
        h.fake.delete_items([recent[20], recent[45]])
        h.fake.add_items(2)
        pages = h.sync(stop_after=stop_after)
        assert len(pages) == stop_after
        assert not h.matches()
        # A new process picks up the committed cursor.
        h.store.run(h.reconnect(tokens=h.provider.tokens, clock=clock))
        assert h.matches()
        h.fake.reset_counters()
        assert [len(p.items) for p in h.sync()] == [0]
        assert h.fake.calls == {"video.list": 1}


def test_the_cursor_is_json_without_tokens() -> None:
    with tiktok(items=20, added=30) as (h, clock, _spy):
        later(h, clock)
        for page in h.sync():
            text = json.dumps(page.cursor)
            assert all(secret not in text for secret in h.secrets())
            assert all(
                isinstance(ct, int) and isinstance(at, int)
                for ct, at in page.cursor["recent"].values()
            )

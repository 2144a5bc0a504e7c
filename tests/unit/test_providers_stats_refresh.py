"""Incremental syncs refresh the counts of recent items within a stated budget (over HTTP)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from syncjobs.errors import ConfigurationError
from syncjobs.providers.feed import FeedProvider
from syncjobs.providers.tiktok import TikTokProvider
from syncjobs.providers.types import ProviderConfig
from syncjobs.settings import Settings
from syncjobs.testing.fakes import FAKES

from .test_providers_support import Harness, harness, published

WINDOW = timedelta(days=30)


class Clock:
    """The adapter's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class Spy(httpx.BaseTransport):
    """Forwards to the fake and records the ids of every ``videos.list`` call."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.asked: list[list[str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/videos"):
            self.asked.append(request.url.params["id"].split(","))
        return self.inner.handle_request(request)


@contextmanager
def synced(
    name: str, *, items: int = 60, added: int = 0, stats: dict[str, int] | None = None
) -> Iterator[tuple[Harness, Spy, Clock]]:
    """A harness after its first (full) sync, ``added`` items posted just now."""
    fake: Any = FAKES[name](items=items, seed=0)
    spy, clock = Spy(fake.transport()), Clock()
    with harness(name, fake=fake, transport=spy, clock=clock, stats=stats) as h:
        if added:
            fake.add_items(added)
        h.sync()
        assert h.matches()
        h.fake.reset_counters()
        spy.asked = []
        yield h, spy, clock


def split(h: Harness, now: datetime) -> tuple[list[str], list[str]]:
    """The fake's items inside and outside the statistics window, newest first."""
    data = h.fake.dataset()
    ordered = sorted(data, key=lambda i: published(h.name, data[i]), reverse=True)
    recent = [i for i in ordered if published(h.name, data[i]) >= now - WINDOW]
    return recent, [i for i in ordered if i not in recent]


def views(h: Harness, raw: dict[str, Any]) -> int:
    """The view (YouTube, TikTok) or like (Instagram) count of an item's raw record."""
    if h.name == "youtube":
        return int(raw["statistics"]["viewCount"])
    return int(raw["like_count"] if h.name == "instagram" else raw["view_count"])


# -- YouTube ------------------------------------------------------------------------------


def test_youtube_refreshes_the_counts_of_recent_videos_and_not_older_ones() -> None:
    with synced("youtube", added=12) as (h, spy, clock):
        recent, old = split(h, clock.now)
        assert 12 <= len(recent) < 50 and len(old) >= 50
        grown = h.fake.change_items(recent[-4:], counts_only=True)
        stale = h.fake.change_items(old[:4], counts_only=True)
        before = {i: dict(h.store.items[i]) for i in grown + stale}
        pages = h.sync()
        now = h.fake.dataset()
        # One list call finds nothing new; one videos.list call refreshes every recent video.
        assert h.fake.calls == {"playlistItems.list": 1, "videos.list": 1}
        assert sum(p.quota_units for p in pages) == 2 == h.fake.quota_units
        assert sorted(spy.asked[0]) == sorted(recent)
        # Each video seen is counted once: the first page (all recent) by the refresh.
        assert sum(p.unchanged + len(p.items) for p in pages) == len(recent)
        assert sorted(h.store.changed) == sorted(grown)
        for video_id in grown:
            assert h.store.items[video_id] == now[video_id]
            assert views(h, now[video_id]) > views(h, before[video_id])
        # Videos older than the window keep the counts of the last full run.
        for video_id in stale:
            assert h.store.items[video_id] == before[video_id] != now[video_id]
        h.sync(full=True)
        assert h.matches()


def test_youtube_asks_at_most_fifty_ids_a_call() -> None:
    with synced("youtube", items=20, added=130) as (h, spy, clock):
        recent, _ = split(h, clock.now)
        assert len(recent) >= 130
        grown = h.fake.change_items(recent[::9], counts_only=True)
        h.sync()
        assert h.fake.calls == {"playlistItems.list": 1, "videos.list": math.ceil(len(recent) / 50)}
        assert [len(ids) for ids in spy.asked[:-1]] == [50] * (len(spy.asked) - 1)
        assert 1 <= len(spy.asked[-1]) <= 50
        assert [i for ids in spy.asked for i in ids] == recent  # newest first, each once
        assert sorted(h.store.changed) == sorted(grown)
        assert h.matches()


def test_youtube_refreshes_only_the_newest_stats_max_items() -> None:
    with synced("youtube", items=20, added=130, stats={"stats_max_items": 70}) as (h, spy, clock):
        recent, _ = split(h, clock.now)
        h.fake.change_items([recent[10], recent[69], recent[70], recent[100]], counts_only=True)
        h.sync()
        assert [len(ids) for ids in spy.asked] == [50, 20]
        assert [i for ids in spy.asked for i in ids] == recent[:70]
        assert sorted(h.store.changed) == sorted([recent[10], recent[69]])


@pytest.mark.parametrize(
    "stats",
    [{}, {"stats_max_items": 0}, {"stats_window_days": 0}, {"stats_window_days": 1}],
    ids=["default", "no-items", "no-window", "one-day"],
)
def test_an_unchanged_youtube_resync_costs_exactly_the_stated_calls(
    stats: dict[str, int],
) -> None:
    with synced("youtube", added=70, stats=stats) as (h, _spy, clock):
        days = stats.get("stats_window_days", 30)
        limit = stats.get("stats_max_items", 200) if days else 0
        recent = [i for i in split(h, clock.now)[0] if i in h.store.items]
        in_window = sum(
            1
            for i in recent
            if published("youtube", h.store.items[i]) >= clock.now - timedelta(days=days)
        )
        refresh = math.ceil(min(in_window, limit) / 50)
        pages = h.sync()
        expected = {"playlistItems.list": 1} | ({"videos.list": refresh} if refresh else {})
        assert h.fake.calls == expected == h.resync_calls()
        assert sum(p.api_calls for p in pages) == 1 + refresh
        assert sum(p.quota_units for p in pages) == 1 + refresh
        assert h.store.changed == [] and not any(p.deleted_ids for p in pages)
        if stats == {}:
            assert refresh == 2  # 70 new videos: two calls of 50 and 20 ids


def test_youtube_does_not_fetch_a_new_video_twice() -> None:
    with synced("youtube", added=20) as (h, spy, _clock):
        added = h.fake.add_items(3)
        h.sync()
        asked = [i for ids in spy.asked for i in ids]
        assert len(asked) == len(set(asked)) and set(added) <= set(asked)
        assert sorted(h.store.changed) == sorted(added)
        assert h.fake.calls == {"playlistItems.list": 1, "videos.list": 2}


def test_youtube_reports_a_deleted_recent_video_found_by_the_refresh() -> None:
    with synced("youtube", added=30) as (h, _spy, clock):
        recent, _ = split(h, clock.now)
        gone = h.fake.delete_items([recent[25]])  # beyond the first page of the walk
        pages = h.sync()
        assert [d for p in pages for d in p.deleted_ids] == gone
        assert h.store.cursor is not None and gone[0] not in h.store.cursor["window"]
        assert h.matches()


def test_youtube_videos_leave_the_refresh_as_the_window_slides() -> None:
    with synced("youtube", added=30) as (h, spy, clock):
        clock.now += WINDOW + timedelta(days=1)
        h.sync()
        assert spy.asked == []
        assert {k: v for k, v in h.fake.calls.items() if k != "token"} == {"playlistItems.list": 1}


# -- Instagram and TikTok -----------------------------------------------------------------


def test_instagram_lists_through_the_window_and_refreshes_changed_counts() -> None:
    with synced("instagram", added=35) as (h, _spy, clock):
        recent, old = split(h, clock.now)
        assert len(recent) >= 35
        grown = h.fake.change_items(recent[-3:], counts_only=True)  # beyond the first page
        # (Older media on the last page listed are refreshed for free; these are further.)
        stale = h.fake.change_items(old[10:13], counts_only=True)
        before = {i: dict(h.store.items[i]) for i in stale}
        h.sync()
        # Pages of 10 down to the first media older than the window; no detail call.
        assert h.fake.calls == {"media": len(recent) // 10 + 1} == h.resync_calls()
        assert sorted(h.store.changed) == sorted(grown)
        assert all(h.store.items[i] == h.fake.dataset()[i] for i in grown)
        assert all(h.store.items[i] == before[i] for i in stale)


def test_instagram_stops_listing_at_stats_max_items() -> None:
    with synced("instagram", added=35, stats={"stats_max_items": 20}) as (h, _spy, clock):
        recent, _ = split(h, clock.now)
        grown = h.fake.change_items([recent[15], recent[30]], counts_only=True)
        h.sync()
        assert h.fake.calls == {"media": 2} == h.resync_calls()
        assert h.store.changed == grown[:1]


def test_tiktok_takes_its_window_and_cap_from_the_settings() -> None:
    stats = {"stats_window_days": 3, "stats_max_items": 7}
    with synced("tiktok", added=12, stats=stats) as (h, _spy, _clock):
        provider = h.provider
        assert isinstance(provider, TikTokProvider)
        assert provider.refresh_window == timedelta(days=3) and provider.refresh_limit == 7
        assert h.store.cursor is not None and len(h.store.cursor["recent"]) == 7
    with synced("tiktok", added=12, stats={"stats_max_items": 0}) as (h, _spy, _clock):
        assert h.store.cursor is not None and h.store.cursor["recent"] == {}


@pytest.mark.parametrize("name", ["youtube", "instagram", "tiktok"])
def test_the_adapters_read_the_window_from_their_config(name: str) -> None:
    stats = {"stats_window_days": 9, "stats_max_items": 123}
    with synced(name, items=5, stats=stats) as (h, _spy, clock):
        provider = h.provider
        assert isinstance(provider, FeedProvider)
        assert provider.stats_window == timedelta(days=9) and provider.stats_max_items == 123
        assert provider.stats_since() == clock.now - timedelta(days=9)


# -- the settings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("stats_window_days", -1),
        ("stats_window_days", 366),
        ("stats_window_days", 1.5),
        ("stats_window_days", "30"),
        ("stats_max_items", -5),
        ("stats_max_items", 1001),
        ("stats_max_items", True),
        ("stats_max_items", None),
    ],
)
def test_a_bad_window_in_a_provider_config_is_a_configuration_error(
    field: str, value: object
) -> None:
    with pytest.raises(ConfigurationError, match=field) as caught:
        ProviderConfig(**{field: value})  # type: ignore[arg-type]
    assert "whole number from 0 to" in str(caught.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SYNCJOBS_YOUTUBE__STATS_WINDOW_DAYS", "-1"),
        ("SYNCJOBS_YOUTUBE__STATS_WINDOW_DAYS", "a month"),
        ("SYNCJOBS_INSTAGRAM__STATS_MAX_ITEMS", "5000"),
        ("SYNCJOBS_TIKTOK__STATS_MAX_ITEMS", "2.5"),
    ],
)
def test_a_bad_window_setting_is_refused_naming_it(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError) as caught:
        Settings()
    field = variable.split("__")[1].lower()
    assert field in str(caught.value)


def test_the_window_settings_reach_the_providers_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNCJOBS_YOUTUBE__STATS_WINDOW_DAYS", "7")
    monkeypatch.setenv("SYNCJOBS_YOUTUBE__STATS_MAX_ITEMS", "0")
    settings = Settings()
    assert (settings.youtube.stats_window_days, settings.youtube.stats_max_items) == (7, 0)
    assert (settings.tiktok.stats_window_days, settings.tiktok.stats_max_items) == (30, 200)
    config = ProviderConfig(**settings.youtube.model_dump(exclude={"client_secret"}))
    assert (config.stats_window_days, config.stats_max_items) == (7, 0)


# -- the fakes ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["youtube", "instagram", "tiktok"])
def test_the_fakes_grow_counts_alone_when_asked(name: str) -> None:
    fake: Any = FAKES[name](items=5, seed=1)
    frozen = float(int(datetime.now(UTC).timestamp()))
    fake.clock = lambda: frozen
    before = fake.dataset()
    grown = fake.change_items(2, counts_only=True)
    after = fake.dataset()
    count = {"youtube": "statistics", "instagram": "like_count", "tiktok": "view_count"}[name]
    text = {"youtube": "snippet", "instagram": "caption", "tiktok": "title"}[name]
    for item_id in grown:
        assert after[item_id][count] != before[item_id][count]
        assert after[item_id][text] == before[item_id][text]
    assert all(after[i] == before[i] for i in before if i not in grown)
    edited = fake.change_items(grown[:1])  # the default still edits the text too
    assert fake.dataset()[edited[0]][text] != after[edited[0]][text]

"""YouTube Data API v3 adapter: the channel's uploads, with details and statistics.

``channels.list(mine=true)`` finds the uploads playlist once (its id is cached in the
cursor), ``playlistItems.list`` pages it newest first down to the high-water mark, and
``videos.list`` fetches details and statistics of the new or changed videos only (50 ids a
call). ``search.list`` is never called (100 units, or its own tiny bucket).

Statistics: the playlist does not carry view/like/comment counts, so after an incremental
walk the videos published within ``stats_window_days`` (at most ``stats_max_items``, newest
first, known from the cursor's window) are fetched again with ``videos.list``, 50 ids a call,
1 unit each; the store counts those whose counts moved as updated. An unchanged re-sync costs
``1 + ceil(min(recent, stats_max_items) / 50)`` calls and units (5 at most by default). An
id the answer omits was deleted. Full runs fetch every video anyway.

Watch history is not available: since 2016 the API answers ``HL``/``WL`` for
``relatedPlaylists.watchHistory``/``watchLater`` and those lists cannot be retrieved.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from ..errors import PermissionDeniedError
from . import DEFAULT_BASE_URLS
from .feed import Entry, FeedPage, FeedProvider, FeedState, FeedStep
from .google_auth import GoogleProvider
from .types import Item, Page
from .util import chunks, metrics_of

__all__ = ["YouTubeProvider"]

_VIDEO_PARTS = "snippet,contentDetails,statistics"
_METRICS = {
    "views": "viewCount",
    "likes": "likeCount",
    "comments": "commentCount",
    "favorites": "favoriteCount",
}


class _PageInfo(BaseModel):
    totalResults: int | None = None


class _ListResponse(BaseModel):
    items: list[dict[str, Any]]
    nextPageToken: str | None = None
    pageInfo: _PageInfo | None = None


class _Uploads(BaseModel):
    uploads: str


class _ChannelDetails(BaseModel):
    relatedPlaylists: _Uploads


class _Channel(BaseModel):
    contentDetails: _ChannelDetails


class _PlaylistItemDetails(BaseModel):
    videoId: str
    videoPublishedAt: str | None = None


class _PlaylistItem(BaseModel):
    snippet: dict[str, Any] = {}
    contentDetails: _PlaylistItemDetails


class _VideoSnippet(BaseModel):
    publishedAt: str
    title: str = ""
    description: str = ""
    channelTitle: str | None = None


class _Video(BaseModel):
    id: str
    snippet: _VideoSnippet


class YouTubeProvider(GoogleProvider, FeedProvider):
    """YouTube Data API v3: the authorised channel's uploads (never ``search.list``)."""

    name: ClassVar[str] = "youtube"
    default_base_url: ClassVar[str] = DEFAULT_BASE_URLS["youtube"]
    default_page_size: ClassVar[int] = 50
    max_page_size: ClassVar[int] = 50
    stale_cursor_reasons: ClassVar[frozenset[str]] = frozenset(
        {"invalidPageToken", "playlistNotFound"}
    )
    stats_in_window: ClassVar[bool] = True
    #: Most ids one ``videos.list`` call takes.
    videos_batch: ClassVar[int] = 50

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: Videos this process fetched in the current walk, and recent ones it listed unfetched.
        self._fetched: set[str] = set()
        self._deferred = 0
        self._walk_full = False

    def prepare(self, state: FeedState) -> None:
        """Find the uploads playlist (one ``channels.list``) unless the cursor caches it."""
        self._fetched, self._deferred = set(), 0
        if "uploads" in state.extra:
            return
        response = self.call(
            "GET",
            "channels",
            endpoint="channels.list",
            params={"part": "contentDetails", "mine": "true"},
        )
        body = self.parse(response, _ListResponse, endpoint="channels.list")
        if not body.items:
            raise PermissionDeniedError(
                "youtube channels.list: the account has no YouTube channel",
                provider=self.name,
                reason="channelNotFound",
            )
        channel = self.validate(body.items[0], _Channel, endpoint="channels.list")
        state.extra["uploads"] = channel.contentDetails.relatedPlaylists.uploads

    def list_page(self, token: str | None, state: FeedState) -> FeedPage:
        """One ``playlistItems.list`` page of the uploads playlist, newest first."""
        params: dict[str, Any] = {
            "part": "snippet,contentDetails",
            "playlistId": state.extra["uploads"],
            "maxResults": self.page_size,
        }
        if token:
            params["pageToken"] = token
        endpoint = "playlistItems.list"
        response = self.call("GET", "playlistItems", endpoint=endpoint, params=params)
        body = self.parse(response, _ListResponse, endpoint=endpoint)
        records = [self.validate(raw, _PlaylistItem, endpoint=endpoint) for raw in body.items]
        entries = self.entries(
            [record.model_dump() for record in records],
            endpoint=endpoint,
            id_of=lambda r: r["contentDetails"]["videoId"],
            time_of=_published_at,
            stable_of=_stable_part,
        )
        # The playlist's size is this run's total only when the run walks all of it.
        full = state.run is not None and state.run.full
        self._walk_full = full
        total = body.pageInfo.totalResults if body.pageInfo and full else None
        return FeedPage(entries, body.nextPageToken, total)

    def items_for(self, entries: list[Entry]) -> list[Item]:
        """Fetch details and statistics with ``videos.list`` (50 ids a call, 1 unit each)."""
        items: list[Item] = []
        for batch in chunks([entry.id for entry in entries], self.videos_batch):
            items += self._videos(batch)
        self._fetched.update(entry.id for entry in entries)
        return items

    def _videos(self, ids: list[str]) -> list[Item]:
        """One ``videos.list`` call for at most 50 ids; ids it does not know are left out."""
        response = self.call(
            "GET",
            "videos",
            endpoint="videos.list",
            params={"part": _VIDEO_PARTS, "id": ",".join(ids)},
        )
        body = self.parse(response, _ListResponse, endpoint="videos.list")
        return [self._item(raw) for raw in body.items]

    # -- statistics of recent videos ---------------------------------------------------------

    def note_page(self, state: FeedState, listed: FeedPage, step: FeedStep) -> None:
        """Recent videos listed unfetched are counted by the refresh, not as unchanged here."""
        limit = self.stats_max_items
        if self._walk_full or not limit:
            return
        since, fetched = self.stats_since(), {entry.id for entry in step.fetch}
        for entry in listed.entries:
            if entry.ts < since or self._deferred >= limit:
                continue
            self._deferred += 1
            if entry.id not in fetched and step.unchanged > 0:
                step.unchanged -= 1

    def after_walk(self, state: FeedState, *, full: bool) -> Iterator[Page]:
        """Fetch the statistics of the recent videos again (incremental runs only)."""
        fetched, self._fetched, self._deferred = self._fetched, set(), 0
        if full or not self.stats_max_items:
            return
        for batch in chunks(self.recent_ids(state, exclude=fetched), self.videos_batch):
            items = self._videos(batch)
            found = {item.external_id for item in items}
            deleted = [video_id for video_id in batch if video_id not in found]
            for video_id in deleted:
                state.window.pop(video_id, None)
            yield self.make_page(items, state.dump(), deleted_ids=deleted)

    def recent_ids(self, state: FeedState, *, exclude: set[str] | None = None) -> list[str]:
        """The remembered videos within the statistics window, newest first, capped."""
        since = self.stats_since()
        recent = sorted(
            ((ts, video_id) for video_id, (_, ts) in state.window.items() if ts >= since),
            reverse=True,
        )[: self.stats_max_items]
        return [video_id for _, video_id in recent if video_id not in (exclude or set())]

    def _item(self, raw: Mapping[str, Any]) -> Item:
        video = self.validate(raw, _Video, endpoint="videos.list")
        snippet = video.snippet
        return Item(
            external_id=video.id,
            kind="video",
            title=snippet.title,
            text=snippet.description,
            author=snippet.channelTitle,
            published_at=self.timestamp(snippet.publishedAt, endpoint="videos.list"),
            metrics=metrics_of(raw.get("statistics") or {}, _METRICS),
            raw=raw,
        )


def _published_at(record: Mapping[str, Any]) -> object:
    """When the video was published (private videos lack it: when it joined the playlist)."""
    return record["contentDetails"]["videoPublishedAt"] or record["snippet"].get("publishedAt")


def _stable_part(record: Mapping[str, Any]) -> object:
    """What identifies a version of a playlist item (its position moves with every upload)."""
    snippet = {k: v for k, v in record["snippet"].items() if k != "position"}
    return [snippet, record["contentDetails"]]

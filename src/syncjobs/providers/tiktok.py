"""TikTok Display API v2 adapter: the creator's videos.

``POST /v2/video/list/`` pages newest first (``cursor`` in ms, ``create_time`` in s; pages
may be short while ``has_more`` is true) down to the stored high-water ``create_time``.
The list carries every field stored, so no detail call is made.

Refresh: counts change and ``cover_image_url`` is signed for 6 h, so after an incremental
walk the recent videos (posted within ``stats_window_days``, 30 by default) that the store has
not received for ``refresh_interval`` (1 h) are delivered again: those this run listed straight
from the list, the others through ``POST /v2/video/query/`` (at most 20 ids a call); an id the
answer omits was deleted. The cursor's ``recent`` map (id -> [create_time, delivered_at], epoch
seconds, at most ``stats_max_items`` ids, 200 by default) remembers them. Full runs list (and
deliver) everything. An unchanged re-sync costs one ``video.list`` call, plus, once an hour,
``ceil(recent not on the first page / 20)`` ``video.query`` calls (10 at most by default).

Every answer is the
``{"data":…,"error":{"code","message","log_id"}}`` envelope: a code other than ``ok`` is an
error even with HTTP 200.

Tokens: ``POST /v2/oauth/token/`` (form-encoded, ``client_key``) returns a NEW refresh token
each time and kills the old one; it is saved before the new access token is used.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel

from . import DEFAULT_BASE_URLS, DEFAULT_TOKEN_URLS
from .feed import Entry, FeedPage, FeedProvider, FeedState, FeedStep
from .types import Item, Page, TokenSet
from .util import chunks, metrics_of

__all__ = ["TikTokProvider"]

VIDEO_FIELDS = (
    "id,title,video_description,create_time,cover_image_url,share_url,embed_html,embed_link,"
    "duration,height,width,like_count,comment_count,share_count,view_count"
)
#: Fields that change without the video changing (the cover URL is signed for 6 h).
_VOLATILE = frozenset({"cover_image_url"})
_METRICS = {
    "views": "view_count",
    "likes": "like_count",
    "comments": "comment_count",
    "shares": "share_count",
    "duration": "duration",
}


class _Error(BaseModel):
    code: str
    message: str = ""
    log_id: str = ""


class _VideoList(BaseModel):
    videos: list[dict[str, Any]] = []
    cursor: int | None = None
    has_more: bool


class _Envelope(BaseModel):
    data: _VideoList
    error: _Error


class _VideoQuery(BaseModel):
    videos: list[dict[str, Any]] = []


class _QueryEnvelope(BaseModel):
    data: _VideoQuery
    error: _Error


class _Video(BaseModel):
    id: str
    create_time: int


class TikTokState(FeedState):
    """The feed cursor plus the recent videos to keep fresh."""

    #: id -> (create_time, delivered_at), epoch seconds: when the store last got the video.
    recent: dict[str, tuple[int, int]] = {}


class _TokenAnswer(BaseModel):
    access_token: str
    expires_in: int | None = None
    refresh_token: str | None = None
    refresh_expires_in: int | None = None
    scope: str | None = None


class TikTokProvider(FeedProvider):
    """TikTok Display API v2: the authorised creator's videos, newest first."""

    name: ClassVar[str] = "tiktok"
    error_style: ClassVar[str] = "tiktok"
    default_base_url: ClassVar[str] = DEFAULT_BASE_URLS["tiktok"]
    default_token_url: ClassVar[str] = DEFAULT_TOKEN_URLS["tiktok"]
    default_page_size: ClassVar[int] = 20
    max_page_size: ClassVar[int] = 20
    state_type: ClassVar[type[FeedState]] = TikTokState
    #: A recent video delivered less than this long ago is not delivered again.
    refresh_interval: timedelta = timedelta(hours=1)
    query_batch: ClassVar[int] = 20

    def __init__(
        self,
        *,
        refresh_window: timedelta | None = None,
        refresh_interval: timedelta | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        #: Videos posted this recently are kept fresh (counts, the 6 h cover URL).
        self.refresh_window = refresh_window if refresh_window is not None else self.stats_window
        #: At most this many recent ids are remembered (a query call per 20 of them).
        self.refresh_limit = self.stats_max_items
        if refresh_interval is not None:
            self.refresh_interval = refresh_interval
        #: Recent videos listed by the current run (in this process), by id.
        self._listed: dict[str, Entry] = {}

    def refresh_tokens(self, tokens: TokenSet) -> TokenSet:
        """Refresh; the answer's rotated refresh token replaces the old (now dead) one."""
        response = self.token_call(
            "POST",
            self.token_url,
            data={
                "client_key": self.config.client_id,
                "client_secret": self.config.client_secret,
                "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token or "",
            },
        )
        answer = self.parse(response, _TokenAnswer, endpoint="token")
        return self.token_set(answer.model_dump(), tokens)

    def list_page(self, token: str | None, state: FeedState) -> FeedPage:
        """One ``/v2/video/list/`` page, newest first."""
        body: dict[str, Any] = {"max_count": self.page_size}
        if token:
            body["cursor"] = int(token)
        response = self.call(
            "POST",
            "v2/video/list/",
            endpoint="video.list",
            params={"fields": VIDEO_FIELDS},
            json=body,
        )
        data = self.parse(response, _Envelope, endpoint="video.list").data
        for raw in data.videos:
            self.validate(raw, _Video, endpoint="video.list")
        entries = self.entries(
            data.videos,
            endpoint="video.list",
            id_of=lambda r: r.get("id"),
            time_of=lambda r: r.get("create_time"),
            stable_of=lambda r: {k: v for k, v in r.items() if k not in _VOLATILE},
        )
        if data.has_more and data.cursor is None:
            raise self.unexpected("video.list", "has_more without a cursor")
        return FeedPage(entries, str(data.cursor) if data.has_more else None)

    # -- refresh of recent videos ------------------------------------------------------------

    def prepare(self, state: FeedState) -> None:
        """A walk starts from the top: forget what an earlier walk listed."""
        self._listed = {}

    def note_page(self, state: FeedState, listed: FeedPage, step: FeedStep) -> None:
        """Remember the recent videos listed; those delivered in this page are fresh."""
        recent = _recent(state)
        now = self.now()
        since, stamp = now - self.refresh_window, int(now.timestamp())
        delivered = {entry.id for entry in step.fetch}
        for entry in listed.entries:
            if entry.ts < since:
                continue
            self._listed[entry.id] = entry
            previous = recent.get(entry.id)
            at = stamp if entry.id in delivered else (previous[1] if previous else 0)
            recent[entry.id] = (int(entry.ts.timestamp()), at)
        for gone in step.deleted:
            recent.pop(gone, None)
        self._trim(state, now)

    def after_walk(self, state: FeedState, *, full: bool) -> Iterator[Page]:
        """Deliver the recent videos not delivered for ``refresh_interval`` again."""
        recent = _recent(state)
        now = self.now()
        self._trim(state, now)
        cutoff = int((now - self.refresh_interval).timestamp())
        due = [item_id for item_id, (_, at) in recent.items() if at <= cutoff]
        listed, self._listed = self._listed, {}
        if full:
            # A full run lists every video: a recent one it did not deliver is gone.
            for item_id in due:
                recent.pop(item_id, None)
            return
        fresh = [listed[item_id] for item_id in due if item_id in listed]
        batches = list(chunks([i for i in due if i not in listed], self.query_batch)) or [[]]
        for ids in batches:
            entries = fresh + (self._query(ids) if ids else [])
            fresh = []
            found = {entry.id for entry in entries}
            deleted = [item_id for item_id in ids if item_id not in found]
            stamp = int(self.now().timestamp())
            for entry in entries:
                recent[entry.id] = (int(entry.ts.timestamp()), stamp)
            for item_id in deleted:
                recent.pop(item_id, None)
            if entries or deleted:
                yield self.make_page(self.items_for(entries), state.dump(), deleted_ids=deleted)

    def _query(self, ids: list[str]) -> list[Entry]:
        """``/v2/video/query/`` for at most 20 ids; unknown (deleted) ids are left out."""
        response = self.call(
            "POST",
            "v2/video/query/",
            endpoint="video.query",
            params={"fields": VIDEO_FIELDS},
            json={"filters": {"video_ids": ids}},
        )
        data = self.parse(response, _QueryEnvelope, endpoint="video.query").data
        for raw in data.videos:
            self.validate(raw, _Video, endpoint="video.query")
        asked = set(ids)
        return self.entries(
            [raw for raw in data.videos if str(raw.get("id")) in asked],
            endpoint="video.query",
            id_of=lambda r: r.get("id"),
            time_of=lambda r: r.get("create_time"),
            stable_of=lambda r: {k: v for k, v in r.items() if k not in _VOLATILE},
        )

    def _trim(self, state: FeedState, now: datetime) -> None:
        """Keep the newest ``refresh_limit`` ids posted within ``refresh_window``."""
        recent = _recent(state)
        since = int((now - self.refresh_window).timestamp())
        kept = sorted(
            ((i, v) for i, v in recent.items() if v[0] >= since),
            key=lambda kv: kv[1][0],
            reverse=True,
        )[: self.refresh_limit]
        recent.clear()
        recent.update(kept)

    def items_for(self, entries: list[Entry]) -> list[Item]:
        """Build items straight from the listed videos (no detail call)."""
        return [self._item(entry) for entry in entries]

    def _item(self, entry: Entry) -> Item:
        raw: Mapping[str, Any] = entry.raw
        return Item(
            external_id=entry.id,
            kind="video",
            title=raw.get("title"),
            text=raw.get("video_description"),
            author=None,
            published_at=entry.ts,
            metrics=metrics_of(raw, _METRICS),
            raw=raw,
        )


def _recent(state: FeedState) -> dict[str, tuple[int, int]]:
    if not isinstance(state, TikTokState):  # pragma: no cover - state_type guarantees it
        raise TypeError("TikTok needs a TikTokState cursor")
    return state.recent

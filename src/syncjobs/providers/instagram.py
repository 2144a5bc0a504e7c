"""Instagram API with Instagram Login adapter: the professional account's media.

``GET /me/media`` pages newest first (following ``paging.cursors.after`` while
``paging.next`` exists) down to the stored high-water ``timestamp``. The list carries every
field stored, so no detail call is made. Graph cursors are kept only within a run.

Counts: ``like_count`` and ``comments_count`` come with the list, so an incremental walk goes
on past the high-water mark through the media posted within ``stats_window_days`` (at most
``stats_max_items`` listed); the cursor remembers that many fingerprints, so media whose counts
moved are delivered again and the others cost nothing more. An unchanged re-sync costs one
``/me/media`` call per ``page_size`` recent media listed: 1 call while fewer than 50 were posted
in the window, ``ceil(stats_max_items / page_size)`` (4 by default) at most. Media insights
(``/{id}/insights``: views, reach, saves) cost one call per media and are not fetched.

Tokens: there is no refresh token. The long-lived token is refreshed with
``GET /refresh_access_token?grant_type=ig_refresh_token`` once it is at least 24 h old (by
``issued_at``) and unexpired; an expired token means the owner must reconnect.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel

from . import DEFAULT_BASE_URLS, DEFAULT_TOKEN_URLS
from .feed import Entry, FeedPage, FeedProvider, FeedState
from .types import Item, TokenSet
from .util import metrics_of

__all__ = ["InstagramProvider"]

MEDIA_FIELDS = (
    "id,caption,media_type,media_product_type,media_url,thumbnail_url,permalink,shortcode,"
    "timestamp,like_count,comments_count,username,is_comment_enabled,owner"
)
#: Fields that change without the post changing (signed CDN URLs).
_VOLATILE = frozenset({"media_url", "thumbnail_url"})
_METRICS = {"likes": "like_count", "comments": "comments_count"}
#: Key of ``FeedState.extra`` holding the ``media_count`` read when a full run started.
_MEDIA_COUNT = "media_count"


class _Cursors(BaseModel):
    after: str | None = None


class _Paging(BaseModel):
    cursors: _Cursors | None = None
    next: str | None = None


class _MediaPage(BaseModel):
    data: list[dict[str, Any]]
    paging: _Paging | None = None


class _Media(BaseModel):
    id: str
    timestamp: str
    caption: str | None = None
    username: str | None = None


class _Profile(BaseModel):
    media_count: int | None = None


class _TokenAnswer(BaseModel):
    access_token: str
    expires_in: int | None = None


class InstagramProvider(FeedProvider):
    """Instagram API with Instagram Login: the account's posts and reels, newest first."""

    name: ClassVar[str] = "instagram"
    error_style: ClassVar[str] = "graph"
    default_base_url: ClassVar[str] = DEFAULT_BASE_URLS["instagram"]
    default_token_url: ClassVar[str] = DEFAULT_TOKEN_URLS["instagram"]
    default_page_size: ClassVar[int] = 50
    max_page_size: ClassVar[int] = 100
    stats_in_window: ClassVar[bool] = True
    stats_in_list: ClassVar[bool] = True
    #: Instagram refreshes only tokens at least this old.
    min_refresh_age: ClassVar[timedelta] = timedelta(hours=24)

    def refresh_due(self, tokens: TokenSet, now: datetime) -> bool:
        """Due once the token is 24 h old (refreshing keeps the 60-day token alive)."""
        return tokens.issued_at is not None and now - tokens.issued_at >= self.min_refresh_age

    def can_refresh(self, tokens: TokenSet, now: datetime) -> bool:
        """Only an unexpired token at least 24 h old (when its age is known) can be refreshed."""
        if tokens.expires_at is not None and now >= tokens.expires_at:
            return False
        return tokens.issued_at is None or now - tokens.issued_at >= self.min_refresh_age

    def refresh_tokens(self, tokens: TokenSet) -> TokenSet:
        """Exchange the long-lived token for a fresh one (the token rides in the query)."""
        response = self.token_call(
            "GET",
            self.token_url,
            params={"grant_type": "ig_refresh_token", "access_token": tokens.access_token},
        )
        answer = self.parse(response, _TokenAnswer, endpoint="token")
        return self.token_set(answer.model_dump(), tokens)

    def prepare(self, state: FeedState) -> None:
        """At the start of a full run, read ``media_count`` for progress (one call).

        The count is kept in the cursor, so an attempt that resumes the run still has it.
        """
        run = state.run
        if run is None or not run.full or run.next is not None:
            return
        response = self.call("GET", "me", endpoint="me", params={"fields": "media_count"})
        count = self.parse(response, _Profile, endpoint="me").media_count
        state.extra.pop(_MEDIA_COUNT, None)
        if count is not None:
            state.extra[_MEDIA_COUNT] = str(count)

    def list_page(self, token: str | None, state: FeedState) -> FeedPage:
        """One ``/me/media`` page, newest first."""
        params: dict[str, Any] = {"fields": MEDIA_FIELDS, "limit": self.page_size}
        if token:
            params["after"] = token
        response = self.call("GET", "me/media", endpoint="media", params=params)
        body = self.parse(response, _MediaPage, endpoint="media")
        for raw in body.data:
            self.validate(raw, _Media, endpoint="media")
        entries = self.entries(
            body.data,
            endpoint="media",
            id_of=lambda r: r.get("id"),
            time_of=lambda r: r.get("timestamp"),
            stable_of=lambda r: {k: v for k, v in r.items() if k not in _VOLATILE},
        )
        paging = body.paging
        after = paging.cursors.after if paging and paging.next and paging.cursors else None
        if paging and paging.next and not after:
            raise self.unexpected("media", "paging.next without paging.cursors.after")
        count = state.extra.get(_MEDIA_COUNT)
        total = int(count) if count and state.run is not None and state.run.full else None
        return FeedPage(entries, after, total)

    def items_for(self, entries: list[Entry]) -> list[Item]:
        """Build items straight from the listed media (no detail call)."""
        return [self._item(entry) for entry in entries]

    def _item(self, entry: Entry) -> Item:
        raw: Mapping[str, Any] = entry.raw
        return Item(
            external_id=entry.id,
            kind="post",
            title=None,
            text=raw.get("caption"),
            author=raw.get("username"),
            published_at=entry.ts,
            metrics=metrics_of(raw, _METRICS),
            raw=raw,
        )

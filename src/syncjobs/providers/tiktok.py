"""TikTok Display API v2 adapter: the creator's videos.

``POST /v2/video/list/`` pages newest first (``cursor`` in ms, ``create_time`` in s; pages
may be short while ``has_more`` is true) down to the stored high-water ``create_time``.
The list carries every field stored, so no detail call is made. Every answer is the
``{"data":…,"error":{"code","message","log_id"}}`` envelope: a code other than ``ok`` is an
error even with HTTP 200.

Tokens: ``POST /v2/oauth/token/`` (form-encoded, ``client_key``) returns a NEW refresh token
each time and kills the old one; it is saved before the new access token is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel

from . import DEFAULT_BASE_URLS, DEFAULT_TOKEN_URLS
from .base import Entry, FeedPage, FeedProvider, FeedState, metrics_of
from .types import Item, TokenSet

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


class _Video(BaseModel):
    id: str
    create_time: int


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
            raise self._unexpected("video.list", "has_more without a cursor")
        return FeedPage(entries, str(data.cursor) if data.has_more else None)

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

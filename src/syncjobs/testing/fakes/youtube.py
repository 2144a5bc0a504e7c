"""A stateful fake of the YouTube Data API v3 (one channel and its uploads).

Routes (relative to the fake's root): ``GET /youtube/v3/channels``, ``/playlistItems``,
``/videos``, ``/search`` and ``POST /token``. ``latest_cursor_value()`` is the id of the
newest video. Quota: 1 unit per list call, 100 per ``search.list``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from syncjobs.providers.types import ProviderConfig
from syncjobs.testing.fakes._base import (
    GoogleFake,
    Request,
    Response,
    Route,
    SortedIndex,
    decode_token,
    encode_token,
    google_error,
    json_response,
    make_sentence,
    make_title,
    parse_int,
    parse_rfc3339,
    pick_ids,
    random_id,
    rfc3339,
    short_hash,
    spread_keys,
)

__all__ = ["FakeYouTube"]

_ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SPAN = 4 * 365 * 86400
_VIDEO_PARTS = frozenset({"id", "snippet", "contentDetails", "statistics", "status"})
_PLAYLIST_PARTS = frozenset({"id", "snippet", "contentDetails", "status"})
_CHANNEL_PARTS = frozenset({"id", "snippet", "contentDetails", "statistics", "status"})
_THUMBNAILS = (
    ("default", "default.jpg", 120, 90),
    ("medium", "mqdefault.jpg", 320, 180),
    ("high", "hqdefault.jpg", 480, 360),
)
_QUOTA_MESSAGE = (
    "The request cannot be completed because you have exceeded your "
    '<a href="/youtube/v3/getting-started#quota">quota</a>.'
)


@dataclass(slots=True)
class _Video:
    id: str
    published: int
    title: str
    description: str
    tags: list[str]
    duration: int
    views: int
    likes: int
    comments: int
    version: int = 0


def _duration(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text + (f"{secs}S" if secs or text == "PT" else "")


class FakeYouTube(GoogleFake):
    """Fake YouTube Data API v3: channels, uploads playlist, videos, search, Google tokens."""

    name = "youtube"
    client_id = "youtube-test-client.apps.googleusercontent.com"
    client_secret = "youtube-test-secret"
    scope = "https://www.googleapis.com/auth/youtube.readonly"
    supported_faults: ClassVar[dict[str, str | None]] = {
        **GoogleFake.supported_faults,
        "quota_exceeded": None,
    }

    def build_routes(self) -> list[Route]:
        """YouTube's list endpoints and the token endpoint."""
        base = "/youtube/v3"
        paging = "part maxResults pageToken onBehalfOfContentOwner"
        return [
            self.google_route(
                "GET",
                f"{base}/channels",
                "channels.list",
                self._channels,
                1,
                f"{paging} mine id forHandle forUsername hl managedByMe",
            ),
            self.google_route(
                "GET",
                f"{base}/playlistItems",
                "playlistItems.list",
                self._playlist_items,
                1,
                f"{paging} playlistId id videoId",
            ),
            self.google_route(
                "GET",
                f"{base}/videos",
                "videos.list",
                self._videos_list,
                1,
                f"{paging} id chart myRating hl regionCode maxHeight maxWidth",
            ),
            self.google_route(
                "GET",
                f"{base}/search",
                "search.list",
                self._search,
                100,
                f"{paging} forMine type order publishedAfter publishedBefore q channelId",
            ),
            self.token_route(),
        ]

    def seed_data(self, items: int, rng: random.Random) -> None:
        """One channel with ``items`` uploads spread over four years."""
        self._channel_id = "UC" + random_id(rng, 22, _ID_CHARS[:-2])
        self.uploads_playlist_id = "UU" + self._channel_id[2:]
        self._channel_title = f"Syncjobs Test Channel {self.seed}"
        self._channel_published = int(self.clock()) - _SPAN - 86400 * 30
        self._videos: dict[str, _Video] = {}
        self._index = SortedIndex()
        self._total_views = 0
        now = int(self.clock())
        for published in spread_keys(rng, items, now - 3600, _SPAN):
            self._add(rng, published)

    def _add(self, rng: random.Random, published: int) -> str:
        video_id = random_id(rng, 11, _ID_CHARS)
        while video_id in self._videos:
            video_id = random_id(rng, 11, _ID_CHARS)
        views = rng.randint(20, 2_000_000)
        video = _Video(
            id=video_id,
            published=published,
            title=make_title(rng),
            description=make_sentence(rng, rng.randint(6, 24)),
            tags=rng.sample(["vlog", "howto", "music", "diy", "travel", "food", "tech"], 2),
            duration=rng.randint(15, 3 * 3600),
            views=views,
            likes=views // rng.randint(15, 60),
            comments=views // rng.randint(150, 900),
        )
        self._videos[video_id] = video
        self._index.add(published, video_id)
        self._total_views += video.views
        return video_id

    def config(self, root_url: str) -> ProviderConfig:
        """``base_url = {root}/youtube/v3``, ``token_url = {root}/token``."""
        return self.google_config(root_url, "/youtube/v3")

    # -- errors ----------------------------------------------------------------

    def fault_responses(self) -> list[tuple[str, Callable[[dict[str, Any]], Response]]]:
        """Server error, rate limit, then ``quotaExceeded``."""
        return [*super().fault_responses(), ("quota_exceeded", self._quota_error)]

    def _quota_error(self, options: dict[str, Any]) -> Response:
        return google_error(403, _QUOTA_MESSAGE, "quotaExceeded", "youtube.quota")

    def _parts(self, request: Request, allowed: frozenset[str]) -> set[str] | Response:
        parts = request.list_arg("part")
        if not parts:
            return self.bad_request("Required parameter: part", "required")
        unknown = [part for part in parts if part not in allowed]
        if unknown:
            return self.bad_request(f"'{unknown[0]}'", "unknownPart", "youtube.part")
        return set(parts)

    def _max_results(self, request: Request) -> int | Response:
        value = parse_int(request.arg("maxResults"), 5)
        if value is None or not 0 <= value <= 50:
            raw = request.arg("maxResults")
            return self.bad_request(f"Invalid value '{raw}' for maxResults", "invalidValue")
        return value

    # -- resources -------------------------------------------------------------

    def _thumbnails(self, video_id: str) -> dict[str, Any]:
        return {
            name: {"url": f"https://i.ytimg.com/vi/{video_id}/{file}", "width": w, "height": h}
            for name, file, w, h in _THUMBNAILS
        }

    def _video_resource(self, video: _Video, parts: set[str]) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "kind": "youtube#video",
            "etag": short_hash(video.id, video.version),
            "id": video.id,
        }
        if "snippet" in parts:
            resource["snippet"] = {
                "publishedAt": rfc3339(video.published),
                "channelId": self._channel_id,
                "title": video.title,
                "description": video.description,
                "thumbnails": self._thumbnails(video.id),
                "channelTitle": self._channel_title,
                "tags": list(video.tags),
                "categoryId": "22",
                "liveBroadcastContent": "none",
                "localized": {"title": video.title, "description": video.description},
            }
        if "contentDetails" in parts:
            resource["contentDetails"] = {
                "duration": _duration(video.duration),
                "dimension": "2d",
                "definition": "hd",
                "caption": "false",
                "licensedContent": False,
                "contentRating": {},
                "projection": "rectangular",
            }
        if "statistics" in parts:
            resource["statistics"] = {
                "viewCount": str(video.views),
                "likeCount": str(video.likes),
                "favoriteCount": "0",
                "commentCount": str(video.comments),
            }
        if "status" in parts:
            resource["status"] = {"uploadStatus": "processed", "privacyStatus": "public"}
        return resource

    def _playlist_item(self, video: _Video, parts: set[str]) -> dict[str, Any]:
        item_id = encode_token(self.uploads_playlist_id, video.id)
        resource: dict[str, Any] = {
            "kind": "youtube#playlistItem",
            "etag": short_hash("pi", video.id, video.version),
            "id": item_id,
        }
        if "snippet" in parts:
            resource["snippet"] = {
                "publishedAt": rfc3339(video.published),
                "channelId": self._channel_id,
                "title": video.title,
                "description": video.description,
                "thumbnails": self._thumbnails(video.id),
                "channelTitle": self._channel_title,
                "playlistId": self.uploads_playlist_id,
                "position": self._index.rank(video.published),
                "resourceId": {"kind": "youtube#video", "videoId": video.id},
                "videoOwnerChannelTitle": self._channel_title,
                "videoOwnerChannelId": self._channel_id,
            }
        if "contentDetails" in parts:
            resource["contentDetails"] = {
                "videoId": video.id,
                "videoPublishedAt": rfc3339(video.published),
            }
        if "status" in parts:
            resource["status"] = {"privacyStatus": "public"}
        return resource

    def _channel(self, parts: set[str]) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "kind": "youtube#channel",
            "etag": short_hash("channel", len(self._index)),
            "id": self._channel_id,
        }
        if "snippet" in parts:
            resource["snippet"] = {
                "title": self._channel_title,
                "description": "Videos for exercising syncjobs.",
                "customUrl": f"@syncjobstest{self.seed}",
                "publishedAt": rfc3339(self._channel_published),
                "thumbnails": self._thumbnails(self._channel_id),
                "localized": {
                    "title": self._channel_title,
                    "description": "Videos for exercising syncjobs.",
                },
            }
        if "contentDetails" in parts:
            resource["contentDetails"] = {
                "relatedPlaylists": {"likes": "LL", "uploads": self.uploads_playlist_id}
            }
        if "statistics" in parts:
            resource["statistics"] = {
                "viewCount": str(self._total_views),
                "subscriberCount": str(1200 + 7 * self.seed),
                "hiddenSubscriberCount": False,
                "videoCount": str(len(self._index)),
            }
        if "status" in parts:
            resource["status"] = {"privacyStatus": "public", "isLinked": True}
        return resource

    def _envelope(
        self,
        kind: str,
        items: list[dict[str, Any]],
        total: int,
        per_page: int,
        **tokens: str | None,
    ) -> Response:
        body: dict[str, Any] = {"kind": kind, "etag": short_hash(kind, [i["etag"] for i in items])}
        body.update({key: value for key, value in tokens.items() if value})
        body["pageInfo"] = {"totalResults": total, "resultsPerPage": per_page}
        body["items"] = items
        return json_response(200, body)

    # -- handlers --------------------------------------------------------------

    def _channels(self, request: Request, match: re.Match[str]) -> Response:
        parts = self._parts(request, _CHANNEL_PARTS)
        if isinstance(parts, Response):
            return parts
        mine = request.arg("mine") == "true"
        ids = request.list_arg("id")
        if not mine and not ids and not request.arg("forHandle"):
            return self.bad_request(
                "No filter selected. Expected one of: forUsername, managedByMe, mine, id, "
                "forHandle",
                "missingRequiredParameter",
                "youtube.parameter",
            )
        found = (
            mine
            or self._channel_id in ids
            or request.arg("forHandle") == f"@syncjobstest{self.seed}"
        )
        items = [self._channel(parts)] if found else []
        return self._envelope("youtube#channelListResponse", items, len(items), 5)

    def _page_of_videos(
        self, request: Request, limit: int, after: int | None = None, before: int | None = None
    ) -> tuple[list[_Video], str | None, str | None] | Response:
        """Newest-first keyset page: (videos, nextPageToken, prevPageToken)."""
        token = request.arg("pageToken")
        ids: list[str]
        if token:
            parts = decode_token(token, 2)
            if parts is None or parts[0] not in ("n", "p") or not isinstance(parts[1], int):
                return self.bad_request(
                    "The request specifies an invalid page token.",
                    "invalidPageToken",
                    "youtube.parameter",
                )
            if parts[0] == "n":
                bound = parts[1] if before is None else min(parts[1], before)
                ids = self._index.older(bound, limit, after)
            else:
                ids = [
                    i
                    for i in self._index.newer(parts[1], limit)
                    if self._in_range(i, after, before)
                ]
        else:
            ids = self._index.older(before, limit, after)
        videos = [self._videos[video_id] for video_id in ids]
        if not videos:
            return videos, None, None
        oldest, newest = videos[-1].published, videos[0].published
        has_next = self._index.count_between(after, oldest) > 0
        has_prev = self._index.count_between(newest, before) > 0 and bool(token)
        return (
            videos,
            encode_token("n", oldest) if has_next else None,
            encode_token("p", newest) if has_prev else None,
        )

    def _in_range(self, video_id: str, after: int | None, before: int | None) -> bool:
        published = self._videos[video_id].published
        return (after is None or published > after) and (before is None or published < before)

    def _playlist_items(self, request: Request, match: re.Match[str]) -> Response:
        parts = self._parts(request, _PLAYLIST_PARTS)
        if isinstance(parts, Response):
            return parts
        limit = self._max_results(request)
        if isinstance(limit, Response):
            return limit
        playlist = request.arg("playlistId")
        if playlist != self.uploads_playlist_id:
            return google_error(
                404,
                "The playlist identified with the request's <code>playlistId</code> "
                "parameter cannot be found.",
                "playlistNotFound",
                "youtube.playlistItem",
            )
        page = self._page_of_videos(request, limit)
        if isinstance(page, Response):
            return page
        videos, next_token, prev_token = page
        items = [self._playlist_item(video, parts) for video in videos]
        return self._envelope(
            "youtube#playlistItemListResponse",
            items,
            len(self._index),
            limit,
            nextPageToken=next_token,
            prevPageToken=prev_token,
        )

    def _videos_list(self, request: Request, match: re.Match[str]) -> Response:
        parts = self._parts(request, _VIDEO_PARTS)
        if isinstance(parts, Response):
            return parts
        ids = request.list_arg("id")
        if not ids:
            return self.bad_request(
                "No filter selected. Expected one of: myRating, id, chart",
                "missingRequiredParameter",
                "youtube.parameter",
            )
        if len(ids) > 50:
            return self.bad_request(
                f"The request specifies {len(ids)} video ids; at most 50 are allowed.",
                "invalidValue",
                "youtube.parameter",
            )
        items = [self._video_resource(self._videos[i], parts) for i in ids if i in self._videos]
        return self._envelope("youtube#videoListResponse", items, len(items), len(items))

    def _search(self, request: Request, match: re.Match[str]) -> Response:
        parts = self._parts(request, frozenset({"id", "snippet"}))
        if isinstance(parts, Response):
            return parts
        limit = self._max_results(request)
        if isinstance(limit, Response):
            return limit
        if request.arg("forMine") == "true" and request.arg("type") != "video":
            return self.bad_request(
                "Request contains an invalid argument.", "invalidSearchFilter", "youtube.search"
            )
        bounds = self._search_bounds(request)
        if isinstance(bounds, Response):
            return bounds
        page = self._page_of_videos(request, limit, *bounds)
        if isinstance(page, Response):
            return page
        videos, next_token, prev_token = page
        items = [self._search_result(video, parts) for video in videos]
        response = self._envelope(
            "youtube#searchListResponse",
            items,
            self._index.count_between(*bounds),
            limit,
            nextPageToken=next_token,
            prevPageToken=prev_token,
        )
        return json_response(200, {**response.payload, "regionCode": "US"})

    def _search_bounds(self, request: Request) -> tuple[int | None, int | None] | Response:
        """Exclusive (after, before) epoch bounds from inclusive publishedAfter/Before."""
        bounds: list[int | None] = []
        for name, shift in (("publishedAfter", -1), ("publishedBefore", 1)):
            value = request.arg(name)
            parsed = parse_rfc3339(value) if value else None
            if value and parsed is None:
                return self.bad_request(f"Invalid value '{value}' for {name}", "invalidValue")
            bounds.append(int(parsed) + shift if parsed is not None else None)
        return bounds[0], bounds[1]

    def _search_result(self, video: _Video, parts: set[str]) -> dict[str, Any]:
        result: dict[str, Any] = {
            "kind": "youtube#searchResult",
            "etag": short_hash("search", video.id, video.version),
            "id": {"kind": "youtube#video", "videoId": video.id},
        }
        if "snippet" in parts:
            result["snippet"] = {
                "publishedAt": rfc3339(video.published),
                "channelId": self._channel_id,
                "title": video.title,
                "description": video.description[:160],
                "thumbnails": self._thumbnails(video.id),
                "channelTitle": self._channel_title,
                "liveBroadcastContent": "none",
            }
        return result

    # -- dataset & mutations ---------------------------------------------------

    def dataset(self) -> dict[str, dict[str, Any]]:
        """Live videos by id, as ``videos.list?part=snippet,contentDetails,statistics``."""
        parts = {"snippet", "contentDetails", "statistics"}
        with self._lock:
            return {
                vid: self._video_resource(self._videos[vid], parts) for vid in self._index.ids()
            }

    def latest_cursor_value(self) -> str | None:
        """The id of the newest live video (None when there is none)."""
        with self._lock:
            return next(iter(self._index.ids()), None)

    def add_items(self, n: int) -> list[str]:
        """Upload ``n`` new videos (newest first in the uploads playlist)."""
        with self._lock:
            added = []
            for _ in range(n):
                newest = self._index.newest_key() or 0
                added.append(self._add(self._rng, max(int(self.clock()), newest + 1)))
            return added[::-1]

    def change_items(self, ids: list[str] | int) -> list[str]:
        """Grow view/like/comment counts and retitle the videos."""
        with self._lock:
            chosen = pick_ids(self._rng, list(self._index.ids()), ids)
            for video_id in chosen:
                video = self._videos[video_id]
                grown = self._rng.randint(100, 5000)
                video.views += grown
                self._total_views += grown
                video.likes += self._rng.randint(1, 200)
                video.comments += self._rng.randint(1, 20)
                video.version += 1
                video.title = f"{video.title.split(' (v')[0]} (v{video.version + 1})"
            return chosen

    def delete_items(self, ids: list[str] | int) -> list[str]:
        """Delete videos: they vanish from every list."""
        with self._lock:
            chosen = pick_ids(self._rng, list(self._index.ids()), ids)
            for video_id in chosen:
                video = self._videos.pop(video_id)
                self._index.remove(video.published)
                self._total_views -= video.views
            return chosen

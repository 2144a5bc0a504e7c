"""A stateful fake of the YouTube Data API v3 (one channel and its uploads).

Routes (relative to the fake's root): ``GET /youtube/v3/channels``, ``/playlistItems``,
``/videos``, ``/search`` and Google's OAuth routes (``GET /o/oauth2/v2/auth``,
``POST /token``). ``latest_cursor_value()`` is the id of the newest video. Quota: 1 unit
per list call, 100 per ``search.list``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any, ClassVar

from syncjobs.providers.types import ProviderConfig
from syncjobs.testing.fakes.corpus import parse_rfc3339, pick_ids, short_hash, spread_keys
from syncjobs.testing.fakes.google import GoogleFake, google_error
from syncjobs.testing.fakes.messages import Request, Response, json_response, parse_int
from syncjobs.testing.fakes.paging import decode_token, encode_token
from syncjobs.testing.fakes.routing import Route
from syncjobs.testing.fakes.youtube.channel import SPAN, Channel, Video

__all__ = ["FakeYouTube"]

_VIDEO_PARTS = frozenset({"id", "snippet", "contentDetails", "statistics", "status"})
_PLAYLIST_PARTS = frozenset({"id", "snippet", "contentDetails", "status"})
_CHANNEL_PARTS = frozenset({"id", "snippet", "contentDetails", "statistics", "status"})
_QUOTA_MESSAGE = (
    "The request cannot be completed because you have exceeded your "
    '<a href="/youtube/v3/getting-started#quota">quota</a>.'
)
_Page = tuple[list[Video], str | None, str | None]


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
            *self.oauth_routes(),
        ]

    def seed_data(self, items: int, rng: random.Random) -> None:
        """One channel with ``items`` uploads spread over four years."""
        self.channel = Channel(rng, self.seed, int(self.clock()) - SPAN - 86400 * 30)
        self.uploads_playlist_id = self.channel.uploads_playlist_id
        now = int(self.clock())
        for published in spread_keys(rng, items, now - 3600, SPAN):
            self.channel.add(rng, published)

    def config(self, root_url: str) -> ProviderConfig:
        """``base_url = {root}/youtube/v3``, ``token_url = {root}/token``, ``auth_url``."""
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

    def _missing_filter(self, expected: str) -> Response:
        return self.bad_request(
            f"No filter selected. Expected one of: {expected}",
            "missingRequiredParameter",
            "youtube.parameter",
        )

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
            return self._missing_filter("forUsername, managedByMe, mine, id, forHandle")
        found = mine or self.channel.id in ids or request.arg("forHandle") == self.channel.handle
        items = [self.channel.resource(parts)] if found else []
        return self._envelope("youtube#channelListResponse", items, len(items), 5)

    def _page_of_videos(
        self, request: Request, limit: int, after: int | None = None, before: int | None = None
    ) -> _Page | Response:
        """Newest-first keyset page: (videos, nextPageToken, prevPageToken)."""
        index = self.channel.index
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
                ids = index.older(bound, limit, after)
            else:
                ids = [i for i in index.newer(parts[1], limit) if self._in_range(i, after, before)]
        else:
            ids = index.older(before, limit, after)
        videos = [self.channel.videos[video_id] for video_id in ids]
        if not videos:
            return videos, None, None
        oldest, newest = videos[-1].published, videos[0].published
        has_next = index.count_between(after, oldest) > 0
        has_prev = index.count_between(newest, before) > 0 and bool(token)
        return (
            videos,
            encode_token("n", oldest) if has_next else None,
            encode_token("p", newest) if has_prev else None,
        )

    def _in_range(self, video_id: str, after: int | None, before: int | None) -> bool:
        published = self.channel.videos[video_id].published
        return (after is None or published > after) and (before is None or published < before)

    def _playlist_items(self, request: Request, match: re.Match[str]) -> Response:
        parts = self._parts(request, _PLAYLIST_PARTS)
        if isinstance(parts, Response):
            return parts
        limit = self._max_results(request)
        if isinstance(limit, Response):
            return limit
        playlist = request.arg("playlistId")
        if playlist != self.channel.uploads_playlist_id:
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
        items = [self.channel.playlist_item(video, parts) for video in videos]
        return self._envelope(
            "youtube#playlistItemListResponse",
            items,
            len(self.channel.index),
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
            return self._missing_filter("myRating, id, chart")
        if len(ids) > 50:
            return self.bad_request(
                f"The request specifies {len(ids)} video ids; at most 50 are allowed.",
                "invalidValue",
                "youtube.parameter",
            )
        videos = self.channel.videos
        items = [self.channel.video_resource(videos[i], parts) for i in ids if i in videos]
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
        items = [self.channel.search_result(video, parts) for video in videos]
        response = self._envelope(
            "youtube#searchListResponse",
            items,
            self.channel.index.count_between(*bounds),
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

    # -- dataset & mutations ---------------------------------------------------

    def dataset(self) -> dict[str, dict[str, Any]]:
        """Live videos by id, as ``videos.list?part=snippet,contentDetails,statistics``."""
        parts = {"snippet", "contentDetails", "statistics"}
        with self._lock:
            videos = self.channel.videos
            return {
                i: self.channel.video_resource(videos[i], parts) for i in self.channel.index.ids()
            }

    def latest_cursor_value(self) -> str | None:
        """The id of the newest live video (None when there is none)."""
        with self._lock:
            return next(iter(self.channel.index.ids()), None)

    def add_items(self, n: int) -> list[str]:
        """Upload ``n`` new videos (newest first in the uploads playlist)."""
        with self._lock:
            added = []
            for _ in range(n):
                key = self.channel.index.next_key(int(self.clock()))
                added.append(self.channel.add(self._rng, key))
            return added[::-1]

    def change_items(self, ids: list[str] | int, *, counts_only: bool = False) -> list[str]:
        """Grow view/like/comment counts and retitle the videos (``counts_only``: no retitle,
        so the uploads playlist shows no change)."""
        with self._lock:
            chosen = pick_ids(self._rng, list(self.channel.index.ids()), ids)
            self.channel.change(self._rng, chosen, counts_only=counts_only)
            return chosen

    def delete_items(self, ids: list[str] | int) -> list[str]:
        """Delete videos: they vanish from every list."""
        with self._lock:
            chosen = pick_ids(self._rng, list(self.channel.index.ids()), ids)
            self.channel.delete(chosen)
            return chosen

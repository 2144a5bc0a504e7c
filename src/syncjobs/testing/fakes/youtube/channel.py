"""The YouTube fake's channel: its uploads, and each resource as the Data API v3 renders it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from syncjobs.testing.fakes.corpus import make_sentence, make_title, random_id, rfc3339, short_hash
from syncjobs.testing.fakes.paging import SortedIndex, encode_token

__all__ = ["ID_CHARS", "SPAN", "Channel", "Video"]

#: Characters of YouTube ids.
ID_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
#: Seconds over which the seeded uploads are spread (four years).
SPAN = 4 * 365 * 86400
_THUMBNAILS = (
    ("default", "default.jpg", 120, 90),
    ("medium", "mqdefault.jpg", 320, 180),
    ("high", "hqdefault.jpg", 480, 360),
)
_DESCRIPTION = "Videos for exercising syncjobs."


@dataclass(slots=True)
class Video:
    """One upload."""

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


def iso_duration(seconds: int) -> str:
    """An ISO 8601 duration as YouTube writes it (``PT1H2M3S``, ``PT0S``)."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    return text + (f"{secs}S" if secs or text == "PT" else "")


class Channel:
    """One channel and its uploads, newest first in ``index`` (keyed by publish time)."""

    def __init__(self, rng: random.Random, seed: int, published: int) -> None:
        self.id = "UC" + random_id(rng, 22, ID_CHARS[:-2])
        self.uploads_playlist_id = "UU" + self.id[2:]
        self.title = f"Syncjobs Test Channel {seed}"
        self.handle = f"@syncjobstest{seed}"
        self.published = published
        self.seed = seed
        self.videos: dict[str, Video] = {}
        self.index = SortedIndex()
        self.total_views = 0

    # -- changes ---------------------------------------------------------------

    def add(self, rng: random.Random, published: int) -> str:
        """Upload a new video published at ``published``; its id."""
        video_id = random_id(rng, 11, ID_CHARS)
        while video_id in self.videos:
            video_id = random_id(rng, 11, ID_CHARS)
        views = rng.randint(20, 2_000_000)
        video = Video(
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
        self.videos[video_id] = video
        self.index.add(published, video_id)
        self.total_views += video.views
        return video_id

    def change(self, rng: random.Random, ids: list[str], *, counts_only: bool = False) -> None:
        """Grow view/like/comment counts and retitle the videos (``counts_only``: no retitle,
        the playlist item stays the same, as when people watch)."""
        for video_id in ids:
            video = self.videos[video_id]
            grown = rng.randint(100, 5000)
            video.views += grown
            self.total_views += grown
            video.likes += rng.randint(1, 200)
            video.comments += rng.randint(1, 20)
            if counts_only:
                continue
            video.version += 1
            video.title = f"{video.title.split(' (v')[0]} (v{video.version + 1})"

    def delete(self, ids: list[str]) -> None:
        """Delete videos: they vanish from every list."""
        for video_id in ids:
            video = self.videos.pop(video_id)
            self.index.remove(video.published)
            self.total_views -= video.views

    # -- resources -------------------------------------------------------------

    def thumbnails(self, video_id: str) -> dict[str, Any]:
        """The ``thumbnails`` object of a video (or of the channel)."""
        return {
            name: {"url": f"https://i.ytimg.com/vi/{video_id}/{file}", "width": w, "height": h}
            for name, file, w, h in _THUMBNAILS
        }

    def video_resource(self, video: Video, parts: set[str]) -> dict[str, Any]:
        """A ``youtube#video`` with the requested ``parts``."""
        resource: dict[str, Any] = {
            "kind": "youtube#video",
            "etag": short_hash(video.id, video.version),
            "id": video.id,
        }
        if "snippet" in parts:
            resource["snippet"] = {
                **self._snippet(video),
                "tags": list(video.tags),
                "categoryId": "22",
                "liveBroadcastContent": "none",
                "localized": {"title": video.title, "description": video.description},
            }
        if "contentDetails" in parts:
            resource["contentDetails"] = {
                "duration": iso_duration(video.duration),
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

    def playlist_item(self, video: Video, parts: set[str]) -> dict[str, Any]:
        """A ``youtube#playlistItem`` of the uploads playlist with the requested ``parts``."""
        resource: dict[str, Any] = {
            "kind": "youtube#playlistItem",
            "etag": short_hash("pi", video.id, video.version),
            "id": encode_token(self.uploads_playlist_id, video.id),
        }
        if "snippet" in parts:
            resource["snippet"] = {
                **self._snippet(video),
                "playlistId": self.uploads_playlist_id,
                "position": self.index.rank(video.published),
                "resourceId": {"kind": "youtube#video", "videoId": video.id},
                "videoOwnerChannelTitle": self.title,
                "videoOwnerChannelId": self.id,
            }
        if "contentDetails" in parts:
            resource["contentDetails"] = {
                "videoId": video.id,
                "videoPublishedAt": rfc3339(video.published),
            }
        if "status" in parts:
            resource["status"] = {"privacyStatus": "public"}
        return resource

    def search_result(self, video: Video, parts: set[str]) -> dict[str, Any]:
        """A ``youtube#searchResult`` for a video."""
        result: dict[str, Any] = {
            "kind": "youtube#searchResult",
            "etag": short_hash("search", video.id, video.version),
            "id": {"kind": "youtube#video", "videoId": video.id},
        }
        if "snippet" in parts:
            result["snippet"] = {
                **self._snippet(video),
                "description": video.description[:160],
                "liveBroadcastContent": "none",
            }
        return result

    def _snippet(self, video: Video) -> dict[str, Any]:
        """The snippet fields every video resource shares, in the API's order."""
        return {
            "publishedAt": rfc3339(video.published),
            "channelId": self.id,
            "title": video.title,
            "description": video.description,
            "thumbnails": self.thumbnails(video.id),
            "channelTitle": self.title,
        }

    def resource(self, parts: set[str]) -> dict[str, Any]:
        """The ``youtube#channel`` with the requested ``parts``."""
        resource: dict[str, Any] = {
            "kind": "youtube#channel",
            "etag": short_hash("channel", len(self.index)),
            "id": self.id,
        }
        if "snippet" in parts:
            resource["snippet"] = {
                "title": self.title,
                "description": _DESCRIPTION,
                "customUrl": self.handle,
                "publishedAt": rfc3339(self.published),
                "thumbnails": self.thumbnails(self.id),
                "localized": {"title": self.title, "description": _DESCRIPTION},
            }
        if "contentDetails" in parts:
            resource["contentDetails"] = {
                "relatedPlaylists": {"likes": "LL", "uploads": self.uploads_playlist_id}
            }
        if "statistics" in parts:
            resource["statistics"] = {
                "viewCount": str(self.total_views),
                "subscriberCount": str(1200 + 7 * self.seed),
                "hiddenSubscriberCount": False,
                "videoCount": str(len(self.index)),
            }
        if "status" in parts:
            resource["status"] = {"privacyStatus": "public", "isLinked": True}
        return resource

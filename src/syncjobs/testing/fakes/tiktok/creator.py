"""The TikTok fake's creator: their videos, and each object as the Display API v2 renders it."""

from __future__ import annotations

import random
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from syncjobs.testing.fakes.corpus import make_sentence, make_title, short_hash
from syncjobs.testing.fakes.paging import SortedIndex

__all__ = ["SPAN", "USER_FIELDS", "VIDEO_FIELDS", "Creator", "Video"]

#: Seconds over which the seeded videos are spread (two years).
SPAN = 2 * 365 * 86400
#: Fields of a video object.
VIDEO_FIELDS = frozenset(
    {
        "id",
        "create_time",
        "cover_image_url",
        "share_url",
        "video_description",
        "duration",
        "height",
        "width",
        "title",
        "embed_html",
        "embed_link",
        "like_count",
        "comment_count",
        "share_count",
        "view_count",
    }
)
#: Fields of the user object.
USER_FIELDS = frozenset(
    {
        "open_id",
        "union_id",
        "avatar_url",
        "avatar_url_100",
        "avatar_large_url",
        "display_name",
        "bio_description",
        "profile_deep_link",
        "is_verified",
        "username",
        "follower_count",
        "following_count",
        "likes_count",
        "video_count",
    }
)


@dataclass(slots=True)
class Video:
    """One video."""

    id: str
    key: int  # create_time, epoch seconds
    title: str
    description: str
    duration: int
    views: int
    likes: int
    comments: int
    shares: int


class Creator:
    """One creator and their videos, newest first in ``index`` (keyed by create_time)."""

    def __init__(self, seed: int) -> None:
        self.open_id = "-000" + short_hash("open", seed)[:28]
        self.username = f"syncjobs.tester{seed}"
        self.seed = seed
        self.videos: dict[str, Video] = {}
        self.index = SortedIndex()
        self.total_likes = 0

    # -- changes ---------------------------------------------------------------

    def add(self, rng: random.Random, key: int) -> str:
        """Post a video created at ``key`` (epoch seconds); its id."""
        video_id = "7" + str(rng.randrange(10**17, 10**18))
        while video_id in self.videos:
            video_id = "7" + str(rng.randrange(10**17, 10**18))
        views = rng.randint(100, 5_000_000)
        self.videos[video_id] = Video(
            id=video_id,
            key=key,
            title=make_title(rng),
            description=make_sentence(rng, rng.randint(4, 16)) + " #fyp",
            duration=rng.randint(5, 180),
            views=views,
            likes=views // rng.randint(8, 40),
            comments=views // rng.randint(100, 900),
            shares=views // rng.randint(200, 2000),
        )
        self.index.add(key, video_id)
        self.total_likes += self.videos[video_id].likes
        return video_id

    def change(self, rng: random.Random, ids: list[str], *, counts_only: bool = False) -> None:
        """Grow the counts and retitle the videos (``counts_only``: counts only)."""
        for video_id in ids:
            video = self.videos[video_id]
            video.views += rng.randint(1000, 50_000)
            liked = rng.randint(10, 900)
            video.likes += liked
            self.total_likes += liked
            video.comments += rng.randint(1, 50)
            video.shares += rng.randint(1, 30)
            if counts_only:
                continue
            video.title = video.title.split(" (edited")[0] + f" (edited {video.views})"

    def delete(self, ids: list[str]) -> None:
        """Delete videos: they vanish from lists and queries."""
        for video_id in ids:
            video = self.videos.pop(video_id)
            self.index.remove(video.key)
            self.total_likes -= video.likes

    # -- objects ---------------------------------------------------------------

    def video_json(
        self, video: Video, fields: Collection[str], clock: Callable[[], float]
    ) -> dict[str, Any]:
        """The video object with ``fields``; the cover URL's signature expires in 6 h."""
        expires = int(clock()) + 6 * 3600
        link = f"https://www.tiktok.com/@{self.username}/video/{video.id}"
        values: dict[str, Any] = {
            "id": video.id,
            "create_time": video.key,
            "cover_image_url": (
                f"https://p16-sign-va.tiktokcdn.com/obj/tos-maliva-p-0068/{video.id}"
                f"~tplv-noop.image?x-expires={expires}&x-signature={short_hash(video.id, expires)}"
            ),
            "share_url": link,
            "video_description": video.description,
            "duration": video.duration,
            "height": 1024,
            "width": 576,
            "title": video.title,
            "embed_html": f'<blockquote class="tiktok-embed" cite="{link}"></blockquote>',
            "embed_link": f"https://www.tiktok.com/player/v1/{video.id}",
            "like_count": video.likes,
            "comment_count": video.comments,
            "share_count": video.shares,
            "view_count": video.views,
        }
        return {field: values[field] for field in fields}

    def user_json(self, fields: list[str]) -> dict[str, Any]:
        """The user object with ``fields``."""
        avatar = f"https://p16-sign-va.tiktokcdn.com/tos-maliva-avt-0068/{self.open_id}.jpeg"
        values: dict[str, Any] = {
            "open_id": self.open_id,
            "union_id": "c9c60f44-" + short_hash("union", self.seed)[:12],
            "avatar_url": avatar,
            "avatar_url_100": avatar + "?s=100",
            "avatar_large_url": avatar + "?s=720",
            "display_name": "Syncjobs Tester",
            "bio_description": "Testing sync jobs.",
            "profile_deep_link": f"https://vm.tiktok.com/{self.username}",
            "is_verified": False,
            "username": self.username,
            "follower_count": 1000 + self.seed,
            "following_count": 42,
            "likes_count": self.total_likes,
            "video_count": len(self.index),
        }
        return {field: values[field] for field in fields}

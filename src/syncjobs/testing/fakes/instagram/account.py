"""The Instagram fake's business account: its media, and each node as the Graph API renders it."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from syncjobs.testing.fakes.corpus import make_sentence, make_title, random_id
from syncjobs.testing.fakes.paging import SortedIndex

__all__ = ["MEDIA_FIELDS", "METRICS", "SPAN", "USER_FIELDS", "Account", "Media", "graph_time"]

#: Seconds over which the seeded media are spread (three years).
SPAN = 3 * 365 * 86400
#: Fields of an ``IGUser`` node.
USER_FIELDS = frozenset(
    {
        "id",
        "user_id",
        "username",
        "name",
        "account_type",
        "profile_picture_url",
        "followers_count",
        "follows_count",
        "media_count",
        "biography",
        "website",
    }
)
#: Fields of an ``IGMedia`` node.
MEDIA_FIELDS = frozenset(
    {
        "id",
        "caption",
        "media_type",
        "media_product_type",
        "media_url",
        "thumbnail_url",
        "permalink",
        "shortcode",
        "timestamp",
        "like_count",
        "comments_count",
        "username",
        "is_comment_enabled",
        "owner",
    }
)
#: Lifetime metrics of ``/{media-id}/insights``, in the order the API lists them.
METRICS = ("views", "reach", "likes", "comments", "shares", "saved", "total_interactions")
_SHORTCODE_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


@dataclass(slots=True)
class Media:
    """One post or reel."""

    id: str
    key: int  # epoch seconds
    caption: str
    media_type: str
    product_type: str
    shortcode: str
    likes: int
    comments: int


def graph_time(epoch: int) -> str:
    """``2019-04-05T07:56:32+0000``, the Graph timestamp format."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


class Account:
    """A business account and its media, newest first in ``index`` (keyed by timestamp)."""

    def __init__(self, rng: random.Random, seed: int) -> None:
        #: The Instagram user id (``user_id``; media ``owner``).
        self.user_id = "17841" + str(rng.randrange(10**11, 10**12))
        #: The app-scoped id (``id`` of ``/me``).
        self.app_user_id = "2" + str(rng.randrange(10**15, 10**16))
        self.username = f"syncjobs.tester{seed}"
        self.seed = seed
        self.media: dict[str, Media] = {}
        self.index = SortedIndex()

    # -- changes ---------------------------------------------------------------

    def add(self, rng: random.Random, key: int) -> str:
        """Publish a post or reel at ``key`` (epoch seconds); its id."""
        media_id = "179" + str(rng.randrange(10**13, 10**14))
        while media_id in self.media or media_id == self.user_id:
            media_id = "179" + str(rng.randrange(10**13, 10**14))
        kind = rng.choice(["IMAGE", "IMAGE", "VIDEO", "CAROUSEL_ALBUM"])
        self.media[media_id] = Media(
            id=media_id,
            key=key,
            caption=f"{make_title(rng)} {make_sentence(rng, rng.randint(3, 14))} #syncjobs",
            media_type=kind,
            product_type="REELS" if kind == "VIDEO" else "FEED",
            shortcode=random_id(rng, 11, _SHORTCODE_CHARS),
            likes=rng.randint(0, 25_000),
            comments=rng.randint(0, 800),
        )
        self.index.add(key, media_id)
        return media_id

    def change(self, rng: random.Random, ids: list[str], *, counts_only: bool = False) -> None:
        """Grow like/comment counts and edit the captions (``counts_only``: counts only)."""
        for media_id in ids:
            media = self.media[media_id]
            media.likes += rng.randint(1, 500)
            media.comments += rng.randint(1, 40)
            if counts_only:
                continue
            media.caption = media.caption.split(" [edited")[0] + f" [edited {media.likes}]"

    def delete(self, ids: list[str]) -> None:
        """Delete media: they vanish from ``/me/media``."""
        for media_id in ids:
            self.index.remove(self.media.pop(media_id).key)

    # -- nodes -----------------------------------------------------------------

    def user_json(self, fields: list[str]) -> dict[str, Any]:
        """The ``IGUser`` node with ``fields``."""
        values: dict[str, Any] = {
            "id": self.app_user_id,
            "user_id": self.user_id,
            "username": self.username,
            "name": "Syncjobs Tester",
            "account_type": "BUSINESS",
            "profile_picture_url": f"https://scontent.cdninstagram.com/v/{self.user_id}_a.jpg",
            "followers_count": 4200 + self.seed,
            "follows_count": 321,
            "media_count": len(self.index),
            "biography": "Testing sync jobs.",
            "website": "https://example.com",
        }
        return {field: values[field] for field in fields}

    def media_json(self, media: Media, fields: list[str]) -> dict[str, Any]:
        """The ``IGMedia`` node with ``fields`` (``thumbnail_url`` only for videos)."""
        cdn = f"https://scontent.cdninstagram.com/v/t51.29350-15/{media.id}_n"
        video = media.media_type == "VIDEO"
        path = "reel" if media.product_type == "REELS" else "p"
        values: dict[str, Any] = {
            "id": media.id,
            "caption": media.caption,
            "media_type": media.media_type,
            "media_product_type": media.product_type,
            "media_url": cdn + (".mp4" if video else ".jpg"),
            "permalink": f"https://www.instagram.com/{path}/{media.shortcode}/",
            "shortcode": media.shortcode,
            "timestamp": graph_time(media.key),
            "like_count": media.likes,
            "comments_count": media.comments,
            "username": self.username,
            "is_comment_enabled": True,
            "owner": {"id": self.user_id},
        }
        if video:
            values["thumbnail_url"] = cdn + "_thumb.jpg"
        return {field: values[field] for field in fields if field in values}

    @staticmethod
    def insights(media: Media, metrics: list[str]) -> list[dict[str, Any]]:
        """The ``data`` of ``/{media-id}/insights`` for ``metrics`` (each one of METRICS)."""
        views = media.likes * 9 + media.comments * 31 + 17
        values = {
            "views": views,
            "reach": views * 7 // 10,
            "likes": media.likes,
            "comments": media.comments,
            "shares": media.likes // 40,
            "saved": media.likes // 25,
        }
        values["total_interactions"] = sum(
            values[m] for m in ("likes", "comments", "shares", "saved")
        )
        return [
            {
                "name": metric,
                "period": "lifetime",
                "values": [{"value": values[metric]}],
                "title": metric.replace("_", " ").capitalize(),
                "description": f"The number of {metric.replace('_', ' ')} on this media.",
                "id": f"{media.id}/insights/{metric}/lifetime",
            }
            for metric in metrics
        ]

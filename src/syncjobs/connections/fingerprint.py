"""Items' content fingerprints: what the stores compare to tell a changed item from the same."""

from __future__ import annotations

import hashlib
import json

from ..providers.types import Item

__all__ = ["content_hash"]


def content_hash(item: Item) -> str:
    """A stable fingerprint of an item's content: equal hashes mean nothing changed."""
    payload = json.dumps(
        [
            item.kind,
            item.title,
            item.text,
            item.author,
            item.published_at.isoformat() if item.published_at else None,
            dict(item.metrics),
            dict(item.raw),
        ],
        sort_keys=True,
        default=str,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:32]

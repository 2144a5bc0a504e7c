"""Items' content fingerprints: what the stores compare to tell a changed item from the same."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInputError
from ..providers.types import Item

__all__ = ["EncodedItem", "content_hash", "encode_item"]


@dataclass(frozen=True, slots=True)
class EncodedItem:
    """An item's fingerprint and its metrics and raw JSON, serialised once for both."""

    content_hash: str
    metrics_json: str
    raw_json: str


#: The head fields (strings, None): ``default=str`` as the fingerprint always had.
_HEAD = json.JSONEncoder(sort_keys=True, default=str, ensure_ascii=False)
#: Metrics and raw: strict JSON (what a JSON column can store).
_STRICT = json.JSONEncoder(sort_keys=True, ensure_ascii=False, allow_nan=False)


def _json_object(item: Item, field: str, value: Any) -> str:
    """``value`` as a JSON object (keys sorted); a clear error when it is not JSON."""
    try:
        return _STRICT.encode(dict(value))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(
            f"item {item.external_id!r}: {field} must be a JSON object ({exc})"
        ) from None


def encode_item(item: Item) -> EncodedItem:
    """Fingerprint ``item`` and serialise its metrics and raw JSON in the same pass.

    The fingerprint is the SHA-256 of ``[kind, title, text, author, published_at, metrics,
    raw]`` as JSON (keys sorted), so the metrics and raw texts it hashes are the ones stored.
    """
    metrics = _json_object(item, "metrics", item.metrics)
    raw = _json_object(item, "raw", item.raw)
    head = _HEAD.encode(
        [
            item.kind,
            item.title,
            item.text,
            item.author,
            item.published_at.isoformat() if item.published_at else None,
        ]
    )
    # Byte for byte what json.dumps of the whole 7-element list writes (", " between them).
    payload = f"{head[:-1]}, {metrics}, {raw}]"
    digest = hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return EncodedItem(digest, metrics, raw)


def content_hash(item: Item) -> str:
    """A stable fingerprint of an item's content: equal hashes mean nothing changed."""
    return encode_item(item).content_hash

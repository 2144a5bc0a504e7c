"""The Gmail fake's mailbox: its messages, their history records, and how the API renders them."""

from __future__ import annotations

import base64
import random
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import format_datetime
from typing import Any

from syncjobs.testing.fakes.corpus import make_sentence, make_title, to_datetime
from syncjobs.testing.fakes.paging import SortedIndex

__all__ = [
    "BODIES",
    "CONTACTS",
    "EMAIL",
    "HISTORY_TYPES",
    "SPAN_MS",
    "Mailbox",
    "Message",
    "Record",
    "record_json",
]

#: The mailbox owner's address.
EMAIL = "syncjobs.tester@gmail.com"
#: (name, address) of the people who write to the mailbox.
CONTACTS = [
    ("Ada Lovelace", "ada@example.com"),
    ("Grace Hopper", "grace@navy.example.mil"),
    ("Alan Turing", "alan@bletchley.example.org"),
    ("Margaret Hamilton", "margaret@apollo.example.com"),
    ("Linus Torvalds", "linus@kernel.example.org"),
    ("GitHub", "noreply@github.com"),
    ("Newsletter", "news@weekly.example.com"),
    ("Bank Alerts", "alerts@bank.example.com"),
]
#: Message bodies, picked by index.
BODIES = [make_sentence(random.Random(i), 12 + i % 20) for i in range(256)]
#: Milliseconds over which the seeded messages are spread (three years).
SPAN_MS = 3 * 365 * 86400 * 1000
#: History record kind -> the key ``history.list`` files it under.
HISTORY_TYPES = {
    "messageAdded": "messagesAdded",
    "messageDeleted": "messagesDeleted",
    "labelAdded": "labelsAdded",
    "labelRemoved": "labelsRemoved",
}
_CHANGE_LABELS = ("STARRED", "IMPORTANT", "Label_7")


@dataclass(slots=True)
class Message:
    """One message; ``sender`` and ``body`` index ``CONTACTS`` and ``BODIES``."""

    id: str
    thread_id: str
    key: int  # internalDate, epoch ms
    history_id: int
    labels: list[str]
    subject: str
    sender: int
    body: int
    size: int


@dataclass(slots=True, frozen=True)
class Record:
    """One history record: a message added or deleted, or labels added or removed."""

    id: int
    kind: str
    message_id: str
    thread_id: str
    labels: tuple[str, ...]
    changed: tuple[str, ...] = ()


class Mailbox:
    """Messages newest first in ``index`` (keyed by internalDate) and the history log."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.messages: dict[str, Message] = {}
        self.index = SortedIndex()
        self.threads: Counter[str] = Counter()
        self.history: list[Record] = []
        self.history_ids: list[int] = []
        self.history_id = 1_000_000 + 1000 * seed
        #: History ids below this one are gone (``history.list`` answers 404).
        self.history_floor = self.history_id
        self._serial = 0

    # -- changes ---------------------------------------------------------------

    def add(self, rng: random.Random, key: int, labels: list[str] | None = None) -> Message:
        """Deliver a message dated ``key`` (epoch ms), often a reply in a recent thread."""
        self._serial += 1
        message_id = f"{0x18A0000000000000 + self._serial * 0x10000 + rng.randrange(0x10000):016x}"
        recent = self.index.older(None, 20)
        reply = recent and rng.random() < 0.25
        if labels is None:
            labels = _seed_labels(rng)
        message = Message(
            id=message_id,
            thread_id=self.messages[rng.choice(recent)].thread_id if reply else message_id,
            key=key,
            history_id=0,
            labels=labels,
            subject=make_title(rng),
            sender=rng.randrange(len(CONTACTS)),
            body=rng.randrange(len(BODIES)),
            size=rng.randint(2_000, 90_000),
        )
        self.messages[message_id] = message
        self.index.add(key, message_id)
        self.threads[message.thread_id] += 1
        self.record(rng, "messageAdded", message)
        return message

    def relabel(self, rng: random.Random, ids: list[str]) -> None:
        """Add a label (``labelAdded``), or remove STARRED when all are there (``labelRemoved``)."""
        for message_id in ids:
            message = self.messages[message_id]
            missing = [label for label in _CHANGE_LABELS if label not in message.labels]
            if missing:
                message.labels.append(missing[0])
                self.record(rng, "labelAdded", message, (missing[0],))
            else:
                message.labels.remove("STARRED")
                self.record(rng, "labelRemoved", message, ("STARRED",))

    def delete(self, rng: random.Random, ids: list[str]) -> None:
        """Delete messages permanently (``messageDeleted``)."""
        for message_id in ids:
            message = self.messages.pop(message_id)
            self.index.remove(message.key)
            self.threads[message.thread_id] -= 1
            if self.threads[message.thread_id] <= 0:
                del self.threads[message.thread_id]
            self.record(rng, "messageDeleted", message)

    def record(
        self, rng: random.Random, kind: str, message: Message, changed: tuple[str, ...] = ()
    ) -> None:
        """Append a history record for ``message`` under a new, larger history id."""
        self.history_id += rng.randint(1, 9)
        message.history_id = self.history_id
        record = Record(
            self.history_id, kind, message.id, message.thread_id, tuple(message.labels), changed
        )
        self.history.append(record)
        self.history_ids.append(record.id)

    def trim(self, retention: int | None) -> None:
        """Keep only the newest ``retention`` history records (None: all)."""
        excess = len(self.history) - retention if retention is not None else 0
        if excess > 0:
            self.history_floor = self.history_ids[excess - 1]
            del self.history[:excess]
            del self.history_ids[:excess]

    # -- queries ---------------------------------------------------------------

    def scan(
        self, before: int | None, limit: int, predicate: Callable[[Message], bool] | None
    ) -> tuple[list[str], int | None, int]:
        """Newest-first matching ids older than ``before``: (ids, last key scanned, scanned)."""
        if predicate is None:
            ids = self.index.older(before, limit)
            last = self.messages[ids[-1]].key if ids else None
            return ids, last, len(ids)
        found: list[str] = []
        scanned = 0
        while len(found) < limit:
            chunk = self.index.older(before, 500)
            if not chunk:
                return found, None, scanned
            for message_id in chunk:
                scanned += 1
                message = self.messages[message_id]
                before = message.key
                if predicate(message):
                    found.append(message_id)
                    if len(found) == limit:
                        break
        return found, before, scanned

    def history_page(
        self, after: int, limit: int, types: set[str], label: str | None
    ) -> tuple[list[Record], bool]:
        """Up to ``limit`` records with id > ``after`` matching the filters; more after?"""
        page: list[Record] = []
        at = bisect_right(self.history_ids, after)
        while at < len(self.history) and len(page) < limit:
            record = self.history[at]
            at += 1
            if (not types or record.kind in types) and (label is None or label in record.labels):
                page.append(record)
        return page, at < len(self.history)

    # -- rendering -------------------------------------------------------------

    def headers(self, message: Message) -> list[dict[str, str]]:
        """The message's headers as ``[{"name", "value"}]``."""
        name, address = CONTACTS[message.sender]
        sent = "SENT" in message.labels
        sender = f"Syncjobs Tester <{EMAIL}>" if sent else f"{name} <{address}>"
        date = to_datetime(message.key / 1000)
        assert date is not None
        headers = [
            ("Delivered-To", address if sent else EMAIL),
            ("From", sender),
            ("To", f"{name} <{address}>" if sent else f"Syncjobs Tester <{EMAIL}>"),
            ("Subject", message.subject),
            ("Date", format_datetime(date)),
            ("Message-ID", f"<{message.id}.{self.seed}@mail.gmail.com>"),
        ]
        return [{"name": key, "value": value} for key, value in headers]

    def render(self, message: Message, fmt: str, wanted: list[str]) -> dict[str, Any]:
        """The message as ``messages.get?format=fmt`` returns it (``wanted``: metadataHeaders)."""
        text = BODIES[message.body]
        body: dict[str, Any] = {
            "id": message.id,
            "threadId": message.thread_id,
            "labelIds": list(message.labels),
            "snippet": text[:120],
            "sizeEstimate": message.size,
            "historyId": str(message.history_id),
            "internalDate": str(message.key),
        }
        headers = self.headers(message)
        if fmt == "metadata":
            lowered = {name.lower() for name in wanted}
            if lowered:
                headers = [h for h in headers if h["name"].lower() in lowered]
            body["payload"] = {"mimeType": "text/plain", "headers": headers}
        elif fmt == "full":
            data = base64.urlsafe_b64encode(text.encode()).decode()
            body["payload"] = {
                "partId": "",
                "mimeType": "text/plain",
                "filename": "",
                "headers": headers,
                "body": {"size": len(text), "data": data},
            }
        elif fmt == "raw":
            lines = [f"{h['name']}: {h['value']}" for h in headers]
            raw = "\r\n".join([*lines, "Content-Type: text/plain; charset=UTF-8", "", text])
            body["raw"] = base64.urlsafe_b64encode(raw.encode()).decode()
        return body


def record_json(record: Record) -> dict[str, Any]:
    """A history record as ``history.list`` returns it."""
    ref = {"id": record.message_id, "threadId": record.thread_id}
    message = {**ref, "labelIds": list(record.labels)}
    entry: dict[str, Any]
    if record.kind == "messageDeleted":
        entry = {"message": ref}
    elif record.kind == "messageAdded":
        entry = {"message": message}
    else:
        entry = {"message": message, "labelIds": list(record.changed)}
    return {"id": str(record.id), "messages": [ref], HISTORY_TYPES[record.kind]: [entry]}


def _seed_labels(rng: random.Random) -> list[str]:
    if rng.random() < 0.2:
        return ["SENT"]
    labels = ["INBOX", "CATEGORY_PERSONAL" if rng.random() < 0.6 else "CATEGORY_UPDATES"]
    if rng.random() < 0.3:
        labels.append("UNREAD")
    if rng.random() < 0.15:
        labels.append("IMPORTANT")
    return labels

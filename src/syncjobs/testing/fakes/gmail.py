"""A stateful fake of the Gmail API v1 for one mailbox, history and batch included.

Routes (relative to the fake's root): ``GET /gmail/v1/users/me/profile``, ``/messages``,
``/messages/{id}``, ``/history``; ``POST /batch/gmail/v1`` (also ``/batch``) and
``POST /token``. ``latest_cursor_value()`` is the mailbox's current ``historyId`` (a string).
Units: profile 1, messages.list 5, messages.get 5 (each batch part too), history.list 2.
"""

from __future__ import annotations

import base64
import random
import re
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from syncjobs.providers.types import ProviderConfig
from syncjobs.testing.fakes._base import (
    GoogleFake,
    Request,
    Response,
    Route,
    SortedIndex,
    google_error,
    json_response,
    make_sentence,
    make_title,
    parse_int,
    pick_ids,
    route,
    short_hash,
    spread_keys,
    to_datetime,
)

__all__ = ["FakeGmail"]

_EMAIL = "syncjobs.tester@gmail.com"
_CONTACTS = [
    ("Ada Lovelace", "ada@example.com"),
    ("Grace Hopper", "grace@navy.example.mil"),
    ("Alan Turing", "alan@bletchley.example.org"),
    ("Margaret Hamilton", "margaret@apollo.example.com"),
    ("Linus Torvalds", "linus@kernel.example.org"),
    ("GitHub", "noreply@github.com"),
    ("Newsletter", "news@weekly.example.com"),
    ("Bank Alerts", "alerts@bank.example.com"),
]
_BODIES = [make_sentence(random.Random(i), 12 + i % 20) for i in range(256)]
_SPAN_MS = 3 * 365 * 86400 * 1000
_FORMATS = ("minimal", "full", "raw", "metadata")
_HISTORY_TYPES = {
    "messageAdded": "messagesAdded",
    "messageDeleted": "messagesDeleted",
    "labelAdded": "labelsAdded",
    "labelRemoved": "labelsRemoved",
}
_LABEL_ALIASES = {
    "inbox": "INBOX",
    "sent": "SENT",
    "starred": "STARRED",
    "important": "IMPORTANT",
    "unread": "UNREAD",
    "trash": "TRASH",
    "spam": "SPAM",
}
_CHANGE_LABELS = ("STARRED", "IMPORTANT", "Label_7")
_NOT_FOUND = "Requested entity was not found."


@dataclass(slots=True)
class _Message:
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
class _Record:
    id: int
    kind: str
    message_id: str
    thread_id: str
    labels: tuple[str, ...]
    changed: tuple[str, ...] = ()


class FakeGmail(GoogleFake):
    """Fake Gmail API v1: profile, messages, history, batch and Google tokens."""

    name = "gmail"
    client_id = "gmail-test-client.apps.googleusercontent.com"
    client_secret = "gmail-test-secret"
    scope = "https://www.googleapis.com/auth/gmail.readonly"
    rate_limit_status = 429
    supported_faults: ClassVar[dict[str, str | None]] = {
        **GoogleFake.supported_faults,
        "quota_exceeded": None,
        "stale_history": "history.list",
    }

    def build_routes(self) -> list[Route]:
        """Gmail's read endpoints, the batch endpoint and the token endpoint."""
        user = r"/gmail/v1/users/(?P<user>[^/]+)"
        return [
            self.google_route("GET", f"{user}/profile", "profile", self._profile, 1, "userId"),
            self.google_route(
                "GET",
                f"{user}/messages",
                "messages.list",
                self._list,
                5,
                "maxResults pageToken q labelIds includeSpamTrash",
            ),
            self.google_route(
                "GET",
                f"{user}/messages/(?P<id>[^/]+)",
                "messages.get",
                self._get,
                5,
                "format metadataHeaders",
            ),
            self.google_route(
                "GET",
                f"{user}/history",
                "history.list",
                self._history_list,
                2,
                "startHistoryId historyTypes labelId maxResults pageToken",
            ),
            route(
                "POST",
                r"/batch(?:/gmail/v1)?",
                "batch",
                self._batch,
                units=0,
                params=(),
                auth_optional=True,
            ),
            self.token_route(),
        ]

    def seed_data(self, items: int, rng: random.Random) -> None:
        """``items`` messages over three years, each with its ``messageAdded`` record."""
        #: Keep only the newest N history records (None: all); older starts get 404.
        self.history_retention: int | None = None
        self._messages: dict[str, _Message] = {}
        self._index = SortedIndex()
        self._threads: Counter[str] = Counter()
        self._history: list[_Record] = []
        self._history_ids: list[int] = []
        self._history_id = 1_000_000 + 1000 * self.seed
        self._history_floor = self._history_id
        self._serial = 0
        now_ms = int(self.clock() * 1000)
        for key in spread_keys(rng, items, now_ms - 60_000, _SPAN_MS):
            self._add(rng, key)

    def _add(self, rng: random.Random, key: int, labels: list[str] | None = None) -> _Message:
        self._serial += 1
        message_id = f"{0x18A0000000000000 + self._serial * 0x10000 + rng.randrange(0x10000):016x}"
        recent = self._index.older(None, 20)
        reply = recent and rng.random() < 0.25
        if labels is None:
            labels = self._seed_labels(rng)
        message = _Message(
            id=message_id,
            thread_id=self._messages[rng.choice(recent)].thread_id if reply else message_id,
            key=key,
            history_id=0,
            labels=labels,
            subject=make_title(rng),
            sender=rng.randrange(len(_CONTACTS)),
            body=rng.randrange(len(_BODIES)),
            size=rng.randint(2_000, 90_000),
        )
        self._messages[message_id] = message
        self._index.add(key, message_id)
        self._threads[message.thread_id] += 1
        self._record(rng, "messageAdded", message)
        return message

    @staticmethod
    def _seed_labels(rng: random.Random) -> list[str]:
        if rng.random() < 0.2:
            return ["SENT"]
        labels = ["INBOX", "CATEGORY_PERSONAL" if rng.random() < 0.6 else "CATEGORY_UPDATES"]
        if rng.random() < 0.3:
            labels.append("UNREAD")
        if rng.random() < 0.15:
            labels.append("IMPORTANT")
        return labels

    def _record(
        self, rng: random.Random, kind: str, message: _Message, changed: tuple[str, ...] = ()
    ) -> None:
        self._history_id += rng.randint(1, 9)
        message.history_id = self._history_id
        record = _Record(
            self._history_id, kind, message.id, message.thread_id, tuple(message.labels), changed
        )
        self._history.append(record)
        self._history_ids.append(record.id)

    def _trim_history(self) -> None:
        retention = self.history_retention
        excess = len(self._history) - retention if retention is not None else 0
        if excess > 0:
            self._history_floor = self._history_ids[excess - 1]
            del self._history[:excess]
            del self._history_ids[:excess]

    def config(self, root_url: str) -> ProviderConfig:
        """``base_url = {root}/gmail/v1/users/me``, ``token_url = {root}/token``."""
        return self.google_config(root_url, "/gmail/v1/users/me")

    @staticmethod
    def batch_url(root_url: str) -> str:
        """The batch endpoint when served at ``root_url``: ``{root}/batch/gmail/v1``."""
        return root_url.rstrip("/") + "/batch/gmail/v1"

    # -- errors ----------------------------------------------------------------

    def fault_responses(self) -> list[tuple[str, Callable[[dict[str, Any]], Response]]]:
        """Server error, rate limit, daily limit, stale history."""
        return [
            *super().fault_responses(),
            ("quota_exceeded", self._quota_error),
            ("stale_history", self._stale_error),
        ]

    def _quota_error(self, options: dict[str, Any]) -> Response:
        return google_error(403, "Daily Limit Exceeded", "dailyLimitExceeded", "usageLimits")

    def _stale_error(self, options: dict[str, Any]) -> Response:
        return google_error(404, _NOT_FOUND, "notFound")

    def _wrong_user(self, match: re.Match[str]) -> Response | None:
        user = match.group("user")
        if user in ("me", _EMAIL):
            return None
        return google_error(403, f"Delegation denied for {_EMAIL}", "forbidden")

    # -- rendering -------------------------------------------------------------

    def _headers(self, message: _Message) -> list[dict[str, str]]:
        name, address = _CONTACTS[message.sender]
        sent = "SENT" in message.labels
        sender = f"Syncjobs Tester <{_EMAIL}>" if sent else f"{name} <{address}>"
        date = to_datetime(message.key / 1000)
        assert date is not None
        headers = [
            ("Delivered-To", address if sent else _EMAIL),
            ("From", sender),
            ("To", f"{name} <{address}>" if sent else f"Syncjobs Tester <{_EMAIL}>"),
            ("Subject", message.subject),
            ("Date", format_datetime(date)),
            ("Message-ID", f"<{message.id}.{self.seed}@mail.gmail.com>"),
        ]
        return [{"name": key, "value": value} for key, value in headers]

    def _render(self, message: _Message, fmt: str, wanted: list[str]) -> dict[str, Any]:
        text = _BODIES[message.body]
        body: dict[str, Any] = {
            "id": message.id,
            "threadId": message.thread_id,
            "labelIds": list(message.labels),
            "snippet": text[:120],
            "sizeEstimate": message.size,
            "historyId": str(message.history_id),
            "internalDate": str(message.key),
        }
        headers = self._headers(message)
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

    # -- handlers --------------------------------------------------------------

    def _profile(self, request: Request, match: re.Match[str]) -> Response:
        wrong = self._wrong_user(match)
        if wrong is not None:
            return wrong
        return json_response(
            200,
            {
                "emailAddress": _EMAIL,
                "messagesTotal": len(self._index),
                "threadsTotal": len(self._threads),
                "historyId": str(self._history_id),
            },
        )

    def _list(self, request: Request, match: re.Match[str]) -> Response:
        wrong = self._wrong_user(match)
        if wrong is not None:
            return wrong
        limit = parse_int(request.arg("maxResults"), 100)
        token = request.arg("pageToken")
        if limit is None or limit < 0:
            return self.bad_request("Invalid maxResults", "invalidArgument")
        if token is not None and not token.isdigit():
            return self.bad_request("Invalid pageToken", "invalidArgument")
        before = int(token) if token else None
        try:
            predicate = _predicate(request.arg("q") or "", request.list_arg("labelIds"))
        except ValueError:
            return self.bad_request(f"Invalid query: {request.arg('q')}", "invalidArgument")
        ids, last, scanned = self._scan(before, min(max(limit, 1), 500), predicate)
        more = last is not None and self._index.count_between(None, last) > 0
        remaining = self._index.count_between(None, before)
        estimate = remaining if predicate is None else round(len(ids) * remaining / max(scanned, 1))
        body: dict[str, Any] = {}
        if ids:
            body["messages"] = [{"id": i, "threadId": self._messages[i].thread_id} for i in ids]
        if more:
            body["nextPageToken"] = str(last)
        body["resultSizeEstimate"] = estimate
        return json_response(200, body)

    def _scan(
        self, before: int | None, limit: int, predicate: Callable[[_Message], bool] | None
    ) -> tuple[list[str], int | None, int]:
        """Newest-first matching ids older than ``before``: (ids, last key scanned, scanned)."""
        if predicate is None:
            ids = self._index.older(before, limit)
            last = self._messages[ids[-1]].key if ids else None
            return ids, last, len(ids)
        found: list[str] = []
        scanned = 0
        while len(found) < limit:
            chunk = self._index.older(before, 500)
            if not chunk:
                return found, None, scanned
            for message_id in chunk:
                scanned += 1
                message = self._messages[message_id]
                before = message.key
                if predicate(message):
                    found.append(message_id)
                    if len(found) == limit:
                        break
        return found, before, scanned

    def _get(self, request: Request, match: re.Match[str]) -> Response:
        wrong = self._wrong_user(match)
        if wrong is not None:
            return wrong
        fmt = request.arg("format") or "full"
        if fmt not in _FORMATS:
            return self.bad_request(f"Invalid value at 'format' ({fmt})", "invalidArgument")
        message = self._messages.get(match.group("id"))
        if message is None:
            return google_error(404, _NOT_FOUND, "notFound")
        return json_response(200, self._render(message, fmt, request.list_arg("metadataHeaders")))

    def _history_list(self, request: Request, match: re.Match[str]) -> Response:
        wrong = self._wrong_user(match)
        if wrong is not None:
            return wrong
        start = request.arg("startHistoryId")
        if not start or not start.isdigit():
            return self.bad_request("Invalid startHistoryId", "invalidArgument")
        types = set(request.list_arg("historyTypes"))
        if not types <= set(_HISTORY_TYPES):
            return self.bad_request(f"Invalid value at 'history_types' ({sorted(types)})")
        limit = parse_int(request.arg("maxResults"), 100)
        token = request.arg("pageToken")
        if limit is None or limit < 0 or (token is not None and not token.isdigit()):
            return self.bad_request("Invalid maxResults or pageToken", "invalidArgument")
        self._trim_history()
        if int(start) < self._history_floor:
            return google_error(404, _NOT_FOUND, "notFound")
        after = max(int(start), int(token) if token else 0)
        records, more = self._history_page(
            after, min(max(limit, 1), 500), types, request.arg("labelId")
        )
        body: dict[str, Any] = {}
        if records:
            body["history"] = [_record_json(record) for record in records]
        if more and records:
            body["nextPageToken"] = str(records[-1].id)
        body["historyId"] = str(self._history_id)
        return json_response(200, body)

    def _history_page(
        self, after: int, limit: int, types: set[str], label: str | None
    ) -> tuple[list[_Record], bool]:
        """Up to ``limit`` records with id > ``after`` matching the filters; more after?"""
        page: list[_Record] = []
        at = bisect_right(self._history_ids, after)
        while at < len(self._history) and len(page) < limit:
            record = self._history[at]
            at += 1
            if (not types or record.kind in types) and (label is None or label in record.labels):
                page.append(record)
        return page, at < len(self._history)

    # -- batch -----------------------------------------------------------------

    def _batch(self, request: Request, match: re.Match[str]) -> Response:
        content_type = request.headers.get("content-type", "")
        found = re.search(r'boundary="?([^";]+)"?', content_type)
        if not content_type.lower().startswith("multipart/mixed") or found is None:
            return self.bad_request("Batch requests must be multipart/mixed with a boundary.")
        parts = _split_multipart(request.body, found.group(1).encode())
        if not parts:
            return self.bad_request("The batch request contains no parts.")
        if len(parts) > 100:
            return self.bad_request(f"Too many requests in batch: {len(parts)} (at most 100).")
        boundary = f"batch_{short_hash(self.seed, self.requests)}"
        chunks = [self._batch_part(request, part, boundary) for part in parts]
        body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
        return Response(200, body, [("Content-Type", f"multipart/mixed; boundary={boundary}")])

    def _batch_part(self, outer: Request, part: bytes, boundary: str) -> bytes:
        part_headers, inner = _split_head(part)
        content_id = part_headers.get("content-id", "").strip().strip("<>")
        response = self._inner_response(outer, inner)
        head = [f"--{boundary}", "Content-Type: application/http"]
        if content_id:
            head.append(f"Content-ID: <response-{content_id}>")
        inner_head = [f"HTTP/1.1 {response.status_line}"]
        inner_head += [f"{key}: {value}" for key, value in response.headers]
        inner_head.append(f"Content-Length: {len(response.body)}")
        text = "\r\n".join([*head, "", *inner_head, "", ""]).encode()
        return text + response.body + b"\r\n"

    def _inner_response(self, outer: Request, inner: bytes) -> Response:
        """Answer one ``application/http`` part (e.g. ``GET /gmail/v1/users/me/messages/…``)."""
        first_line, _, rest = inner.partition(b"\n")
        request_line = first_line.decode("latin-1").split()
        inner_headers, _ = _split_head(rest)
        if len(request_line) < 2:
            return self.bad_request("Malformed batch part.")
        target = urlsplit(request_line[1])
        path = target.path
        if "/gmail/v1/" in path:
            path = path[path.index("/gmail/v1/") :]
        if "authorization" not in inner_headers and "authorization" in outer.headers:
            inner_headers["authorization"] = outer.headers["authorization"]
        sub = Request(
            method=request_line[0].upper(),
            path=path,
            query=parse_qs(target.query, keep_blank_values=True),
            headers=inner_headers,
            root_url=outer.root_url,
        )
        found = self.match(sub)
        if found is None or found[0].name in ("batch", "token"):
            return self.not_found(sub)
        return self.dispatch(found[0], found[1], sub)

    # -- dataset & mutations ---------------------------------------------------

    def dataset(self) -> dict[str, dict[str, Any]]:
        """Live messages by id, as ``messages.get?format=metadata`` (all headers)."""
        with self._lock:
            return {i: self._render(self._messages[i], "metadata", []) for i in self._index.ids()}

    def latest_cursor_value(self) -> str:
        """The mailbox's current ``historyId`` (as the API's string)."""
        with self._lock:
            return str(self._history_id)

    def add_items(self, n: int) -> list[str]:
        """Deliver ``n`` new unread messages (history ``messageAdded``)."""
        with self._lock:
            added = []
            for _ in range(n):
                key = max(int(self.clock() * 1000), (self._index.newest_key() or 0) + 1)
                labels = ["INBOX", "UNREAD", "CATEGORY_PERSONAL"]
                added.append(self._add(self._rng, key, labels).id)
            self._trim_history()
            return added[::-1]

    def change_items(self, ids: list[str] | int) -> list[str]:
        """Add a label (``labelAdded``), or remove STARRED when all are there (``labelRemoved``)."""
        with self._lock:
            chosen = pick_ids(self._rng, list(self._index.ids()), ids)
            for message_id in chosen:
                message = self._messages[message_id]
                missing = [label for label in _CHANGE_LABELS if label not in message.labels]
                if missing:
                    message.labels.append(missing[0])
                    self._record(self._rng, "labelAdded", message, (missing[0],))
                else:
                    message.labels.remove("STARRED")
                    self._record(self._rng, "labelRemoved", message, ("STARRED",))
            self._trim_history()
            return chosen

    def delete_items(self, ids: list[str] | int) -> list[str]:
        """Delete messages permanently (history ``messageDeleted``)."""
        with self._lock:
            chosen = pick_ids(self._rng, list(self._index.ids()), ids)
            for message_id in chosen:
                message = self._messages.pop(message_id)
                self._index.remove(message.key)
                self._threads[message.thread_id] -= 1
                if self._threads[message.thread_id] <= 0:
                    del self._threads[message.thread_id]
                self._record(self._rng, "messageDeleted", message)
            self._trim_history()
            return chosen


def _record_json(record: _Record) -> dict[str, Any]:
    ref = {"id": record.message_id, "threadId": record.thread_id}
    message = {**ref, "labelIds": list(record.labels)}
    entry: dict[str, Any]
    if record.kind == "messageDeleted":
        entry = {"message": ref}
    elif record.kind == "messageAdded":
        entry = {"message": message}
    else:
        entry = {"message": message, "labelIds": list(record.changed)}
    return {"id": str(record.id), "messages": [ref], _HISTORY_TYPES[record.kind]: [entry]}


def _predicate(q: str, label_ids: list[str]) -> Callable[[_Message], bool] | None:
    """A filter for ``q`` (after:, before:, label:/in:/is:, from:, words) and ``labelIds``.

    Raises ``ValueError`` for an unparsable date.
    """
    tests: list[Callable[[_Message], bool]] = []
    wanted = set(label_ids)
    for term in q.split():
        op, _, value = term.partition(":")
        op = op.lower() if value else ""
        if op in ("label", "in", "is"):
            wanted.add(_LABEL_ALIASES.get(value.lower(), value))
        else:
            tests.append(_term_test(op, value.lower() if op else term.lower()))
    if wanted:
        tests.append(lambda message: wanted.issubset(message.labels))
    if not tests:
        return None
    return lambda message: all(test(message) for test in tests)


def _term_test(op: str, value: str) -> Callable[[_Message], bool]:
    """The test for one ``op:value`` search term (``op`` empty: a free word)."""
    if op in ("after", "before"):
        bound = _date_ms(value)
        if op == "after":
            return lambda message: message.key >= bound
        return lambda message: message.key < bound
    if op == "from":
        return lambda message: value in " ".join(_CONTACTS[message.sender]).lower()
    return lambda message: value in f"{message.subject} {_BODIES[message.body]}".lower()


def _date_ms(value: str) -> int:
    """Epoch ms of a Gmail search date (``YYYY/MM/DD`` or epoch seconds)."""
    if value.isdigit():
        return int(value) * 1000
    parsed = datetime.strptime(value.replace("-", "/"), "%Y/%m/%d").replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


def _split_multipart(body: bytes, boundary: bytes) -> list[bytes]:
    """The parts of a multipart body (the ``--boundary--`` epilogue dropped)."""
    chunks = body.replace(b"\r\n", b"\n").split(b"--" + boundary)
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break
        parts.append(chunk.strip(b"\n"))
    return parts


def _split_head(data: bytes) -> tuple[dict[str, str], bytes]:
    """(lower-cased headers, rest) of a ``Header: value`` block ended by a blank line."""
    head, _, rest = data.partition(b"\n\n")
    headers = {}
    for line in head.decode("latin-1").split("\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers, rest

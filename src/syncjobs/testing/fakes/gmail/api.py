"""A stateful fake of the Gmail API v1 for one mailbox, history and batch included.

Routes (relative to the fake's root): ``GET /gmail/v1/users/me/profile``, ``/messages``,
``/messages/{id}``, ``/history``; ``POST /batch/gmail/v1`` (also ``/batch``) and Google's
OAuth routes (``GET /o/oauth2/v2/auth``, ``POST /token``). ``latest_cursor_value()`` is the
mailbox's current ``historyId`` (a string).
Units: profile 1, messages.list 5, messages.get 5 (each batch part too), history.list 2.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any, ClassVar

from syncjobs.providers.types import ProviderConfig
from syncjobs.testing.fakes.corpus import pick_ids, spread_keys
from syncjobs.testing.fakes.gmail.batch import answer_batch
from syncjobs.testing.fakes.gmail.mailbox import EMAIL, HISTORY_TYPES, SPAN_MS, Mailbox, record_json
from syncjobs.testing.fakes.gmail.search import predicate
from syncjobs.testing.fakes.google import GoogleFake, google_error
from syncjobs.testing.fakes.messages import Request, Response, json_response, parse_int
from syncjobs.testing.fakes.routing import Route, route

__all__ = ["FakeGmail"]

_FORMATS = ("minimal", "full", "raw", "metadata")
_NOT_FOUND = "Requested entity was not found."


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
            *self.oauth_routes(),
        ]

    def seed_data(self, items: int, rng: random.Random) -> None:
        """``items`` messages over three years, each with its ``messageAdded`` record."""
        #: Keep only the newest N history records (None: all); older starts get 404.
        self.history_retention: int | None = None
        self.mailbox = Mailbox(self.seed)
        now_ms = int(self.clock() * 1000)
        for key in spread_keys(rng, items, now_ms - 60_000, SPAN_MS):
            self.mailbox.add(rng, key)

    def config(self, root_url: str) -> ProviderConfig:
        """``base_url = {root}/gmail/v1/users/me``, ``token_url = {root}/token``, ``auth_url``."""
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
        if user in ("me", EMAIL):
            return None
        return google_error(403, f"Delegation denied for {EMAIL}", "forbidden")

    # -- handlers --------------------------------------------------------------

    def _profile(self, request: Request, match: re.Match[str]) -> Response:
        wrong = self._wrong_user(match)
        if wrong is not None:
            return wrong
        return json_response(
            200,
            {
                "emailAddress": EMAIL,
                "messagesTotal": len(self.mailbox.index),
                "threadsTotal": len(self.mailbox.threads),
                "historyId": str(self.mailbox.history_id),
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
            matches = predicate(request.arg("q") or "", request.list_arg("labelIds"))
        except ValueError:
            return self.bad_request(f"Invalid query: {request.arg('q')}", "invalidArgument")
        mailbox = self.mailbox
        ids, last, scanned = mailbox.scan(before, min(max(limit, 1), 500), matches)
        more = last is not None and mailbox.index.count_between(None, last) > 0
        remaining = mailbox.index.count_between(None, before)
        estimate = remaining if matches is None else round(len(ids) * remaining / max(scanned, 1))
        body: dict[str, Any] = {}
        if ids:
            body["messages"] = [{"id": i, "threadId": mailbox.messages[i].thread_id} for i in ids]
        if more:
            body["nextPageToken"] = str(last)
        body["resultSizeEstimate"] = estimate
        return json_response(200, body)

    def _get(self, request: Request, match: re.Match[str]) -> Response:
        wrong = self._wrong_user(match)
        if wrong is not None:
            return wrong
        fmt = request.arg("format") or "full"
        if fmt not in _FORMATS:
            return self.bad_request(f"Invalid value at 'format' ({fmt})", "invalidArgument")
        message = self.mailbox.messages.get(match.group("id"))
        if message is None:
            return google_error(404, _NOT_FOUND, "notFound")
        wanted = request.list_arg("metadataHeaders")
        return json_response(200, self.mailbox.render(message, fmt, wanted))

    def _history_list(self, request: Request, match: re.Match[str]) -> Response:
        wrong = self._wrong_user(match)
        if wrong is not None:
            return wrong
        start = request.arg("startHistoryId")
        if not start or not start.isdigit():
            return self.bad_request("Invalid startHistoryId", "invalidArgument")
        types = set(request.list_arg("historyTypes"))
        if not types <= set(HISTORY_TYPES):
            return self.bad_request(f"Invalid value at 'history_types' ({sorted(types)})")
        limit = parse_int(request.arg("maxResults"), 100)
        token = request.arg("pageToken")
        if limit is None or limit < 0 or (token is not None and not token.isdigit()):
            return self.bad_request("Invalid maxResults or pageToken", "invalidArgument")
        self.mailbox.trim(self.history_retention)
        if int(start) < self.mailbox.history_floor:
            return google_error(404, _NOT_FOUND, "notFound")
        after = max(int(start), int(token) if token else 0)
        records, more = self.mailbox.history_page(
            after, min(max(limit, 1), 500), types, request.arg("labelId")
        )
        body: dict[str, Any] = {}
        if records:
            body["history"] = [record_json(record) for record in records]
        if more and records:
            body["nextPageToken"] = str(records[-1].id)
        body["historyId"] = str(self.mailbox.history_id)
        return json_response(200, body)

    def _batch(self, request: Request, match: re.Match[str]) -> Response:
        return answer_batch(self, request)

    # -- dataset & mutations ---------------------------------------------------

    def dataset(self) -> dict[str, dict[str, Any]]:
        """Live messages by id, as ``messages.get?format=metadata`` (all headers)."""
        with self._lock:
            messages = self.mailbox.messages
            return {
                i: self.mailbox.render(messages[i], "metadata", [])
                for i in self.mailbox.index.ids()
            }

    def latest_cursor_value(self) -> str:
        """The mailbox's current ``historyId`` (as the API's string)."""
        with self._lock:
            return str(self.mailbox.history_id)

    def add_items(self, n: int) -> list[str]:
        """Deliver ``n`` new unread messages (history ``messageAdded``)."""
        with self._lock:
            added = []
            for _ in range(n):
                key = self.mailbox.index.next_key(int(self.clock() * 1000))
                labels = ["INBOX", "UNREAD", "CATEGORY_PERSONAL"]
                added.append(self.mailbox.add(self._rng, key, labels).id)
            self.mailbox.trim(self.history_retention)
            return added[::-1]

    def change_items(self, ids: list[str] | int) -> list[str]:
        """Add a label (``labelAdded``), or remove STARRED when all are there (``labelRemoved``)."""
        with self._lock:
            chosen = pick_ids(self._rng, list(self.mailbox.index.ids()), ids)
            self.mailbox.relabel(self._rng, chosen)
            self.mailbox.trim(self.history_retention)
            return chosen

    def delete_items(self, ids: list[str] | int) -> list[str]:
        """Delete messages permanently (history ``messageDeleted``)."""
        with self._lock:
            chosen = pick_ids(self._rng, list(self.mailbox.index.ids()), ids)
            self.mailbox.delete(self._rng, chosen)
            self.mailbox.trim(self.history_retention)
            return chosen

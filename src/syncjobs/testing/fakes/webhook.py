"""A fake webhook receiver: verifies syncjobs' signature and records deliveries.

``POST`` to any path. An injected failure (``fail_next``) answers first, as a receiver that
is down would; then a missing or bad ``X-Syncjobs-Signature`` (or a stale timestamp) is a
401 counted in ``rejected``; an accepted delivery is appended to ``received`` and counted
in ``by_delivery`` under its ``X-Syncjobs-Delivery`` id, so duplicates show.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from syncjobs.insights.notifiers import verify_webhook
from syncjobs.testing.fakes.faults import FaultBook
from syncjobs.testing.fakes.messages import Request, Response, json_response, set_retry_after
from syncjobs.testing.fakes.routing import WSGIFake

__all__ = ["FakeWebhookReceiver"]


class FakeWebhookReceiver(WSGIFake):
    """A thread-safe WSGI webhook receiver with signature checks, dedupe counts and faults."""

    def __init__(self, secret: str, *, tolerance: float = 300) -> None:
        self._lock = threading.Lock()
        self.secret = secret
        #: Seconds a delivery's timestamp may be off the receiver's clock.
        self.tolerance = tolerance
        #: The receiver's clock (tests may move it).
        self.clock: Callable[[], float] = time.time
        #: Seconds of sleep added to every request.
        self.latency = 0.0
        #: Every HTTP request received.
        self.requests = 0
        #: Requests refused for a missing or bad signature, a stale timestamp or a bad body.
        self.rejected = 0
        #: Parsed JSON bodies of accepted deliveries, in order (duplicates included).
        self.received: list[dict[str, Any]] = []
        #: Paths of accepted deliveries, in the same order.
        self.paths: list[str] = []
        #: Accepted deliveries per ``X-Syncjobs-Delivery`` id.
        self.by_delivery: Counter[str] = Counter()
        #: Headers of accepted deliveries (lower-cased names), in order.
        self.headers: list[dict[str, str]] = []
        self._faults = FaultBook({"status": None})

    # -- control ---------------------------------------------------------------------

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``count`` requests with HTTP ``status`` (e.g. 500, 503, 429, 410)."""
        if count < 1 or not 400 <= status <= 599:
            raise ValueError("count must be >= 1 and status a 4xx or 5xx")
        with self._lock:
            self._faults.inject("status", count, {"status": status, "retry_after": retry_after})

    def duplicates(self) -> dict[str, int]:
        """Delivery ids accepted more than once, with their counts."""
        with self._lock:
            return {key: n for key, n in self.by_delivery.items() if n > 1}

    def reset(self) -> None:
        """Forget every delivery, counter and pending fault."""
        with self._lock:
            self.requests = self.rejected = 0
            self.received.clear()
            self.paths.clear()
            self.headers.clear()
            self.by_delivery.clear()
            self._faults.clear()

    # -- WSGI ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one HTTP request."""
        with self._lock:
            self.requests += 1
            delay = self.latency
        if delay > 0:
            time.sleep(delay)
        with self._lock:
            if request.method != "POST":
                return json_response(405, {"error": "method not allowed"})
            fault = self._faults.take("status", "webhook")
            if fault is not None:
                status = int(fault["status"])
                return set_retry_after(
                    json_response(status, {"error": f"injected HTTP {status}"}),
                    fault["retry_after"],
                )
            verified = verify_webhook(
                self.secret,
                request.body,
                timestamp=request.headers.get("x-syncjobs-timestamp", ""),
                signature=request.headers.get("x-syncjobs-signature", ""),
                tolerance=self.tolerance,
                now=self.clock(),
            )
            if not verified:
                self.rejected += 1
                return json_response(401, {"error": "invalid signature"})
            try:
                body = json.loads(request.body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                body = None
            if not isinstance(body, dict):
                self.rejected += 1
                return json_response(400, {"error": "the body is not a JSON object"})
            key = request.headers.get("x-syncjobs-delivery") or str(body.get("id"))
            self.by_delivery[key] += 1
            self.received.append(body)
            self.paths.append(request.path)
            self.headers.append(dict(request.headers))
            return json_response(200, {"ok": True, "duplicate": self.by_delivery[key] > 1})

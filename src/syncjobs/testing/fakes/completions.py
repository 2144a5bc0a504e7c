"""A fake OpenAI-compatible chat completions endpoint (``POST /v1/chat/completions``).

Answers like OpenAI's ``chat.completion`` object with a deterministic verdict as the
message content: a blocked word of the system prompt's ``Blocked words: [...]`` line found
in a user message → BLOCK 95; else "violence", "gore" or "explicit" → BLOCK 90; else
"review" or "mature" → REVIEW 60; else ALLOW 85. Errors use OpenAI's
``{"error": {"message", "type", "param", "code"}}`` body.

In-process: ``httpx.Client(transport=fake.transport())``; over loopback: ``serve(fake)``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from syncjobs.testing.fakes.faults import FaultBook
from syncjobs.testing.fakes.messages import Request, Response, json_response, set_retry_after
from syncjobs.testing.fakes.routing import WSGIFake

__all__ = ["MALFORMED_REPLIES", "FakeCompletions"]

#: Variants of ``malformed_next``: what the 200 answer's content (or body) looks like.
MALFORMED_REPLIES = frozenset({"prose", "wrong_shape", "no_choices", "not_json_body"})
_PATH = "/v1/chat/completions"
_ROLES = frozenset({"system", "user", "assistant", "developer", "tool"})
_BLOCKED_LINE = re.compile(r"^\s*Blocked words:\s*(.*)$", re.IGNORECASE | re.MULTILINE)
_BLOCK_WORDS = ("violence", "gore", "explicit")
_REVIEW_WORDS = ("review", "mature")


def openai_error(
    status: int, message: str, type_: str, code: str | None = None, param: str | None = None
) -> Response:
    """An OpenAI error answer."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return json_response(status, body, "application/json")


def _contains(text: str, word: str) -> bool:
    """Whole-word, case-insensitive."""
    body = r"\s+".join(re.escape(part) for part in word.split())
    return bool(body) and re.search(rf"(?<!\w){body}(?!\w)", text, re.IGNORECASE) is not None


def _blocked_words(system: str) -> list[str]:
    """The words of the ``Blocked words:`` line (a JSON array, or comma-separated)."""
    found = _BLOCKED_LINE.search(system)
    if found is None:
        return []
    rest = found.group(1).strip()
    try:
        parsed = json.loads(rest)
    except ValueError:
        parsed = [part for part in rest.split(",")]
    if not isinstance(parsed, list):
        return []
    return [w.strip() for w in parsed if isinstance(w, str) and w.strip()]


def _tokens(text: str) -> int:
    """A rough token count (4 characters a token)."""
    return max(1, math.ceil(len(text) / 4))


class FakeCompletions(WSGIFake):
    """Fake OpenAI chat completions: bearer check, validation, verdicts, faults, counters."""

    def __init__(self, api_key: str = "test-key", seed: int = 0) -> None:
        self._lock = threading.Lock()
        self.api_key = api_key
        self.seed = seed
        #: When True, answers carry no ``usage`` object.
        self.omit_usage = False
        #: When True, the verdict JSON is wrapped in a ```json fence.
        self.fence_replies = False
        #: Seconds of sleep added to every request (timeouts, benchmarks).
        self.latency = 0.0
        #: Time source of ``created``.
        self.clock: Callable[[], float] = time.time
        #: Every HTTP request received.
        self.requests = 0
        #: Completions answered 200.
        self.calls = 0
        #: Sum of ``total_tokens`` of the completions answered (even when usage is omitted).
        self.tokens_total = 0
        #: Parsed JSON bodies of the completions answered 200, in order.
        self.bodies: list[dict[str, Any]] = []
        self._faults = FaultBook({"status": None, "malformed_reply": None})
        self._serial = 0

    # -- control ---------------------------------------------------------------------

    def fail_next(self, status: int, count: int = 1, retry_after: float | None = None) -> None:
        """Answer the next ``count`` authorised requests with HTTP ``status``."""
        if count < 1 or not 400 <= status <= 599:
            raise ValueError("count must be >= 1 and status a 4xx or 5xx")
        with self._lock:
            self._faults.inject("status", count, {"status": status, "retry_after": retry_after})

    def malformed_next(self, count: int = 1, variant: str = "prose") -> None:
        """Answer the next ``count`` completions with an unusable reply (see MALFORMED_REPLIES)."""
        if count < 1 or variant not in MALFORMED_REPLIES:
            raise ValueError(f"count must be >= 1 and variant one of {sorted(MALFORMED_REPLIES)}")
        with self._lock:
            self._faults.inject("malformed_reply", count, {"variant": variant})

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    def reset_counters(self) -> None:
        """Zero ``requests``, ``calls``, ``tokens_total`` and forget ``bodies``."""
        with self._lock:
            self.requests = self.calls = self.tokens_total = 0
            self.bodies.clear()

    def _take(self, kind: str) -> dict[str, Any] | None:
        return self._faults.take(kind, "completions")

    # -- WSGI ------------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one HTTP request."""
        with self._lock:
            self.requests += 1
            delay = self.latency
        if delay > 0:
            time.sleep(delay)
        with self._lock:
            if request.path.rstrip("/") != _PATH:
                return openai_error(
                    404, f"Invalid URL ({request.method} {request.path})", "invalid_request_error"
                )
            if request.method != "POST":
                return openai_error(
                    405, f"Method {request.method} not allowed", "invalid_request_error"
                )
            problem = self._auth_problem(request.bearer)
            if problem is not None:
                return problem
            fault = self._take("status")
            if fault is not None:
                return self._fault_response(fault)
            body, invalid = self._validate(request)
            if invalid is not None:
                return invalid
            assert body is not None
            return self._complete(body)

    def _auth_problem(self, token: str | None) -> Response | None:
        if token is None:
            return openai_error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
            )
        if token != self.api_key:
            masked = token[:3] + "*" * max(0, len(token) - 7) + token[-4:]
            return openai_error(
                401,
                f"Incorrect API key provided: {masked}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                "invalid_request_error",
                "invalid_api_key",
            )
        return None

    def _fault_response(self, options: dict[str, Any]) -> Response:
        status = int(options["status"])
        if status == 429:
            response = openai_error(
                429,
                "Rate limit reached for requests. Please try again later.",
                "requests",
                "rate_limit_exceeded",
            )
        elif status >= 500:
            message = (
                "The engine is currently overloaded, please try again later"
                if status == 503
                else "The server had an error while processing your request. Sorry about that!"
            )
            response = openai_error(status, message, "server_error")
        else:
            response = openai_error(status, "Injected error", "invalid_request_error")
        return set_retry_after(response, options.get("retry_after"))

    def _validate(self, request: Request) -> tuple[dict[str, Any] | None, Response | None]:
        try:
            body = request.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return None, openai_error(
                400, "We could not parse the JSON body of your request.", "invalid_request_error"
            )
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return None, openai_error(
                400, "you must provide a model parameter", "invalid_request_error", param="model"
            )
        messages = body.get("messages")
        valid = (
            isinstance(messages, list)
            and messages
            and all(
                isinstance(m, dict)
                and m.get("role") in _ROLES
                and isinstance(m.get("content"), str)
                for m in messages
            )
        )
        if not valid:
            return None, openai_error(
                400,
                "'messages' must be a non-empty array of {role, content} objects.",
                "invalid_request_error",
                param="messages",
            )
        return body, None

    def verdict(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """The deterministic verdict the fake answers for ``messages``."""
        system = "\n".join(m["content"] for m in messages if m["role"] in ("system", "developer"))
        user = "\n".join(m["content"] for m in messages if m["role"] == "user")
        blocked = sorted({w.lower() for w in _blocked_words(system) if _contains(user, w)})
        if blocked:
            tags = [f"blocked_word:{w}" for w in blocked]
            return {"decision": "BLOCK", "confidence": 95, "tags": tags}
        mature = [w for w in _BLOCK_WORDS if _contains(user, w)]
        if mature:
            return {"decision": "BLOCK", "confidence": 90, "tags": [f"mature:{w}" for w in mature]}
        if any(_contains(user, w) for w in _REVIEW_WORDS):
            return {"decision": "REVIEW", "confidence": 60, "tags": ["needs_review"]}
        return {"decision": "ALLOW", "confidence": 85, "tags": []}

    def _complete(self, body: dict[str, Any]) -> Response:
        messages: list[dict[str, Any]] = body["messages"]
        content = json.dumps(self.verdict(messages))
        if self.fence_replies:
            content = f"```json\n{content}\n```"
        malformed = self._take("malformed_reply")
        variant = malformed.get("variant") if malformed is not None else None
        if variant == "prose":
            content = "I think this item is probably fine to watch."
        elif variant == "wrong_shape":
            content = json.dumps({"decision": "MAYBE", "confidence": "high"})
        self.calls += 1
        self._serial += 1
        self.bodies.append(body)
        prompt = _tokens("".join(m["content"] for m in messages))
        completion = _tokens(content)
        self.tokens_total += prompt + completion
        digest = hashlib.sha256(f"{self.seed}:{self._serial}".encode()).hexdigest()[:24]
        reply: dict[str, Any] = {
            "id": f"chatcmpl-{digest}",
            "object": "chat.completion",
            "created": int(self.clock()),
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "system_fingerprint": f"fp_fake{self.seed}",
        }
        if not self.omit_usage:
            reply["usage"] = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
        if variant == "no_choices":
            reply["choices"] = []
        if variant == "not_json_body":
            page = b"<html><body>502 Bad Gateway</body></html>"
            return Response(200, page, [("Content-Type", "text/html; charset=UTF-8")])
        return json_response(200, reply, "application/json")

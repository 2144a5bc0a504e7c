"""The analyzer that asks any OpenAI-compatible ``/v1/chat/completions`` endpoint."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import httpx

from ..._http import ErrorMap, Meaning, install_log_redaction, post, scrub
from ...errors import (
    ConfigurationError,
    ProviderUnavailableError,
    RateLimitedError,
    UnexpectedResponseError,
)
from ..models import Decision, Preferences, QueuedItem, Verdict
from .common import get_path

__all__ = ["MAX_TEXT_CHARS", "OpenAICompatibleAnalyzer", "system_prompt", "user_prompt"]

#: Characters of an item's text sent to the AI service (the rest is cut).
MAX_TEXT_CHARS = 4000
MAX_TAGS = 20
MAX_TAG_CHARS = 64

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)

#: How the endpoint's answers map to errors (a rejected key or an exhausted quota is a
#: settings error, raised before this applies).
_ERRORS = ErrorMap(
    provider="openai",
    default_retry_after=20.0,
    phrases={
        Meaning.RATE_LIMITED: "rate limited",
        Meaning.UNAVAILABLE: "the endpoint is unavailable",
        Meaning.UNEXPECTED: "unexpected answer",
    },
    types={
        Meaning.RATE_LIMITED: RateLimitedError,
        Meaning.UNAVAILABLE: ProviderUnavailableError,
        Meaning.UNEXPECTED: UnexpectedResponseError,
    },
)


def system_prompt(preferences: Preferences) -> str:
    """The system message: the task, the owner's preferences and the exact reply shape.

    Lists are written as JSON arrays (``Blocked words: ["a", "b"]``) so they parse back.
    """
    age = "unknown" if preferences.viewer_age is None else str(preferences.viewer_age)
    return "\n".join(
        [
            "You review one item (a video, post or e-mail) synced from an owner's connected "
            "account and decide whether it is fine for the viewer under the owner's "
            "preferences.",
            "BLOCK items that contain a blocked word or come from a blocked channel, or are "
            "unsuitable for the viewer's age; ALLOW items from allowed channels and items "
            "that are clearly fine; answer REVIEW when a human should look.",
            "Owner's preferences:",
            f"Blocked words: {json.dumps(list(preferences.blocked_words))}",
            f"Allowed channels: {json.dumps(list(preferences.allowed_channels))}",
            f"Blocked channels: {json.dumps(list(preferences.blocked_channels))}",
            f"Viewer age: {age}",
            "Reply with exactly one JSON object and nothing else, of this shape:",
            '{"decision": "ALLOW" | "BLOCK" | "REVIEW", "confidence": <integer 0-100>, '
            '"tags": ["<short lower-case tag>", ...]}',
        ]
    )


def user_prompt(item: QueuedItem) -> str:
    """The user message: the item's provider, kind, channel, title and (cut) text."""
    text = (item.text or "")[:MAX_TEXT_CHARS]
    return "\n".join(
        [
            f"Provider: {item.provider}",
            f"Kind: {item.kind}",
            f"Channel: {item.channel}",
            f"Title: {item.title or ''}",
            f"Text: {text}",
        ]
    )


class OpenAICompatibleAnalyzer:
    """Asks any OpenAI-compatible ``/v1/chat/completions`` endpoint to judge each item."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        model: str,
        *,
        timeout: float = 30.0,
        max_tokens: int = 200,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        root = base_url.strip().rstrip("/")
        if root.endswith("/v1"):
            root = root[: -len("/v1")]
        #: The endpoint every request goes to.
        self.url = root + "/v1/chat/completions"
        self.model = model
        self.max_tokens = max_tokens
        self._api_key = api_key
        install_log_redaction(api_key)
        self._client = httpx.Client(timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"OpenAICompatibleAnalyzer(url={self.url!r}, model={self.model!r})"

    def analyze(self, item: QueuedItem, preferences: Preferences) -> Verdict:
        """Send one chat completion for ``item`` and parse the JSON verdict it answers."""
        payload = {
            "model": self.model,
            "temperature": 0,
            "max_tokens": self.max_tokens,
            "response_format": {"type": "json_object"},
            "messages": [
                {"role": "system", "content": system_prompt(preferences)},
                {"role": "user", "content": user_prompt(item)},
            ],
        }
        headers = {"Authorization": f"Bearer {self._api_key}"}
        response = post(
            self._client,
            self.url,
            label="openai",
            provider=self.name,
            json=payload,
            headers=headers,
        )
        self._raise_for_status(response)
        return self._verdict(response)

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()

    # -- answers ---------------------------------------------------------------------

    def _raise_for_status(self, response: httpx.Response) -> None:
        if response.is_success:
            return
        status, code = response.status_code, self._error_code(response)
        meaning = _ERRORS.meaning(status)
        if meaning is Meaning.RATE_LIMITED and code == "insufficient_quota":
            raise ConfigurationError(
                "openai: the account behind SYNCJOBS_OPENAI__API_KEY is out of quota "
                "(HTTP 429 insufficient_quota); waiting will not help"
            )
        if meaning in (Meaning.TOKEN_REJECTED, Meaning.PERMISSION_DENIED):
            raise ConfigurationError(
                f"openai: the endpoint rejected the API key (HTTP {status}); "
                "check SYNCJOBS_OPENAI__API_KEY"
            )
        unavailable = meaning is Meaning.UNAVAILABLE
        quiet = unavailable or meaning is Meaning.RATE_LIMITED
        _ERRORS.raise_for(
            response,
            label="openai",
            reason=None if unavailable else code,
            detail="" if quiet else self._error_message(response),
        )

    @staticmethod
    def _error_body(response: httpx.Response) -> Mapping[str, Any]:
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError):
            return {}
        error = body.get("error") if isinstance(body, dict) else None
        return error if isinstance(error, dict) else {}

    def _error_code(self, response: httpx.Response) -> str | None:
        error = self._error_body(response)
        code = error.get("code") or error.get("type")
        return self._scrub(str(code))[:64] if code else None

    def _error_message(self, response: httpx.Response) -> str:
        message = self._error_body(response).get("message")
        return self._scrub(message)[:160] if isinstance(message, str) else ""

    def _scrub(self, text: str) -> str:
        return scrub(text, (self._api_key,))

    def _unexpected(self, problem: str) -> UnexpectedResponseError:
        return UnexpectedResponseError(
            f"openai: {problem}", provider=self.name, reason="invalid_payload"
        )

    def _verdict(self, response: httpx.Response) -> Verdict:
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError):
            raise self._unexpected("the answer is not JSON") from None
        content = get_path(body, "choices")
        if not isinstance(content, list) or not content:
            raise self._unexpected("the answer has no choices")
        message = get_path(content[0], "message", "content")
        if not isinstance(message, str):
            raise self._unexpected("the answer's first choice has no message content")
        reply = self._parse_reply(message)
        return Verdict(
            decision=self._decision(reply.get("decision")),
            confidence=self._confidence(reply.get("confidence")),
            tags=self._tags(reply.get("tags")),
            tokens=_tokens(get_path(body, "usage")),
            ai_calls=1,
        )

    def _parse_reply(self, content: str) -> Mapping[str, Any]:
        text = content.strip()
        fenced = _FENCE.match(text)
        if fenced:
            text = fenced.group(1).strip()
        try:
            reply = json.loads(text)
        except ValueError:
            start, end = text.find("{"), text.rfind("}")
            try:
                reply = json.loads(text[start : end + 1]) if 0 <= start < end else None
            except ValueError:
                reply = None
        if not isinstance(reply, dict):
            raise self._unexpected("the reply is not a JSON object")
        return reply

    def _decision(self, value: object) -> Decision:
        if isinstance(value, str):
            try:
                return Decision(value.strip().lower())
            except ValueError:
                pass
        raise self._unexpected("the reply's decision is not ALLOW, BLOCK or REVIEW")

    def _confidence(self, value: object) -> int:
        number: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip().rstrip("%"))
            except ValueError:
                number = None
        if number is None or not math.isfinite(number):  # missing, not a number, NaN, inf
            raise self._unexpected("the reply's confidence is not a number")
        return max(0, min(100, round(number)))

    def _tags(self, value: object) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self._unexpected("the reply's tags are not a list")
        tags = [
            str(tag).strip()[:MAX_TAG_CHARS]
            for tag in value
            if isinstance(tag, str | int | float) and not isinstance(tag, bool)
        ]
        return tuple(tag for tag in tags if tag)[:MAX_TAGS]


def _tokens(usage: object) -> int | None:
    """Tokens a completion's ``usage`` reports, or None when it reports none."""
    if not isinstance(usage, Mapping):
        return None

    def number(key: str) -> int | None:
        value = usage.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    total = number("total_tokens")
    if total is not None:
        return total
    prompt, completion = number("prompt_tokens"), number("completion_tokens")
    if prompt is not None and completion is not None:
        return prompt + completion
    return None

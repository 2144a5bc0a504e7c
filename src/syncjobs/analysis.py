"""The built-in analyzers: the offline ``keyword`` one and any OpenAI-compatible endpoint.

Both implement :class:`~syncjobs.protocols.Analyzer` and are safe to call from several
threads at once. :func:`build_analyzer` picks one from the settings.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import httpx

from ._http import parse_retry_after, post
from .errors import (
    ConfigurationError,
    ProviderUnavailableError,
    RateLimitedError,
    UnexpectedResponseError,
)
from .models import Decision, Preferences, QueuedItem, Verdict

if TYPE_CHECKING:
    from .protocols import Analyzer
    from .settings import Settings

__all__ = [
    "MATURE_WORDS",
    "KeywordAnalyzer",
    "OpenAICompatibleAnalyzer",
    "build_analyzer",
    "item_channels",
    "item_tags",
    "parse_retry_after",
    "system_prompt",
    "user_prompt",
]

#: Words that send an item to REVIEW when the viewer is younger than 13.
MATURE_WORDS: tuple[str, ...] = (
    "explicit",
    "nsfw",
    "gore",
    "horror",
    "violence",
    "violent",
    "drugs",
    "gambling",
)
#: Characters of an item's text sent to the AI service (the rest is cut).
MAX_TEXT_CHARS = 4000
MAX_TAGS = 20
MAX_TAG_CHARS = 64
_PATTERN_CACHE_SIZE = 1024
_AGE_RESTRICTED = "ytAgeRestricted"


# --------------------------------------------------------------------------- helpers


def _get(mapping: object, *path: str) -> object:
    """``mapping[path[0]][path[1]]…``, or None as soon as a level is missing."""
    value = mapping
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _normalise(word: str) -> str:
    """Lower-case ``word`` and collapse its inner whitespace."""
    return " ".join(word.lower().split())


def _word_pattern(word: str) -> re.Pattern[str]:
    """A case-insensitive whole-word pattern of ``word`` (a phrase's spaces match any run)."""
    body = r"\s+".join(re.escape(part) for part in word.split())
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def _compile_words(words: Iterable[str]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(normalised word, pattern) of each distinct non-empty word, in first-seen order."""
    seen: dict[str, re.Pattern[str]] = {}
    for word in words:
        key = _normalise(word)
        if key and key not in seen:
            seen[key] = _word_pattern(key)
    return tuple(seen.items())


_MATURE_PATTERNS = _compile_words(MATURE_WORDS)


def _matches(patterns: Sequence[tuple[str, re.Pattern[str]]], text: str) -> list[str]:
    """The words whose pattern occurs in ``text``, sorted."""
    return sorted(word for word, pattern in patterns if pattern.search(text))


def item_channels(item: QueuedItem) -> set[str]:
    """Every name the item's channel goes by (channel, author, raw channel id), lower-cased."""
    candidates: list[object] = [
        item.channel,
        item.author,
        _get(item.raw, "channelId"),
        _get(item.raw, "snippet", "channelId"),
        _get(item.raw, "snippet", "channelTitle"),
    ]
    return {c.strip().lower() for c in candidates if isinstance(c, str) and c.strip()}


def item_tags(raw: Mapping[str, Any]) -> list[str]:
    """The item's own tags: strings under ``raw["tags"]`` and ``raw["snippet"]["tags"]``."""
    tags: list[str] = []
    for found in (_get(raw, "tags"), _get(raw, "snippet", "tags")):
        if isinstance(found, list):
            tags += [tag for tag in found if isinstance(tag, str)]
    return tags


def _is_age_restricted(raw: Mapping[str, Any]) -> bool:
    """True when the provider marks the item age-restricted."""
    return (
        _get(raw, "ageRestricted") is True
        or _get(raw, "contentRating", "ytRating") == _AGE_RESTRICTED
        or _get(raw, "contentDetails", "contentRating", "ytRating") == _AGE_RESTRICTED
    )


# --------------------------------------------------------------------------- keyword


class KeywordAnalyzer:
    """The offline analyzer: channel lists, blocked words and age rules; no AI call."""

    name = "keyword"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._patterns: dict[tuple[str, ...], tuple[tuple[str, re.Pattern[str]], ...]] = {}

    def analyze(self, item: QueuedItem, preferences: Preferences) -> Verdict:
        """Judge ``item`` by its owner's channel lists, blocked words and viewer age."""
        channels = item_channels(item)
        if channels & {c.strip().lower() for c in preferences.blocked_channels}:
            return self._verdict(Decision.BLOCK, 100, ("blocked_channel",))
        if channels & {c.strip().lower() for c in preferences.allowed_channels}:
            return self._verdict(Decision.ALLOW, 100, ("allowed_channel",))
        text = "\n".join(
            part for part in (item.title, item.text, item.author, *item_tags(item.raw)) if part
        )
        blocked = _matches(self.patterns_for(preferences.blocked_words), text)
        if blocked:
            confidence = min(95, 60 + 10 * len(blocked))
            return self._verdict(
                Decision.BLOCK, confidence, tuple(f"blocked_word:{w}" for w in blocked)
            )
        age = preferences.viewer_age
        if age is not None:
            if age < 18 and _is_age_restricted(item.raw):
                if age < 13:
                    return self._verdict(Decision.BLOCK, 90, ("age_restricted",))
                return self._verdict(Decision.REVIEW, 70, ("age_restricted",))
            if age < 13:
                mature = _matches(_MATURE_PATTERNS, text)
                if mature:
                    return self._verdict(Decision.REVIEW, 60, tuple(f"mature:{w}" for w in mature))
        return self._verdict(Decision.ALLOW, 80, ())

    def patterns_for(self, words: Sequence[str]) -> tuple[tuple[str, re.Pattern[str]], ...]:
        """The compiled whole-word patterns of ``words`` (cached per tuple of words)."""
        key = tuple(words)
        with self._lock:
            cached = self._patterns.get(key)
        if cached is not None:
            return cached
        compiled = _compile_words(key)
        with self._lock:
            if len(self._patterns) >= _PATTERN_CACHE_SIZE:
                self._patterns.clear()
            return self._patterns.setdefault(key, compiled)

    def close(self) -> None:
        """Nothing to release."""

    @staticmethod
    def _verdict(decision: Decision, confidence: int, tags: tuple[str, ...]) -> Verdict:
        return Verdict(decision=decision, confidence=confidence, tags=tags, tokens=0, ai_calls=0)


# --------------------------------------------------------------------------- openai


class _RedactSecrets(logging.Filter):
    """Scrub registered secrets (API keys) out of httpx/httpcore log records."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        """Start scrubbing ``secret``."""
        if secret:
            with self._lock:
                self._secrets.add(secret)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without any registered secret."""
        with self._lock:
            secrets = tuple(self._secrets)
        if not secrets:
            return True
        message = record.getMessage()
        scrubbed = message
        for secret in secrets:
            scrubbed = scrubbed.replace(secret, "***")
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


_REDACT = _RedactSecrets()
# Logger filters do not apply to records propagated from child loggers: name them all.
for _logger in (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
):
    logging.getLogger(_logger).addFilter(_REDACT)

_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)
_KEYISH = re.compile(r"\bsk-[A-Za-z0-9_*.\-]+")


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
        _REDACT.add(api_key)
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
        status = response.status_code
        if 200 <= status < 300:
            return
        common: dict[str, Any] = {"provider": self.name, "status_code": status}
        if status == 429 and self._error_code(response) == "insufficient_quota":
            raise ConfigurationError(
                "openai: the account behind SYNCJOBS_OPENAI__API_KEY is out of quota "
                "(HTTP 429 insufficient_quota); waiting will not help"
            )
        if status == 429:
            wait = parse_retry_after(response.headers.get("Retry-After"), 20.0)
            raise RateLimitedError(
                f"openai: rate limited (HTTP 429), retry in {wait:g}s",
                retry_after=wait,
                reason=self._error_code(response),
                **common,
            )
        if status in (401, 403):
            raise ConfigurationError(
                f"openai: the endpoint rejected the API key (HTTP {status}); "
                "check SYNCJOBS_OPENAI__API_KEY"
            )
        if status == 408 or status >= 500:
            raise ProviderUnavailableError(
                f"openai: the endpoint is unavailable (HTTP {status})", **common
            )
        detail = self._error_message(response)
        raise UnexpectedResponseError(
            f"openai: unexpected answer (HTTP {status})" + (f": {detail}" if detail else ""),
            reason=self._error_code(response),
            **common,
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
        if self._api_key:
            text = text.replace(self._api_key, "***")
        return _KEYISH.sub("***", text)

    def _unexpected(self, problem: str) -> UnexpectedResponseError:
        return UnexpectedResponseError(
            f"openai: {problem}", provider=self.name, reason="invalid_payload"
        )

    def _verdict(self, response: httpx.Response) -> Verdict:
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError):
            raise self._unexpected("the answer is not JSON") from None
        content = _get(body, "choices")
        if not isinstance(content, list) or not content:
            raise self._unexpected("the answer has no choices")
        message = _get(content[0], "message", "content")
        if not isinstance(message, str):
            raise self._unexpected("the answer's first choice has no message content")
        reply = self._parse_reply(message)
        return Verdict(
            decision=self._decision(reply.get("decision")),
            confidence=self._confidence(reply.get("confidence")),
            tags=self._tags(reply.get("tags")),
            tokens=_tokens(_get(body, "usage")),
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


# --------------------------------------------------------------------------- factory


def build_analyzer(settings: Settings, transport: httpx.BaseTransport | None = None) -> Analyzer:
    """The analyzer ``settings.analyzer`` names, configured from the settings."""
    if settings.analyzer == "keyword":
        return KeywordAnalyzer()
    if settings.analyzer == "openai":
        openai = settings.openai
        if not openai.api_key:
            raise ConfigurationError(
                "the openai analyzer needs an API key: set SYNCJOBS_OPENAI__API_KEY"
            )
        return OpenAICompatibleAnalyzer(
            openai.base_url,
            openai.api_key,
            openai.model,
            timeout=openai.timeout,
            max_tokens=openai.max_tokens,
            transport=transport,
        )
    raise ConfigurationError(f"unknown analyzer {settings.analyzer!r}; one of keyword, openai")

"""The shared HTTP base of the built-in adapters.

One place for what every adapter needs: the ``httpx.Client``, the OAuth ``httpx.Auth`` flow
(refresh when due, refresh once after a rejection, under a per-account lock), the mapping of
responses to the error tree, call and quota metering, pagination-loop detection, and the
newest-first walk that YouTube, Instagram and TikTok share.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Literal, Self, TypeVar
from zoneinfo import ZoneInfo

import httpx
from pydantic import BaseModel, ValidationError

from .._http import parse_retry_after
from ..errors import (
    PermissionDeniedError,
    ProviderError,
    ProviderUnavailableError,
    RateLimitedError,
    ReauthorizationRequiredError,
    UnexpectedResponseError,
)
from .types import Item, KnownItems, Page, ProviderConfig, TokenSet

__all__ = [
    "Entry",
    "FeedPage",
    "FeedProvider",
    "FeedState",
    "FeedStep",
    "HTTPProvider",
    "ProviderAuth",
    "ResourceNotFoundError",
    "StaleCursorError",
    "TokenRejectedError",
    "fingerprint",
    "lock_for",
    "parse_time",
    "seconds_until_pacific_midnight",
    "to_int",
]

M = TypeVar("M", bound=BaseModel)
Clock = Callable[[], datetime]

#: Request extensions carrying what a request costs (read by the meter in the auth flow).
UNITS = "syncjobs.quota_units"
CALLS = "syncjobs.api_calls"

_PACIFIC = ZoneInfo("America/Los_Angeles")

#: Provider reasons (Google ``errors[].reason``, Graph ``error.code``, TikTok ``error.code``,
#: OAuth ``error``) by what they mean; see PROVIDERS.md §6.
RATE_LIMIT_REASONS = frozenset(
    {
        "rateLimitExceeded",
        "userRateLimitExceeded",
        "rate_limit_exceeded",
        "4",
        "17",
        "32",
        "341",
        "613",
        "80002",
    }
)
DAILY_QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
TOKEN_REJECTED_REASONS = frozenset({"authError", "access_token_invalid", "190", "invalid_token"})
REAUTH_REASONS = frozenset({"invalid_grant"})
PERMISSION_REASONS = frozenset(
    {
        "forbidden",
        "insufficientPermissions",
        "scope_not_authorized",
        "scope_permission_missed",
        "10",
        "invalid_client",
        "unauthorized_client",
    }
)
TRANSIENT_REASONS = frozenset(
    {"1", "2", "internal_error", "backendError", "server_error", "temporarily_unavailable"}
)


class _RedactTokens(logging.Filter):
    """Scrub access and refresh tokens out of httpx's request log lines (Instagram sends the
    token as a query parameter, and httpx logs every URL at INFO)."""

    _SECRET = re.compile(r"((?:access_token|refresh_token|client_secret|code)=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without secrets."""
        message = record.getMessage()
        if "=" in message:
            record.msg, record.args = self._SECRET.sub(r"\1<redacted>", message), None
        return True


for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_RedactTokens())

_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def lock_for(account_key: str) -> threading.Lock:
    """Return the process-wide refresh lock of one account (created on first use)."""
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(account_key, threading.Lock())


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def seconds_until_pacific_midnight(now: datetime) -> float:
    """Return the seconds from ``now`` until the next midnight in America/Los_Angeles."""
    local = now.astimezone(_PACIFIC)
    next_day = (local + timedelta(days=1)).date()
    midnight = datetime(next_day.year, next_day.month, next_day.day, tzinfo=_PACIFIC)
    return max(1.0, (midnight.astimezone(UTC) - now.astimezone(UTC)).total_seconds())


def parse_time(value: str | int | float) -> datetime:
    """Parse an ISO 8601 string (``Z`` or ``+0000`` offsets) or epoch seconds to aware UTC."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def to_int(value: object) -> int | None:
    """Return ``value`` as an int if it is one or a numeric string (APIs send strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def metrics_of(raw: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, int]:
    """Pick the integer metrics ``names`` (metric -> raw key) out of ``raw``."""
    out: dict[str, int] = {}
    for metric, key in names.items():
        number = to_int(raw.get(key))
        if number is not None:
            out[metric] = number
    return out


def fingerprint(value: object) -> str:
    """Return a short stable hash of a JSON-serialisable value."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def chunks(values: Sequence[str], size: int) -> Iterator[list[str]]:
    """Yield ``values`` in lists of at most ``size``."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])


class StaleCursorError(UnexpectedResponseError):
    """Raised when the provider no longer accepts a stored page token or history id."""

    code = "stale_cursor"


class ResourceNotFoundError(UnexpectedResponseError):
    """Raised when the provider answers 404 for a resource (e.g. a message deleted meanwhile)."""

    code = "not_found"


class TokenRejectedError(ReauthorizationRequiredError):
    """Raised when the API rejects the access token even after the one refresh allowed."""


@dataclass(frozen=True)
class _ErrorDetail:
    status: int
    reason: str | None
    message: str


def _error_detail(response: httpx.Response, style: str) -> _ErrorDetail | None:
    """Extract the provider's error reason and message, or None for a clean success."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str) and error:
        message = str(body.get("error_description", "")) if isinstance(body, dict) else ""
        return _ErrorDetail(response.status_code, error, message)
    if isinstance(error, dict):
        reason = _reason_of(error, style)
        if reason == "ok" and response.is_success:
            return None
        return _ErrorDetail(response.status_code, reason, str(error.get("message", "")))
    if response.is_success:
        return None
    return _ErrorDetail(response.status_code, None, "")


def _reason_of(error: Mapping[str, Any], style: str) -> str | None:
    errors = error.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return str(errors[0].get("reason") or "") or None
    code = error.get("code")
    if isinstance(code, str):
        return code
    if isinstance(code, int) and style == "graph":
        return str(code)
    status = error.get("status")
    return status if isinstance(status, str) else None


def _graph_regain_seconds(value: str | None) -> float | None:
    """Read ``estimated_time_to_regain_access`` (minutes) from X-Business-Use-Case-Usage."""
    try:
        usage = json.loads(value or "")
        minutes = max(
            float(entry.get("estimated_time_to_regain_access") or 0)
            for entries in usage.values()
            for entry in entries
        )
    except (ValueError, TypeError, AttributeError):
        return None
    return minutes * 60 if minutes > 0 else None


class ProviderAuth(httpx.Auth):
    """The OAuth flow: refresh first when due, send, refresh once after a rejection, resend."""

    requires_response_body = True

    def __init__(self, provider: HTTPProvider) -> None:
        self._provider = provider

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Authorise ``request``; after a token rejection refresh once and send it again."""
        provider = self._provider
        token = provider.fresh_access_token()
        provider.authorize(request, token)
        provider.meter(request)
        response = yield request
        if not provider.is_token_rejection(response):
            return
        token = provider.refresh_after_rejection(token)
        provider.authorize(request, token)
        provider.meter(request)
        yield request


class HTTPProvider:
    """Concrete base of the built-in adapters: HTTP client, OAuth, errors, metering, paging."""

    name: ClassVar[str] = "http"
    #: How the provider's error bodies look: "google", "graph" or "tiktok".
    error_style: ClassVar[str] = "google"
    default_base_url: ClassVar[str] = ""
    default_token_url: ClassVar[str] = ""
    default_page_size: ClassVar[int] = 50
    max_page_size: ClassVar[int] = 50
    #: Refresh this long before the access token's known expiry.
    refresh_margin: ClassVar[timedelta] = timedelta(minutes=5)
    #: Seconds to wait after a rate limit that names no delay (jitter of up to 25 % added).
    default_retry_after: ClassVar[float] = 30.0
    #: Provider reasons, and endpoints whose 404, that mean a stored cursor went stale.
    stale_cursor_reasons: ClassVar[frozenset[str]] = frozenset()
    stale_cursor_endpoints: ClassVar[frozenset[str]] = frozenset()

    def __init__(
        self,
        *,
        tokens: TokenSet,
        save_tokens: Callable[[TokenSet], None],
        config: ProviderConfig,
        transport: httpx.BaseTransport | None = None,
        lock: threading.Lock | None = None,
        page_size: int | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._tokens = tokens
        self._save_tokens = save_tokens
        self.config = config
        self._lock = lock or threading.Lock()
        self._clock: Clock = clock or utcnow
        self.page_size = max(1, min(page_size or self.default_page_size, self.max_page_size))
        self.base_url = (config.base_url or self.default_base_url).rstrip("/")
        self.token_url = config.token_url or self.default_token_url
        self._rng = random.Random()
        self._client = httpx.Client(
            base_url=self.base_url + "/",
            timeout=config.timeout,
            transport=transport,
            auth=ProviderAuth(self),
        )
        #: Totals over the adapter's life; pages report the part spent since the last page.
        self.api_calls = 0
        self.quota_units = 0
        self._reported = (0, 0)
        self._page_tokens: set[str] = set()

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Release the adapter's HTTP client."""
        self._client.close()

    def __enter__(self) -> HTTPProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def tokens(self) -> TokenSet:
        """The token set in use (the latest one after a refresh)."""
        return self._tokens

    def now(self) -> datetime:
        """Return the adapter's clock reading (aware UTC)."""
        return self._clock().astimezone(UTC)

    # -- tokens ------------------------------------------------------------------------------

    def refresh_due(self, tokens: TokenSet, now: datetime) -> bool:
        """Tell whether ``tokens`` should be refreshed before the next call."""
        return tokens.expires_at is not None and now >= tokens.expires_at - self.refresh_margin

    def can_refresh(self, tokens: TokenSet, now: datetime) -> bool:
        """Tell whether ``tokens`` can be refreshed at all."""
        return bool(tokens.refresh_token)

    def refresh_tokens(self, tokens: TokenSet) -> TokenSet:
        """Exchange ``tokens`` for a new token set at the provider's token endpoint."""
        raise NotImplementedError  # pragma: no cover

    def authorize(self, request: httpx.Request, access_token: str) -> None:
        """Put ``access_token`` on ``request`` (a Bearer header by default)."""
        request.headers["Authorization"] = f"Bearer {access_token}"

    def fresh_access_token(self) -> str:
        """Return an access token, refreshing it first when it is known expired or near expiry."""
        tokens, now = self._tokens, self.now()
        expired = tokens.expires_at is not None and now >= tokens.expires_at
        if not self.can_refresh(tokens, now):
            if expired:
                raise self._reauth("the access token expired and cannot be refreshed")
            return tokens.access_token
        if self.refresh_due(tokens, now):
            return self._refresh_locked(tokens.access_token, when_due=True)
        return tokens.access_token

    def refresh_after_rejection(self, rejected: str) -> str:
        """Refresh once after the API rejected ``rejected``; raise when that is impossible."""
        if not self.can_refresh(self._tokens, self.now()):
            raise self._reauth("the API rejected the access token and it cannot be refreshed")
        return self._refresh_locked(rejected, when_due=False)

    def _refresh_locked(self, stale: str, *, when_due: bool) -> str:
        with self._lock:
            current = self._tokens
            if current.access_token != stale:
                return current.access_token  # refreshed meanwhile by another request
            if when_due and not self.refresh_due(current, self.now()):
                return current.access_token
            new = self.refresh_tokens(current)
            self._save_tokens(new)  # before use: rotated refresh tokens must never be lost
            self._tokens = new
            return new.access_token

    def token_set(self, payload: Mapping[str, Any], previous: TokenSet) -> TokenSet:
        """Build the token set a token endpoint answered, keeping what it did not renew."""
        now = self.now()
        expires_in = to_int(payload.get("expires_in"))
        refresh_expires_in = to_int(payload.get("refresh_expires_in"))
        new_refresh = payload.get("refresh_token")
        return TokenSet(
            access_token=str(payload["access_token"]),
            refresh_token=str(new_refresh) if new_refresh else previous.refresh_token,
            expires_at=now + timedelta(seconds=expires_in) if expires_in else None,
            issued_at=now,
            refresh_expires_at=(
                now + timedelta(seconds=refresh_expires_in)
                if refresh_expires_in
                else previous.refresh_expires_at
            ),
            scope=str(payload["scope"]) if payload.get("scope") else previous.scope,
        )

    # -- requests ----------------------------------------------------------------------------

    def meter(self, request: httpx.Request) -> None:
        """Count one sent request (its calls and quota units ride in its extensions)."""
        self.api_calls += int(request.extensions.get(CALLS, 1))
        self.quota_units += int(request.extensions.get(UNITS, 0))

    def call(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        units: int = 1,
        calls: int = 1,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send an authorised request and return its successful response, or raise."""
        extensions = {UNITS: units, CALLS: calls}
        response = self._send(
            endpoint, lambda: self._client.request(method, url, extensions=extensions, **kwargs)
        )
        self.raise_for_response(response, endpoint=endpoint)
        return response

    def send_unauthenticated(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request without the access-token flow (token endpoints); counts one call."""
        self.api_calls += 1
        return self._client.request(method, url, auth=None, **kwargs)

    def token_call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Call a token endpoint: one call, no quota units, errors mapped, never the token shown."""
        response = self._send("token", lambda: self.send_unauthenticated(method, url, **kwargs))
        self.raise_for_response(response, endpoint="token")
        return response

    def _send(self, endpoint: str, send: Callable[[], httpx.Response]) -> httpx.Response:
        try:
            return send()
        except httpx.TimeoutException as exc:
            error = ProviderUnavailableError(
                f"{self.name} {endpoint}: no answer within {self.config.timeout:g} s",
                provider=self.name,
                reason="timeout",
            )
            cause: Exception = exc
        except httpx.TransportError as exc:
            error = ProviderUnavailableError(
                f"{self.name} {endpoint}: connection failed ({type(exc).__name__})",
                provider=self.name,
                reason="connection_error",
            )
            cause = exc
        # A token request's URL may carry the token (Instagram): never chain it.
        raise error from (None if endpoint == "token" else cause)

    def parse(self, response: httpx.Response, model: type[M], *, endpoint: str) -> M:
        """Validate a JSON response body against ``model``; raise UnexpectedResponseError."""
        return self.validate(self.json_of(response, endpoint=endpoint), model, endpoint=endpoint)

    def json_of(self, response: httpx.Response, *, endpoint: str) -> Any:
        """Decode a JSON response body; raise UnexpectedResponseError when it is not JSON."""
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            raise self._unexpected(endpoint, "the body is not JSON") from None

    def validate(self, data: object, model: type[M], *, endpoint: str) -> M:
        """Validate decoded data against ``model``; raise UnexpectedResponseError if it fails."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            problem = f"payload failed validation at {where} ({first['type']})"
            raise self._unexpected(endpoint, problem) from None

    def timestamp(self, value: str | int | float | None, *, endpoint: str) -> datetime:
        """Parse a provider timestamp; raise UnexpectedResponseError when it is not one."""
        try:
            if value is None:
                raise ValueError(value)
            return parse_time(value)
        except (TypeError, ValueError, OverflowError):
            raise self._unexpected(endpoint, "a timestamp is missing or invalid") from None

    def _unexpected(self, endpoint: str, problem: str) -> UnexpectedResponseError:
        return UnexpectedResponseError(
            f"{self.name} {endpoint}: {problem}", provider=self.name, reason="invalid_payload"
        )

    # -- errors: the ONLY place answers map to the error tree --------------------------------

    def is_token_rejection(self, response: httpx.Response) -> bool:
        """Tell whether ``response`` rejects the access token (so one refresh may help)."""
        return isinstance(self.classify(response, endpoint="auth"), TokenRejectedError)

    def raise_for_response(self, response: httpx.Response, *, endpoint: str) -> None:
        """Raise the error ``response`` means, if any."""
        error = self.classify(response, endpoint=endpoint)
        if error is not None:
            raise error

    def classify(self, response: httpx.Response, *, endpoint: str) -> ProviderError | None:
        """Map an answer to the error it means (PROVIDERS.md §6), or None on success."""
        detail = _error_detail(response, self.error_style)
        if detail is None:
            return None
        status, reason = detail.status, detail.reason
        text = self._describe(endpoint, detail)
        common: dict[str, Any] = {"provider": self.name, "status_code": status, "reason": reason}
        if reason in self.stale_cursor_reasons or (
            status == 404 and endpoint in self.stale_cursor_endpoints
        ):
            return StaleCursorError(f"stale cursor: {text}", **common)
        if reason in DAILY_QUOTA_REASONS:
            wait = seconds_until_pacific_midnight(self.now())
            return RateLimitedError(f"quota exhausted: {text}", retry_after=wait, **common)
        if reason in RATE_LIMIT_REASONS or status == 429:
            wait = self._retry_after(response)
            return RateLimitedError(f"rate limited: {text}", retry_after=wait, **common)
        if reason in REAUTH_REASONS:
            return ReauthorizationRequiredError(f"reauthorization required: {text}", **common)
        return self._classify_rest(detail, text, common)

    def _classify_rest(
        self, detail: _ErrorDetail, text: str, common: dict[str, Any]
    ) -> ProviderError:
        status, reason = detail.status, detail.reason
        if reason in TOKEN_REJECTED_REASONS or (status == 401 and reason not in PERMISSION_REASONS):
            return TokenRejectedError(f"access token rejected: {text}", **common)
        graph_permission = self.error_style == "graph" and 200 <= (to_int(reason) or 0) <= 299
        if reason in PERMISSION_REASONS or graph_permission or status == 403:
            return PermissionDeniedError(f"permission denied: {text}", **common)
        if reason in TRANSIENT_REASONS or status >= 500 or status in (408, 502, 503, 504):
            return ProviderUnavailableError(f"provider unavailable: {text}", **common)
        if status == 404:
            return ResourceNotFoundError(f"not found: {text}", **common)
        return UnexpectedResponseError(f"unexpected answer: {text}", **common)

    def _describe(self, endpoint: str, detail: _ErrorDetail) -> str:
        message = self.scrub(detail.message)[:200]
        reason = f" {detail.reason}" if detail.reason else ""
        return f"{self.name} {endpoint} answered HTTP {detail.status}{reason}" + (
            f": {message}" if message else ""
        )

    def _retry_after(self, response: httpx.Response) -> float:
        header = parse_retry_after(response.headers.get("Retry-After"), 0.0, self.now())
        if header > 0:
            return header
        regain = _graph_regain_seconds(response.headers.get("X-Business-Use-Case-Usage"))
        if regain is not None:
            return regain
        return self.default_retry_after * (1 + 0.25 * self._rng.random())

    def scrub(self, text: str) -> str:
        """Remove every token and secret (and any ``access_token=`` value) from ``text``."""
        secrets = (self._tokens.access_token, self._tokens.refresh_token, self.config.client_secret)
        for secret in secrets:
            if secret:
                text = text.replace(secret, "***")
        return re.sub(r"((?:access|refresh)_token=)[^&\s\"']+", r"\1***", text)

    def _reauth(self, message: str) -> ReauthorizationRequiredError:
        return ReauthorizationRequiredError(f"{self.name}: {message}", provider=self.name)

    # -- metering and paging -----------------------------------------------------------------

    def take_usage(self) -> tuple[int, int]:
        """Return the calls and quota units spent since the last call, and reset that count."""
        calls, units = self._reported
        self._reported = (self.api_calls, self.quota_units)
        return self.api_calls - calls, self.quota_units - units

    def make_page(self, items: list[Item], cursor: dict[str, Any], **fields: Any) -> Page:
        """Build a page reporting the calls and units spent since the previous page."""
        calls, units = self.take_usage()
        return Page(items=items, cursor=cursor, api_calls=calls, quota_units=units, **fields)

    def start_run(self) -> None:
        """Start counting a run's usage and forget the page tokens seen."""
        self.reset_page_tokens()
        self.take_usage()

    def reset_page_tokens(self) -> None:
        """Forget the page tokens seen (pagination-loop detection is per listing)."""
        self._page_tokens = set()

    def check_page_token(self, token: str | None) -> None:
        """Raise UnexpectedResponseError when a page token repeats within one run."""
        if token is None:
            return
        if token in self._page_tokens:
            raise UnexpectedResponseError(
                f"{self.name}: pagination loop detected (a page token repeated)",
                provider=self.name,
                reason="pagination_loop",
            )
        self._page_tokens.add(token)


# -- the newest-first walk (YouTube uploads, Instagram media, TikTok videos) --------------

#: (fingerprint, timestamp) of an item in the recent window.
WindowEntry = tuple[str, datetime]


@dataclass(frozen=True)
class Entry:
    """One listed record of a newest-first feed."""

    id: str
    ts: datetime
    fingerprint: str
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class FeedPage:
    """One page of a newest-first feed."""

    entries: list[Entry]
    next_token: str | None
    total_hint: int | None = None


@dataclass
class FeedStep:
    """What one feed page means for the store."""

    fetch: list[Entry] = field(default_factory=list)
    unchanged: int = 0
    done: bool = False
    deleted: list[str] = field(default_factory=list)


class FeedRun(BaseModel):
    """A run in progress: where to resume and what to adopt when it ends."""

    full: bool
    next: str | None = None
    hwm: datetime | None = None
    floor: datetime | None = None
    window: dict[str, WindowEntry] = {}
    seen: list[str] = []


class FeedState(BaseModel):
    """The cursor of a newest-first feed (JSON: datetimes as ISO strings)."""

    v: Literal[1] = 1
    #: Timestamp of the newest item stored.
    hwm: datetime | None = None
    #: The newest items (id -> fingerprint, timestamp): changes and deletes among them are seen.
    window: dict[str, WindowEntry] = {}
    run: FeedRun | None = None
    #: Provider-specific cached values (e.g. YouTube's uploads playlist id).
    extra: dict[str, str] = {}

    @classmethod
    def start(cls, cursor: Mapping[str, Any] | None, *, full: bool) -> tuple[Self, bool]:
        """Load ``cursor`` and start or resume a run; also tell whether a full run starts."""
        try:
            state = cls.model_validate(cursor) if cursor else cls()
        except ValidationError:
            state = cls()
        if state.run is not None and (state.run.full or not full):
            return state, False
        state.run = FeedRun(full=full or state.hwm is None)
        return state, state.run.full

    def absorb(self, page: FeedPage, known: KnownItems, window_size: int) -> FeedStep:
        """Sort a page into new/changed, unchanged and stop; advance the run."""
        run = self._run
        step, stop, candidates = FeedStep(), False, []
        for entry in page.entries:
            if entry.id in self.window and entry.id not in run.seen:
                run.seen.append(entry.id)
            stop = stop or (not run.full and self.hwm is not None and entry.ts <= self.hwm)
            previous = self.window.get(entry.id)
            if run.full or previous is None:
                candidates.append(entry)
            elif previous[0] != entry.fingerprint:
                step.fetch.append(entry)
        stored = known([e.id for e in candidates]) if candidates and not run.full else set()
        step.fetch += [e for e in candidates if e.id not in stored]
        step.unchanged = len(page.entries) - len(step.fetch)
        self._advance(page, window_size)
        if stop or page.next_token is None:
            step.done = True
            step.deleted = self._finish(exhausted=not stop, window_size=window_size)
        return step

    @property
    def _run(self) -> FeedRun:
        if self.run is None:  # pragma: no cover - start() always sets it
            raise RuntimeError("no run in progress")
        return self.run

    def _advance(self, page: FeedPage, window_size: int) -> None:
        run = self._run
        for entry in page.entries:
            if len(run.window) < window_size:
                run.window[entry.id] = (entry.fingerprint, entry.ts)
            run.hwm = entry.ts if run.hwm is None else max(run.hwm, entry.ts)
            run.floor = entry.ts if run.floor is None else min(run.floor, entry.ts)
        run.next = page.next_token

    def _finish(self, *, exhausted: bool, window_size: int) -> list[str]:
        run = self._run
        floor = None if exhausted else run.floor
        deleted = [
            item_id
            for item_id, (_, ts) in self.window.items()
            if item_id not in run.seen and (floor is None or ts > floor)
        ]
        merged = dict(run.window)
        for item_id, entry in self.window.items():
            if item_id not in deleted and item_id not in run.seen:
                merged.setdefault(item_id, entry)
        newest = sorted(merged.items(), key=lambda kv: kv[1][1], reverse=True)[:window_size]
        self.window = dict(newest)
        if run.hwm is not None:
            self.hwm = run.hwm if self.hwm is None else max(self.hwm, run.hwm)
        self.run = None
        return deleted

    def restart(self) -> None:
        """Start the current run over from the top, forgetting cached provider values."""
        self.run = FeedRun(full=self._run.full)
        self.extra = {}

    def dump(self) -> dict[str, Any]:
        """Return the cursor as JSON-serialisable data."""
        return self.model_dump(mode="json")


class FeedProvider(HTTPProvider):
    """A provider whose list is newest-first: walk from the top down to the high-water mark.

    Each run pages from the newest item down to the stored high-water mark (or the end in a
    full run). Items newer than the mark, or unknown to the store, are fetched; the newest
    ``page_size`` items are remembered with a fingerprint so that changes and deletes among
    them are seen at no extra call. Older edits and deletes show up in full runs only
    (``Page.full_resync``).
    """

    #: The cursor model (an adapter may extend it with fields of its own).
    state_type: ClassVar[type[FeedState]] = FeedState

    def prepare(self, state: FeedState) -> None:
        """Fill ``state.extra`` before the first list call (e.g. discover a playlist id)."""

    def note_page(self, state: FeedState, listed: FeedPage, step: FeedStep) -> None:
        """Hook: record what one list page showed in ``state`` before its cursor is dumped."""

    def after_walk(self, state: FeedState, *, full: bool) -> Iterator[Page]:
        """Hook: yield further pages once the walk's last page (and cursor) was yielded."""
        return iter(())

    def list_page(self, token: str | None, state: FeedState) -> FeedPage:
        """Fetch one page of the feed, newest first."""
        raise NotImplementedError  # pragma: no cover

    def items_for(self, entries: list[Entry]) -> list[Item]:
        """Turn listed entries into items (fetching details where the list lacks them)."""
        raise NotImplementedError  # pragma: no cover

    def sync(
        self, cursor: Mapping[str, Any] | None, *, full: bool, known: KnownItems
    ) -> Iterator[Page]:
        """Yield one page per list page; each page's cursor resumes right after it."""
        state, fresh_full = self.state_type.start(cursor, full=full)
        self.start_run()
        first, restarted = True, False
        while True:
            run = state.run
            assert run is not None
            try:
                if first:
                    self.prepare(state)
                listed = self.list_page(run.next, state)
            except StaleCursorError:
                if restarted:
                    raise
                # A page token or cached id went stale: walk again from the top (stored
                # items are known, so this costs list calls only).
                restarted, first, fresh_full = True, True, run.full
                state.restart()
                continue
            self.check_page_token(listed.next_token)
            step = state.absorb(listed, known, self.page_size)
            items = self.items_for(step.fetch) if step.fetch else []
            self.note_page(state, listed, step)
            yield self.make_page(
                items,
                state.dump(),
                deleted_ids=step.deleted,
                unchanged=step.unchanged,
                total_hint=listed.total_hint,
                full_resync=first and fresh_full,
            )
            first = False
            if step.done:
                yield from self.after_walk(state, full=run.full)
                return

    def entries(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        endpoint: str,
        id_of: Callable[[Mapping[str, Any]], object],
        time_of: Callable[[Mapping[str, Any]], Any],
        stable_of: Callable[[Mapping[str, Any]], object],
    ) -> list[Entry]:
        """Build feed entries: id, timestamp and the fingerprint of the record's stable part."""
        out = []
        for record in records:
            item_id = id_of(record)
            if not isinstance(item_id, str | int) or item_id == "":
                raise self._unexpected(endpoint, "a listed item has no id")
            ts = self.timestamp(time_of(record), endpoint=endpoint)
            out.append(Entry(str(item_id), ts, fingerprint(stable_of(record)), record))
        return out

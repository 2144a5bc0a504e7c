"""The HTTP base of the built-in adapters.

One place for what every adapter needs: the ``httpx.Client``; the OAuth ``httpx.Auth`` flow
(:class:`ProviderAuth`: refresh when due, refresh once after a rejection, with the token
handling of :mod:`.oauth`); the mapping of answers to the error tree (the shared mapper of
:mod:`syncjobs._http` with the provider hooks of :mod:`.error_bodies`); call and quota
metering; and pagination-loop detection.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Generator
from datetime import datetime
from typing import Any, ClassVar, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from .._http import (
    Meaning,
    error_for,
    install_log_redaction,
    meaning_of,
    parse_retry_after,
    scrub,
    send,
)
from ..errors import (
    ProviderError,
    TokenRejectedError,
    UnexpectedResponseError,
)
from .error_bodies import (
    PHRASES,
    ErrorDetail,
    error_detail,
    graph_regain_seconds,
    provider_reasons,
    style_meaning,
)
from .oauth import Clock, TokenFlow
from .types import Item, Page, ProviderConfig, TokenSet
from .util import parse_time, seconds_until_pacific_midnight

__all__ = ["CALLS", "UNITS", "HTTPProvider", "ProviderAuth"]

M = TypeVar("M", bound=BaseModel)

#: Request extensions carrying what a request costs (read by the meter in the auth flow).
UNITS = "syncjobs.quota_units"
CALLS = "syncjobs.api_calls"


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


class HTTPProvider(TokenFlow):
    """Concrete base of the built-in adapters: HTTP client, OAuth, errors, metering, paging."""

    name: ClassVar[str] = "http"
    #: How the provider's error bodies look: "google", "graph" or "tiktok".
    error_style: ClassVar[str] = "google"
    default_base_url: ClassVar[str] = ""
    default_token_url: ClassVar[str] = ""
    default_page_size: ClassVar[int] = 50
    max_page_size: ClassVar[int] = 50
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
        super().__init__(tokens=tokens, save_tokens=save_tokens, lock=lock, clock=clock)
        self.config = config
        self.page_size = max(1, min(page_size or self.default_page_size, self.max_page_size))
        self.base_url = (config.base_url or self.default_base_url).rstrip("/")
        self.token_url = config.token_url or self.default_token_url
        self._rng = random.Random()
        self._reasons = provider_reasons(self.stale_cursor_reasons)
        install_log_redaction()
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

    def _send(self, endpoint: str, request: Callable[[], httpx.Response]) -> httpx.Response:
        # A token request's URL may carry the token (Instagram): never chain its failure.
        return send(
            request,
            label=f"{self.name} {endpoint}",
            provider=self.name,
            timeout=self.config.timeout,
            connection_reason="connection_error",
            chain=endpoint != "token",
        )

    def parse(self, response: httpx.Response, model: type[M], *, endpoint: str) -> M:
        """Validate a JSON response body against ``model``; raise UnexpectedResponseError."""
        return self.validate(self.json_of(response, endpoint=endpoint), model, endpoint=endpoint)

    def json_of(self, response: httpx.Response, *, endpoint: str) -> Any:
        """Decode a JSON response body; raise UnexpectedResponseError when it is not JSON."""
        try:
            return response.json()
        except (ValueError, UnicodeDecodeError):
            raise self.unexpected(endpoint, "the body is not JSON") from None

    def validate(self, data: object, model: type[M], *, endpoint: str) -> M:
        """Validate decoded data against ``model``; raise UnexpectedResponseError if it fails."""
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "body"
            problem = f"payload failed validation at {where} ({first['type']})"
            raise self.unexpected(endpoint, problem) from None

    def timestamp(self, value: str | int | float | None, *, endpoint: str) -> datetime:
        """Parse a provider timestamp; raise UnexpectedResponseError when it is not one."""
        try:
            if value is None:
                raise ValueError(value)
            return parse_time(value)
        except (TypeError, ValueError, OverflowError):
            raise self.unexpected(endpoint, "a timestamp is missing or invalid") from None

    def unexpected(self, endpoint: str, problem: str) -> UnexpectedResponseError:
        """Build the error of a payload that is not what ``endpoint`` should answer."""
        return UnexpectedResponseError(
            f"{self.name} {endpoint}: {problem}", provider=self.name, reason="invalid_payload"
        )

    # -- errors: answers mapped to the error tree ---------------------------------------------

    def is_token_rejection(self, response: httpx.Response) -> bool:
        """Tell whether ``response`` rejects the access token (so one refresh may help)."""
        return isinstance(self.classify(response, endpoint="auth"), TokenRejectedError)

    def raise_for_response(self, response: httpx.Response, *, endpoint: str) -> None:
        """Raise the error ``response`` means, if any."""
        error = self.classify(response, endpoint=endpoint)
        if error is not None:
            raise error

    def classify(self, response: httpx.Response, *, endpoint: str) -> ProviderError | None:
        """Map an answer to the error it means, or None on success."""
        detail = error_detail(response, self.error_style)
        if detail is None:
            return None
        meaning = self.meaning(detail, endpoint=endpoint)
        wait = 0.0
        if meaning is Meaning.QUOTA_EXHAUSTED:
            wait = seconds_until_pacific_midnight(self.now())
        elif meaning is Meaning.RATE_LIMITED:
            wait = self._retry_after(response)
        return error_for(
            meaning,
            f"{PHRASES[meaning]}: {self._describe(endpoint, detail)}",
            provider=self.name,
            status_code=detail.status,
            reason=detail.reason,
            retry_after=wait,
        )

    def meaning(self, detail: ErrorDetail, *, endpoint: str) -> Meaning:
        """What an error answer means: a 404 of a cursor endpoint is a stale cursor; then
        the provider's reason and the status decide (see :func:`syncjobs._http.meaning_of`)."""
        if detail.status == 404 and endpoint in self.stale_cursor_endpoints:
            return Meaning.STALE_CURSOR
        meaning = meaning_of(detail.status, detail.reason, reasons=self._reasons)
        return style_meaning(meaning, detail.reason, self.error_style)

    def _describe(self, endpoint: str, detail: ErrorDetail) -> str:
        message = self.scrub(detail.message)[:200]
        reason = f" {detail.reason}" if detail.reason else ""
        return f"{self.name} {endpoint} answered HTTP {detail.status}{reason}" + (
            f": {message}" if message else ""
        )

    def _retry_after(self, response: httpx.Response) -> float:
        header = parse_retry_after(response.headers.get("Retry-After"), 0.0, self.now())
        if header > 0:
            return header
        regain = graph_regain_seconds(response.headers.get("X-Business-Use-Case-Usage"))
        if regain is not None:
            return regain
        return self.default_retry_after * (1 + 0.25 * self._rng.random())

    def scrub(self, text: str) -> str:
        """Remove every token and secret (and any ``access_token=`` value) from ``text``."""
        tokens = self.tokens
        return scrub(text, (tokens.access_token, tokens.refresh_token, self.config.client_secret))

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

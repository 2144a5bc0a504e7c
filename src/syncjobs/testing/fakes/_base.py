"""Shared machinery of the fake providers: requests, responses, faults, tokens, paging.

A fake is a WSGI app whose routes are relative to its own root, so it can be served
alone or mounted under a prefix (``SCRIPT_NAME``) by :class:`~.server.CombinedFakes`.
Every request goes through the same pipeline (:meth:`FakeProvider.handle`)::

    count -> match route -> sleep (latency + "timeout" fault)
          -> token route: "server_error" fault, then the provider's token handler
          -> API route:   "unauthorized" fault -> bearer check
                          -> error faults (the earliest injected matching one answers)
                          -> quota charge -> parameter check -> handler -> "malformed" fault

Faults apply to API requests only, unless injected with ``endpoint="token"`` (or, for
``invalid_grant``, by default). ``endpoint="<call name>"`` narrows any fault to one endpoint.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import http
import json
import random
import re
import threading
import time
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qs, quote

import httpx

from syncjobs.providers.types import ProviderConfig, TokenSet

__all__ = [
    "FAULT_KINDS",
    "MALFORMED_VARIANTS",
    "FakeProvider",
    "GoogleFake",
    "Request",
    "Response",
    "Route",
    "SortedIndex",
]

#: Every fault kind a fake may support (each fake lists its own in ``supported_faults``).
FAULT_KINDS = frozenset(
    {
        "rate_limit",
        "quota_exceeded",
        "unauthorized",
        "invalid_grant",
        "server_error",
        "timeout",
        "malformed",
        "stale_history",
    }
)
#: Values of ``inject("malformed", variant=...)``; the default is ``"wrong_type"``.
MALFORMED_VARIANTS = frozenset({"wrong_type", "missing_ids", "not_json", "truncated"})

StartResponse = Callable[..., Any]
Environ = Mapping[str, Any]
Handler = Callable[["Request", "re.Match[str]"], "Response"]


# --------------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class Request:
    """One parsed HTTP request, its path relative to the fake's own root."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    root_url: str = "http://testserver"

    @classmethod
    def from_environ(cls, environ: Environ) -> Request:
        """Parse a WSGI environ (headers lower-cased, body read to Content-Length)."""
        headers = {
            key[5:].replace("_", "-").lower(): str(value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            if environ.get(key):
                headers[key.replace("_", "-").lower()] = str(environ[key])
        length = int(headers.get("content-length") or 0)
        body = environ["wsgi.input"].read(length) if length > 0 else b""
        host = headers.get("host") or f"{environ['SERVER_NAME']}:{environ['SERVER_PORT']}"
        root = f"{environ.get('wsgi.url_scheme', 'http')}://{host}"
        return cls(
            method=str(environ.get("REQUEST_METHOD", "GET")).upper(),
            path=str(environ.get("PATH_INFO") or "/"),
            query=parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True),
            headers=headers,
            body=body,
            root_url=root + quote(str(environ.get("SCRIPT_NAME", ""))),
        )

    def arg(self, name: str, default: str | None = None) -> str | None:
        """First value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    def list_arg(self, name: str) -> list[str]:
        """All values of a repeatable parameter, comma-separated values split."""
        return [part for value in self.query.get(name, []) for part in value.split(",") if part]

    @property
    def bearer(self) -> str | None:
        """The access token from ``Authorization: Bearer`` or ``access_token=``."""
        auth = self.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            return auth[7:].strip() or None
        return self.arg("access_token") or None

    def form(self) -> dict[str, str]:
        """The form-encoded body (first value per field)."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {key: values[0] for key, values in parsed.items()}

    def json(self) -> Any:
        """The JSON body; raises ``ValueError`` when it is not JSON."""
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class Response:
    """What a handler answers; ``payload`` keeps the JSON object for fault rewriting."""

    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)
    payload: Any = None

    @property
    def status_line(self) -> str:
        """``"200 OK"`` style WSGI status."""
        return f"{self.status} {http.HTTPStatus(self.status).phrase}"

    def header(self, name: str, value: str) -> Response:
        """Add a header and return self."""
        self.headers.append((name, value))
        return self


def json_response(status: int, payload: Any, content_type: str | None = None) -> Response:
    """A JSON response keeping ``payload`` for later rewriting."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    ctype = content_type or "application/json; charset=UTF-8"
    return Response(status, body, [("Content-Type", ctype)], payload)


def malform(response: Response, variant: str) -> Response:
    """Break a 200 JSON response's schema the way ``variant`` says."""
    if variant == "not_json" or response.payload is None:
        page = b"<html><head><title>502 Bad Gateway</title></head><body>oops</body></html>"
        return Response(200, page, [("Content-Type", "text/html; charset=UTF-8")])
    if variant == "truncated":
        return Response(200, response.body[: len(response.body) // 2], list(response.headers))
    payload = copy.deepcopy(response.payload)
    if variant == "missing_ids":
        _strip_ids(payload)
    else:
        payload = _break_first_list(payload)
    return json_response(200, payload)


def _break_first_list(payload: Any) -> Any:
    containers = [payload] + [v for v in payload.values() if isinstance(v, dict)]
    for container in containers:
        for key, value in container.items():
            if isinstance(value, list):
                container[key] = {"unexpected": "object instead of a list"}
                return payload
    return [payload]


def _strip_ids(value: Any) -> None:
    if isinstance(value, dict):
        for key in ("id", "videoId"):
            value.pop(key, None)
        for child in value.values():
            _strip_ids(child)
    elif isinstance(value, list):
        for child in value:
            _strip_ids(child)


# --------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class Route:
    """One endpoint: method + path pattern -> logical name, handler and quota cost."""

    method: str
    pattern: re.Pattern[str]
    name: str
    handler: Handler
    units: int = 1
    token: bool = False
    #: Query parameters accepted (unknown ones are rejected); None accepts anything.
    params: frozenset[str] | None = None
    #: A container request (Gmail batch): the bearer is checked only when present.
    auth_optional: bool = False


def route(
    method: str,
    pattern: str,
    name: str,
    handler: Handler,
    *,
    units: int = 1,
    token: bool = False,
    params: Iterable[str] | None = None,
    auth_optional: bool = False,
) -> Route:
    """Build a :class:`Route` from a regex string."""
    accepted = frozenset(params) if params is not None else None
    return Route(method, re.compile(pattern), name, handler, units, token, accepted, auth_optional)


# --------------------------------------------------------------------------- faults


@dataclass
class _Fault:
    kind: str
    remaining: int
    endpoint: str | None
    options: dict[str, Any]


class FaultBook:
    """Pending injected faults; each answers the next ``count`` matching requests."""

    def __init__(self, supported: Mapping[str, str | None]) -> None:
        #: kind -> default endpoint name (None = any API endpoint, never the token one)
        self.supported = dict(supported)
        self._faults: list[_Fault] = []

    def inject(self, kind: str, count: int, options: dict[str, Any]) -> None:
        """Queue ``count`` occurrences of ``kind``; ``endpoint=`` narrows the match."""
        if kind not in self.supported:
            raise ValueError(f"unsupported fault kind {kind!r}; one of {sorted(self.supported)}")
        if count < 1:
            raise ValueError("count must be >= 1")
        variant = options.get("variant", "wrong_type")
        if kind == "malformed" and variant not in MALFORMED_VARIANTS:
            raise ValueError(f"unknown malformed variant {variant!r}")
        endpoint = options.pop("endpoint", self.supported[kind])
        self._faults.append(_Fault(kind, count, endpoint, options))

    def take(self, kind: str, endpoint: str) -> dict[str, Any] | None:
        """Consume one occurrence of ``kind`` matching ``endpoint``; its options or None."""
        taken = self.take_first({kind}, endpoint)
        return taken[1] if taken is not None else None

    def take_first(self, kinds: set[str], endpoint: str) -> tuple[str, dict[str, Any]] | None:
        """Consume the earliest-injected fault of any of ``kinds`` matching ``endpoint``."""
        for fault in self._faults:
            matches = fault.endpoint == endpoint or (fault.endpoint is None and endpoint != "token")
            if fault.kind in kinds and matches:
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault.kind, fault.options
        return None

    def remaining(self, kind: str) -> int:
        """How many occurrences of ``kind`` are still pending."""
        return sum(fault.remaining for fault in self._faults if fault.kind == kind)

    def clear(self) -> None:
        """Drop every pending fault."""
        self._faults.clear()


# --------------------------------------------------------------------------- tokens


@dataclass
class _Grant:
    issued_at: float
    expires_at: float | None
    state: str = "valid"  # valid | invalidated (by "unauthorized") | revoked


class TokenBook:
    """Access and refresh tokens the fake has issued, with their lifetimes and state."""

    def __init__(self, seed: int, access_prefix: str, refresh_prefix: str) -> None:
        self._seed = seed
        self._prefixes = {"access": access_prefix, "refresh": refresh_prefix}
        self._serial = 0
        self.access: dict[str, _Grant] = {}
        self.refresh: dict[str, _Grant] = {}

    def _name(self, kind: str) -> str:
        self._serial += 1
        digest = hashlib.sha256(f"{kind}:{self._seed}:{self._serial}".encode()).hexdigest()
        return self._prefixes[kind] + digest[:40]

    def new_access(self, issued_at: float, expires_in: int) -> str:
        """Issue an access token."""
        token = self._name("access")
        self.access[token] = _Grant(issued_at, issued_at + expires_in)
        return token

    def new_refresh(self, issued_at: float, expires_in: int | None) -> str:
        """Issue a refresh token (``expires_in`` None: no expiry)."""
        token = self._name("refresh")
        expires = issued_at + expires_in if expires_in is not None else None
        self.refresh[token] = _Grant(issued_at, expires)
        return token

    @staticmethod
    def problem(grants: Mapping[str, _Grant], token: str | None, now: float) -> str | None:
        """Why ``token`` is unusable ("missing", "unknown", "expired", state) or None."""
        if not token:
            return "missing"
        grant = grants.get(token)
        if grant is None:
            return "unknown"
        if grant.state != "valid":
            return grant.state
        if grant.expires_at is not None and now >= grant.expires_at:
            return "expired"
        return None

    def set_state(self, grants: dict[str, _Grant], token: str | None, state: str) -> None:
        """Mark a token invalidated/revoked (no-op for unknown tokens)."""
        if token and token in grants:
            grants[token].state = state


# --------------------------------------------------------------------------- paging


class SortedIndex:
    """Ids in ascending unique-key order (a timestamp): O(log n + page) newest-first pages."""

    def __init__(self) -> None:
        self._keys: list[int] = []
        self._ids: list[str] = []

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: int, item_id: str) -> None:
        """Insert an id (appending when it is the newest, the common case)."""
        if not self._keys or key > self._keys[-1]:
            self._keys.append(key)
            self._ids.append(item_id)
            return
        at = bisect_left(self._keys, key)
        if at < len(self._keys) and self._keys[at] == key:
            raise ValueError(f"duplicate key {key}")
        self._keys.insert(at, key)
        self._ids.insert(at, item_id)

    def remove(self, key: int) -> None:
        """Remove the id stored under ``key``."""
        at = bisect_left(self._keys, key)
        if at == len(self._keys) or self._keys[at] != key:
            raise KeyError(key)
        del self._keys[at]
        del self._ids[at]

    def newest_key(self) -> int | None:
        """The largest key, or None when empty."""
        return self._keys[-1] if self._keys else None

    def older(self, before: int | None, limit: int, after: int | None = None) -> list[str]:
        """Up to ``limit`` ids with ``after < key < before``, newest first."""
        high = len(self._keys) if before is None else bisect_left(self._keys, before)
        low = 0 if after is None else bisect_right(self._keys, after)
        start = max(low, high - max(limit, 0))
        return self._ids[start:high][::-1]

    def newer(self, after: int, limit: int) -> list[str]:
        """Up to ``limit`` ids with ``key > after`` closest to it, newest first."""
        low = bisect_right(self._keys, after)
        return self._ids[low : low + max(limit, 0)][::-1]

    def count_between(self, after: int | None, before: int | None) -> int:
        """How many keys lie strictly between ``after`` and ``before``."""
        high = len(self._keys) if before is None else bisect_left(self._keys, before)
        low = 0 if after is None else bisect_right(self._keys, after)
        return max(0, high - low)

    def rank(self, key: int) -> int:
        """0-based position of ``key`` counted from the newest."""
        return len(self._keys) - 1 - bisect_left(self._keys, key)

    def ids(self) -> Iterator[str]:
        """Every id, newest first."""
        return reversed(self._ids)


def encode_token(*parts: object) -> str:
    """An opaque page token carrying ``parts``."""
    raw = json.dumps(list(parts), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, arity: int) -> list[Any] | None:
    """The parts of a token from :func:`encode_token`, or None when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        parts = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(parts, list) or len(parts) != arity:
        return None
    return parts


# --------------------------------------------------------------------------- data


# fmt: off
_WORDS = (
    "river", "mountain", "coffee", "garden", "winter", "summer", "city", "night", "morning",
    "journey", "kitchen", "guitar", "camera", "ocean", "forest", "street", "market", "recipe",
    "travel", "budget", "project", "weekend", "update", "review", "tutorial", "story", "secret",
    "lesson", "challenge", "habit", "studio", "island", "bridge", "festival", "library", "planet",
    "robot", "signal", "pattern", "puzzle", "rhythm", "canvas", "lantern",
)
_ADJECTIVES = (
    "quick", "simple", "honest", "tiny", "huge", "quiet", "bright", "hidden", "perfect", "lazy",
    "brave", "cozy", "wild", "ultimate", "surprising", "easy", "hard", "strange", "golden",
)
# fmt: on
_TEMPLATES = (
    "How I {verb} the {adj} {noun}",
    "{Adj} {noun} in 10 minutes",
    "My {noun} {noun2} routine",
    "Why the {noun} matters: a {adj} guide",
    "{Adj} {noun} vs {adj2} {noun2}",
    "{N} things about {noun}s nobody tells you",
    "Day {N}: {adj} {noun} {noun2}",
)
_VERBS = ("fixed", "built", "painted", "found", "tested", "cooked", "planned", "filmed")


def make_title(rng: random.Random) -> str:
    """A plausible human title."""
    adj, adj2 = rng.choice(_ADJECTIVES), rng.choice(_ADJECTIVES)
    return rng.choice(_TEMPLATES).format(
        verb=rng.choice(_VERBS),
        adj=adj,
        Adj=adj.capitalize(),
        adj2=adj2,
        noun=rng.choice(_WORDS),
        noun2=rng.choice(_WORDS),
        N=rng.randint(2, 99),
    )


def make_sentence(rng: random.Random, words: int) -> str:
    """A sentence of ``words`` random words."""
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[:1].upper() + text[1:] + "."


def spread_keys(rng: random.Random, count: int, end: int, span: int) -> list[int]:
    """``count`` unique ascending integer timestamps in ``(end - span, end]``."""
    span = max(span, count * 4)
    ages = sorted(rng.sample(range(span), count), reverse=True)
    return [end - age for age in ages]


def random_id(rng: random.Random, length: int, alphabet: str) -> str:
    """A random id of ``length`` characters from ``alphabet``."""
    return "".join(rng.choices(alphabet, k=length))


def rfc3339(epoch: float) -> str:
    """``2024-01-31T12:00:00Z``."""
    return datetime.fromtimestamp(int(epoch), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_rfc3339(value: str) -> float | None:
    """Epoch seconds of an RFC 3339 timestamp, or None when unparsable."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def to_datetime(epoch: float | None) -> datetime | None:
    """Aware UTC datetime of ``epoch`` (None passes through)."""
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


def short_hash(*parts: object) -> str:
    """A short stable hash (for etags, trace ids)."""
    return hashlib.blake2b(repr(parts).encode(), digest_size=9).hexdigest()


def pick_ids(rng: random.Random, live: list[str], ids: list[str] | int) -> list[str]:
    """``ids`` itself, or that many distinct live ids picked by ``rng``."""
    if isinstance(ids, int):
        return rng.sample(live, min(ids, len(live)))
    return list(ids)


def parse_int(value: str | None, default: int) -> int | None:
    """``int(value)`` (``default`` when absent); None when it is not an integer."""
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        return None


# --------------------------------------------------------------------------- fakes


class WSGIFake:
    """A fake server: a WSGI app answering through ``handle``, usable in-process or served."""

    def __call__(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        """The WSGI entry point."""
        response = self.handle(Request.from_environ(environ))
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(response.status_line, headers)
        return [response.body]

    def transport(self) -> httpx.WSGITransport:
        """An in-process httpx transport to this fake."""
        return httpx.WSGITransport(app=self)

    def handle(self, request: Request) -> Response:
        """Answer one HTTP request."""
        raise NotImplementedError  # pragma: no cover


class FakeProvider(WSGIFake):
    """Base of the stateful provider fakes: a thread-safe WSGI app with counters and faults."""

    #: Provider name ("youtube", ...).
    name: ClassVar[str] = ""
    client_id: ClassVar[str] = "fake-client-id"
    client_secret: ClassVar[str] = "fake-client-secret"
    scope: ClassVar[str] = ""
    #: Fault kind -> default endpoint name (None: any API endpoint).
    supported_faults: ClassVar[Mapping[str, str | None]] = {
        "rate_limit": None,
        "unauthorized": None,
        "invalid_grant": "token",
        "server_error": None,
        "timeout": None,
        "malformed": None,
    }
    #: Access token lifetime ``issue_tokens`` uses by default.
    default_expires_in: ClassVar[int] = 3600
    #: Refresh token lifetime (None: none; Instagram has no refresh token at all).
    refresh_expires_in: ClassVar[int | None] = None
    has_refresh_token: ClassVar[bool] = True
    access_prefix: ClassVar[str] = "at."
    refresh_prefix: ClassVar[str] = "rt."

    def __init__(self, *, items: int = 50, seed: int = 0) -> None:
        self._lock = threading.RLock()
        self.seed = seed
        #: Seconds of sleep added to every request (benchmarks).
        self.latency: float = 0.0
        #: Time source; tests may replace it to move the fake's clock.
        self.clock: Callable[[], float] = time.time
        self.requests = 0
        self.calls: Counter[str] = Counter()
        self.quota_units = 0
        self.refreshes = 0
        self._faults = FaultBook(self.supported_faults)
        self._tokens = TokenBook(seed, self.access_prefix, self.refresh_prefix)
        self._rng = random.Random(f"{self.name}:mutations:{seed}")
        self._trace = 0
        # Seed first: some routes embed seeded ids (Instagram's user ids).
        self.seed_data(items, random.Random(f"{self.name}:{seed}"))
        self._routes: list[Route] = self.build_routes()

    # -- to implement --------------------------------------------------------

    def build_routes(self) -> list[Route]:
        """The provider's routes, relative to the fake's root."""
        raise NotImplementedError  # pragma: no cover

    def seed_data(self, items: int, rng: random.Random) -> None:
        """Create the account's initial dataset."""
        raise NotImplementedError  # pragma: no cover

    def config(self, root_url: str) -> ProviderConfig:
        """Where an adapter reaches this fake when it is served at ``root_url``."""
        raise NotImplementedError  # pragma: no cover

    def auth_error(self, problem: str) -> Response:
        """The provider's invalid-token error."""
        raise NotImplementedError  # pragma: no cover

    def rate_limit_error(self, options: dict[str, Any]) -> Response:
        """The provider's throttling error."""
        raise NotImplementedError  # pragma: no cover

    def server_error(self, options: dict[str, Any]) -> Response:
        """The provider's 5xx error."""
        raise NotImplementedError  # pragma: no cover

    def token_server_error(self, options: dict[str, Any]) -> Response:
        """The token endpoint's 5xx error."""
        raise NotImplementedError  # pragma: no cover

    def not_found(self, request: Request) -> Response:
        """The provider's answer to an unknown path."""
        raise NotImplementedError  # pragma: no cover

    def unknown_param_error(self, name: str) -> Response:
        """The answer to a query parameter the endpoint does not define."""
        raise NotImplementedError  # pragma: no cover

    def dataset(self) -> dict[str, dict[str, Any]]:
        """Live items by external id, as the API returns them in detail."""
        raise NotImplementedError  # pragma: no cover

    def latest_cursor_value(self) -> str | int | None:
        """What identifies "latest" for this provider (see the subclass)."""
        raise NotImplementedError  # pragma: no cover

    def add_items(self, n: int) -> list[str]:
        """Add ``n`` new newest items; their ids."""
        raise NotImplementedError  # pragma: no cover

    def change_items(self, ids: list[str] | int) -> list[str]:
        """Change items (titles, counts, labels); the changed ids."""
        raise NotImplementedError  # pragma: no cover

    def delete_items(self, ids: list[str] | int) -> list[str]:
        """Delete items; the deleted ids."""
        raise NotImplementedError  # pragma: no cover

    # -- WSGI ------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        """Answer one HTTP request (the full pipeline, see the module docstring)."""
        with self._lock:
            self.requests += 1
            found = self.match(request)
            delay = self.latency
            if found is not None:
                timeout = self._faults.take("timeout", found[0].name)
                delay += float(timeout.get("seconds", 5)) if timeout is not None else 0.0
        if delay > 0:
            time.sleep(delay)
        with self._lock:
            if found is None:
                return self.not_found(request)
            return self.dispatch(found[0], found[1], request)

    def match(self, request: Request) -> tuple[Route, re.Match[str]] | None:
        """The route answering ``request``, if any."""
        for candidate in self._routes:
            found = candidate.pattern.fullmatch(request.path)
            if found is not None and candidate.method == request.method:
                return candidate, found
        return None

    def dispatch(self, route: Route, match: re.Match[str], request: Request) -> Response:
        """Run a matched route through auth, faults, quota and the handler (lock held)."""
        self.calls[route.name] += 1
        if route.token:
            options = self._faults.take("server_error", "token")
            if options is not None:
                return self.token_server_error(options)
            return route.handler(request, match)
        failure = self._precheck(route, request)
        if failure is not None:
            return failure
        self.quota_units += route.units
        unknown = sorted(set(request.query) - (route.params or set(request.query)))
        if unknown:
            return self.unknown_param_error(unknown[0])
        response = route.handler(request, match)
        if response.status == 200:
            options = self._faults.take("malformed", route.name)
            if options is not None:
                response = malform(response, str(options.get("variant", "wrong_type")))
        return response

    def _precheck(self, route: Route, request: Request) -> Response | None:
        token = request.bearer
        if self._faults.take("unauthorized", route.name) is not None:
            self._tokens.set_state(self._tokens.access, token, "invalidated")
        problem = self._tokens.problem(self._tokens.access, token, self.clock())
        if problem is not None and not (route.auth_optional and token is None):
            return self.auth_error(problem)
        responders = {k: r for k, r in self.fault_responses() if k in self.supported_faults}
        taken = self._faults.take_first(set(responders), route.name)
        if taken is None:
            return None
        kind, options = taken
        response = responders[kind](options)
        if kind == "rate_limit":
            _retry_after(response, options)
        return response

    def fault_responses(self) -> list[tuple[str, Callable[[dict[str, Any]], Response]]]:
        """Fault kinds answered with an error (the earliest injected one wins)."""
        return [("server_error", self.server_error), ("rate_limit", self.rate_limit_error)]

    # -- faults & counters -----------------------------------------------------

    def inject(self, kind: str, count: int = 1, **options: Any) -> None:
        """Make the next ``count`` matching requests fail as ``kind`` (see the brief)."""
        with self._lock:
            self._faults.inject(kind, count, dict(options))

    def injected_remaining(self, kind: str) -> int:
        """Occurrences of ``kind`` still pending."""
        with self._lock:
            return self._faults.remaining(kind)

    def clear_faults(self) -> None:
        """Drop every pending fault."""
        with self._lock:
            self._faults.clear()

    def reset_counters(self) -> None:
        """Zero ``requests``, ``calls``, ``quota_units`` and ``refreshes``."""
        with self._lock:
            self.requests = 0
            self.calls.clear()
            self.quota_units = 0
            self.refreshes = 0

    def accepted_params(self, name: str) -> frozenset[str]:
        """Query parameters the endpoint ``name`` accepts (empty when unchecked)."""
        for candidate in self._routes:
            if candidate.name == name:
                return candidate.params or frozenset()
        raise KeyError(name)

    def trace_id(self) -> str:
        """A deterministic request/log id."""
        self._trace += 1
        return f"{self.seed:04d}{self._trace:012d}{short_hash(self.name, self._trace)[:6]}"

    # -- tokens ----------------------------------------------------------------

    def issue_tokens(self, *, expires_in: int | None = None, age: float = 0) -> TokenSet:
        """A valid token set for the seeded account, issued ``age`` seconds ago."""
        with self._lock:
            issued = self.clock() - age
            lifetime = self.default_expires_in if expires_in is None else expires_in
            return self._issue(issued, lifetime, new_refresh=True)[0]

    def _issue(
        self, issued: float, lifetime: int, *, new_refresh: bool, refresh: str | None = None
    ) -> tuple[TokenSet, str | None]:
        access = self._tokens.new_access(issued, lifetime)
        if self.has_refresh_token and new_refresh:
            refresh = self._tokens.new_refresh(issued, self.refresh_expires_in)
        refresh_grant = self._tokens.refresh.get(refresh) if refresh else None
        tokens = TokenSet(
            access_token=access,
            refresh_token=refresh if self.has_refresh_token else None,
            expires_at=to_datetime(issued + lifetime),
            issued_at=to_datetime(issued),
            refresh_expires_at=to_datetime(refresh_grant.expires_at) if refresh_grant else None,
            scope=self.scope,
        )
        return tokens, refresh

    def refresh_problem(self, refresh_token: str | None) -> str | None:
        """Consume an "invalid_grant" fault (revoking the token), then validate it."""
        if self._faults.take("invalid_grant", "token") is not None:
            self._tokens.set_state(self._tokens.refresh, refresh_token, "revoked")
            self._tokens.set_state(self._tokens.access, refresh_token, "revoked")
            return "revoked"
        return self._tokens.problem(self._tokens.refresh, refresh_token, self.clock())


def set_retry_after(response: Response, seconds: float | None) -> Response:
    """Add ``Retry-After: <seconds>`` (an integer when whole); None adds nothing."""
    if seconds is not None:
        number = float(seconds)
        response.header("Retry-After", str(int(number)) if number.is_integer() else str(number))
    return response


def _retry_after(response: Response, options: Mapping[str, Any]) -> None:
    set_retry_after(response, options.get("retry_after", 2))


# --------------------------------------------------------------------------- Google


#: Query parameters every Google API accepts (the discovery document's ``parameters``).
GOOGLE_STANDARD_PARAMS = frozenset(
    {
        "$.xgafv",
        "access_token",
        "alt",
        "callback",
        "fields",
        "key",
        "oauth_token",
        "prettyPrint",
        "quotaUser",
        "upload_protocol",
        "uploadType",
    }
)
_RATE_MESSAGES = {
    "rateLimitExceeded": "Rate Limit Exceeded",
    "userRateLimitExceeded": "User Rate Limit Exceeded",
}


def google_error(status: int, message: str, reason: str, domain: str = "global") -> Response:
    """A Google API error body ``{"error":{"code","message","errors":[…]}}``."""
    detail = {"message": message, "domain": domain, "reason": reason}
    return json_response(
        status, {"error": {"code": status, "message": message, "errors": [detail]}}
    )


class GoogleFake(FakeProvider):
    """What YouTube and Gmail share: Google error bodies and the OAuth token endpoint."""

    access_prefix = "ya29.a0"
    refresh_prefix = "1//0g"
    #: HTTP status of an injected rate limit (403 or 429; ``inject(..., status=)``).
    rate_limit_status: ClassVar[int] = 403

    def google_route(
        self, method: str, path: str, name: str, handler: Handler, units: int, params: str
    ) -> Route:
        """A route whose ``params`` (space-separated) plus the standard ones are accepted."""
        accepted = GOOGLE_STANDARD_PARAMS | set(params.split())
        return route(method, path, name, handler, units=units, params=accepted)

    def token_route(self) -> Route:
        """``POST /token``, Google's OAuth token endpoint."""
        return route("POST", r"/token", "token", self.handle_token, units=0, token=True)

    def auth_error(self, problem: str) -> Response:
        """Google's 401 ``authError`` body, verbatim."""
        detail = {
            "domain": "global",
            "reason": "authError",
            "message": "Invalid Credentials",
            "locationType": "header",
            "location": "Authorization",
        }
        body = {"error": {"errors": [detail], "code": 401, "message": "Invalid Credentials"}}
        return json_response(401, body).header(
            "WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"'
        )

    def rate_limit_error(self, options: dict[str, Any]) -> Response:
        """403/429 ``usageLimits`` rate limit (``status=``, ``reason=`` options)."""
        reason = str(options.get("reason", "rateLimitExceeded"))
        status = int(options.get("status", self.rate_limit_status))
        return google_error(status, _RATE_MESSAGES.get(reason, reason), reason, "usageLimits")

    def server_error(self, options: dict[str, Any]) -> Response:
        """500 ``backendError`` (or 503 with ``status=503``)."""
        status = int(options.get("status", 500))
        message = (
            "Internal error encountered."
            if status == 500
            else "The service is currently unavailable."
        )
        return google_error(status, message, "backendError")

    def token_server_error(self, options: dict[str, Any]) -> Response:
        """A 5xx from the token endpoint that google-auth treats as retryable."""
        status = int(options.get("status", 500))
        return json_response(
            status, {"error": "internal_failure", "error_description": "Backend Error"}
        )

    def not_found(self, request: Request) -> Response:
        """404 ``notFound``."""
        return google_error(404, "Requested entity was not found.", "notFound")

    def unknown_param_error(self, name: str) -> Response:
        """400 as Google answers a query parameter it cannot bind."""
        message = (
            f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query parameter. '
            f"Field '{name}' could not be found in request message."
        )
        return google_error(400, message, "invalid")

    def bad_request(
        self, message: str, reason: str = "invalid", domain: str = "global"
    ) -> Response:
        """400 Google error."""
        return google_error(400, message, reason, domain)

    def handle_token(self, request: Request, match: re.Match[str]) -> Response:
        """``grant_type=refresh_token`` exchange; ``invalid_grant`` when revoked/unknown."""
        form = request.form()
        if form.get("grant_type") != "refresh_token":
            grant = form.get("grant_type", "")
            return _oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant}")
        if form.get("client_id") != self.client_id:
            return _oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if form.get("client_secret") != self.client_secret:
            return _oauth_error(401, "invalid_client", "Unauthorized")
        refresh = form.get("refresh_token")
        if not refresh:
            return _oauth_error(400, "invalid_request", "Missing required parameter: refresh_token")
        if self.refresh_problem(refresh) is not None:
            return _oauth_error(400, "invalid_grant", "Token has been expired or revoked.")
        self.refreshes += 1
        expires_in = self.default_expires_in - 1
        access = self._tokens.new_access(self.clock(), expires_in)
        body = {
            "access_token": access,
            "expires_in": expires_in,
            "scope": self.scope,
            "token_type": "Bearer",
        }
        return json_response(200, body)

    def google_config(self, root_url: str, base_path: str) -> ProviderConfig:
        """Config with ``base_url = root + base_path`` and ``token_url = root + /token``."""
        root = root_url.rstrip("/")
        return ProviderConfig(
            client_id=self.client_id,
            client_secret=self.client_secret,
            base_url=root + base_path,
            token_url=root + "/token",
        )


def _oauth_error(status: int, error: str, description: str) -> Response:
    return json_response(status, {"error": error, "error_description": description})

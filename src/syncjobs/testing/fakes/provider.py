"""The base of the stateful provider fakes: one pipeline for every request, counters, tokens.

Every request goes through the same pipeline (:meth:`FakeProvider.handle`)::

    count -> match route -> sleep (latency + "timeout" fault)
          -> token route: "server_error" fault, then the provider's token handler
          -> API route:   "unauthorized" fault -> bearer check
                          -> error faults (the earliest injected matching one answers)
                          -> quota charge -> parameter check -> handler -> "malformed" fault
          -> consent page: the handler (no faults, no bearer; see ``consent``)

Faults apply to API requests only, unless injected with ``endpoint="token"`` (or, for
``invalid_grant``, by default). ``endpoint="<call name>"`` narrows any fault to one endpoint.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from syncjobs.providers.types import ProviderConfig, TokenSet
from syncjobs.testing.fakes.consent import CodeBook, ConsentControls
from syncjobs.testing.fakes.corpus import short_hash, to_datetime
from syncjobs.testing.fakes.faults import FaultBook, malform
from syncjobs.testing.fakes.messages import Request, Response, set_retry_after
from syncjobs.testing.fakes.routing import Route, WSGIFake, find_route
from syncjobs.testing.fakes.tokens import TokenBook

__all__ = ["FakeProvider"]


class FakeProvider(WSGIFake, ConsentControls):
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
    code_prefix: ClassVar[str] = "code."
    #: Scopes the consent page knows; others get the ``invalid_scope`` redirect.
    known_scopes: ClassVar[frozenset[str]] = frozenset()

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
        # The consent page's controls (see ConsentControls).
        self.consent = "granted"
        self.granted_scopes = None
        self.redirect_uris = None
        #: Authorization codes issued by the consent page and not yet exchanged.
        self.codes = CodeBook(seed, self.name, self.code_prefix)
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

    def oauth_error(self, status: int, error: str, description: str) -> Response:
        """The provider's OAuth error body (consent page and code exchange)."""
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
            if found is not None and not found[0].page:
                endpoint = "token" if found[0].token else found[0].name
                timeout = self._faults.take("timeout", endpoint)
                delay += float(timeout.get("seconds", 5)) if timeout is not None else 0.0
        if delay > 0:
            time.sleep(delay)
        with self._lock:
            if found is None:
                return self.not_found(request)
            return self.dispatch(found[0], found[1], request)

    def match(self, request: Request) -> tuple[Route, re.Match[str]] | None:
        """The route answering ``request``, if any."""
        return find_route(self._routes, request)

    def dispatch(self, route: Route, match: re.Match[str], request: Request) -> Response:
        """Run a matched route through auth, faults, quota and the handler (lock held)."""
        self.calls[route.name] += 1
        if route.page:
            return route.handler(request, match)
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
            set_retry_after(response, options.get("retry_after", 2))
        return response

    def fault_responses(self) -> list[tuple[str, Callable[[dict[str, Any]], Response]]]:
        """Fault kinds answered with an error (the earliest injected one wins)."""
        return [("server_error", self.server_error), ("rate_limit", self.rate_limit_error)]

    # -- faults & counters -----------------------------------------------------

    def inject(self, kind: str, count: int = 1, **options: Any) -> None:
        """Make the next ``count`` matching requests fail as ``kind`` (``endpoint=`` narrows)."""
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

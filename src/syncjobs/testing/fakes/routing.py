"""How a request reaches a handler: routes, route matching and the WSGI entry point."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import httpx

from syncjobs.testing.fakes.messages import Environ, Request, Response, StartResponse

__all__ = ["Handler", "Route", "WSGIFake", "find_route", "route"]

#: A route's handler: the request and the match of its path pattern -> the response.
Handler = Callable[[Request, "re.Match[str]"], Response]


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
    #: A page the owner's browser opens (consent): no bearer, faults or quota.
    page: bool = False


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
    page: bool = False,
) -> Route:
    """Build a :class:`Route` from a regex string."""
    accepted = frozenset(params) if params is not None else None
    return Route(
        method, re.compile(pattern), name, handler, units, token, accepted, auth_optional, page
    )


def find_route(routes: Sequence[Route], request: Request) -> tuple[Route, re.Match[str]] | None:
    """The first route whose pattern matches the whole path and whose method matches."""
    for candidate in routes:
        found = candidate.pattern.fullmatch(request.path)
        if found is not None and candidate.method == request.method:
            return candidate, found
    return None


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

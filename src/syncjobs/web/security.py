"""Who may look and act: the ``authorize`` gate, CSRF tokens, and signed flash cookies.

Every request passes ``authorize(request)`` first (``AuthorizeMiddleware``). Every action is a
POST that carries ``csrf``, an HMAC of a random token kept in a ``SameSite=Strict`` HttpOnly
cookie, and comes from this origin (``Origin`` and ``Sec-Fetch-Site`` are checked when sent).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import inspect
import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "CSRF_COOKIE",
    "FLASH_COOKIE",
    "Authorize",
    "AuthorizeMiddleware",
    "checked_form",
    "cookie_path",
    "csrf_field",
    "csrf_token",
    "read_flash",
    "set_cookie",
    "sign",
    "unsign",
]

#: Decides whether a request may see the dashboard (sync or async).
Authorize = Callable[[Request], bool | Awaitable[bool]]

CSRF_COOKIE = "syncjobs_csrf"
FLASH_COOKIE = "syncjobs_flash"


def _secret(request: Request) -> bytes:
    secret: bytes = request.app.state.dashboard.secret
    return secret


def cookie_path(request: Request) -> str:
    """The path the dashboard's cookies are scoped to: its mount path."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    return root + "/"


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    """Set an HttpOnly, SameSite=Strict cookie scoped to the dashboard."""
    response.set_cookie(
        name,
        value,
        path=cookie_path(request),
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def csrf_token(request: Request) -> str:
    """The form field value for this browser's CSRF cookie (a new cookie is set if missing)."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) != 43:  # secrets.token_urlsafe(32)
        token = getattr(request.state, "new_csrf", None) or secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return csrf_field(_secret(request), token)


def csrf_field(secret: bytes, token: str) -> str:
    """The HMAC of a CSRF cookie token, as the form carries it."""
    return hmac.new(secret, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()


def _same_origin(request: Request) -> str | None:
    """Why a POST is cross-site, or None when it comes from this origin.

    Browsers that send ``Sec-Fetch-Site`` say it themselves (right behind any proxy); for
    the others the ``Origin`` header, when sent, must name this host.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return None if site in ("same-origin", "none") else f"a {site} request"
    origin = request.headers.get("origin")
    if origin is None:
        return None
    hosts = {request.headers.get("host"), request.headers.get("x-forwarded-host")}
    netloc = urlsplit(origin).netloc if origin != "null" else ""
    if not netloc or netloc not in hosts:
        return f"a request from origin {origin!r}"
    return None


async def checked_form(request: Request) -> FormData:
    """The POSTed form, or HTTP 403 when it comes from another site or lacks the CSRF field."""
    problem = _same_origin(request)
    if problem is not None:
        raise HTTPException(403, f"refused {problem}: actions must come from the dashboard")
    form = await request.form()
    token = request.cookies.get(CSRF_COOKIE, "")
    sent = form.get("csrf")
    expected = csrf_field(_secret(request), token)
    if not token or not isinstance(sent, str) or not hmac.compare_digest(sent, expected):
        raise HTTPException(
            403, "the form's CSRF token is missing or wrong: reload the page and try again"
        )
    return form


def sign(secret: bytes, data: Any) -> str:
    """``data`` as JSON, base64, with its HMAC: tamper-evident cookie text."""
    body = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
    mac = hmac.new(secret, b"flash:" + body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def unsign(secret: bytes, text: str) -> Any:
    """What ``sign`` wrapped, or None when ``text`` was not signed with ``secret``."""
    body, _, mac = text.rpartition(".")
    expected = hmac.new(secret, b"flash:" + body.encode(), hashlib.sha256).hexdigest()
    if not body or not hmac.compare_digest(mac, expected):
        return None
    try:
        return json.loads(base64.urlsafe_b64decode(body.encode()))
    except ValueError:
        return None


def read_flash(request: Request) -> tuple[str, str] | None:
    """The (kind, message) an action left for this page, if any."""
    raw = request.cookies.get(FLASH_COOKIE)
    data = unsign(_secret(request), raw) if raw else None
    if isinstance(data, list) and len(data) == 2 and all(isinstance(x, str) for x in data):
        return data[0], data[1]
    return None


class AuthorizeMiddleware:
    """Asks ``authorize(request)`` before anything else; refused requests get the 403 page."""

    def __init__(
        self, app: ASGIApp, *, authorize: Authorize, refused: Callable[[Request], Response]
    ) -> None:
        self.app, self.authorize, self.refused = app, authorize, refused

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if inspect.iscoroutinefunction(self.authorize) or inspect.iscoroutinefunction(
            getattr(self.authorize, "__call__", None)  # noqa: B004
        ):
            allowed = self.authorize(request)
        else:
            allowed = await run_in_threadpool(self.authorize, request)
        if inspect.isawaitable(allowed):
            allowed = await allowed
        if allowed is True:
            await self.app(scope, receive, send)
            return
        await self.refused(request)(scope, receive, send)

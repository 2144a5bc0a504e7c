"""The dashboard served on its own (``syncjobs dashboard``): one shared token opens it.

Opening ``/?token=…`` once stores the token in a ``SameSite=Strict`` HttpOnly cookie and
redirects to the same page without it; scripts send ``Authorization: Bearer …`` instead.
Without the token every request gets a 401 page.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from ..app import SyncJobs
from .app import dashboard
from .render import error_page
from .security import cookie_path

__all__ = ["TOKEN_COOKIE", "TokenGate", "is_loopback", "standalone_app", "token_authorize"]

TOKEN_COOKIE = "syncjobs_dashboard_token"


def _sent_token(request: Request) -> str | None:
    """The token a request carries: its cookie, or an ``Authorization: Bearer`` header."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(TOKEN_COOKIE)


def _same(sent: str | None, token: str) -> bool:
    return sent is not None and hmac.compare_digest(sent.encode(), token.encode())


def token_authorize(token: str) -> Callable[[Request], bool]:
    """An ``authorize`` that lets in requests carrying ``token`` (cookie or bearer)."""

    def authorize(request: Request) -> bool:
        return _same(_sent_token(request), token)

    return authorize


class TokenGate:
    """Turns ``?token=`` into the cookie and answers 401 to requests without the token."""

    def __init__(self, app: Starlette, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request({**scope, "app": self.app}, receive)
        given = request.query_params.get("token")
        if given is not None and _same(given, self.token):
            response: Response = self._enter(request)
        elif given is None and _same(_sent_token(request), self.token):
            await self.app(scope, receive, send)
            return
        else:
            response = error_page(
                request,
                401,
                "Open the address `syncjobs dashboard` printed (it carries the token), "
                "or send the token as `Authorization: Bearer …`.",
                bare=True,
            )
            response.headers["www-authenticate"] = 'Bearer realm="syncjobs dashboard"'
        await response(scope, receive, send)

    def _enter(self, request: Request) -> Response:
        """Redirect to the same page without the token, with the token's cookie set."""
        kept = [(k, v) for k, v in parse_qsl(request.url.query) if k != "token"]
        path = request.url.path
        response = RedirectResponse(path + (f"?{urlencode(kept)}" if kept else ""), 303)
        response.set_cookie(
            TOKEN_COOKIE,
            self.token,
            path=cookie_path(request),
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response


def standalone_app(app: SyncJobs | None = None, *, token: str | None) -> Starlette | TokenGate:
    """The dashboard behind ``token`` (None: open to anyone who can reach it)."""
    if token is None:
        return dashboard(app, authorize=lambda request: True)
    return TokenGate(dashboard(app, authorize=token_authorize(token)), token)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False

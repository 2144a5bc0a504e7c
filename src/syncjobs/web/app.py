"""``dashboard()``: the operator's dashboard as a Starlette app a host mounts where it likes."""

from __future__ import annotations

import secrets
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..app import SyncJobs
from ..errors import ConfigurationError
from . import actions
from .pages import job_page, jobs_page, overview
from .pages_ops import accounts_page, dead_letters_page, schedules_page
from .render import error_page
from .security import Authorize, AuthorizeMiddleware
from .sources import DashboardConfig
from .sse import job_events

__all__ = ["dashboard"]

#: Sent with every response: no framing, no scripts or styles from elsewhere.
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


def _routes() -> list[Route | Mount]:
    post = ["POST"]
    return [
        Route("/", overview, name="overview"),
        Route("/jobs", jobs_page, name="jobs"),
        Route("/jobs/{job_id}", job_page, name="job"),
        Route("/jobs/{job_id}/events", job_events, name="job_events"),
        Route("/jobs/{job_id}/actions", actions.job_action, methods=post, name="job_action"),
        Route("/dead-letters", dead_letters_page, name="dead_letters"),
        Route(
            "/dead-letters",
            actions.dead_letters_action,
            methods=post,
            name="dead_letters_action",
        ),
        Route(
            "/dead-letters/{job_id}",
            actions.dead_letter_action,
            methods=post,
            name="dead_letter_action",
        ),
        Route("/schedules", schedules_page, name="schedules"),
        Route(
            "/schedules/{job_type}", actions.schedule_action, methods=post, name="schedule_action"
        ),
        Route("/accounts", accounts_page, name="accounts"),
        Route(
            "/accounts/{account_id}", actions.account_action, methods=post, name="account_action"
        ),
        Mount("/static", StaticFiles(packages=[("syncjobs.web", "static")]), name="static"),
    ]


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "There is no such page.", 405: "That method is not allowed here."}
    detail = exc.detail if exc.detail not in ("Not Found", "Method Not Allowed") else None
    return error_page(request, exc.status_code, detail or messages.get(exc.status_code, "Error"))


async def _config_error(request: Request, exc: Exception) -> Response:
    return error_page(request, 500, f"The dashboard is not set up for this: {exc}")


async def _server_error(request: Request, exc: Exception) -> Response:
    """The 500 page (the server still logs the exception)."""
    try:
        return error_page(request, 500, "Something went wrong: the server's log has the details.")
    except Exception:
        return PlainTextResponse("Internal Server Error", status_code=500)


def _refused(request: Request) -> Response:
    return error_page(request, 403, "You are not allowed to see this dashboard.", bare=True)


class SecurityHeaders:
    """Adds ``SECURITY_HEADERS`` to every response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, sending)


def _check_options(app: object, authorize: object, page_size: object, keepalive: object) -> None:
    """ConfigurationError for a missing ``authorize`` or a bad option."""
    if authorize is None or not callable(authorize):
        raise ConfigurationError(
            "dashboard(authorize=...) needs a function of the request that returns True for "
            "the operators allowed in (the dashboard shows and acts on every owner's jobs)"
        )
    if app is not None and not isinstance(app, SyncJobs):
        raise ConfigurationError(f"dashboard() needs a SyncJobs app, not {type(app).__name__}")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 1 <= page_size <= 500:
        raise ConfigurationError(f"page_size must be an integer 1..500, got {page_size!r}")
    if isinstance(keepalive, bool) or not isinstance(keepalive, int | float) or keepalive <= 0:
        raise ConfigurationError(
            f"keepalive must be a positive number of seconds, not {keepalive!r}"
        )


def dashboard(
    app: SyncJobs | None = None,
    *,
    authorize: Authorize,
    secret: bytes | str | None = None,
    title: str = "syncjobs",
    page_size: int = 50,
    keepalive: float = 15.0,
) -> Starlette:
    """The operator's dashboard as an ASGI app: ``host.mount("/ops", dashboard(authorize=...))``.

    Args:
        app: The application to show (default: the current one, looked up per request).
        authorize: Called with each request (sync or async); only ``True`` lets it through,
            anything else gets a 403 page. Required: the dashboard acts across owners.
        secret: Key of the CSRF and flash signatures (default: random per process; give the
            same one to every process serving the dashboard behind one address).
        title: Shown in the header and the page titles.
        page_size: Rows per page of the jobs and accounts lists.
        keepalive: Seconds between keep-alive comments on an idle event stream.
    """
    _check_options(app, authorize, page_size, keepalive)
    key = secret.encode() if isinstance(secret, str) else secret
    config = DashboardConfig(
        app=app,
        authorize=authorize,
        secret=key or secrets.token_bytes(32),
        title=title,
        page_size=page_size,
        keepalive=keepalive,
    )
    handlers: dict[Any, Any] = {
        HTTPException: _http_error,
        ConfigurationError: _config_error,
        500: _server_error,
    }
    web = Starlette(
        routes=_routes(),
        middleware=[
            Middleware(SecurityHeaders),
            Middleware(AuthorizeMiddleware, authorize=authorize, refused=_refused),
        ],
        exception_handlers=handlers,
    )
    web.state.dashboard = config
    return web

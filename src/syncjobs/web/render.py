"""Rendering pages: the Jinja2 environment, links under the mount path, flash and error pages."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ..clock import utcnow
from .security import (
    CSRF_COOKIE,
    FLASH_COOKIE,
    cookie_path,
    csrf_token,
    read_flash,
    set_cookie,
    sign,
)

__all__ = [
    "ENV",
    "ago",
    "duration",
    "error_page",
    "flash_redirect",
    "page",
    "safe_next",
    "url",
    "when",
]

ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("syncjobs.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


def url(request: Request, name: str, /, query: dict[str, Any] | None = None, **params: Any) -> str:
    """The path of route ``name`` under the dashboard's mount path, with a query string."""
    path = str(request.scope.get("root_path", "")).rstrip("/") + str(
        request.app.url_path_for(name, **params)
    )
    kept = {k: v for k, v in (query or {}).items() if v not in (None, "")}
    return f"{path}?{urlencode(kept)}" if kept else path


def when(value: datetime | None) -> str:
    """A UTC timestamp to the second, or a dash."""
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(seconds: float | None) -> str:
    """``seconds`` as a short human duration: ``45 s``, ``3 min 20 s``, ``2 h 5 min``, ``3 d``."""
    if seconds is None:
        return "—"
    s = round(abs(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s" if s % 60 and s < 600 else f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago (or how soon) ``value`` is: ``3 min ago``, ``in 2 h 5 min``, ``never``."""
    if value is None:
        return "never"
    delta = ((now or utcnow()) - value).total_seconds()
    return f"{duration(delta)} ago" if delta >= 0 else f"in {duration(delta)}"


def pretty(value: Any) -> str:
    """``value`` as indented JSON (what was stored, as given)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


ENV.filters.update(when=when, ago=ago, duration=duration, pretty=pretty)


def page(
    request: Request, template: str, context: dict[str, Any], *, status: int = 200
) -> HTMLResponse:
    """Render ``template`` with the dashboard's common context, CSRF cookie and flash."""
    config = request.app.state.dashboard
    values = {
        "request": request,
        "url": lambda name, /, query=None, **params: url(request, name, query, **params),
        "csrf": csrf_token(request),
        "flash": read_flash(request),
        "title": config.title,
        "now": utcnow(),
        "here": _here(request),
        "nav": None,
        "bare": False,
        **context,
    }
    response = HTMLResponse(ENV.get_template(template).render(values), status_code=status)
    response.headers["cache-control"] = "no-store"
    new = getattr(request.state, "new_csrf", None)
    if new:
        set_cookie(request, response, CSRF_COOKIE, new)
    if FLASH_COOKIE in request.cookies:  # shown once (or unreadable: gone either way)
        response.delete_cookie(FLASH_COOKIE, path=cookie_path(request))
    return response


def _here(request: Request) -> str:
    """This page's path and query under the mount path (where an action comes back to)."""
    root = str(request.scope.get("root_path", "")).rstrip("/")
    query = request.url.query
    return root + _route_path(request) + (f"?{query}" if query else "")


def _route_path(request: Request) -> str:
    root = str(request.scope.get("root_path", "")).rstrip("/")
    path = str(request.scope["path"])
    return path[len(root) :] if root and path.startswith(root) else path


def error_page(request: Request, status: int, message: str, *, bare: bool = False) -> HTMLResponse:
    """The error page (400, 403, 404…); ``bare`` leaves the navigation out."""
    titles = {400: "Bad request", 401: "Sign in needed", 403: "Refused", 404: "Not found"}
    context = {"status": status, "heading": titles.get(status, "Error"), "message": message}
    return page(request, "error.html", {**context, "bare": bare}, status=status)


def safe_next(request: Request, target: object, default: str) -> str:
    """``target`` when it is a path inside the dashboard, else ``default`` (no open redirect)."""
    root = str(request.scope.get("root_path", "")).rstrip("/") + "/"
    if (
        isinstance(target, str)
        and target.startswith(root)
        and not target.startswith("//")
        and "\\" not in target
        and len(target) < 2000
    ):
        return target
    return default


def flash_redirect(request: Request, target: str, message: str, kind: str = "ok") -> Response:
    """Redirect (303, POST/redirect/GET) to ``target``, showing ``message`` there once."""
    response = RedirectResponse(target, status_code=303)
    text = message if len(message) <= 600 else message[:599] + "…"  # a cookie holds ~4 KB
    set_cookie(
        request, response, FLASH_COOKIE, sign(request.app.state.dashboard.secret, [kind, text])
    )
    return response

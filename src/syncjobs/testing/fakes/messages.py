"""HTTP as the fakes see it: the parsed request, the response, and small helpers for both.

Paths are relative to the fake's own root, so a fake can be served alone or mounted under a
prefix (``SCRIPT_NAME``) by :class:`~syncjobs.testing.fakes.server.CombinedFakes`.
"""

from __future__ import annotations

import http
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, quote

__all__ = [
    "Environ",
    "Request",
    "Response",
    "StartResponse",
    "json_response",
    "parse_int",
    "set_retry_after",
]

#: The WSGI ``environ`` mapping.
Environ = Mapping[str, Any]
#: The WSGI ``start_response`` callable.
StartResponse = Callable[..., Any]


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


def set_retry_after(response: Response, seconds: float | None) -> Response:
    """Add ``Retry-After: <seconds>`` (an integer when whole); None adds nothing."""
    if seconds is not None:
        number = float(seconds)
        response.header("Retry-After", str(int(number)) if number.is_integer() else str(number))
    return response


def parse_int(value: str | None, default: int) -> int | None:
    """``int(value)`` (``default`` when absent); None when it is not an integer."""
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        return None

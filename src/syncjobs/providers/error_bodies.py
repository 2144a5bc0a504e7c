"""How the built-in APIs say what went wrong: Google, Graph and TikTok error bodies.

The mapping of a status and a reason to the error tree is shared by every client
(:mod:`syncjobs._http.errors`); this module is the provider hook on top of it: it reads the
API's own reason out of the body (Google ``errors[].reason``, Graph ``error.code``, TikTok
``error.code``, OAuth ``error``) and says which reasons mean what.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from .._http import Meaning, Reasons
from .util import to_int

__all__ = [
    "DAILY_QUOTA_REASONS",
    "PERMISSION_REASONS",
    "PHRASES",
    "RATE_LIMIT_REASONS",
    "REAUTH_REASONS",
    "TOKEN_REJECTED_REASONS",
    "TRANSIENT_REASONS",
    "ErrorDetail",
    "error_detail",
    "graph_regain_seconds",
    "provider_reasons",
    "reason_of",
    "style_meaning",
]

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

#: How an adapter's error message starts, by meaning.
PHRASES: Mapping[Meaning, str] = {
    Meaning.STALE_CURSOR: "stale cursor",
    Meaning.QUOTA_EXHAUSTED: "quota exhausted",
    Meaning.RATE_LIMITED: "rate limited",
    Meaning.REAUTHORIZE: "reauthorization required",
    Meaning.TOKEN_REJECTED: "access token rejected",
    Meaning.PERMISSION_DENIED: "permission denied",
    Meaning.UNAVAILABLE: "provider unavailable",
    Meaning.NOT_FOUND: "not found",
    Meaning.UNEXPECTED: "unexpected answer",
}

#: The meanings checked after permission: a Graph permission code (200-299) overrides them.
_AFTER_PERMISSION = frozenset({Meaning.UNAVAILABLE, Meaning.NOT_FOUND, Meaning.UNEXPECTED})


def provider_reasons(stale_cursor: frozenset[str]) -> Reasons:
    """The built-in reason tables, with an adapter's own stale-cursor reasons."""
    return {
        Meaning.STALE_CURSOR: stale_cursor,
        Meaning.QUOTA_EXHAUSTED: DAILY_QUOTA_REASONS,
        Meaning.RATE_LIMITED: RATE_LIMIT_REASONS,
        Meaning.REAUTHORIZE: REAUTH_REASONS,
        Meaning.TOKEN_REJECTED: TOKEN_REJECTED_REASONS,
        Meaning.PERMISSION_DENIED: PERMISSION_REASONS,
        Meaning.UNAVAILABLE: TRANSIENT_REASONS,
    }


def style_meaning(meaning: Meaning, reason: str | None, style: str) -> Meaning:
    """Graph error codes 200-299 deny permission unless an earlier check decided."""
    if style == "graph" and meaning in _AFTER_PERMISSION and 200 <= (to_int(reason) or 0) <= 299:
        return Meaning.PERMISSION_DENIED
    return meaning


@dataclass(frozen=True)
class ErrorDetail:
    """The failure an answer reports: its status, the API's reason and its message."""

    status: int
    reason: str | None
    message: str


def error_detail(response: httpx.Response, style: str) -> ErrorDetail | None:
    """Extract the provider's error reason and message, or None for a clean success."""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, str) and error:
        message = str(body.get("error_description", "")) if isinstance(body, dict) else ""
        return ErrorDetail(response.status_code, error, message)
    if isinstance(error, dict):
        reason = reason_of(error, style)
        if reason == "ok" and response.is_success:
            return None
        return ErrorDetail(response.status_code, reason, str(error.get("message", "")))
    if response.is_success:
        return None
    return ErrorDetail(response.status_code, None, "")


def reason_of(error: Mapping[str, Any], style: str) -> str | None:
    """Return the reason in an ``error`` object: Google's first reason, else its code/status."""
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


def graph_regain_seconds(value: str | None) -> float | None:
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

"""Injected faults: the kinds, the book of pending ones, and how a "malformed" answer looks.

Each injected fault answers the next ``count`` matching requests. Faults apply to API
requests only, unless injected with ``endpoint="token"`` (or, for ``invalid_grant``, by
default); ``endpoint="<call name>"`` narrows any fault to one endpoint.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from syncjobs.testing.fakes.messages import Response, json_response

__all__ = ["FAULT_KINDS", "MALFORMED_VARIANTS", "FaultBook", "malform"]

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

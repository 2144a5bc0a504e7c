"""Helpers of the fault suite: what an account should hold, and a recording WSGI middleware."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from syncjobs.app import SyncJobs
from syncjobs.testing.fakes import CombinedFakes, FakeProvider

PROVIDERS = ["gmail", "tiktok", "youtube", "instagram"]

StartResponse = Callable[..., Any]


def stored_ids(app: SyncJobs, account_id: str) -> list[str]:
    """External ids of an account's live items (one per stored row)."""
    assert app.deps.accounts is not None
    return [i.external_id for i in app.deps.accounts.list_items(account_id, limit=100_000)]


def holding(app: SyncJobs, account_id: str, fake: FakeProvider) -> tuple[int, int]:
    """(missing, duplicated): the fake's items the account lacks, and rows beyond one per id."""
    ids = stored_ids(app, account_id)
    expected = set(fake.dataset())
    missing = len(expected - set(ids))
    extra = len(set(ids) - expected)  # stored but gone (or never there) at the provider
    duplicated = len(ids) - len(set(ids))
    return missing + extra, duplicated


def _ts(value: str) -> float:
    iso = value.replace("Z", "+00:00").replace("+0000", "+00:00")
    return datetime.fromisoformat(iso).timestamp()


def cursor_problem(provider: str, cursor: Any, fake: FakeProvider) -> str | None:
    """Why ``cursor`` is not at the fake's latest state, or None when it is."""
    latest = fake.latest_cursor_value()
    if not isinstance(cursor, dict):
        return f"{provider}: no cursor ({cursor!r})"
    if cursor.get("run") is not None:
        return f"{provider}: a run is still open in the cursor"
    if provider == "gmail":
        ok = cursor.get("history_id") == latest
    elif provider == "tiktok":
        ok = cursor.get("hwm") is not None and _ts(cursor["hwm"]) == latest
    elif provider == "instagram":
        ok = (
            cursor.get("hwm") is not None
            and latest is not None
            and _ts(cursor["hwm"]) == _ts(str(latest))
        )
    else:  # youtube: the newest video is in the window, at the high-water mark
        entry = (cursor.get("window") or {}).get(latest)
        ok = (
            entry is not None
            and cursor.get("hwm") is not None
            and _ts(entry[1]) == _ts(cursor["hwm"])
        )
    return None if ok else f"{provider}: cursor {cursor!r:.300} is not at latest {latest!r}"


@dataclass
class Exchange:
    """One request seen by the middleware."""

    provider: str
    path: str
    arrived: float
    answered: float = 0.0
    status: int = 0
    retry_after: float | None = None
    injected: str | None = None


_BATCH_PART_429 = re.compile(
    rb"HTTP/1\.1 (?:429|403)[^\r\n]*\r\n(?:[^\r\n]+\r\n)*?"
    rb"Retry-After: ([0-9.]+)\r\n",
    re.IGNORECASE,
)


@dataclass
class Recorder:
    """WSGI middleware in front of CombinedFakes: records every request, injects storms.

    ``plan(provider, n)`` names the fault the n-th API (non-token) request of a provider gets:
    ``"server_error"`` (answered here with the provider's own 5xx body), or a fault kind to
    ``inject`` into the fake just before the request reaches it (only while no other request
    of that provider is in flight, so that this very request is the one that takes it).
    """

    fakes: CombinedFakes
    plan: Callable[[str, int], tuple[str, dict[str, Any]] | None] = lambda provider, n: None
    exchanges: list[Exchange] = field(default_factory=list)
    injected: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _api: Counter[str] = field(default_factory=Counter)
    _in_flight: Counter[str] = field(default_factory=Counter)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = str(environ.get("PATH_INFO") or "/")
        provider, _, rest = path.lstrip("/").partition("/")
        fake = self.fakes.fakes.get(provider)
        if fake is None:
            return self.fakes(environ, start_response)
        seen = Exchange(provider, path, time.monotonic())
        token = self._is_token(fake, environ, "/" + rest)
        with self._lock:
            self.exchanges.append(seen)
            self._in_flight[provider] += 1
            alone = self._in_flight[provider] == 1
            action = None
            if not token:
                action = self.plan(provider, self._api[provider])
                self._api[provider] += 1
                if action is not None and action[0] != "server_error" and not alone:
                    action = None  # another request might take the fault: skip this one
                if action is not None:
                    seen.injected = action[0]
                    self.injected[action[0]] += 1
                    if action[0] != "server_error":
                        fake.inject(action[0], **action[1])
        try:
            if seen.injected == "server_error":
                response = fake.server_error({})
                headers = [*response.headers, ("Content-Length", str(len(response.body)))]
                start_response(response.status_line, headers)
                seen.status = response.status
                return [response.body]
            status: list[str] = []
            head: list[list[tuple[str, str]]] = []

            def capture(line: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
                status.append(line)
                head.append(headers)
                return start_response(line, headers, *exc)

            body = b"".join(self.fakes(environ, capture))
            seen.status = int(status[0].split()[0])
            header = dict((k.lower(), v) for k, v in head[0]).get("retry-after")
            if header is not None:
                seen.retry_after = float(header)
            else:  # a Gmail batch part may carry its own rate limit
                found = _BATCH_PART_429.search(body)
                if found is not None:
                    seen.retry_after = float(found.group(1))
            return [body]
        finally:
            seen.answered = time.monotonic()
            with self._lock:
                self._in_flight[provider] -= 1

    @staticmethod
    def _is_token(fake: FakeProvider, environ: dict[str, Any], path: str) -> bool:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        for candidate in fake._routes:
            if candidate.method == method and candidate.pattern.fullmatch(path):
                return candidate.token
        return False

    def early_retries(self) -> list[str]:
        """Requests that came sooner after a rate limit than its Retry-After asked."""
        early = []
        by_provider: dict[str, list[Exchange]] = {}
        for ex in sorted(self.exchanges, key=lambda e: e.arrived):
            by_provider.setdefault(ex.provider, []).append(ex)
        for provider, seen in by_provider.items():
            for i, limited in enumerate(seen):
                if limited.retry_after is None:
                    continue
                after = [e for e in seen[i + 1 :] if e.arrived >= limited.answered]
                if after:
                    gap = after[0].arrived - limited.answered
                    if gap < limited.retry_after:
                        early.append(
                            f"{provider}: {after[0].path} {gap:.3f}s after a rate "
                            f"limit asking {limited.retry_after:g}s"
                        )
        return early

    def rate_limits(self) -> int:
        """How many answers carried a Retry-After."""
        return sum(1 for e in self.exchanges if e.retry_after is not None)

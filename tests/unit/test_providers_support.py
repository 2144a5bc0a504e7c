"""Test support for the provider adapters: a store that drives ``sync()`` as the job does.

No tests here; the ``test_providers_*`` modules import from it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from syncjobs.providers import get_provider
from syncjobs.providers.feed import FeedProvider
from syncjobs.providers.http import HTTPProvider
from syncjobs.providers.types import Page, TokenSet
from syncjobs.providers.util import parse_time
from syncjobs.testing.fakes import FAKES, FakeProvider, serve

PROVIDERS = ["youtube", "gmail", "instagram", "tiktok"]
#: Small pages so that 60 items span several pages.
PAGE_SIZES = {"youtube": 10, "gmail": 20, "instagram": 10, "tiktok": 8}
#: The list endpoint a re-sync is allowed to call once.
LIST_ENDPOINTS = {
    "youtube": "playlistItems.list",
    "gmail": "history.list",
    "instagram": "media",
    "tiktok": "video.list",
}


@dataclass
class Store:
    """What the sync job keeps for one account: items by id and the committed cursor.

    Each page's items, deletes and cursor are committed together. A page flagged
    ``full_resync`` starts a sweep: ids neither delivered nor asked about through ``known``
    until the run ends are dropped (that is how a job detects deletes in full runs).
    """

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    cursor: dict[str, Any] | None = None
    pages: list[Page] = field(default_factory=list)
    sweep: set[str] | None = None
    #: Ids the last run stored with new content (added or updated, like the job's counts);
    #: an item delivered again unchanged is not in it.
    changed: list[str] = field(default_factory=list)
    _asked: list[str] = field(default_factory=list)

    def known(self, ids: Sequence[str]) -> set[str]:
        self._asked.extend(ids)
        return {i for i in ids if i in self.items}

    def run(
        self, provider: HTTPProvider, *, full: bool = False, stop_after: int | None = None
    ) -> list[Page]:
        """One job run: commit page by page; stop consuming after ``stop_after`` pages."""
        pages: list[Page] = []
        self.changed = []
        iterator = provider.sync(self.cursor, full=full, known=self.known)
        try:
            for page in iterator:
                self._commit(page)
                pages.append(page)
                if stop_after is not None and len(pages) >= stop_after:
                    return pages  # interrupted: the sweep stays open, like a crashed job's
        finally:
            iterator.close()
        if self.sweep is not None:
            for gone in set(self.items) - self.sweep:
                del self.items[gone]
            self.sweep = None
        return pages

    def _commit(self, page: Page) -> None:
        if page.full_resync:
            self.sweep = set()
        for item in page.items:
            if self.items.get(item.external_id) != dict(item.raw):
                self.changed.append(item.external_id)
            self.items[item.external_id] = dict(item.raw)
        for gone in page.deleted_ids:
            self.items.pop(gone, None)
        if self.sweep is not None:
            self.sweep.update(item.external_id for item in page.items)
            self.sweep.update(self._asked)
        self._asked = []
        # The cursor must survive a JSON round trip (it is stored as JSON).
        self.cursor = json.loads(json.dumps(page.cursor))
        self.pages.append(page)


@dataclass
class Harness:
    """A fake, an adapter connected to it, the tokens it saved, and a store."""

    name: str
    fake: Any
    provider: HTTPProvider
    tokens: TokenSet
    saved: list[TokenSet]
    store: Store = field(default_factory=Store)

    def sync(self, *, full: bool = False, stop_after: int | None = None) -> list[Page]:
        return self.store.run(self.provider, full=full, stop_after=stop_after)

    def resync_calls(self) -> dict[str, int]:
        """The documented cost of an unchanged re-sync of this harness, by endpoint."""
        return resync_calls(self.name, self.provider, self.fake)

    def matches(self) -> bool:
        return self.store.items == self.fake.dataset()

    def secrets(self) -> list[str]:
        found = [self.tokens.access_token, self.tokens.refresh_token, self.fake.client_secret]
        for tokens in self.saved:
            found += [tokens.access_token, tokens.refresh_token]
        return [s for s in found if s]

    def reconnect(self, **kwargs: Any) -> HTTPProvider:
        """A second adapter on the same fake (e.g. a later process), closed with the harness."""
        provider = build(self.fake, self.name, transport=self.fake.transport(), **kwargs)
        self._extra.append(provider)
        return provider

    _extra: list[HTTPProvider] = field(default_factory=list)


def freeze(fake: FakeProvider) -> None:
    """Stop the fake's clock so time-derived fields (TikTok's signed URLs) stay stable."""
    frozen = float(int(time.time()))
    fake.clock = lambda: frozen


def build(
    fake: Any,
    name: str,
    *,
    transport: httpx.BaseTransport | None = None,
    root: str = "http://fake",
    tokens: TokenSet | None = None,
    saved: list[TokenSet] | None = None,
    timeout: float | None = None,
    page_size: int | None = None,
    clock: Any = None,
    stats: dict[str, int] | None = None,
) -> HTTPProvider:
    """An adapter of provider ``name`` talking to ``fake`` (``stats``: window settings)."""
    config = dataclasses.replace(fake.config(root), **(stats or {}))
    if timeout is not None:
        config = dataclasses.replace(config, timeout=timeout)
    sink = saved if saved is not None else []
    provider: HTTPProvider = get_provider(name)(
        tokens=tokens or fake.issue_tokens(),
        save_tokens=sink.append,
        config=config,
        transport=transport,
        page_size=page_size if page_size is not None else PAGE_SIZES[name],
        clock=clock,
    )
    return provider


@contextmanager
def harness(
    name: str,
    *,
    items: int = 60,
    seed: int = 0,
    loopback: bool = False,
    tokens: TokenSet | None = None,
    timeout: float | None = None,
    page_size: int | None = None,
    clock: Any = None,
    transport: httpx.BaseTransport | None = None,
    fake: Any = None,
    stats: dict[str, int] | None = None,
) -> Iterator[Harness]:
    """Connect an adapter to a fresh fake, in-process or over loopback."""
    fake = fake if fake is not None else FAKES[name](items=items, seed=seed)
    freeze(fake)
    with ExitStack() as stack:
        root = stack.enter_context(serve(fake)) if loopback else "http://fake"
        issued = tokens or fake.issue_tokens()
        saved: list[TokenSet] = []
        provider = build(
            fake,
            name,
            root=root,
            tokens=issued,
            saved=saved,
            timeout=timeout,
            page_size=page_size,
            clock=clock,
            transport=None if loopback else (transport or fake.transport()),
            stats=stats,
        )
        stack.callback(provider.close)
        h = Harness(name, fake, provider, issued, saved)
        stack.callback(lambda: [p.close() for p in h._extra])
        yield h


def assert_clean(error: BaseException, secrets: Sequence[str]) -> None:
    """Assert no secret appears in the error, its repr, or anything chained to it."""
    seen: BaseException | None = error
    while seen is not None:
        text = f"{seen} {seen!r} {seen.args!r}"
        for secret in secrets:
            assert secret not in text, f"a token leaked into {type(seen).__name__}"
        seen = seen.__cause__ or seen.__context__


def published(name: str, raw: dict[str, Any]) -> datetime:
    """When the fake's item ``raw`` was published (the time the feeds walk by)."""
    if name == "youtube":
        return parse_time(raw["snippet"]["publishedAt"])
    return parse_time(raw["timestamp"] if name == "instagram" else raw["create_time"])


def recent_count(name: str, provider: HTTPProvider, fake: Any) -> int:
    """How many of the fake's items are inside the adapter's statistics window now."""
    assert isinstance(provider, FeedProvider)
    since = provider.stats_since()
    return sum(1 for raw in fake.dataset().values() if published(name, raw) >= since)


def resync_calls(name: str, provider: HTTPProvider, fake: Any) -> dict[str, int]:
    """The documented cost of an unchanged re-sync, by endpoint (no token refresh due).

    YouTube: one list call plus ``ceil(min(recent, stats_max_items) / 50)`` ``videos.list``;
    Instagram: list pages until one reaches past the statistics window or the remembered
    window is listed; TikTok (nothing due for its hourly refresh) and Gmail: one list call.
    """
    calls = {LIST_ENDPOINTS[name]: 1}
    if name not in ("youtube", "instagram"):
        return calls
    assert isinstance(provider, FeedProvider)
    recent, limit = recent_count(name, provider, fake), provider.stats_max_items
    if name == "youtube":
        if min(recent, limit):
            calls["videos.list"] = math.ceil(min(recent, limit) / 50)
        return calls
    size, total = provider.page_size, len(fake.dataset())
    pages = 1
    while limit and not (
        pages * size > recent or pages * size >= provider.window_size or pages * size >= total
    ):
        pages += 1
    calls["media"] = pages
    return calls


def utc(text: str) -> datetime:
    """An aware datetime from ISO text."""
    return datetime.fromisoformat(text)

"""API calls and quota units of the four adapters vs the seeds' naive designs, on the fakes.

For each provider a fresh fake seeded with N items serves an adapter in-process: a first
sync (committed page by page to an in-memory store, ``known`` backed by it), then an
unchanged re-sync from the committed cursor. Figures come from the adapter's Pages and are
cross-checked against the fake's own counters (both are shown when they differ).

The naive designs really call the same fake with httpx:

- YouTube "via search.list": ``search.list`` pages of 50 (100 units each) plus
  ``videos.list`` for details (50 ids a call); the re-sync re-queries ``search.list`` once
  with ``publishedAfter`` = the newest stored ``publishedAt``.
- Gmail "one messages.get per message": ``messages.list`` pages of 100 (the default) and one
  plain ``GET messages/{id}?format=metadata`` per message; the re-sync lists everything
  again and gets only the ids not stored (the fairer variant of the seed design, which
  would otherwise re-fetch all).

Instagram and TikTok have no naive alternative in the seeds ("—").

Re-syncs are measured twice: with the statistics refresh off (``stats_max_items=0``: what an
unchanged re-sync cost before the refresh) and with the defaults (30 days, 200 items), TikTok
with its hourly refresh due. "recent" is how many items are inside the 30-day window.
Run: `.venv/bin/python bench/provider_calls.py [N]`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from syncjobs.providers import get_provider
from syncjobs.providers.types import Page, Provider
from syncjobs.providers.util import parse_time
from syncjobs.testing.fakes import FAKES, FakeProvider

PROVIDERS = ("youtube", "gmail", "instagram", "tiktok")
ROOT = "http://fake"
Usage = dict[str, int]


@dataclass
class Store:
    """One account's stored items and committed cursor (as the sync job keeps them)."""

    items: dict[str, dict[str, Any]] = field(default_factory=dict)
    cursor: dict[str, Any] | None = None

    def known(self, external_ids: Sequence[str]) -> set[str]:
        return {i for i in external_ids if i in self.items}

    def commit(self, page: Page) -> None:
        for item in page.items:
            self.items[item.external_id] = dict(item.raw)
        for gone in page.deleted_ids:
            self.items.pop(gone, None)
        self.cursor = json.loads(json.dumps(page.cursor))  # stored as JSON


# --------------------------------------------------------------------------- adapters


def _fresh_fake(name: str, items: int) -> FakeProvider:
    """A seeded fake with its clock frozen (TikTok's signed URLs stay stable)."""
    fake = FAKES[name](items=items, seed=0)
    frozen = float(int(time.time()))
    fake.clock = lambda: frozen
    return fake


def _adapter(fake: Any, name: str, **stats: int) -> Provider:
    """An adapter on ``fake``; ``stats`` overrides the statistics window settings."""
    extra: dict[str, Any] = {}
    if name == "tiktok" and stats:
        extra["refresh_interval"] = timedelta(0)  # the hourly refresh is due
    return get_provider(name)(
        tokens=fake.issue_tokens(),
        save_tokens=lambda tokens: None,
        config=dataclasses.replace(fake.config(ROOT), **stats),
        transport=fake.transport(),
        **extra,
    )


def _recent(name: str, fake: Any) -> int:
    """How many of the fake's items were published within the last 30 days."""
    if name == "gmail":
        return 0
    since = datetime.now(UTC) - timedelta(days=30)
    key = {"instagram": "timestamp", "tiktok": "create_time"}.get(name)
    count = 0
    for raw in fake.dataset().values():
        value = raw["snippet"]["publishedAt"] if key is None else raw[key]
        count += parse_time(value) >= since
    return count


def _sync_usage(fake: Any, provider: Provider, store: Store) -> Usage:
    """One run committed page by page; the Pages' totals, plus the fake's when they differ."""
    fake.reset_counters()
    calls = units = 0
    iterator = provider.sync(store.cursor, full=False, known=store.known)
    try:
        for page in iterator:
            store.commit(page)
            calls, units = calls + page.api_calls, units + page.quota_units
    finally:
        if isinstance(iterator, Generator):
            iterator.close()
    usage = {"calls": calls, "units": units}
    if (fake.requests, fake.quota_units) != (calls, units):
        usage |= {"fake_calls": fake.requests, "fake_units": fake.quota_units}
    return usage


# --------------------------------------------------------------------------- naive designs


def _client(fake: Any) -> httpx.Client:
    token = fake.issue_tokens().access_token
    return httpx.Client(
        transport=fake.transport(),
        base_url=fake.config(ROOT).base_url.rstrip("/") + "/",
        headers={"Authorization": f"Bearer {token}"},
    )


def _counted(fake: Any, step: Callable[[], None]) -> Usage:
    """Run one naive step; what the fake counted for it."""
    fake.reset_counters()
    step()
    return {"calls": fake.requests, "units": fake.quota_units}


def _get(client: httpx.Client, path: str, params: dict[str, Any]) -> dict[str, Any]:
    response = client.get(path, params=params)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _youtube_pages(client: httpx.Client, after: str | None) -> Iterator[list[str]]:
    """Video ids of ``search.list(forMine, type=video, order=date)``, page by page."""
    params: dict[str, Any] = {
        "forMine": "true",
        "type": "video",
        "order": "date",
        "maxResults": 50,
        "part": "snippet",
    }
    if after is not None:
        params["publishedAfter"] = after
    while True:
        body = _get(client, "search", params)
        yield [hit["id"]["videoId"] for hit in body["items"]]
        if not body.get("nextPageToken"):
            return
        params["pageToken"] = body["nextPageToken"]


def _youtube_details(client: httpx.Client, ids: list[str], store: Store) -> None:
    for start in range(0, len(ids), 50):
        params = {
            "part": "snippet,contentDetails,statistics",
            "id": ",".join(ids[start : start + 50]),
        }
        for video in _get(client, "videos", params)["items"]:
            store.items[video["id"]] = video


def _naive_youtube(fake: Any, store: Store) -> tuple[Usage, Usage]:
    with _client(fake) as client:

        def sweep(after: str | None) -> None:
            for ids in _youtube_pages(client, after):
                _youtube_details(client, [i for i in ids if i not in store.items], store)

        first = _counted(fake, lambda: sweep(None))
        newest = max(v["snippet"]["publishedAt"] for v in store.items.values())
        # One query (a single page when nothing is new): the naive design re-queries.
        return first, _counted(fake, lambda: sweep(newest))


def _gmail_ids(client: httpx.Client) -> Iterator[list[str]]:
    """``messages.list`` pages at the default size (100)."""
    params: dict[str, Any] = {}
    while True:
        body = _get(client, "messages", params)
        yield [ref["id"] for ref in body.get("messages", [])]
        if not body.get("nextPageToken"):
            return
        params["pageToken"] = body["nextPageToken"]


def _naive_gmail(fake: Any, store: Store) -> tuple[Usage, Usage]:
    with _client(fake) as client:

        def sweep() -> None:
            for ids in _gmail_ids(client):
                for message_id in (i for i in ids if i not in store.items):
                    store.items[message_id] = _get(
                        client, f"messages/{message_id}", {"format": "metadata"}
                    )

        return _counted(fake, sweep), _counted(fake, sweep)


NAIVE: dict[str, Callable[[Any, Store], tuple[Usage, Usage]]] = {
    "youtube": _naive_youtube,
    "gmail": _naive_gmail,
}


# --------------------------------------------------------------------------- run & show


def _ours(name: str, items: int, added: int = 0) -> dict[str, Any]:
    fake = _fresh_fake(name, items)
    if added:
        fake.add_items(added)
    store = Store()
    provider = _adapter(fake, name)
    quiet = _adapter(fake, name, stats_max_items=0)
    fresh = _adapter(fake, name, stats_window_days=30, stats_max_items=200)
    try:
        first = _sync_usage(fake, provider, store)
        expected = len(fake.dataset())
        assert len(store.items) == expected, f"{name}: stored {len(store.items)} of {expected}"
        resync_off = _sync_usage(fake, quiet, copy.deepcopy(store))
        resync = _sync_usage(fake, fresh, store)
    finally:
        for adapter in (provider, quiet, fresh):
            adapter.close()
    return {
        "first": first,
        "resync_off": resync_off,
        "resync": resync,
        "items": expected,
        "recent": _recent(name, fake),
    }


def _naive(name: str, items: int) -> dict[str, Usage | None]:
    if name not in NAIVE:
        return {"naive_first": None, "naive_resync": None}
    fake, store = _fresh_fake(name, items), Store()
    first, resync = NAIVE[name](fake, store)
    expected = len(fake.dataset())
    assert len(store.items) == expected, f"naive {name}: stored {len(store.items)} of {expected}"
    return {"naive_first": first, "naive_resync": resync}


#: Items posted just before the first sync in the second row of each feed (past the cap).
BUSY = 250


def run(items: int = 1000) -> dict[str, Any]:
    """Measure every provider; ``{name: {first, resync, naive_first, naive_resync, items}}``.

    The feeds get a second row, ``<name>+busy``: the same account with ``BUSY`` items posted
    in the window, more than ``stats_max_items``, to show that the refresh stays capped.
    """
    result = {name: {**_ours(name, items), **_naive(name, items)} for name in PROVIDERS}
    for name in ("youtube", "instagram", "tiktok"):
        none = {"naive_first": None, "naive_resync": None}
        result[f"{name}+busy"] = {**_ours(name, items, added=BUSY), **none}
    return result


def _cell(usage: Usage | None) -> str:
    """``calls / units``, with the fake's own count in brackets where it differs."""
    if usage is None:
        return "—"
    text = []
    for key in ("calls", "units"):
        fake = usage.get(f"fake_{key}", usage[key])
        text.append(f"{usage[key]:,}" + ("" if fake == usage[key] else f" [fake {fake:,}]"))
    return " / ".join(text)


def _ratio(row: dict[str, Any]) -> str:
    naive, ours = row["naive_first"], row["first"]
    if naive is None or not ours["units"]:
        return "—"
    return f"{naive['units'] / ours['units']:.1f}x"


def show(result: dict[str, Any], console: Console) -> None:
    """One table: calls/units of our first and re-sync, the naive ones, and the ratio."""
    table = Table(title="Provider API calls / quota units (in-process fakes)")
    table.add_column("provider (items, recent)")
    labels = ("first", "re-sync, refresh off", "re-sync", "naive first", "naive re-sync")
    for label in labels:
        table.add_column(label, justify="right")
    table.add_column("naive/ours units, first", justify="right")
    phases = ("first", "resync_off", "resync", "naive_first", "naive_resync")
    for name, row in result.items():
        if not isinstance(row, dict):  # e.g. the run's ``measured_at`` stamp
            continue
        cells = [_cell(row[phase]) for phase in phases]
        table.add_row(f"{name} ({row['items']:,}, {row['recent']})", *cells, _ratio(row))
    console.print(table)


if __name__ == "__main__":
    from bench._common import save

    result = run(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
    save("provider_calls", result)
    show(result, Console())

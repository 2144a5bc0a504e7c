"""The newest-first walk that YouTube uploads, Instagram media and TikTok videos share.

Each run pages from the newest item down to the stored high-water mark (or the end in a full
run); the newest items are remembered with a fingerprint so that changes and deletes among
them are seen at no extra call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ValidationError

from ..errors import StaleCursorError
from .http import HTTPProvider
from .types import Item, KnownItems, Page
from .util import fingerprint

__all__ = ["Entry", "FeedPage", "FeedProvider", "FeedRun", "FeedState", "FeedStep", "WindowEntry"]

#: (fingerprint, timestamp) of an item in the recent window.
WindowEntry = tuple[str, datetime]


@dataclass(frozen=True)
class Entry:
    """One listed record of a newest-first feed."""

    id: str
    ts: datetime
    fingerprint: str
    raw: Mapping[str, Any]


@dataclass(frozen=True)
class FeedPage:
    """One page of a newest-first feed."""

    entries: list[Entry]
    next_token: str | None
    total_hint: int | None = None


@dataclass
class FeedStep:
    """What one feed page means for the store."""

    fetch: list[Entry] = field(default_factory=list)
    unchanged: int = 0
    done: bool = False
    deleted: list[str] = field(default_factory=list)


class FeedRun(BaseModel):
    """A run in progress: where to resume and what to adopt when it ends."""

    full: bool
    next: str | None = None
    hwm: datetime | None = None
    floor: datetime | None = None
    window: dict[str, WindowEntry] = {}
    seen: list[str] = []
    #: Entries listed so far by this run.
    listed: int = 0


class FeedState(BaseModel):
    """The cursor of a newest-first feed (JSON: datetimes as ISO strings)."""

    v: Literal[1] = 1
    #: Timestamp of the newest item stored.
    hwm: datetime | None = None
    #: The newest items (id -> fingerprint, timestamp): changes and deletes among them are seen.
    window: dict[str, WindowEntry] = {}
    run: FeedRun | None = None
    #: Provider-specific cached values (e.g. YouTube's uploads playlist id).
    extra: dict[str, str] = {}

    @classmethod
    def start(cls, cursor: Mapping[str, Any] | None, *, full: bool) -> tuple[Self, bool]:
        """Load ``cursor`` and start or resume a run; also tell whether a full run starts."""
        try:
            state = cls.model_validate(cursor) if cursor else cls()
        except ValidationError:
            state = cls()
        if state.run is not None and (state.run.full or not full):
            return state, False
        state.run = FeedRun(full=full or state.hwm is None)
        return state, state.run.full

    def absorb(
        self,
        page: FeedPage,
        known: KnownItems,
        window_size: int,
        *,
        refresh_since: datetime | None = None,
    ) -> FeedStep:
        """Sort a page into new/changed, unchanged and stop; advance the run.

        With ``refresh_since``, an incremental run walks on past the high-water mark while
        the entries are at least that recent and fewer than ``window_size`` were listed (the
        list carries the counts: changed ones are seen by their fingerprint).
        """
        run = self._run
        step, stop, candidates = FeedStep(), False, []
        for entry in page.entries:
            if entry.id in self.window and entry.id not in run.seen:
                run.seen.append(entry.id)
            run.listed += 1
            reached = not run.full and self.hwm is not None and entry.ts <= self.hwm
            stop = stop or (
                reached
                and (refresh_since is None or entry.ts < refresh_since or run.listed >= window_size)
            )
            previous = self.window.get(entry.id)
            if run.full or previous is None:
                candidates.append(entry)
            elif previous[0] != entry.fingerprint:
                step.fetch.append(entry)
        stored = known([e.id for e in candidates]) if candidates and not run.full else set()
        step.fetch += [e for e in candidates if e.id not in stored]
        step.unchanged = len(page.entries) - len(step.fetch)
        self._advance(page, window_size)
        if stop or page.next_token is None:
            step.done = True
            step.deleted = self._finish(exhausted=not stop, window_size=window_size)
        return step

    @property
    def _run(self) -> FeedRun:
        if self.run is None:  # pragma: no cover - start() always sets it
            raise RuntimeError("no run in progress")
        return self.run

    def _advance(self, page: FeedPage, window_size: int) -> None:
        run = self._run
        for entry in page.entries:
            if len(run.window) < window_size:
                run.window[entry.id] = (entry.fingerprint, entry.ts)
            run.hwm = entry.ts if run.hwm is None else max(run.hwm, entry.ts)
            run.floor = entry.ts if run.floor is None else min(run.floor, entry.ts)
        run.next = page.next_token

    def _finish(self, *, exhausted: bool, window_size: int) -> list[str]:
        run = self._run
        floor = None if exhausted else run.floor
        deleted = [
            item_id
            for item_id, (_, ts) in self.window.items()
            if item_id not in run.seen and (floor is None or ts > floor)
        ]
        merged = dict(run.window)
        for item_id, entry in self.window.items():
            if item_id not in deleted and item_id not in run.seen:
                merged.setdefault(item_id, entry)
        newest = sorted(merged.items(), key=lambda kv: kv[1][1], reverse=True)[:window_size]
        self.window = dict(newest)
        if run.hwm is not None:
            self.hwm = run.hwm if self.hwm is None else max(self.hwm, run.hwm)
        self.run = None
        return deleted

    def restart(self) -> None:
        """Start the current run over from the top, forgetting cached provider values."""
        self.run = FeedRun(full=self._run.full)
        self.extra = {}

    def dump(self) -> dict[str, Any]:
        """Return the cursor as JSON-serialisable data."""
        return self.model_dump(mode="json")


class FeedProvider(HTTPProvider):
    """A provider whose list is newest-first: walk from the top down to the high-water mark.

    Each run pages from the newest item down to the stored high-water mark (or the end in a
    full run). Items newer than the mark, or unknown to the store, are fetched; the newest
    ``page_size`` items are remembered with a fingerprint so that changes and deletes among
    them are seen at no extra call. Older edits and deletes show up in full runs only
    (``Page.full_resync``).
    """

    #: The cursor model (an adapter may extend it with fields of its own).
    state_type: ClassVar[type[FeedState]] = FeedState
    #: Whether the remembered window also holds the recent items whose counts are refreshed
    #: (``stats_max_items`` of them) rather than one page.
    stats_in_window: ClassVar[bool] = False
    #: Whether the list itself carries the counts, so that an incremental walk refreshes them
    #: by listing on through the statistics window (no detail call).
    stats_in_list: ClassVar[bool] = False

    @property
    def stats_window(self) -> timedelta:
        """How far back incremental syncs refresh counts (``stats_window_days``)."""
        return timedelta(days=self.config.stats_window_days)

    @property
    def stats_max_items(self) -> int:
        """How many recent items at most a sync refreshes (0 when the refresh is off)."""
        return self.config.stats_max_items if self.config.stats_window_days else 0

    @property
    def window_size(self) -> int:
        """How many of the newest items the cursor remembers with their fingerprints."""
        if self.stats_in_window:
            return max(self.page_size, self.stats_max_items)
        return self.page_size

    def stats_since(self) -> datetime:
        """Items published at or after this instant are in the statistics window."""
        return self.now() - self.stats_window

    def prepare(self, state: FeedState) -> None:
        """Fill ``state.extra`` before the first list call (e.g. discover a playlist id)."""

    def note_page(self, state: FeedState, listed: FeedPage, step: FeedStep) -> None:
        """Hook: record what one list page showed in ``state`` before its cursor is dumped."""

    def after_walk(self, state: FeedState, *, full: bool) -> Iterator[Page]:
        """Hook: yield further pages once the walk's last page (and cursor) was yielded."""
        return iter(())

    def list_page(self, token: str | None, state: FeedState) -> FeedPage:
        """Fetch one page of the feed, newest first."""
        raise NotImplementedError  # pragma: no cover

    def items_for(self, entries: list[Entry]) -> list[Item]:
        """Turn listed entries into items (fetching details where the list lacks them)."""
        raise NotImplementedError  # pragma: no cover

    def sync(
        self, cursor: Mapping[str, Any] | None, *, full: bool, known: KnownItems
    ) -> Iterator[Page]:
        """Yield one page per list page; each page's cursor resumes right after it."""
        state, fresh_full = self.state_type.start(cursor, full=full)
        self.start_run()
        first, restarted = True, False
        while True:
            run = state.run
            assert run is not None
            try:
                if first:
                    self.prepare(state)
                listed = self.list_page(run.next, state)
            except StaleCursorError:
                if restarted:
                    raise
                # A page token or cached id went stale: walk again from the top (stored
                # items are known, so this costs list calls only).
                restarted, first, fresh_full = True, True, run.full
                state.restart()
                continue
            self.check_page_token(listed.next_token)
            since = self.stats_since() if self.stats_in_list and self.stats_max_items else None
            step = state.absorb(listed, known, self.window_size, refresh_since=since)
            items = self.items_for(step.fetch) if step.fetch else []
            self.note_page(state, listed, step)
            yield self.make_page(
                items,
                state.dump(),
                deleted_ids=step.deleted,
                unchanged=step.unchanged,
                total_hint=listed.total_hint,
                full_resync=first and fresh_full,
            )
            first = False
            if step.done:
                yield from self.after_walk(state, full=run.full)
                return

    def entries(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        endpoint: str,
        id_of: Callable[[Mapping[str, Any]], object],
        time_of: Callable[[Mapping[str, Any]], Any],
        stable_of: Callable[[Mapping[str, Any]], object],
    ) -> list[Entry]:
        """Build feed entries: id, timestamp and the fingerprint of the record's stable part."""
        out = []
        for record in records:
            item_id = id_of(record)
            if not isinstance(item_id, str | int) or item_id == "":
                raise self.unexpected(endpoint, "a listed item has no id")
            ts = self.timestamp(time_of(record), endpoint=endpoint)
            out.append(Entry(str(item_id), ts, fingerprint(stable_of(record)), record))
        return out

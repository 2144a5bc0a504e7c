"""Gmail API v1 adapter: full sync by ``messages.list`` + batched gets, partial by history.

Full sync (Gmail's sync guide): ``GET profile`` first (its ``historyId`` is adopted when the
full sync ends, so nothing that happens meanwhile is lost), ``messages.list`` pages of 500,
and ``messages.get?format=metadata`` for the ids the store lacks, 50 to a multipart batch
(each listing is stored as one page).
Partial sync: ``history.list`` pages from the stored ``historyId``; added messages are
fetched, relabelled ones re-fetched, ``messagesDeleted`` reported; a 404 (history expired)
drops the cursor and runs a full sync. Messages labelled SPAM or TRASH are reported deleted,
as ``messages.list`` (without ``includeSpamTrash``) does not list them either.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any, ClassVar, Literal
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from ..errors import RateLimitedError, ResourceNotFoundError, RetriableError, StaleCursorError
from . import DEFAULT_BASE_URLS, GMAIL_BATCH_URL
from .gmail_batch import split_batch
from .google_auth import GoogleProvider
from .types import Item, KnownItems, Page
from .util import chunks, to_int

__all__ = ["GmailProvider", "batch_url_for"]

_HISTORY_TYPES = ["messageAdded", "messageDeleted", "labelAdded", "labelRemoved"]
_HIDDEN_LABELS = frozenset({"SPAM", "TRASH"})
_GET_UNITS = 5


def batch_url_for(base_url: str) -> str:
    """Gmail's batch endpoint on the root ``base_url`` (``…/gmail/v1/users/me``) lives on."""
    marker = "/gmail/v1/"
    path = base_url.rstrip("/") + "/"
    if marker in path:
        return path[: path.index(marker)] + "/batch/gmail/v1"
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/batch/gmail/v1"


class _Ref(BaseModel):
    id: str


class _Profile(BaseModel):
    historyId: str
    messagesTotal: int | None = None


class _MessageList(BaseModel):
    messages: list[_Ref] = []
    nextPageToken: str | None = None
    resultSizeEstimate: int | None = None


class _Change(BaseModel):
    message: _Ref


class _Record(BaseModel):
    id: str
    messagesAdded: list[_Change] = []
    messagesDeleted: list[_Change] = []
    labelsAdded: list[_Change] = []
    labelsRemoved: list[_Change] = []


class _History(BaseModel):
    history: list[_Record] = []
    nextPageToken: str | None = None
    historyId: str


class _Header(BaseModel):
    name: str
    value: str


class _Payload(BaseModel):
    headers: list[_Header] = []


class _Message(BaseModel):
    id: str
    labelIds: list[str] = []
    snippet: str | None = None
    internalDate: str | None = None
    sizeEstimate: int | None = None
    payload: _Payload | None = None


class GmailRun(BaseModel):
    """A Gmail run in progress: the page to (re)fetch next and what to adopt at the end."""

    kind: Literal["full", "partial"]
    page: str | None = None
    #: Full runs: the profile's historyId at the start, adopted when the run ends.
    start_history_id: str | None = None
    total: int | None = None


class GmailState(BaseModel):
    """The Gmail cursor: the historyId to sync from, and the run in progress if any."""

    v: Literal[1] = 1
    history_id: str | None = None
    run: GmailRun | None = None

    @classmethod
    def start(cls, cursor: Mapping[str, Any] | None, *, full: bool) -> GmailState:
        """Load ``cursor`` and resume its run, or start a full or partial one."""
        try:
            state = cls.model_validate(cursor) if cursor else cls()
        except ValidationError:
            state = cls()
        if state.run is not None and (state.run.kind == "full" or not full):
            return state
        kind: Literal["full", "partial"] = "full" if full or not state.history_id else "partial"
        state.run = GmailRun(kind=kind)
        return state

    @property
    def current(self) -> GmailRun:
        """The run in progress."""
        if self.run is None:  # pragma: no cover - start() always sets it
            raise RuntimeError("no run in progress")
        return self.run


class GmailProvider(GoogleProvider):
    """Gmail API v1: message metadata, by full sync then history-based partial syncs."""

    name: ClassVar[str] = "gmail"
    default_base_url: ClassVar[str] = DEFAULT_BASE_URLS["gmail"]
    default_page_size: ClassVar[int] = 500
    max_page_size: ClassVar[int] = 500
    #: Parts per batch request (Google allows 100 and advises at most 50).
    batch_size: ClassVar[int] = 50
    stale_cursor_endpoints: ClassVar[frozenset[str]] = frozenset({"history.list"})

    @property
    def batch_url(self) -> str:
        """The multipart batch endpoint (derived from ``base_url`` when that is overridden)."""
        if self.base_url == DEFAULT_BASE_URLS["gmail"]:
            return GMAIL_BATCH_URL
        return batch_url_for(self.base_url)

    def sync(
        self, cursor: Mapping[str, Any] | None, *, full: bool, known: KnownItems
    ) -> Iterator[Page]:
        """Yield pages of a partial sync by history, or of a full sync (also when stale)."""
        state = GmailState.start(cursor, full=full)
        self.start_run()
        if state.current.kind == "partial":
            try:
                yield from self._partial(state, known)
                return
            except StaleCursorError:
                state = GmailState.start(None, full=True)  # history expired: drop the cursor
                self.reset_page_tokens()
        yield from self._full(state, known)

    # -- full sync ---------------------------------------------------------------------------

    def _full(self, state: GmailState, known: KnownItems) -> Iterator[Page]:
        run = state.current
        fresh = run.start_history_id is None
        if fresh:
            response = self.call("GET", "profile", endpoint="profile", units=1)
            profile = self.parse(response, _Profile, endpoint="profile")
            run.start_history_id, run.total = profile.historyId, profile.messagesTotal
        while state.run is not None:
            params: dict[str, Any] = {"maxResults": self.page_size}
            if run.page:
                params["pageToken"] = run.page
            response = self.call(
                "GET", "messages", endpoint="messages.list", units=5, params=params
            )
            listing = self.parse(response, _MessageList, endpoint="messages.list")
            self.check_page_token(listing.nextPageToken)
            ids = [ref.id for ref in listing.messages]
            stored = known(ids) if ids else set()
            yield from self._fetch_pages(
                state,
                [i for i in ids if i not in stored],
                advance=partial(self._advance_full, state, listing.nextPageToken),
                unchanged=len(stored),
                total=run.total,
                full_resync=fresh,
            )
            fresh = False

    @staticmethod
    def _advance_full(state: GmailState, token: str | None) -> None:
        run = state.current
        if token:
            run.page = token
        else:
            state.history_id, state.run = run.start_history_id, None

    # -- partial sync ------------------------------------------------------------------------

    def _partial(self, state: GmailState, known: KnownItems) -> Iterator[Page]:
        run = state.current
        while state.run is not None:
            params: dict[str, Any] = {
                "startHistoryId": state.history_id,
                "historyTypes": _HISTORY_TYPES,
                "maxResults": self.page_size,
            }
            if run.page:
                params["pageToken"] = run.page
            response = self.call("GET", "history", endpoint="history.list", units=2, params=params)
            history = self.parse(response, _History, endpoint="history.list")
            self.check_page_token(history.nextPageToken)
            added, relabelled, deleted = _changes(history.history)
            stored = known(added) if added else set()
            fetch = relabelled + [i for i in added if i not in stored]
            yield from self._fetch_pages(
                state,
                fetch,
                advance=partial(self._advance_partial, state, history),
                unchanged=len(stored),
                deleted=deleted,
            )

    @staticmethod
    def _advance_partial(state: GmailState, history: _History) -> None:
        if history.nextPageToken:
            state.current.page = history.nextPageToken
        else:
            state.history_id, state.run = history.historyId, None

    # -- fetching ----------------------------------------------------------------------------

    def _fetch_pages(
        self,
        state: GmailState,
        ids: Sequence[str],
        *,
        advance: Callable[[], None],
        unchanged: int,
        deleted: Sequence[str] = (),
        total: int | None = None,
        full_resync: bool = False,
    ) -> Iterator[Page]:
        """One page per listed page: its messages fetched in batches of 50, stored at once.

        One page (one store transaction) per listing rather than per batch: a listing of
        500 is ten batches, and each stored page costs a commit. A sync stopped mid-listing
        refetches only that listing's messages.
        """
        items: list[Item] = []
        hidden: list[str] = []
        for batch in chunks(ids, self.batch_size):
            got, gone = self._get_messages(batch)
            items += got
            hidden += gone
        advance()
        yield self.make_page(
            items,
            state.model_dump(mode="json"),
            deleted_ids=[*deleted, *hidden],
            unchanged=unchanged,
            total_hint=total,
            full_resync=full_resync,
        )

    def _get_messages(self, ids: Sequence[str]) -> tuple[list[Item], list[str]]:
        """Batch-get metadata; retry 5xx parts once; skip 404s; SPAM/TRASH as deleted."""
        items: list[Item] = []
        hidden: list[str] = []
        pending = list(ids)
        for attempt in range(2):
            retry: list[str] = []
            for message_id, part in self._batch(pending) if pending else []:
                message = _message_of(part)  # decoded once when it is plainly a success
                error = None if message else self.classify(part, endpoint="messages.get")
                if error is None:
                    item = self._item(message or self.json_of(part, endpoint="messages.get"))
                    if _HIDDEN_LABELS.intersection(item.raw.get("labelIds") or ()):
                        hidden.append(message_id)
                    else:
                        items.append(item)
                elif isinstance(error, ResourceNotFoundError):
                    continue  # deleted meanwhile; history reports the delete
                elif (
                    isinstance(error, RetriableError)
                    and attempt == 0
                    and not isinstance(error, RateLimitedError)
                ):
                    retry.append(message_id)  # a 5xx part: once more at once
                # A rate-limited part is raised: the job waits exactly its Retry-After.
                else:
                    raise error
            pending = retry
        return items, hidden

    def _batch(self, ids: Sequence[str]) -> list[tuple[str, httpx.Response]]:
        """Send one multipart batch of ``messages.get`` and split its answer by part."""
        boundary = f"syncjobs_{uuid.uuid4().hex}"
        path = urlsplit(self.base_url).path.rstrip("/")
        parts = [
            f"--{boundary}\r\nContent-Type: application/http\r\nContent-ID: <item{n}>\r\n\r\n"
            f"GET {path}/messages/{quote(message_id, safe='')}?format=metadata HTTP/1.1\r\n\r\n"
            for n, message_id in enumerate(ids)
        ]
        response = self.call(
            "POST",
            self.batch_url,
            endpoint="batch",
            units=_GET_UNITS * len(ids),
            content=("".join(parts) + f"--{boundary}--\r\n").encode(),
            headers={"Content-Type": f"multipart/mixed; boundary={boundary}"},
        )
        answers = split_batch(response)
        if answers is None or len(answers) != len(ids):
            raise self.unexpected("batch", "the multipart answer does not match the request")
        by_index = dict(answers)
        if sorted(by_index) != list(range(len(ids))):
            raise self.unexpected("batch", "the multipart answer's Content-IDs do not match")
        return [(message_id, by_index[n]) for n, message_id in enumerate(ids)]

    def _item(self, raw: Mapping[str, Any]) -> Item:
        message = self.validate(raw, _Message, endpoint="messages.get")
        listed = message.payload.headers if message.payload else []
        headers = {header.name.lower(): header.value for header in listed}
        millis = to_int(message.internalDate)
        return Item(
            external_id=message.id,
            kind="email",
            title=headers.get("subject"),
            text=message.snippet,
            author=headers.get("from"),
            published_at=datetime.fromtimestamp(millis / 1000, UTC) if millis is not None else None,
            metrics={"size": message.sizeEstimate} if message.sizeEstimate is not None else {},
            raw=raw,
        )


def _message_of(part: httpx.Response) -> dict[str, Any] | None:
    """A successful part's message, its JSON decoded once; None when ``classify`` must judge.

    A 2xx part whose body is a JSON object without an ``error`` member is a success for
    ``classify`` too, so its body need not be decoded twice (once to look for an error).
    """
    if not part.is_success:
        return None
    try:
        data = json.loads(part.content)
    except (ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) and data and "error" not in data else None


def _changes(records: Sequence[_Record]) -> tuple[list[str], list[str], list[str]]:
    """(added, relabelled, deleted) ids of history records; deleted ones are not fetched."""
    added: dict[str, None] = {}
    relabelled: dict[str, None] = {}
    deleted: dict[str, None] = {}
    for record in records:
        added.update((change.message.id, None) for change in record.messagesAdded)
        for change in [*record.labelsAdded, *record.labelsRemoved]:
            relabelled[change.message.id] = None
        deleted.update((change.message.id, None) for change in record.messagesDeleted)
    new = [i for i in added if i not in deleted]
    changed = [i for i in relabelled if i not in deleted and i not in added]
    return new, changed, list(deleted)

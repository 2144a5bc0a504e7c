"""Gmail's search: the ``q`` operators the fake understands and the ``labelIds`` filter."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from syncjobs.testing.fakes.gmail.mailbox import BODIES, CONTACTS, Message

__all__ = ["predicate"]

_LABEL_ALIASES = {
    "inbox": "INBOX",
    "sent": "SENT",
    "starred": "STARRED",
    "important": "IMPORTANT",
    "unread": "UNREAD",
    "trash": "TRASH",
    "spam": "SPAM",
}


def predicate(q: str, label_ids: list[str]) -> Callable[[Message], bool] | None:
    """A filter for ``q`` (after:, before:, label:/in:/is:, from:, words) and ``labelIds``.

    None when nothing filters. Raises ``ValueError`` for an unparsable date.
    """
    tests: list[Callable[[Message], bool]] = []
    wanted = set(label_ids)
    for term in q.split():
        op, _, value = term.partition(":")
        op = op.lower() if value else ""
        if op in ("label", "in", "is"):
            wanted.add(_LABEL_ALIASES.get(value.lower(), value))
        else:
            tests.append(_term_test(op, value.lower() if op else term.lower()))
    if wanted:
        tests.append(lambda message: wanted.issubset(message.labels))
    if not tests:
        return None
    return lambda message: all(test(message) for test in tests)


def _term_test(op: str, value: str) -> Callable[[Message], bool]:
    """The test for one ``op:value`` search term (``op`` empty: a free word)."""
    if op in ("after", "before"):
        bound = _date_ms(value)
        if op == "after":
            return lambda message: message.key >= bound
        return lambda message: message.key < bound
    if op == "from":
        return lambda message: value in " ".join(CONTACTS[message.sender]).lower()
    return lambda message: value in f"{message.subject} {BODIES[message.body]}".lower()


def _date_ms(value: str) -> int:
    """Epoch ms of a Gmail search date (``YYYY/MM/DD`` or epoch seconds)."""
    if value.isdigit():
        return int(value) * 1000
    parsed = datetime.strptime(value.replace("-", "/"), "%Y/%m/%d").replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)

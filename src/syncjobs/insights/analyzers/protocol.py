"""The Analyzer protocol: what ``analyze_items`` needs to judge an item."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..models import Preferences, QueuedItem, Verdict

__all__ = ["Analyzer"]


@runtime_checkable
class Analyzer(Protocol):
    """Judges one item for its owner: ALLOW, BLOCK or REVIEW, with a confidence.

    Raise ``RateLimitedError`` (the whole batch waits), ``RetriableError`` or
    ``UnexpectedResponseError`` (this item fails, the batch goes on), or ``FatalError`` /
    ``ConfigurationError`` (the run stops: nothing would succeed). ``analyze`` is called
    from several threads at once.
    """

    name: str

    def analyze(self, item: QueuedItem, preferences: Preferences) -> Verdict:
        """Judge ``item`` under its owner's ``preferences``."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...

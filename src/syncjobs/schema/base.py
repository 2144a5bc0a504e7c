"""What every SQL mixin of SQLAlchemyRepository shares: its engine, tables and dialect."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from .tables import Tables

__all__ = ["SQLMixin", "prefix_range"]


class SQLMixin:
    """Needs ``engine``, ``tables`` and ``is_postgres`` (set by SQLAlchemyRepository)."""

    engine: Engine
    tables: Tables
    is_postgres: bool

    def _insert(self, table: Any) -> Any:
        """An INSERT of the engine's dialect (it has ``ON CONFLICT``)."""
        return (postgresql.insert if self.is_postgres else sqlite.insert)(table)

    def _upsert(self, table: Any, keys: Sequence[str], columns: Sequence[str]) -> Any:
        """An INSERT of rows unique on ``keys`` that replaces ``columns`` of existing ones."""
        ins = self._insert(table)
        return ins.on_conflict_do_update(
            index_elements=list(keys), set_={c: ins.excluded[c] for c in columns}
        )


def prefix_range(prefix: str) -> tuple[str, str]:
    """The key range ``[low, high)`` that holds every string starting with ``prefix``.

    A range on the primary key uses its index where ``LIKE`` may not. ``high`` steps the last
    character to the next one; after ``9`` that is ``a``, so hexadecimal ids (UUIDs) stay in
    range under collations that ignore punctuation (``9`` + 1 is ``:``). The range may then
    hold a few strings that do not start with ``prefix``: callers keep only those that do.
    """
    last = prefix[-1]
    step = "a" if last == "9" else chr(ord(last) + 1)
    return prefix, prefix[:-1] + step

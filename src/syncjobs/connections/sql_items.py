"""Synced items in SQL (mixed into ``SQLAlchemyRepository``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, any_, bindparam, case, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY

from ..providers.types import Item
from ..schema.base import SQLMixin
from .fingerprint import EncodedItem, encode_item
from .models import PageCounts, StoredItem
from .sql_items_pg import REPLACED, StagedUpsert, utc

#: Ids per ``IN`` list on SQLite (it allows at most 32,766 bound parameters per statement).
_SQLITE_IDS = 500

__all__ = ["SQLItemsMixin"]


def _stored(row: Any) -> StoredItem:
    return StoredItem(
        id=row["id"],
        account_id=row["account_id"],
        external_id=row["external_id"],
        kind=row["kind"],
        title=row["title"],
        text=row["text"],
        author=row["author"],
        published_at=row["published_at"],
        metrics=row["metrics"],
        raw=row["raw"],
        content_hash=row["content_hash"],
        first_seen_at=row["first_seen_at"],
        last_modified_at=row["last_modified_at"],
        deleted_at=row["deleted_at"],
        analysis_state=row["analysis_state"],
    )


def _item_values(account_id: str, item: Item, enc: EncodedItem, now: datetime) -> dict[str, Any]:
    return {
        "account_id": account_id,
        "external_id": item.external_id,
        "kind": item.kind,
        "title": item.title,
        "text": item.text,
        "author": item.author,
        "published_at": item.published_at,
        "metrics": dict(item.metrics),
        "raw": dict(item.raw),
        "content_hash": enc.content_hash,
        "first_seen_at": now,
        "last_modified_at": now,
        "last_seen_at": now,
        "deleted_at": None,
        "analysis_state": "queued",
    }


def _copy_row(account_id: str, item: Item, enc: EncodedItem, now: datetime) -> tuple[Any, ...]:
    """The values of ``sql_items_pg.COPY_COLUMNS`` for one item."""
    at = utc(now)
    return (
        account_id,
        item.external_id,
        item.kind,
        item.title,
        item.text,
        item.author,
        utc(item.published_at),
        enc.metrics_json,
        enc.raw_json,
        enc.content_hash,
        at,
        at,
        at,
        None,
        "queued",
    )


_CHANGED_KEYS = (
    "title",
    "text",
    "kind",
    "author",
    "published_at",
    "metrics",
    "raw",
    "content_hash",
)


def _rejudge(it: Any) -> Any:
    """True when a changed item's title, text or author differ from the stored ones."""
    return or_(
        it.c.title.is_distinct_from(bindparam("title")),
        it.c.text.is_distinct_from(bindparam("text")),
        it.c.author.is_distinct_from(bindparam("author")),
    )


class SQLItemsMixin(SQLMixin):
    """``ItemStore`` on SQLAlchemy Core; a page's cursor is saved on its account row.

    On PostgreSQL a page's rows go in by ``COPY`` and one upsert, and ids are bound as one
    array (``sql_items_pg``); on SQLite by ``executemany``, ids in lists of at most 500.
    """

    def _by_ids(self, column: Any, ids: Sequence[str]) -> list[Any]:
        """Conditions ``column`` in ``ids``: one array on PostgreSQL, lists of 500 on SQLite."""
        if self.is_postgres:
            return [
                column == any_(bindparam("ids", list(ids), type_=ARRAY(column.type), unique=True))
            ]
        unique = list(dict.fromkeys(ids))
        return [column.in_(unique[i : i + _SQLITE_IDS]) for i in range(0, len(unique), _SQLITE_IDS)]

    def known_items(
        self, account_id: str, external_ids: Sequence[str], *, now: datetime
    ) -> set[str]:
        """Return the stored live ids among ``external_ids`` and mark them seen."""
        if not external_ids:
            return set()
        it = self.tables.items
        found: set[str] = set()
        with self.engine.begin() as conn:
            for ids in self._by_ids(it.c.external_id, external_ids):
                found.update(
                    r[0]
                    for r in conn.execute(
                        update(it)
                        .where(it.c.account_id == account_id, ids, it.c.deleted_at.is_(None))
                        .values(last_seen_at=now)
                        .returning(it.c.external_id)
                    )
                )
        return found

    def save_page(
        self,
        account_id: str,
        *,
        items: Sequence[Item],
        deleted_ids: Sequence[str],
        cursor: dict[str, Any],
        now: datetime,
    ) -> PageCounts:
        """Upsert items, mark deletions and commit the cursor in one transaction."""
        t = self.tables
        latest = {item.external_id: item for item in items}  # a page may repeat an id
        encoded = {ext_id: encode_item(item) for ext_id, item in latest.items()}
        with self.engine.begin() as conn:
            added, updated, unchanged = self._upsert_items(conn, account_id, latest, encoded, now)
            deleted = 0
            for ids in self._by_ids(t.items.c.external_id, deleted_ids) if deleted_ids else []:
                deleted += conn.execute(
                    update(t.items)
                    .where(t.items.c.account_id == account_id, ids, t.items.c.deleted_at.is_(None))
                    .values(deleted_at=now, last_modified_at=now)
                ).rowcount
            conn.execute(
                update(t.accounts)
                .where(t.accounts.c.id == account_id)
                .values(cursor=cursor, updated_at=now)
            )
        return PageCounts(added=added, updated=updated, unchanged=unchanged, deleted=deleted)

    def _upsert_items(
        self,
        conn: Connection,
        account_id: str,
        latest: dict[str, Item],
        encoded: dict[str, EncodedItem],
        now: datetime,
    ) -> tuple[int, int, int]:
        if not latest:
            return 0, 0, 0
        it = self.tables.items
        stored: dict[str, tuple[str, datetime | None]] = {}
        for ids in self._by_ids(it.c.external_id, list(latest)):
            query = select(it.c.external_id, it.c.content_hash, it.c.deleted_at)
            for r in conn.execute(query.where(it.c.account_id == account_id, ids)):
                stored[r[0]] = (r[1], r[2])
        new, changed, same = [], [], []
        for ext_id, enc in encoded.items():
            if ext_id not in stored:
                new.append(ext_id)
            elif stored[ext_id][0] != enc.content_hash or stored[ext_id][1] is not None:
                changed.append(ext_id)
            else:
                same.append(ext_id)
        if self.is_postgres:
            self._staged().run(
                conn, [_copy_row(account_id, latest[i], encoded[i], now) for i in new + changed]
            )
        else:
            if new:
                values = [_item_values(account_id, latest[i], encoded[i], now) for i in new]
                conn.execute(self._insert_items(), values)
            if changed:
                values = [_item_values(account_id, latest[i], encoded[i], now) for i in changed]
                self._update_changed(conn, account_id, values, now)
        for ids in self._by_ids(it.c.external_id, same) if same else []:
            conn.execute(
                update(it).where(it.c.account_id == account_id, ids).values(last_seen_at=now)
            )
        return len(new), len(changed), len(same)

    def _staged(self) -> StagedUpsert:
        """The PostgreSQL COPY + upsert writer of this repository's items table."""
        return StagedUpsert(self.tables.items, self.engine.dialect.identifier_preparer.quote)

    def _update_changed(
        self, conn: Connection, account_id: str, changed: list[dict[str, Any]], now: datetime
    ) -> None:
        """Rewrite items whose content changed (or that come back from deletion)."""
        it = self.tables.items
        conn.execute(
            update(it)
            .where(
                it.c.account_id == bindparam("b_account"),
                it.c.external_id == bindparam("b_external"),
            )
            .values(
                title=bindparam("title"),
                text=bindparam("text"),
                kind=bindparam("kind"),
                author=bindparam("author"),
                published_at=bindparam("published_at"),
                metrics=bindparam("metrics"),
                raw=bindparam("raw"),
                content_hash=bindparam("content_hash"),
                last_modified_at=now,
                last_seen_at=now,
                deleted_at=None,
                # What an analyzer reads changed: queue the item to be judged again
                # (SET expressions see the row as it was).
                analysis_state=case((_rejudge(it), "queued"), else_=it.c.analysis_state),
                analysis_attempts=case((_rejudge(it), 0), else_=it.c.analysis_attempts),
            ),
            # Only the bound keys: any other column key would join the SET clause
            # (and reset first_seen_at and analysis_state).
            [
                {
                    **{k: row[k] for k in _CHANGED_KEYS},
                    "b_account": account_id,
                    "b_external": row["external_id"],
                }
                for row in changed
            ],
        )

    def _insert_items(self) -> Any:
        it = self.tables.items
        stmt = self._insert(it)
        # A concurrent or replayed page may have inserted the row meanwhile: update it then.
        return stmt.on_conflict_do_update(
            index_elements=[it.c.account_id, it.c.external_id],
            set_={c: stmt.excluded[c] for c in (*REPLACED, "deleted_at")},
        )

    def sweep_unseen(self, account_id: str, *, since: datetime, now: datetime) -> int:
        """Mark deleted every live item not seen since ``since``."""
        it = self.tables.items
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    update(it)
                    .where(
                        it.c.account_id == account_id,
                        it.c.deleted_at.is_(None),
                        it.c.last_seen_at < since,
                    )
                    .values(deleted_at=now, last_modified_at=now)
                ).rowcount
            )

    def list_items(
        self, account_id: str, *, include_deleted: bool = False, limit: int = 1000, offset: int = 0
    ) -> list[StoredItem]:
        """Return an account's items ordered by external id."""
        it = self.tables.items
        stmt = select(it).where(it.c.account_id == account_id)
        if not include_deleted:
            stmt = stmt.where(it.c.deleted_at.is_(None))
        stmt = stmt.order_by(it.c.external_id).limit(limit).offset(offset)
        with self.engine.connect() as conn:
            return [_stored(r) for r in conn.execute(stmt).mappings()]

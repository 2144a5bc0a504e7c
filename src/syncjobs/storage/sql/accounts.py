"""Accounts and synced items in SQL (mixed into SQLAlchemyRepository)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, delete, insert, or_, select, update

from ...models import Account, AccountState, PageCounts, StoredItem
from ...providers.types import Item
from ._base import SQLMixin

__all__ = ["SQLAccountsMixin", "content_hash"]


def content_hash(item: Item) -> str:
    """A stable fingerprint of an item's content: equal hashes mean nothing changed."""
    payload = json.dumps(
        [
            item.kind,
            item.title,
            item.text,
            item.author,
            item.published_at.isoformat() if item.published_at else None,
            dict(item.metrics),
            dict(item.raw),
        ],
        sort_keys=True,
        default=str,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _account(row: Any) -> Account:
    return Account(
        id=row["id"],
        owner_id=row["owner_id"],
        provider=row["provider"],
        state=AccountState(row["state"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        external_id=row["external_id"],
        display_name=row["display_name"],
        cursor=row["cursor"],
        sync_interval=row["sync_interval"],
        next_sync_at=row["next_sync_at"],
        last_synced_at=row["last_synced_at"],
        last_sync_job_id=row["last_sync_job_id"],
        error_code=row["error_code"],
        error_message=row["error_message"],
    )


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


def _item_values(account_id: str, item: Item, digest: str, now: datetime) -> dict[str, Any]:
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
        "content_hash": digest,
        "first_seen_at": now,
        "last_modified_at": now,
        "last_seen_at": now,
        "deleted_at": None,
        "analysis_state": "queued",
    }


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


class SQLAccountsMixin(SQLMixin):
    """AccountRepository on SQLAlchemy Core."""

    def create_account(
        self,
        *,
        owner_id: str,
        provider: str,
        external_id: str | None,
        display_name: str | None,
        sync_interval: int,
        now: datetime,
    ) -> Account:
        """Add an account, or reactivate the owner's existing one for the same external id."""
        acc = self.tables.accounts
        with self.engine.begin() as conn:
            if external_id is not None:
                row = (
                    conn.execute(
                        select(acc).where(
                            acc.c.owner_id == owner_id,
                            acc.c.provider == provider,
                            acc.c.external_id == external_id,
                        )
                    )
                    .mappings()
                    .first()
                )
                if row is not None:
                    return _account(
                        conn.execute(
                            update(acc)
                            .where(acc.c.id == row["id"])
                            .values(
                                state=AccountState.ACTIVE.value,
                                error_code=None,
                                error_message=None,
                                display_name=display_name or row["display_name"],
                                sync_interval=sync_interval,
                                updated_at=now,
                            )
                            .returning(*acc.c)
                        )
                        .mappings()
                        .one()
                    )
            values = {
                "id": str(uuid.uuid4()),
                "owner_id": owner_id,
                "provider": provider,
                "external_id": external_id,
                "display_name": display_name,
                "state": AccountState.ACTIVE.value,
                "cursor": None,
                "sync_interval": sync_interval,
                "next_sync_at": now,
                "created_at": now,
                "updated_at": now,
            }
            return _account(
                conn.execute(insert(acc).values(values).returning(*acc.c)).mappings().one()
            )

    def get_account(self, account_id: str) -> Account | None:
        """Return one account."""
        acc = self.tables.accounts
        with self.engine.connect() as conn:
            row = conn.execute(select(acc).where(acc.c.id == account_id)).mappings().first()
        return _account(row) if row is not None else None

    def list_accounts(self, *, owner_id: str | None = None) -> list[Account]:
        """Return accounts, oldest first."""
        acc = self.tables.accounts
        stmt = select(acc).order_by(acc.c.created_at, acc.c.id)
        if owner_id is not None:
            stmt = stmt.where(acc.c.owner_id == owner_id)
        with self.engine.connect() as conn:
            return [_account(r) for r in conn.execute(stmt).mappings()]

    def delete_account(self, account_id: str) -> bool:
        """Remove an account with its items (and their analyses) and credentials."""
        t = self.tables
        with self.engine.begin() as conn:
            # Items before analyses: the order save_analyses locks them in.
            conn.execute(delete(t.items).where(t.items.c.account_id == account_id))
            conn.execute(delete(t.analyses).where(t.analyses.c.account_id == account_id))
            conn.execute(delete(t.credentials).where(t.credentials.c.account_id == account_id))
            gone = conn.execute(delete(t.accounts).where(t.accounts.c.id == account_id))
        return bool(gone.rowcount)

    def set_account_state(
        self,
        account_id: str,
        state: AccountState,
        *,
        now: datetime,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> Account | None:
        """Change an account's state."""
        return self._update_account(
            account_id,
            state=state.value,
            error_code=error_code,
            error_message=error_message,
            updated_at=now,
        )

    def start_sync(self, account_id: str, *, job_id: str, now: datetime) -> Account | None:
        """Record the job that syncs the account now."""
        return self._update_account(account_id, last_sync_job_id=job_id, updated_at=now)

    def _update_account(self, account_id: str, **values: Any) -> Account | None:
        acc = self.tables.accounts
        with self.engine.begin() as conn:
            row = (
                conn.execute(
                    update(acc).where(acc.c.id == account_id).values(**values).returning(*acc.c)
                )
                .mappings()
                .first()
            )
        return _account(row) if row is not None else None

    def known_items(
        self, account_id: str, external_ids: Sequence[str], *, now: datetime
    ) -> set[str]:
        """Return the stored live ids among ``external_ids`` and mark them seen."""
        if not external_ids:
            return set()
        it = self.tables.items
        where = (
            it.c.account_id == account_id,
            it.c.external_id.in_(list(external_ids)),
            it.c.deleted_at.is_(None),
        )
        with self.engine.begin() as conn:
            found = {r[0] for r in conn.execute(select(it.c.external_id).where(*where))}
            conn.execute(update(it).where(*where).values(last_seen_at=now))
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
        with self.engine.begin() as conn:
            added, updated, unchanged = self._upsert_items(conn, account_id, items, now)
            deleted = 0
            if deleted_ids:
                deleted = conn.execute(
                    update(t.items)
                    .where(
                        t.items.c.account_id == account_id,
                        t.items.c.external_id.in_(list(deleted_ids)),
                        t.items.c.deleted_at.is_(None),
                    )
                    .values(deleted_at=now, last_modified_at=now)
                ).rowcount
            conn.execute(
                update(t.accounts)
                .where(t.accounts.c.id == account_id)
                .values(cursor=cursor, updated_at=now)
            )
        return PageCounts(added=added, updated=updated, unchanged=unchanged, deleted=deleted)

    def _upsert_items(
        self, conn: Connection, account_id: str, items: Sequence[Item], now: datetime
    ) -> tuple[int, int, int]:
        if not items:
            return 0, 0, 0
        it = self.tables.items
        latest = {item.external_id: item for item in items}  # a page may repeat an id
        stored = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                select(it.c.external_id, it.c.content_hash, it.c.deleted_at).where(
                    it.c.account_id == account_id, it.c.external_id.in_(list(latest))
                )
            )
        }
        new, changed, same = [], [], []
        for ext_id, item in latest.items():
            digest = content_hash(item)
            if ext_id not in stored:
                new.append(_item_values(account_id, item, digest, now))
            elif stored[ext_id][0] != digest or stored[ext_id][1] is not None:
                changed.append(_item_values(account_id, item, digest, now))
            else:
                same.append(ext_id)
        if new:
            conn.execute(self._insert_items(), new)
        if changed:
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
        if same:
            conn.execute(
                update(it)
                .where(it.c.account_id == account_id, it.c.external_id.in_(same))
                .values(last_seen_at=now)
            )
        return len(new), len(changed), len(same)

    def _insert_items(self) -> Any:
        it = self.tables.items
        stmt = self._insert(it)
        # A concurrent or replayed page may have inserted the row meanwhile: update it then.
        return stmt.on_conflict_do_update(
            index_elements=[it.c.account_id, it.c.external_id],
            set_={
                c: stmt.excluded[c]
                for c in (
                    "kind",
                    "title",
                    "text",
                    "author",
                    "published_at",
                    "metrics",
                    "raw",
                    "content_hash",
                    "last_modified_at",
                    "last_seen_at",
                    "deleted_at",
                )
            },
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

    def finish_sync(self, account_id: str, *, now: datetime, next_sync_at: datetime) -> None:
        """Record a successful sync."""
        self._update_account(
            account_id,
            last_synced_at=now,
            next_sync_at=next_sync_at,
            error_code=None,
            error_message=None,
            updated_at=now,
        )

    def due_accounts(self, *, now: datetime, limit: int) -> list[Account]:
        """Active accounts due for a sync, most overdue first."""
        acc = self.tables.accounts
        stmt = (
            select(acc)
            .where(
                acc.c.state == AccountState.ACTIVE.value,
                (acc.c.next_sync_at.is_(None)) | (acc.c.next_sync_at <= now),
            )
            .order_by(acc.c.next_sync_at.nulls_first(), acc.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_account(r) for r in conn.execute(stmt).mappings()]

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

"""Connected accounts in SQL (mixed into ``SQLAlchemyRepository``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from ..schema.base import SQLMixin
from .models import Account, AccountState

__all__ = ["SQLAccountsMixin", "account_from_row"]


def account_from_row(row: Any) -> Account:
    """An ``Account`` from a row of the accounts table."""
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


class SQLAccountsMixin(SQLMixin):
    """``AccountStore`` on SQLAlchemy Core."""

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
                    return account_from_row(
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
            return account_from_row(
                conn.execute(insert(acc).values(values).returning(*acc.c)).mappings().one()
            )

    def get_account(self, account_id: str) -> Account | None:
        """Return one account."""
        acc = self.tables.accounts
        with self.engine.connect() as conn:
            row = conn.execute(select(acc).where(acc.c.id == account_id)).mappings().first()
        return account_from_row(row) if row is not None else None

    def list_accounts(self, *, owner_id: str | None = None) -> list[Account]:
        """Return accounts, oldest first."""
        acc = self.tables.accounts
        stmt = select(acc).order_by(acc.c.created_at, acc.c.id)
        if owner_id is not None:
            stmt = stmt.where(acc.c.owner_id == owner_id)
        with self.engine.connect() as conn:
            return [account_from_row(r) for r in conn.execute(stmt).mappings()]

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
        return account_from_row(row) if row is not None else None

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
            return [account_from_row(r) for r in conn.execute(stmt).mappings()]

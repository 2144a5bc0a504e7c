"""Pending connect attempts in SQL (mixed into ``SQLAlchemyRepository``).

``take_pending`` is one ``DELETE … RETURNING`` statement (SQLite 3.35+ and PostgreSQL), so
of any number of callbacks carrying the same state exactly one gets the row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert

from ..schema.base import SQLMixin
from .connect_state import PendingConnect

__all__ = ["SQLConnectStatesMixin"]


def _pending(row: Any) -> PendingConnect:
    return PendingConnect(
        state_hash=row["state_hash"],
        owner_id=row["owner_id"],
        provider=row["provider"],
        redirect_uri=row["redirect_uri"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        code_verifier=row["code_verifier"],
        account_id=row["account_id"],
    )


class SQLConnectStatesMixin(SQLMixin):
    """``ConnectStateStore`` on SQLAlchemy Core."""

    def save_pending(self, pending: PendingConnect) -> None:
        """Store a pending connect attempt."""
        table = self.tables.connect_states
        with self.engine.begin() as conn:
            conn.execute(
                insert(table).values(
                    state_hash=pending.state_hash,
                    owner_id=pending.owner_id,
                    provider=pending.provider,
                    redirect_uri=pending.redirect_uri,
                    code_verifier=pending.code_verifier,
                    account_id=pending.account_id,
                    created_at=pending.created_at,
                    expires_at=pending.expires_at,
                )
            )

    def take_pending(self, state_hash: str) -> PendingConnect | None:
        """Delete and return the attempt with this state hash in one statement; None if absent."""
        table = self.tables.connect_states
        statement = delete(table).where(table.c.state_hash == state_hash).returning(*table.c)
        with self.engine.begin() as conn:
            row = conn.execute(statement).mappings().first()
        return None if row is None else _pending(row)

    def purge_pending(self, before: datetime) -> int:
        """Delete the attempts that expired before ``before``; return how many."""
        table = self.tables.connect_states
        with self.engine.begin() as conn:
            return int(conn.execute(delete(table).where(table.c.expires_at < before)).rowcount)

"""The account browser in SQL (mixed into ``SQLAlchemyRepository``)."""

from __future__ import annotations

from sqlalchemy import func, select

from ..schema.base import SQLMixin
from .browse import AccountQuery, AccountRow
from .browse_common import check_account_query
from .sql import account_from_row

__all__ = ["SQLAccountBrowserMixin"]


class SQLAccountBrowserMixin(SQLMixin):
    """``AccountBrowser`` on SQLAlchemy Core: a keyset page, then its live item counts."""

    def browse_accounts(self, query: AccountQuery) -> list[AccountRow]:
        """One page of accounts matching ``query``, ordered by id, with live item counts."""
        check_account_query(query)
        acc, items = self.tables.accounts, self.tables.items
        stmt = select(acc)
        if query.provider is not None:
            stmt = stmt.where(acc.c.provider == query.provider)
        if query.owner_id is not None:
            stmt = stmt.where(acc.c.owner_id == query.owner_id)
        if query.state is not None:
            stmt = stmt.where(acc.c.state == query.state.value)
        if query.after_id is not None:
            stmt = stmt.where(acc.c.id > query.after_id)
        stmt = stmt.order_by(acc.c.id).limit(query.limit)
        with self.engine.connect() as conn:
            page = [account_from_row(r) for r in conn.execute(stmt).mappings()]
            counts: dict[str, int] = {}
            if page:
                counts = {
                    account_id: int(n)
                    for account_id, n in conn.execute(
                        select(items.c.account_id, func.count())
                        .where(
                            items.c.account_id.in_([a.id for a in page]),
                            items.c.deleted_at.is_(None),
                        )
                        .group_by(items.c.account_id)
                    )
                }
        return [AccountRow(account=a, items=counts.get(a.id, 0)) for a in page]

    def account_states(self) -> dict[str, dict[str, int]]:
        """Account counts by provider, then by state (only the states that occur)."""
        acc = self.tables.accounts
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for provider, state, n in conn.execute(
                select(acc.c.provider, acc.c.state, func.count()).group_by(
                    acc.c.provider, acc.c.state
                )
            ):
                out.setdefault(provider, {})[state] = int(n)
        return out

"""Digest owners, digest claims and owners' activity in SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, select, union

from ...schema.base import SQLMixin
from ..models import Decision, OwnerActivity, Preferences
from ..preferences.sql import preferences_from_row

__all__ = ["SQLDigestsMixin"]


class SQLDigestsMixin(SQLMixin):
    """DigestStore on SQLAlchemy Core (mixed into SQLAlchemyRepository)."""

    def digest_owners(
        self, *, after: str | None, limit: int
    ) -> list[tuple[str, Preferences | None]]:
        """Owners with accounts or preferences after ``after``, ascending, with preferences."""
        acc, pr = self.tables.accounts, self.tables.preferences
        owners = union(
            select(acc.c.owner_id.label("owner_id")), select(pr.c.owner_id.label("owner_id"))
        ).subquery()
        stmt = select(owners.c.owner_id)
        if after is not None:
            stmt = stmt.where(owners.c.owner_id > after)
        stmt = stmt.order_by(owners.c.owner_id).limit(limit)
        with self.engine.connect() as conn:
            ids = [r[0] for r in conn.execute(stmt)]
            prefs = (
                {
                    r["owner_id"]: preferences_from_row(r)
                    for r in conn.execute(select(pr).where(pr.c.owner_id.in_(ids))).mappings()
                }
                if ids
                else {}
            )
        return [(owner, prefs.get(owner)) for owner in ids]

    def claim_digest(self, owner_id: str, kind: str, period_key: str, *, now: datetime) -> bool:
        """Insert the digest's row; False when it exists."""
        dg = self.tables.digests
        stmt = (
            self._insert(dg)
            .values(owner_id=owner_id, kind=kind, period_key=period_key, sent_at=now)
            .on_conflict_do_nothing(index_elements=["owner_id", "kind", "period_key"])
            .returning(dg.c.owner_id)
        )
        with self.engine.begin() as conn:
            return conn.execute(stmt).first() is not None

    def release_digest(self, owner_id: str, kind: str, period_key: str) -> None:
        """Forget a digest claim."""
        dg = self.tables.digests
        with self.engine.begin() as conn:
            conn.execute(
                delete(dg).where(
                    dg.c.owner_id == owner_id, dg.c.kind == kind, dg.c.period_key == period_key
                )
            )

    def owner_activity(self, owner_id: str, *, since: datetime, until: datetime) -> OwnerActivity:
        """What happened for an owner in [since, until)."""
        t = self.tables
        it, acc, an, nt = t.items, t.accounts, t.analyses, t.notifications
        with self.engine.connect() as conn:
            synced = conn.execute(
                select(func.count())
                .select_from(it.join(acc, acc.c.id == it.c.account_id))
                .where(
                    acc.c.owner_id == owner_id,
                    it.c.first_seen_at >= since,
                    it.c.first_seen_at < until,
                )
            ).scalar_one()
            decided: dict[str, int] = {}
            ai_calls = tokens = 0
            for decision, n, calls, used in conn.execute(
                select(
                    an.c.decision,
                    func.count(),
                    func.coalesce(func.sum(an.c.ai_calls), 0),
                    func.coalesce(func.sum(an.c.tokens), 0),
                )
                .where(
                    an.c.owner_id == owner_id,
                    an.c.analyzed_at >= since,
                    an.c.analyzed_at < until,
                )
                .group_by(an.c.decision)
            ):
                decided[decision] = int(n)
                ai_calls, tokens = ai_calls + int(calls), tokens + int(used)
            spent = self._provider_spend(conn, owner_id, since, until)
            awaiting = conn.execute(
                select(func.count())
                .select_from(an.join(it, it.c.id == an.c.item_id))
                .where(
                    an.c.owner_id == owner_id,
                    an.c.decision == Decision.REVIEW.value,
                    it.c.deleted_at.is_(None),
                )
            ).scalar_one()
            unread = conn.execute(
                select(func.count())
                .select_from(nt)
                .where(nt.c.owner_id == owner_id, nt.c.read_at.is_(None))
            ).scalar_one()
        return OwnerActivity(
            items_synced=int(synced),
            items_analysed=sum(decided.values()),
            allowed=decided.get(Decision.ALLOW.value, 0),
            blocked=decided.get(Decision.BLOCK.value, 0),
            review=decided.get(Decision.REVIEW.value, 0),
            awaiting_review=int(awaiting),
            unread_notifications=int(unread),
            api_calls=spent[0],
            quota_units=spent[1],
            ai_calls=ai_calls,
            tokens=tokens,
        )

    def _provider_spend(
        self, conn: Connection, owner_id: str, since: datetime, until: datetime
    ) -> tuple[int, int]:
        """An owner's provider API calls and quota units in ``[since, until)``."""
        pu = self.tables.provider_usage
        calls, units = conn.execute(
            select(
                func.coalesce(func.sum(pu.c.api_calls), 0),
                func.coalesce(func.sum(pu.c.quota_units), 0),
            ).where(pu.c.owner_id == owner_id, pu.c.at >= since, pu.c.at < until)
        ).one()
        return int(calls), int(units)

"""Digest owners, digest claims and owners' activity in SQL."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, union

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
            decided = {
                decision: int(n)
                for decision, n in conn.execute(
                    select(an.c.decision, func.count())
                    .where(
                        an.c.owner_id == owner_id,
                        an.c.analyzed_at >= since,
                        an.c.analyzed_at < until,
                    )
                    .group_by(an.c.decision)
                )
            }
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
        )

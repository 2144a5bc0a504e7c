"""SQLAlchemyRepository: every store in SQL, on SQLite or PostgreSQL."""

from __future__ import annotations

from sqlalchemy import Engine

from ...connections.browse_sql import SQLAccountBrowserMixin
from ...connections.connect_state_sql import SQLConnectStatesMixin
from ...connections.sql import SQLAccountsMixin
from ...connections.sql_items import SQLItemsMixin
from ...core.browse.sql import SQLBrowseMixin
from ...core.ledger.sql import SQLLedgerMixin
from ...core.upkeep.sql import SQLUpkeepMixin
from ...insights.analysis_queue.sql import SQLAnalysisQueueMixin
from ...insights.digests.sql import SQLDigestsMixin
from ...insights.notifications.sql import SQLNotificationsMixin
from ...insights.preferences.sql import SQLPreferencesMixin
from ...insights.retention.sql import SQLRetentionMixin
from ...insights.trust.sql import SQLTrustMixin
from ...insights.usage.sql import SQLUsageMixin
from ...schema.engine import make_engine
from ...schema.migrations import check_schema
from ...schema.migrations import upgrade as run_upgrade
from ...schema.tables import Tables, build_tables

__all__ = ["SQLAlchemyRepository"]


class SQLAlchemyRepository(
    SQLLedgerMixin,
    SQLUpkeepMixin,
    SQLBrowseMixin,
    SQLAccountsMixin,
    SQLItemsMixin,
    SQLAccountBrowserMixin,
    SQLConnectStatesMixin,
    SQLAnalysisQueueMixin,
    SQLPreferencesMixin,
    SQLTrustMixin,
    SQLUsageMixin,
    SQLNotificationsMixin,
    SQLDigestsMixin,
    SQLRetentionMixin,
):
    """Every store in SQL, on SQLite (a file) or PostgreSQL (psycopg 3).

    It composes each concern's SQL mixin (docs/architecture.md), the operator's browsers
    (``JobBrowser``, ``AccountBrowser``, ``UsageBrowser``) among them. On PostgreSQL every job
    change sends ``NOTIFY``, so ``watch`` is live; on SQLite it polls every
    ``poll_interval`` seconds.
    """

    def __init__(
        self,
        engine: Engine | str,
        *,
        table_prefix: str = "syncjobs_",
        check: bool = True,
        poll_interval: float = 0.25,
    ) -> None:
        self.engine = make_engine(engine) if isinstance(engine, str) else engine
        self.tables: Tables = build_tables(table_prefix)
        self.poll_interval = poll_interval
        self.is_postgres = self.engine.dialect.name == "postgresql"
        self._init_ledger(poll_interval)
        if check:
            check_schema(self.engine, self.tables)

    def upgrade(self) -> list[str]:
        """Bring the schema to the head revision; return the revisions applied."""
        return run_upgrade(self.engine, self.tables)

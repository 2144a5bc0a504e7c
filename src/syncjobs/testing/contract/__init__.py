"""The store contracts: the behaviour every store must show, as pytest tests.

A host app that stores jobs its own way runs a suite against its implementation::

    from syncjobs.testing.contract import JobRepositoryContract

    class TestMyRepository(JobRepositoryContract):
        @pytest.fixture
        def repository(self):
            return MyRepository(...)

Each suite lives beside its protocol and is gathered here (docs/architecture.md):

- the job core: ``JobRepositoryContract``, ``JobBatchStoreContract`` (``submit_many``'s
  one-transaction insert), ``BatchFinisherContract`` and ``BatchClaimerContract`` (the
  worker's group commit) and ``JobIdLookupContract`` (short ids) (``syncjobs.core.ledger``),
  ``UpkeepRepositoryContract`` (``syncjobs.core.upkeep``) and ``JobBrowserContract``
  (``syncjobs.core.browse``; its repository must be a ledger with upkeep too);
- connected accounts: ``AccountStoreContract``, ``ItemStoreContract`` and both together,
  ``AccountRepositoryContract``, ``AccountIdLookupContract`` (short ids) and
  ``AccountBrowserContract`` (``syncjobs.connections``), and ``ConnectStateStoreContract``
  for the pending connect attempts of the connect flows;
- the extras, one per concern (``syncjobs.insights.<concern>``): ``AnalysisQueueStoreContract``,
  ``PreferencesStoreContract``, ``TrustStoreContract``, ``UsageStoreContract``,
  ``NotificationStoreContract``, ``DigestStoreContract``, ``RetentionStoreContract`` (their
  repository must store accounts and items too), and ``UsageBrowserContract`` beside the
  usage store.

syncjobs runs them all against ``InMemoryRepository`` and ``SQLAlchemyRepository`` on SQLite
and PostgreSQL.
"""

from __future__ import annotations

from ...connections.browse_contract import AccountBrowserContract
from ...connections.connect_state_contract import ConnectStateStoreContract, pending_connect
from ...connections.contract import (
    AccountIdLookupContract,
    AccountRepositoryContract,
    AccountStoreContract,
)
from ...connections.items_contract import ItemStoreContract
from ...connections.testdata import T0, item_ids, make_account, minute, stored_account, video
from ...core.browse.contract import JobBrowserContract
from ...core.ledger.batch_contract import JobBatchStoreContract
from ...core.ledger.contract import JobIdLookupContract, JobRepositoryContract, existing, new_job
from ...core.ledger.group_contract import BatchClaimerContract, BatchFinisherContract
from ...core.upkeep.contract import UpkeepRepositoryContract
from ...insights.analysis_queue.contract import AnalysisQueueStoreContract
from ...insights.digests.contract import DigestStoreContract
from ...insights.notifications.contract import NotificationStoreContract
from ...insights.preferences.contract import PreferencesStoreContract
from ...insights.retention.contract import RetentionStoreContract
from ...insights.trust.contract import TrustStoreContract
from ...insights.usage.browse_contract import UsageBrowserContract
from ...insights.usage.contract import UsageStoreContract

__all__ = [
    "T0",
    "AccountBrowserContract",
    "AccountIdLookupContract",
    "AccountRepositoryContract",
    "AccountStoreContract",
    "AnalysisQueueStoreContract",
    "BatchClaimerContract",
    "BatchFinisherContract",
    "ConnectStateStoreContract",
    "DigestStoreContract",
    "ItemStoreContract",
    "JobBatchStoreContract",
    "JobBrowserContract",
    "JobIdLookupContract",
    "JobRepositoryContract",
    "NotificationStoreContract",
    "PreferencesStoreContract",
    "RetentionStoreContract",
    "TrustStoreContract",
    "UpkeepRepositoryContract",
    "UsageBrowserContract",
    "UsageStoreContract",
    "existing",
    "item_ids",
    "make_account",
    "minute",
    "new_job",
    "pending_connect",
    "stored_account",
    "video",
]

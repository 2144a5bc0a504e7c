"""The shipped repository contract, run against every repository syncjobs ships."""

from __future__ import annotations

from typing import Any

import pytest

from syncjobs.connections.store import AccountRepository
from syncjobs.core.ledger.store import JobRepository
from syncjobs.insights.analysis_queue.contract import AnalysisQueueStoreContract
from syncjobs.insights.digests.contract import DigestStoreContract
from syncjobs.insights.notifications.contract import NotificationStoreContract
from syncjobs.insights.preferences.contract import PreferencesStoreContract
from syncjobs.insights.retention.contract import RetentionStoreContract
from syncjobs.insights.trust.contract import TrustStoreContract
from syncjobs.insights.usage.contract import UsageStoreContract
from syncjobs.storage import InMemoryRepository
from syncjobs.testing.contract import (
    AccountBrowserContract,
    AccountIdLookupContract,
    AccountRepositoryContract,
    BatchClaimerContract,
    BatchFinisherContract,
    JobBatchStoreContract,
    JobBrowserContract,
    JobIdLookupContract,
    JobRepositoryContract,
    UpkeepRepositoryContract,
    UsageBrowserContract,
)


class TestInMemoryRepository(JobRepositoryContract):
    @pytest.fixture
    def repository(self) -> JobRepository:
        return InMemoryRepository()


class TestSQLiteRepository(JobRepositoryContract):
    @pytest.fixture
    def repository(self, sqlite_repo: Any) -> JobRepository:
        repo: JobRepository = sqlite_repo
        return repo


class TestPostgresRepository(JobRepositoryContract):
    @pytest.fixture
    def repository(self, pg_repo: Any) -> JobRepository:
        repo: JobRepository = pg_repo
        return repo


class TestInMemoryBatches(BatchFinisherContract, BatchClaimerContract):
    @pytest.fixture
    def repository(self) -> JobRepository:
        return InMemoryRepository()


class TestSQLiteBatches(BatchFinisherContract, BatchClaimerContract):
    @pytest.fixture
    def repository(self, sqlite_repo: Any) -> JobRepository:
        repo: JobRepository = sqlite_repo
        return repo


class TestPostgresBatches(BatchFinisherContract, BatchClaimerContract):
    @pytest.fixture
    def repository(self, pg_repo: Any) -> JobRepository:
        repo: JobRepository = pg_repo
        return repo


class TestInMemoryAccounts(AccountRepositoryContract):
    @pytest.fixture
    def repository(self) -> AccountRepository:
        return InMemoryRepository()


class TestSQLiteAccounts(AccountRepositoryContract):
    @pytest.fixture
    def repository(self, sqlite_repo: Any) -> AccountRepository:
        repo: AccountRepository = sqlite_repo
        return repo


class TestPostgresAccounts(AccountRepositoryContract):
    @pytest.fixture
    def repository(self, pg_repo: Any) -> AccountRepository:
        repo: AccountRepository = pg_repo
        return repo


class TestInMemoryUpkeep(UpkeepRepositoryContract):
    @pytest.fixture
    def repository(self) -> Any:
        return InMemoryRepository()


class TestSQLiteUpkeep(UpkeepRepositoryContract):
    @pytest.fixture
    def repository(self, sqlite_repo: Any) -> Any:
        return sqlite_repo


class TestPostgresUpkeep(UpkeepRepositoryContract):
    @pytest.fixture
    def repository(self, pg_repo: Any) -> Any:
        return pg_repo


# -- the extras' stores: each concern's contract on each repository ---------------------------


class InMemory:
    @pytest.fixture
    def repository(self) -> Any:
        return InMemoryRepository()


class OnSQLite:
    @pytest.fixture
    def repository(self, sqlite_repo: Any) -> Any:
        return sqlite_repo


class OnPostgres:
    @pytest.fixture
    def repository(self, pg_repo: Any) -> Any:
        return pg_repo


class TestInMemoryAnalysisQueue(InMemory, AnalysisQueueStoreContract):
    pass


class TestSQLiteAnalysisQueue(OnSQLite, AnalysisQueueStoreContract):
    pass


class TestPostgresAnalysisQueue(OnPostgres, AnalysisQueueStoreContract):
    pass


class TestInMemoryPreferences(InMemory, PreferencesStoreContract):
    pass


class TestSQLitePreferences(OnSQLite, PreferencesStoreContract):
    pass


class TestPostgresPreferences(OnPostgres, PreferencesStoreContract):
    pass


class TestInMemoryTrust(InMemory, TrustStoreContract):
    pass


class TestSQLiteTrust(OnSQLite, TrustStoreContract):
    pass


class TestPostgresTrust(OnPostgres, TrustStoreContract):
    pass


class TestInMemoryUsage(InMemory, UsageStoreContract):
    pass


class TestSQLiteUsage(OnSQLite, UsageStoreContract):
    pass


class TestPostgresUsage(OnPostgres, UsageStoreContract):
    pass


class TestInMemoryNotifications(InMemory, NotificationStoreContract):
    pass


class TestSQLiteNotifications(OnSQLite, NotificationStoreContract):
    pass


class TestPostgresNotifications(OnPostgres, NotificationStoreContract):
    pass


class TestInMemoryDigests(InMemory, DigestStoreContract):
    pass


class TestSQLiteDigests(OnSQLite, DigestStoreContract):
    pass


class TestPostgresDigests(OnPostgres, DigestStoreContract):
    pass


class TestInMemoryRetention(InMemory, RetentionStoreContract):
    pass


class TestSQLiteRetention(OnSQLite, RetentionStoreContract):
    pass


class TestPostgresRetention(OnPostgres, RetentionStoreContract):
    pass


# -- the operator's views: browsing jobs, accounts and provider usage --------------------------


class TestInMemoryJobBrowser(InMemory, JobBrowserContract):
    pass


class TestSQLiteJobBrowser(OnSQLite, JobBrowserContract):
    pass


class TestPostgresJobBrowser(OnPostgres, JobBrowserContract):
    pass


class TestInMemoryAccountBrowser(InMemory, AccountBrowserContract):
    pass


class TestSQLiteAccountBrowser(OnSQLite, AccountBrowserContract):
    pass


class TestPostgresAccountBrowser(OnPostgres, AccountBrowserContract):
    pass


class TestInMemoryUsageBrowser(InMemory, UsageBrowserContract):
    pass


class TestSQLiteUsageBrowser(OnSQLite, UsageBrowserContract):
    pass


class TestPostgresUsageBrowser(OnPostgres, UsageBrowserContract):
    pass


# -- short ids: the lookups the command line resolves id prefixes with ----------------------


class TestInMemoryJobIds(InMemory, JobIdLookupContract):
    pass


class TestSQLiteJobIds(OnSQLite, JobIdLookupContract):
    pass


class TestPostgresJobIds(OnPostgres, JobIdLookupContract):
    pass


class TestInMemoryAccountIds(InMemory, AccountIdLookupContract):
    pass


class TestSQLiteAccountIds(OnSQLite, AccountIdLookupContract):
    pass


class TestPostgresAccountIds(OnPostgres, AccountIdLookupContract):
    pass


# -- many jobs in one transaction: submit_many's insert ----------------------------------------


class TestInMemoryJobBatches(InMemory, JobBatchStoreContract):
    pass


class TestSQLiteJobBatches(OnSQLite, JobBatchStoreContract):
    pass


class TestPostgresJobBatches(OnPostgres, JobBatchStoreContract):
    pass

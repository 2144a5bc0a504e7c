"""The shipped repository contract, run against every repository syncjobs ships."""

from __future__ import annotations

from typing import Any

import pytest

from syncjobs.accounts.store import AccountRepository
from syncjobs.core.ledger.store import JobRepository
from syncjobs.storage import InMemoryRepository
from syncjobs.testing.contract import (
    AccountRepositoryContract,
    InsightsRepositoryContract,
    InsightsStore,
    JobRepositoryContract,
    UpkeepRepositoryContract,
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


class TestInMemoryInsights(InsightsRepositoryContract):
    @pytest.fixture
    def repository(self) -> InsightsStore:
        return InMemoryRepository()


class TestSQLiteInsights(InsightsRepositoryContract):
    @pytest.fixture
    def repository(self, sqlite_repo: Any) -> InsightsStore:
        repo: InsightsStore = sqlite_repo
        return repo


class TestPostgresInsights(InsightsRepositoryContract):
    @pytest.fixture
    def repository(self, pg_repo: Any) -> InsightsStore:
        repo: InsightsStore = pg_repo
        return repo

"""The shipped repository contract, run against every repository syncjobs ships."""

from __future__ import annotations

from typing import Any

import pytest

from syncjobs.protocols import JobRepository
from syncjobs.storage import InMemoryRepository
from syncjobs.testing.contract import JobRepositoryContract


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

"""Pending connect attempts on every store: in memory, SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from syncjobs.connections.connect_state import ConnectStateStore
from syncjobs.connections.connect_state_memory import InMemoryConnectStates
from syncjobs.storage import InMemoryRepository
from syncjobs.testing.contract import ConnectStateStoreContract


class TestInMemoryConnectStates(ConnectStateStoreContract):
    @pytest.fixture
    def connect_states(self) -> Any:
        return InMemoryConnectStates()


class TestInMemoryRepositoryConnectStates(ConnectStateStoreContract):
    @pytest.fixture
    def connect_states(self) -> Any:
        repo = InMemoryRepository()
        assert isinstance(repo, ConnectStateStore)
        return repo


class TestSQLiteConnectStates(ConnectStateStoreContract):
    @pytest.fixture
    def connect_states(self, sqlite_repo: Any) -> Any:
        assert isinstance(sqlite_repo, ConnectStateStore)
        return sqlite_repo


class TestPostgresConnectStates(ConnectStateStoreContract):
    @pytest.fixture
    def connect_states(self, pg_repo: Any) -> Any:
        return pg_repo

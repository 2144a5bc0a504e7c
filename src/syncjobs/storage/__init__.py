"""Repositories: SQLAlchemy (SQLite, PostgreSQL) and in-memory."""

from .memory import InMemoryRepository
from .sql import SQLAlchemyRepository, upgrade

__all__ = ["InMemoryRepository", "SQLAlchemyRepository", "upgrade"]

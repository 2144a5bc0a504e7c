"""The SQL storage: tables, migrations, and the SQLAlchemy repository."""

from ...schema.engine import make_engine
from ...schema.migrations import check_schema, head_revision, upgrade
from ...schema.tables import Tables, build_tables
from .repository import SQLAlchemyRepository

__all__ = [
    "SQLAlchemyRepository",
    "Tables",
    "build_tables",
    "check_schema",
    "head_revision",
    "make_engine",
    "upgrade",
]

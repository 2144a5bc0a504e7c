"""The SQL storage: tables, migrations, and the SQLAlchemy repository."""

from ...schema.engine import make_engine
from ...schema.migrations import SCHEMA_VERSION, check_schema, upgrade
from ...schema.tables import Tables, build_tables
from .repository import SQLAlchemyRepository

__all__ = [
    "SCHEMA_VERSION",
    "SQLAlchemyRepository",
    "Tables",
    "build_tables",
    "check_schema",
    "make_engine",
    "upgrade",
]

"""The SQL storage: tables, migrations, and the SQLAlchemy repository."""

from .engine import make_engine
from .migrations import SCHEMA_VERSION, check_schema, upgrade
from .repository import SQLAlchemyRepository
from .tables import Tables, build_tables

__all__ = [
    "SCHEMA_VERSION",
    "SQLAlchemyRepository",
    "Tables",
    "build_tables",
    "check_schema",
    "make_engine",
    "upgrade",
]

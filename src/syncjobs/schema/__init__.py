"""The SQL schema every store shares: tables, column types, the engine, migrations.

It sits below every layer (docs/architecture.md): the ledger, the accounts and the extras'
SQL stores build their statements on these tables. The migrations are an Alembic branch
(``syncjobs.schema.migrations``); a host with its own Alembic uses the names below
(docs/using-in-your-app.md, "Alembic").
"""

from .host import (
    BRANCH_LABEL,
    VERSIONS_LOCATION,
    attach,
    include_name,
    include_object,
    table_names,
)

__all__ = [
    "BRANCH_LABEL",
    "VERSIONS_LOCATION",
    "attach",
    "include_name",
    "include_object",
    "table_names",
]

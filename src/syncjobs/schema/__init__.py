"""The SQL schema every store shares: tables, column types, the engine, migrations.

It sits below every layer (docs/architecture.md): the ledger, the accounts and the extras'
SQL stores build their statements on these tables.
"""

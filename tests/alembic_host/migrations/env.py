"""The host's Alembic environment: its models' MetaData, with or without syncjobs' tables.

``-x url=...`` gives the database; ``-x syncjobs=exclude`` leaves syncjobs' tables out of
autogenerate with ``syncjobs.schema.include_object`` instead of comparing the attached ones.
"""

from __future__ import annotations

from alembic import context
from host_models import metadata
from sqlalchemy import create_engine, pool

import syncjobs.schema

config = context.config
options = context.get_x_argument(as_dictionary=True)
url = options.get("url") or config.get_main_option("sqlalchemy.url")
exclude = options.get("syncjobs") == "exclude"


def run_migrations_online() -> None:
    assert url is not None
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            include_object=syncjobs.schema.include_object if exclude else None,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()

"""A host application with its own Alembic environment that runs syncjobs' branch too."""

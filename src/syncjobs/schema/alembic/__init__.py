"""syncjobs' Alembic branch (label ``syncjobs``): its revisions and the environment of
``syncjobs db upgrade``.

- ``versions/``: the revisions. A host with its own Alembic adds this directory to its
  ``version_locations`` as ``syncjobs.schema:alembic/versions`` (docs/using-in-your-app.md,
  "Alembic"); its ``alembic upgrade heads`` then runs them with its own ``env.py``.
- ``env.py``: the environment ``syncjobs.schema.migrations`` runs them in, for hosts without
  Alembic, on the connection it hands over, keeping the revision in ``<prefix>alembic_version``.

A new revision is a new file in ``versions/`` named ``syncjobs_NNNN_<what>.py``, with
``revision = "syncjobs_NNNN"`` and ``down_revision`` the previous one; it names its tables
with ``revision_prefix(op.get_context())`` and writes explicit operations (never
``metadata.create_all``), so that a host's database and ``syncjobs db upgrade`` take the same
path.
"""

"""Alembic environment: migrations run on a connection handed in by `backend.database.migrate`."""

from alembic import context

from backend.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through backend.database.migrate (needs a connection)")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

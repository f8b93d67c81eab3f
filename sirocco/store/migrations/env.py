"""Alembic environment: migrations run on the connection Sirocco hands over."""

from __future__ import annotations

from alembic import context

from sirocco.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Sirocco's migrations run through `sirocco db upgrade`.")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

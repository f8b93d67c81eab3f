"""The ad-hoc actions every Mistral installation has, stored once per database."""

from __future__ import annotations

import sqlalchemy as sa

from sirocco import clock, errors
from sirocco.store import definitions, tables
from sirocco.store.database import Database

#: Ad-hoc actions every Mistral installation has (its `mistral-db-manage populate`).
PREINSTALLED_ACTIONS = """\
version: '2.0'

std.wait_ssh:
  description: Simple SSH command.
  base: std.ssh
  base-input:
    host: <% $.host %>
    username: <% $.username %>
    password: <% $.password %>
    cmd: 'ls -l'
  input:
    - host
    - username
    - password
"""


def populate(database: Database) -> None:
    """Store the preinstalled ad-hoc actions a database lacks."""
    table = tables.action_definitions
    present = sa.select(table.c.id).where(table.c.name == "std.wait_ssh", table.c.namespace == "")
    try:
        with database.transaction() as connection:
            if connection.execute(present).first() is None:
                definitions.save_actions(
                    connection,
                    PREINSTALLED_ACTIONS,
                    now=clock.utcnow(),
                    scope="public",
                    create=True,
                )
    except (sa.exc.IntegrityError, errors.ConflictError):
        # Processes started together (an engine and an API, say) race to store them;
        # the one that lost (on the unique constraint) finds them there.
        with database.read() as connection:
            if connection.execute(present).first() is None:
                raise

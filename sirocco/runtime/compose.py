"""Wiring of one process: database, registry, runtime and service.

The executor is attached by the callers (``sirocco.cli.embedded``).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from sirocco import errors
from sirocco.actions.registry import ActionRegistry
from sirocco.limits import DEFAULT as DEFAULT_LIMITS
from sirocco.limits import Limits
from sirocco.runtime.loop import Runtime
from sirocco.runtime.service import Service
from sirocco.store import migrate
from sirocco.store.database import Database


@dataclass(frozen=True, slots=True, kw_only=True)
class Parts:
    database: Database
    registry: ActionRegistry
    runtime: Runtime
    service: Service


def build(
    db_url: str | None = None, *, upgrade: bool = True, limits: Limits = DEFAULT_LIMITS
) -> Parts:
    """Open the database (applying migrations) and build the runtime and service."""
    database = Database(db_url)
    if upgrade:
        try:
            migrate.upgrade(database)
        except sa.exc.DBAPIError as exc:
            database.dispose()
            url = sa.engine.make_url(database.url).render_as_string(hide_password=True)
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise errors.ConfigurationError(f"Can't open the database {url}: {reason}") from exc
        populate(database)
    registry = ActionRegistry(limits=limits)
    runtime = Runtime(database, registry, limits=limits)
    return Parts(database=database, registry=registry, runtime=runtime, service=Service(runtime))


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
    from datetime import UTC, datetime

    from sirocco.store import definitions, tables

    table = tables.action_definitions
    present = sa.select(table.c.id).where(table.c.name == "std.wait_ssh", table.c.namespace == "")
    try:
        with database.transaction() as connection:
            if connection.execute(present).first() is None:
                definitions.save_actions(
                    connection,
                    PREINSTALLED_ACTIONS,
                    now=datetime.now(UTC).replace(tzinfo=None),
                    scope="public",
                    create=True,
                )
    except (sa.exc.IntegrityError, errors.ConflictError):
        # Processes started together (an engine and an API, say) race to store them;
        # the one that lost (on the unique constraint) finds them there.
        with database.read() as connection:
            if connection.execute(present).first() is None:
                raise

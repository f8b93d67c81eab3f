"""Maintenance mode in the database: the cluster's status and the executions it paused.

Mistral's states: ``RUNNING`` (normal work), ``PAUSING`` (asked to pause; running
executions are being paused and their actions allowed to finish) and ``PAUSED``.
The status is one row that every process reads, so an API, an engine or a
scheduler in another process sees the same mode; the executions that maintenance
paused are rows too, so that ending it resumes exactly those, after any restart.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from sirocco.store import tables
from sirocco.store.database import Database

RUNNING = "RUNNING"
PAUSING = "PAUSING"
PAUSED = "PAUSED"
#: In Mistral's order (its error message lists them so).
STATES = (PAUSING, PAUSED, RUNNING)

_row = tables.maintenance
_paused = tables.maintenance_paused
_workflow_executions = tables.workflow_executions
_action_executions = tables.action_executions


# Built once: every request that changes something reads the status (building a select
# and its cache key cost more than running it).
_STATUS = sa.select(_row.c.status).where(_row.c.id == 1)
_STATUS_LOCKED = _STATUS.with_for_update()


def status(connection: sa.Connection, *, lock: bool = False) -> str:
    """The cluster's maintenance status (``RUNNING`` when never set).

    ``lock``: hold the row until the transaction ends (``FOR UPDATE``), so that two
    processes changing the mode at once take turns.
    """
    found = connection.execute(_STATUS_LOCKED if lock else _STATUS).scalar()
    return str(found) if found is not None else RUNNING


def current_status(database: Database) -> str:
    """The status as ``status`` reads it, in a read of its own (``Database.fetch``: on
    SQLite straight through the driver; every changing request reads it)."""
    rows = database.fetch(_STATUS)
    found = rows[0][0] if rows else None
    return str(found) if found is not None else RUNNING


def set_status(connection: sa.Connection, value: str, *, now: datetime) -> None:
    """Record the maintenance status."""
    changed = connection.execute(
        sa.update(_row).where(_row.c.id == 1).values(status=value, updated_at=now)
    )
    if changed.rowcount == 0:
        connection.execute(sa.insert(_row).values(id=1, status=value, updated_at=now))


def running_executions(connection: sa.Connection) -> list[str]:
    """Ids of the RUNNING workflow executions, root executions first (pausing a root
    pauses its sub-workflows with it)."""
    rows = connection.execute(
        sa.select(_workflow_executions.c.id)
        .where(_workflow_executions.c.state == "RUNNING")
        .order_by(
            _workflow_executions.c.task_execution_id.is_not(None),
            _workflow_executions.c.created_at,
            _workflow_executions.c.id,
        )
    )
    return [str(row[0]) for row in rows]


def remember_paused(connection: sa.Connection, ids: Iterable[str], *, now: datetime) -> list[str]:
    """Record that maintenance pauses ``ids``; returns those not recorded before."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    known = set(
        connection.execute(
            sa.select(_paused.c.workflow_execution_id).where(
                _paused.c.workflow_execution_id.in_(wanted)
            )
        ).scalars()
    )
    new = [identifier for identifier in wanted if identifier not in known]
    if new:
        connection.execute(
            sa.insert(_paused),
            [{"workflow_execution_id": identifier, "paused_at": now} for identifier in new],
        )
    return new


def paused_by_maintenance(connection: sa.Connection) -> list[str]:
    """The executions maintenance paused and has not resumed yet, root executions first
    (resuming a root resumes its sub-workflows), then in the order it paused them."""
    rows = connection.execute(
        sa.select(_paused.c.workflow_execution_id)
        .select_from(
            _paused.outerjoin(
                _workflow_executions, _workflow_executions.c.id == _paused.c.workflow_execution_id
            )
        )
        .order_by(
            _workflow_executions.c.task_execution_id.is_not(None),
            _paused.c.paused_at,
            _paused.c.workflow_execution_id,
        )
    )
    return [str(row[0]) for row in rows]


def forget_paused(connection: sa.Connection, execution_id: str) -> None:
    """``execution_id`` was resumed (or is gone): maintenance no longer holds it."""
    connection.execute(sa.delete(_paused).where(_paused.c.workflow_execution_id == execution_id))


def actions_running(connection: sa.Connection) -> int:
    """How many actions of unfinished workflow executions still run (on an executor, or
    waiting for an asynchronous result): maintenance is PAUSED only once none does.

    Asked through the executions' state index: only RUNNING and PAUSED executions'
    actions are looked at, never the whole history."""
    unfinished = sa.select(_workflow_executions.c.id).where(
        _workflow_executions.c.state.in_(("RUNNING", "PAUSED"))
    )
    found = connection.execute(
        sa.select(sa.func.count())
        .select_from(_action_executions)
        .where(
            _action_executions.c.workflow_execution_id.in_(unfinished),
            _action_executions.c.state == "RUNNING",
        )
    ).scalar()
    return int(found or 0)

"""What ``sirocco run`` reads of the execution it follows: the execution row, its
tasks in order, the progress of the sub-workflows they started, and its tree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from sirocco.store import tables
from sirocco.store.database import Connection

_executions = tables.workflow_executions
_tasks = tables.task_executions

#: The task columns the run's report shows.
_TASK_COLUMNS = (
    _tasks.c.id,
    _tasks.c.name,
    _tasks.c.type,
    _tasks.c.state,
    _tasks.c.state_info,
    _tasks.c.published,
    _tasks.c.runtime,
    _tasks.c.started_at,
    _tasks.c.finished_at,
)


def tree(connection: Connection, execution_id: str) -> list[str]:
    """The execution's id and the ids of its sub-workflows, at any depth."""
    children = connection.execute(
        sa.select(_executions.c.id).where(_executions.c.root_execution_id == execution_id)
    ).scalars()
    return [execution_id, *children]


def execution(connection: Connection, execution_id: str) -> Any | None:
    """The workflow execution row, or None."""
    return connection.execute(
        sa.select(_executions).where(_executions.c.id == execution_id)
    ).first()


def tasks(connection: Connection, execution_id: str) -> Sequence[Any]:
    """The execution's task rows (the report's columns), in the order they were made."""
    return connection.execute(
        sa.select(*_TASK_COLUMNS)
        .where(_tasks.c.workflow_execution_id == execution_id)
        .order_by(_tasks.c.seq)
    ).all()


def subworkflow_progress(
    connection: Connection, task_ids: Sequence[str]
) -> dict[str, tuple[int, int]]:
    """(finished tasks, tasks) of the sub-workflow each of these tasks started."""
    if not task_ids:
        return {}
    finished = sa.func.sum(
        sa.case((_tasks.c.state.in_(["SUCCESS", "ERROR", "CANCELLED"]), 1), else_=0)
    )
    rows = connection.execute(
        sa.select(_executions.c.task_execution_id, finished, sa.func.count(_tasks.c.id))
        .join(_tasks, _tasks.c.workflow_execution_id == _executions.c.id)
        .where(_executions.c.task_execution_id.in_(list(task_ids)))
        .group_by(_executions.c.task_execution_id)
    ).all()
    return {row[0]: (int(row[1] or 0), int(row[2])) for row in rows}

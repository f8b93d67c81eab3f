"""The reads the engine makes while it decides: ad-hoc actions, a task's actions, executions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sirocco.engine.states import TERMINAL, State
from sirocco.store import executions, tables

_actions = tables.action_definitions
_task = tables.task_executions
_action = tables.action_executions
_wf = tables.workflow_executions

_ADHOC_ACTION = sa.select(_actions.c.definition, _actions.c.workbook_name).where(
    _actions.c.name == sa.bindparam("name"), _actions.c.namespace == sa.bindparam("namespace")
)
_TASK_ACTIONS = (
    sa.select(_action)
    .where(_action.c.task_execution_id == sa.bindparam("task_execution_id"))
    .order_by(_action.c.created_at, _action.c.index)
)
_TASKS = (
    sa.select(_task)
    .where(_task.c.workflow_execution_id == sa.bindparam("workflow_execution_id"))
    .order_by(_task.c.seq)
)


def adhoc_action(connection: sa.Connection, name: str, namespace: str) -> Any:
    """The stored ad-hoc action ``name`` in ``namespace`` (definition, workbook_name) or None."""
    return connection.execute(_ADHOC_ACTION, {"name": name, "namespace": namespace}).first()


def task_actions(
    connection: sa.Connection, task_execution_id: str
) -> list[executions.ActionExecution]:
    """The action executions of one task execution, oldest first."""
    rows = connection.execute(_TASK_ACTIONS, {"task_execution_id": task_execution_id})
    return [executions.action_record(row) for row in rows]


def task_executions(
    connection: sa.Connection, workflow_execution_id: str
) -> list[executions.TaskExecution]:
    """The task executions of one workflow execution, in order."""
    rows = connection.execute(_TASKS, {"workflow_execution_id": workflow_execution_id})
    return [executions.task_record(row) for row in rows]


def workflow_executions(
    connection: sa.Connection,
    *,
    id: str | None,
    root_execution_id: str | None,
    state: str | None,
    from_time: datetime | None,
    to_time: datetime | None,
) -> Sequence[Any]:
    """Workflow execution rows matching every given condition (``executions()`` in YAQL)."""
    query = sa.select(_wf)
    if id:
        query = query.where(_wf.c.id == id)
    if root_execution_id:
        query = query.where(_wf.c.root_execution_id == root_execution_id)
    if state:
        query = query.where(_wf.c.state == state)
    if from_time:
        query = query.where(_wf.c.created_at >= from_time)
    if to_time:
        query = query.where(_wf.c.created_at < to_time)
    return list(connection.execute(query.order_by(_wf.c.created_at)))


def stopped_above(
    connection: sa.Connection, *, parent_execution_id: str | None, root_execution_id: str | None
) -> bool:
    """Whether a sub-workflow's parent has ended or its root was cancelled (it must not start)."""
    ids = {parent_execution_id, root_execution_id} - {None}
    found = dict(
        connection.execute(sa.select(_wf.c.id, _wf.c.state).where(_wf.c.id.in_(ids))).all()
    )
    parent_state = found.get(parent_execution_id)
    return parent_state in TERMINAL or found.get(root_execution_id) == str(State.CANCELLED)


def project_of(connection: sa.Connection, root_execution_id: str | None) -> str | None:
    """The project of a sub-workflow: its root execution's."""
    if root_execution_id is None:
        return None
    found = connection.execute(
        sa.select(_wf.c.project_id).where(_wf.c.id == root_execution_id)
    ).scalar()
    return None if found is None else str(found)


def unfinished_below(connection: sa.Connection, root_execution_id: str) -> list[str]:
    """Ids of the executions under a root that have not ended."""
    rows = connection.execute(
        sa.select(_wf.c.id).where(
            _wf.c.root_execution_id == root_execution_id,
            _wf.c.state.not_in([str(state) for state in TERMINAL]),
        )
    )
    return list(rows.scalars())

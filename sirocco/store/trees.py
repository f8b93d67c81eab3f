"""Reads that walk an execution tree: tasks of an execution, actions and sub-workflows of a task."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from sirocco.store import tables

_workflow_executions = tables.workflow_executions
_task = tables.task_executions
_action = tables.action_executions

_TASKS = (
    sa.select(_task)
    .where(_task.c.workflow_execution_id == sa.bindparam("execution_id"))
    .order_by(_task.c.created_at, _task.c.seq)
)
_CHILDREN = (
    sa.select(_workflow_executions.c.id)
    .where(_workflow_executions.c.task_execution_id == sa.bindparam("task_id"))
    .order_by(_workflow_executions.c.created_at, _workflow_executions.c.id)
)
_ACTIONS = (
    sa.select(_action)
    .where(_action.c.task_execution_id == sa.bindparam("task_id"))
    .order_by(_action.c.created_at, _action.c.index)
)
_TASK = sa.select(_task).where(_task.c.id == sa.bindparam("task_id"))
_EXECUTION = sa.select(_workflow_executions).where(
    _workflow_executions.c.id == sa.bindparam("execution_id")
)


def tasks(connection: sa.Connection, execution_id: str) -> list[Any]:
    """The task execution rows of an execution, in creation order."""
    return list(connection.execute(_TASKS, {"execution_id": execution_id}))


def children(connection: sa.Connection, task_id: str) -> list[str]:
    """Ids of the sub-workflow executions a task started, in creation order."""
    return list(connection.execute(_CHILDREN, {"task_id": task_id}).scalars())


def actions(connection: sa.Connection, task_id: str) -> list[Any]:
    """The action execution rows of a task, in creation order."""
    return list(connection.execute(_ACTIONS, {"task_id": task_id}))


def task(connection: sa.Connection, task_id: str) -> Any:
    """One task execution row, or None."""
    return connection.execute(_TASK, {"task_id": task_id}).first()


def execution(connection: sa.Connection, execution_id: str) -> Any:
    """One workflow execution row (it must exist)."""
    return connection.execute(_EXECUTION, {"execution_id": execution_id}).one()

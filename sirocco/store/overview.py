"""Reads for the command line: a page of executions, and one execution's task tree."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from sirocco import errors
from sirocco.store import blobs, tables, trees

_workflow_executions = tables.workflow_executions
_ENDED = ("SUCCESS", "ERROR", "CANCELLED")


def executions(
    connection: sa.Connection, *, states: Sequence[str], workflow: str | None, limit: int
) -> list[dict[str, Any]]:
    """Executions, newest first, in ``states`` (any when empty) and of ``workflow``."""
    columns = _workflow_executions.c
    query = (
        sa.select(
            columns.id, columns.workflow_name, columns.state, columns.state_info,
            columns.created_at, columns.updated_at,
        )
        .order_by(columns.created_at.desc())
        .limit(limit)
    )  # fmt: skip
    if states:
        query = query.where(_workflow_executions.c.state.in_(list(states)))
    if workflow:
        query = query.where(_workflow_executions.c.workflow_name == workflow)
    return [dict(row._mapping) for row in connection.execute(query)]


def tree(connection: sa.Connection, execution_id: str) -> dict[str, Any]:
    """The execution, its tasks (state, times, published data, error, attempts, actions)
    and, under each task, its sub-workflow executions (NotFoundError when there is none)."""
    found = connection.execute(
        sa.select(_workflow_executions).where(_workflow_executions.c.id == execution_id)
    ).first()
    if found is None:
        raise errors.NotFoundError(f"WorkflowExecution not found [id={execution_id}]")
    return _execution(connection, found, depth=0)


def _execution(connection: sa.Connection, row: Any, depth: int) -> dict[str, Any]:
    node: dict[str, Any] = {
        "kind": "execution",
        "id": row.id,
        "workflow_name": row.workflow_name,
        "state": row.state,
        "state_info": row.state_info if row.state == "ERROR" else None,
        "started_at": row.created_at,
        "finished_at": row.updated_at if row.state in _ENDED else None,
        "children": [],
    }
    for task in trees.tasks(connection, row.id):
        actions = trees.actions(connection, task.id)
        indexes = [action.index for action in actions]
        attempts = max((indexes.count(index) for index in set(indexes)), default=0)
        child: dict[str, Any] = {
            "kind": "task",
            "id": task.id,
            "name": task.name,
            "state": task.state,
            "state_info": task.state_info if task.state == "ERROR" else None,
            "started_at": task.started_at or task.created_at,
            "finished_at": task.finished_at,
            "published": blobs.inline(connection, task.published or {}),
            "attempts": attempts,
            "actions": [
                {
                    "id": action.id,
                    "name": action.name,
                    "state": action.state,
                    "state_info": action.state_info if action.state == "ERROR" else None,
                    "started_at": action.created_at,
                    "finished_at": action.updated_at if action.state in _ENDED else None,
                }
                for action in actions
            ],
            "children": [],
        }
        if depth < 32:
            for child_id in trees.children(connection, task.id):
                sub = trees.execution(connection, child_id)
                child["children"].append(_execution(connection, sub, depth + 1))
        node["children"].append(child)
    return node

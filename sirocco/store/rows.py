"""Single rows by key, and the small writes the engine's service makes outside a step."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sirocco.store import blobs, executions, tables
from sirocco.store.database import Database

_workflow_executions = tables.workflow_executions
_task = tables.task_executions
_action = tables.action_executions
_environments = tables.environments

_WORKFLOW = sa.select(_workflow_executions).where(_workflow_executions.c.id == sa.bindparam("id"))
_TASK = sa.select(_task).where(_task.c.id == sa.bindparam("id"))
_ACTION = sa.select(_action).where(_action.c.id == sa.bindparam("id"))
_ENVIRONMENT = sa.select(_environments).where(_environments.c.name == sa.bindparam("name"))
_ENVIRONMENT_OF_PROJECT = (
    sa.select(_environments)
    .where(
        _environments.c.name == sa.bindparam("name"),
        sa.or_(
            _environments.c.project_id == sa.bindparam("project_id"),
            _environments.c.scope == "public",
        ),
    )
    .order_by(sa.case((_environments.c.project_id == sa.bindparam("project_id"), 0), else_=1))
    .limit(1)
)


def _one(database: Database, statement: sa.Select[Any], **values: Any) -> Any:
    with database.read() as connection:
        return connection.execute(statement, values).first()


def workflow_execution(database: Database, execution_id: str) -> Any:
    """The workflow execution row, or None."""
    return _one(database, _WORKFLOW, id=execution_id)


def task_execution(database: Database, task_execution_id: str) -> Any:
    """The task execution row, or None."""
    return _one(database, _TASK, id=task_execution_id)


def action_execution(database: Database, action_execution_id: str) -> Any:
    """The action execution row, or None."""
    return _one(database, _ACTION, id=action_execution_id)


def environment(database: Database, name: str, project_id: str | None = None) -> Any:
    """The environment row named ``name`` (``project_id``'s own first, then a public one;
    any when None), or None."""
    if project_id is None:
        return _one(database, _ENVIRONMENT, name=name)
    return _one(database, _ENVIRONMENT_OF_PROJECT, name=name, project_id=project_id)


def set_params(database: Database, execution_id: str, params: Any, *, now: datetime) -> None:
    """Replace a workflow execution's params (a new environment); engines drop their snapshot."""
    with database.transaction() as connection:
        connection.execute(
            sa.update(_workflow_executions)
            .where(_workflow_executions.c.id == execution_id)
            .values(params=params, updated_at=now, version=_workflow_executions.c.version + 1)
        )


def insert_action(database: Database, record: executions.ActionExecution) -> None:
    """Store an action execution made outside a workflow (Mistral's run-action)."""
    with database.transaction() as connection:
        # Its large input values by reference, as a workflow action's.
        row = executions.action_row(record, blobs.Offloader(connection))
        connection.execute(sa.insert(_action), [row])

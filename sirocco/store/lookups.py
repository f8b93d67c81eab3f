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
_workflow_executions = tables.workflow_executions

_ADHOC_ACTION = sa.select(_actions.c.definition, _actions.c.workbook_name).where(
    _actions.c.name == sa.bindparam("name"), _actions.c.namespace == sa.bindparam("namespace")
)
_ADHOC_ACTION_OF_PROJECT = (
    sa.select(_actions.c.definition, _actions.c.workbook_name)
    .where(
        _actions.c.name == sa.bindparam("name"),
        _actions.c.namespace == sa.bindparam("namespace"),
        sa.or_(
            _actions.c.project_id == sa.bindparam("project_id"),
            _actions.c.scope == "public",
        ),
    )
    .order_by(sa.case((_actions.c.project_id == sa.bindparam("project_id"), 0), else_=1))
    .limit(1)
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


def adhoc_action(
    connection: sa.Connection, name: str, namespace: str, project_id: str | None = None
) -> Any:
    """The stored ad-hoc action ``name`` in ``namespace`` (definition, workbook_name) or None.

    With ``project_id``: only that project's action or a public one, the project's own
    first (Mistral's resolution for an execution of that project)."""
    if project_id is None:
        return connection.execute(_ADHOC_ACTION, {"name": name, "namespace": namespace}).first()
    values = {"name": name, "namespace": namespace, "project_id": project_id}
    return connection.execute(_ADHOC_ACTION_OF_PROJECT, values).first()


def task_actions(
    connection: sa.Connection, task_execution_id: str
) -> list[executions.ActionExecution]:
    """The action executions of one task execution, oldest first."""
    rows = connection.execute(_TASK_ACTIONS, {"task_execution_id": task_execution_id})
    reader = executions.blob_reader(connection)
    return [executions.action_record(row, reader) for row in rows]


def task_executions(
    connection: sa.Connection, workflow_execution_id: str
) -> list[executions.TaskExecution]:
    """The task executions of one workflow execution, in order."""
    rows = connection.execute(_TASKS, {"workflow_execution_id": workflow_execution_id})
    reader = executions.blob_reader(connection)
    return [executions.task_record(row, reader) for row in rows]


def workflow_executions(
    connection: sa.Connection,
    *,
    id: str | None,
    root_execution_id: str | None,
    state: str | None,
    from_time: datetime | None,
    to_time: datetime | None,
    project_id: str | None = None,
) -> Sequence[Any]:
    """Workflow execution rows matching every given condition (``executions()`` in YAQL),
    of ``project_id`` only when given (an execution sees its own project's, as in Mistral)."""
    query = sa.select(_workflow_executions)
    if project_id is not None:
        query = query.where(_workflow_executions.c.project_id == project_id)
    if id:
        query = query.where(_workflow_executions.c.id == id)
    if root_execution_id:
        query = query.where(_workflow_executions.c.root_execution_id == root_execution_id)
    if state:
        query = query.where(_workflow_executions.c.state == state)
    if from_time:
        query = query.where(_workflow_executions.c.created_at >= from_time)
    if to_time:
        query = query.where(_workflow_executions.c.created_at < to_time)
    return list(connection.execute(query.order_by(_workflow_executions.c.created_at)))


def stopped_above(
    connection: sa.Connection, *, parent_execution_id: str | None, root_execution_id: str | None
) -> bool:
    """Whether a sub-workflow must not start: its parent has ended, or an execution above
    it (up to the root) was cancelled.

    One query walks the chain of parents up to the root, so a cancel anywhere above
    stops the start, also before that cancel has reached the levels in between.
    """
    if parent_execution_id is None:
        return False
    columns = (
        _workflow_executions.c.id,
        _workflow_executions.c.state,
        _workflow_executions.c.task_execution_id,
    )
    chain = (
        sa.select(*columns)
        .where(_workflow_executions.c.id == parent_execution_id)
        .cte("ancestors", recursive=True)
    )
    above = sa.select(*columns).select_from(
        _workflow_executions.join(
            _task, _task.c.workflow_execution_id == _workflow_executions.c.id
        ).join(chain, chain.c.task_execution_id == _task.c.id)
    )
    chain = chain.union_all(above)
    found = dict(connection.execute(sa.select(chain.c.id, chain.c.state)).all())
    if root_execution_id is not None and root_execution_id not in found:
        found.update(
            connection.execute(
                sa.select(_workflow_executions.c.id, _workflow_executions.c.state).where(
                    _workflow_executions.c.id == root_execution_id
                )
            ).all()
        )
    cancelled = str(State.CANCELLED)
    return found.get(parent_execution_id) in TERMINAL or cancelled in found.values()


def project_of(connection: sa.Connection, root_execution_id: str | None) -> str | None:
    """The project of a sub-workflow: its root execution's."""
    if root_execution_id is None:
        return None
    found = connection.execute(
        sa.select(_workflow_executions.c.project_id).where(
            _workflow_executions.c.id == root_execution_id
        )
    ).scalar()
    return None if found is None else str(found)


def unfinished_below(
    connection: sa.Connection, execution_id: str, root_execution_id: str | None = None
) -> list[str]:
    """Ids of the executions below ``execution_id`` (at any depth) that have not ended.

    Every descendant carries the tree's root: below a root that is one indexed query;
    below an execution inside the tree (``root_execution_id`` given) the tree's
    unfinished executions are read with their parents and walked from
    ``execution_id``, so a branch is reached whole, not level by level.
    """
    unfinished = _workflow_executions.c.state.not_in([str(state) for state in TERMINAL])
    if root_execution_id is None:
        rows = connection.execute(
            sa.select(_workflow_executions.c.id).where(
                _workflow_executions.c.root_execution_id == execution_id, unfinished
            )
        )
        return list(rows.scalars())
    query = (
        sa.select(
            _workflow_executions.c.id, _task.c.workflow_execution_id, unfinished.label("open")
        )
        .select_from(
            _workflow_executions.join(_task, _workflow_executions.c.task_execution_id == _task.c.id)
        )
        .where(_workflow_executions.c.root_execution_id == root_execution_id)
    )
    children: dict[str, list[tuple[str, bool]]] = {}
    for child_id, parent_id, is_open in connection.execute(query):
        children.setdefault(str(parent_id), []).append((str(child_id), bool(is_open)))
    found: list[str] = []
    level = [execution_id]
    seen = {execution_id}
    while level:
        following: list[str] = []
        for current in level:
            for child_id, is_open in children.get(current, ()):
                if child_id in seen:
                    continue
                seen.add(child_id)
                following.append(child_id)
                if is_open:
                    found.append(child_id)
        level = following
    return found

"""Which project owns a row, and which rows a project may read: the statements behind
the API's project checks (``sirocco.api.projects`` says what they mean for a request).

* :func:`visible` is the condition a list adds: the project's own rows, public
  definitions, and the workflows shared with it (accepted members).
* :func:`owner_by_id` and :func:`owner_by_name` find the owner of the one row a
  request names; a name means the project's own row first, then one it may read
  (:func:`sirocco.store.definitions.name_order`), as the routes resolve it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from sirocco.store import definitions, queries, tables
from sirocco.store.database import Connection

#: A condition on the rows of a view (what the list readers of ``queries`` take).
Condition = sa.ColumnElement[bool]

#: The status of a member that accepted the workflow shared with it.
ACCEPTED = "accepted"

_definitions = tables.workflow_definitions
_executions = tables.workflow_executions
_tasks = tables.task_executions
_actions = tables.action_executions
_members = tables.resource_members


@dataclass(frozen=True, slots=True)
class Found:
    """The owner of a looked-up resource, and whether others may read it."""

    project_id: str
    public: bool = False
    members: frozenset[str] = frozenset()
    id: str = ""


# ---------------------------------------------------------------- lists


def visible(view: queries.View, project_id: str) -> Condition:
    """Rows of ``view`` that ``project_id`` may read."""
    project = view.columns["project_id"]
    condition: Condition = project == project_id
    if "scope" in view.columns:
        condition = sa.or_(condition, view.columns["scope"] == "public")
    if view is queries.WORKFLOWS:
        condition = sa.or_(condition, view.columns["id"].in_(_shared_with(project_id)))
    return condition


def _shared_with(project_id: str) -> sa.Select[Any]:
    return sa.select(_members.c.resource_id).where(
        _members.c.resource_type == "workflow",
        _members.c.member_id == project_id,
        _members.c.status == ACCEPTED,
    )


# ---------------------------------------------------------------- one row by id

_task_parent = _executions.alias("guard_task_parent")
_action_parent = _executions.alias("guard_ae_parent")

#: kind -> (its table, the column that holds its project, the rows to select it from).
_BY_ID: Mapping[str, tuple[sa.Table, sa.ColumnElement[Any], sa.FromClause]] = {
    "execution": (_executions, _executions.c.project_id, _executions),
    "task": (
        _tasks,
        _task_parent.c.project_id,
        _tasks.join(_task_parent, _tasks.c.workflow_execution_id == _task_parent.c.id),
    ),
    # A direct action execution has no parent: its own project.
    "action_execution": (
        _actions,
        sa.func.coalesce(_action_parent.c.project_id, _actions.c.project_id),
        _actions.outerjoin(_action_parent, _actions.c.workflow_execution_id == _action_parent.c.id),
    ),
}


def owner_by_id(connection: Connection, kind: str, identifier: str) -> Found | None:
    """The owner of the ``kind`` (``execution``, ``task``, ``action_execution``) row
    ``identifier``; a task or a workflow's action belongs to its workflow execution's
    project."""
    table, project, source = _BY_ID[kind]
    return _first(
        connection, sa.select(project).select_from(source).where(table.c.id == identifier)
    )


# ---------------------------------------------------------------- one row by name


@dataclass(frozen=True, slots=True)
class _Named:
    table: sa.Table
    #: Also named by id (a UUID).
    ids: bool
    #: Names are unique per namespace.
    namespaced: bool


_NAMED: Mapping[str, _Named] = {
    "workflow": _Named(_definitions, ids=True, namespaced=True),
    "workbook": _Named(tables.workbooks, ids=False, namespaced=True),
    "action": _Named(tables.action_definitions, ids=True, namespaced=True),
    "environment": _Named(tables.environments, ids=False, namespaced=False),
    "cron_trigger": _Named(tables.cron_triggers, ids=True, namespaced=False),
    "event_trigger": _Named(tables.event_triggers, ids=True, namespaced=False),
}


def owner_by_name(
    connection: Connection, kind: str, value: str, *, namespace: str, project_id: str
) -> Found | None:
    """The owner of the ``kind`` row that ``value`` (a name, or an id where the kind has
    ids) means for ``project_id``: its own row first, then one it may read (public, or a
    workflow shared with it), then any (the API refuses that one). ``namespace`` counts
    for kinds whose names are unique per namespace."""
    named = _NAMED[kind]
    table = named.table
    columns = sa.select(table.c.project_id, table.c.scope, table.c.id)
    if named.ids and definitions.is_uuid(value):
        found = _first(connection, columns.where(table.c.id == value))
        if found is not None:
            return _shared(connection, table, value, Found(found.project_id, found.public))
    condition = table.c.name == value
    if named.namespaced:
        condition = sa.and_(condition, table.c.namespace == namespace)
    row = connection.execute(
        columns.where(condition).order_by(*definitions.name_order(table, project_id)).limit(1)
    ).first()
    if row is None:
        return None
    found = Found(project_id=str(row[0]), public=row[1] == "public")
    return _shared(connection, table, str(row[2]), found)


def readable_owner(connection: Connection, kind: str, name: str, project_id: str) -> Found | None:
    """The owner of the ``kind`` row named ``name`` (in any namespace) that
    ``project_id`` would use: its own first, then one it may read."""
    table = _NAMED[kind].table
    return _first(
        connection,
        sa.select(table.c.project_id, table.c.scope)
        .where(table.c.name == name)
        .order_by(*definitions.name_order(table, project_id)),
    )


def _first(connection: Connection, query: sa.Select[Any]) -> Found | None:
    row = connection.execute(query.limit(1)).first()
    if row is None:
        return None
    public = len(row) > 1 and row[1] == "public"
    return Found(project_id=str(row[0]), public=public)


def _shared(connection: Connection, table: sa.Table, identifier: str, found: Found) -> Found:
    if table is not _definitions:
        return Found(found.project_id, found.public, id=identifier)
    members = connection.execute(
        sa.select(_members.c.member_id).where(
            _members.c.resource_id == identifier,
            _members.c.resource_type == "workflow",
            _members.c.status == ACCEPTED,
        )
    ).scalars()
    return Found(found.project_id, found.public, frozenset(members), id=identifier)

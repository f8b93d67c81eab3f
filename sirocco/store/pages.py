"""What the web view's pages read: one page of executions by marker, an execution with its tasks.

Every query is bounded by an index: a page of executions is read by
``created_at`` (newest first) after a marker, and the task counts of that page
are one grouped query over the page's ids; nothing counts the whole table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sirocco import errors
from sirocco.store import queries, tables

PAGE_SIZE = 50
#: Rows per page of the lists of definitions, triggers and environments.
LIST_PAGE_SIZE = 100
STATES = ("IDLE", "RUNNING", "PAUSED", "SUCCESS", "ERROR", "CANCELLED")
FINISHED = frozenset({"SUCCESS", "ERROR", "CANCELLED"})
TASK_FINISHED = frozenset({"SUCCESS", "ERROR", "CANCELLED", "SKIPPED"})
_LIST_FIELDS = (
    "id", "workflow_name", "description", "state", "state_info", "task_execution_id",
    "root_execution_id", "created_at", "updated_at", "project_id",
)  # fmt: skip
_executions = tables.workflow_executions
_task = tables.task_executions
_action = tables.action_executions


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionFilters:
    """The filters of the executions list, already checked."""

    state: str = ""
    workflow: str = ""
    since: datetime | None = None
    until: datetime | None = None
    text: str = ""
    marker: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskCount:
    """How many tasks of an execution there are, and how many have finished."""

    total: int = 0
    finished: int = 0
    failed: int = 0


def executions_page(
    connection: sa.Connection,
    filters: ExecutionFilters,
    limit: int = PAGE_SIZE,
    *,
    conditions: Sequence[sa.ColumnElement[bool]] = (),
) -> list[dict[str, Any]]:
    """One page of executions, newest first, after ``filters.marker``, among those that
    meet ``conditions`` (the caller's projects)."""
    wanted: list[queries.Filter] = []
    if filters.state:
        wanted.append(queries.Filter(field="state", value=filters.state))
    if filters.workflow:
        wanted.append(queries.Filter(field="workflow_name", operator="has", value=filters.workflow))
    if filters.since is not None:
        wanted.append(queries.Filter(field="created_at", operator="gte", value=filters.since))
    if filters.until is not None:
        wanted.append(queries.Filter(field="created_at", operator="lte", value=filters.until))
    where: list[sa.ColumnElement[bool]] = list(conditions)
    if filters.text:
        pattern = "%" + _escape(filters.text) + "%"
        where.append(
            sa.or_(
                _executions.c.id == filters.text,
                _executions.c.workflow_name.like(pattern, escape="\\"),
                _executions.c.description.like(pattern, escape="\\"),
                _executions.c.state_info.like(pattern, escape="\\"),
            )
        )
    page = queries.Page(
        filters=tuple(wanted),
        sort_keys=("created_at",),
        sort_dirs=("desc",),
        limit=limit,
        marker=filters.marker,
    )
    return queries.list_rows(
        connection, queries.EXECUTIONS, page, fields=_LIST_FIELDS, conditions=where
    )


def task_counts(connection: sa.Connection, execution_ids: Sequence[str]) -> dict[str, TaskCount]:
    """The task counts of the given executions (one grouped query over their index)."""
    if not execution_ids:
        return {}
    query = (
        sa.select(_task.c.workflow_execution_id, _task.c.state, sa.func.count())
        .where(_task.c.workflow_execution_id.in_(list(execution_ids)))
        .group_by(_task.c.workflow_execution_id, _task.c.state)
    )
    totals: dict[str, dict[str, int]] = {}
    for execution_id, state, count in connection.execute(query):
        totals.setdefault(execution_id, {})[state] = int(count)
    return {
        execution_id: TaskCount(
            total=sum(by_state.values()),
            finished=sum(count for state, count in by_state.items() if state in TASK_FINISHED),
            failed=by_state.get("ERROR", 0),
        )
        for execution_id, by_state in totals.items()
    }


def execution(
    connection: sa.Connection,
    execution_id: str,
    *,
    conditions: Sequence[sa.ColumnElement[bool]] = (),
) -> dict[str, Any]:
    """One execution as the API shows it, plus its definition text and workbook
    (NotFoundError, in the API's words, unless it meets ``conditions``)."""
    row = _one(connection, queries.EXECUTIONS, execution_id, conditions)
    found = connection.execute(
        sa.select(_executions.c.definition, _executions.c.workbook_name).where(
            _executions.c.id == execution_id
        )
    ).one()
    row["definition"] = found.definition
    row["workbook_name"] = found.workbook_name
    return row


def tasks_of(connection: sa.Connection, execution_id: str) -> list[dict[str, Any]]:
    """The task executions of one execution, in the order they were created."""
    query = (
        sa.select(
            _task.c.id,
            _task.c.name,
            _task.c.type,
            _task.c.state,
            _task.c.state_info,
            _task.c.runtime,
            _task.c.created_at,
            _task.c.started_at,
            _task.c.finished_at,
        )
        .where(_task.c.workflow_execution_id == execution_id)
        .order_by(_task.c.seq)
    )
    return [dict(row._mapping) for row in connection.execute(query)]


def sub_executions(
    connection: sa.Connection, task_ids: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """The executions started by the given (sub-workflow) tasks, by task id."""
    found: dict[str, list[dict[str, Any]]] = {}
    if not task_ids:
        return found
    query = (
        sa.select(
            _executions.c.id,
            _executions.c.task_execution_id,
            _executions.c.state,
            _executions.c.workflow_name,
        )
        .where(_executions.c.task_execution_id.in_(list(task_ids)))
        .order_by(_executions.c.created_at, _executions.c.id)
    )
    for row in connection.execute(query):
        found.setdefault(row.task_execution_id, []).append(dict(row._mapping))
    return found


def task(
    connection: sa.Connection,
    task_id: str,
    *,
    conditions: Sequence[sa.ColumnElement[bool]] = (),
) -> dict[str, Any]:
    """One task execution as the API shows it (NotFoundError when there is none, or
    when it does not meet ``conditions``)."""
    return _one(connection, queries.TASKS, task_id, conditions)


def _one(
    connection: sa.Connection,
    view: queries.View,
    identifier: str,
    conditions: Sequence[sa.ColumnElement[bool]],
) -> dict[str, Any]:
    if not conditions:
        return queries.get_by_id(connection, view, identifier)
    found = queries.get_row(
        connection, view, conditions=[view.id_column == identifier, *conditions]
    )
    if found is None:
        raise errors.NotFoundError(f"{view.entity} not found [id={identifier}]")
    return found


def task_runtime(connection: sa.Connection, task_id: str) -> dict[str, Any]:
    """The engine's bookkeeping of one task (with-items counters, retries)."""
    found = connection.execute(sa.select(_task.c.runtime).where(_task.c.id == task_id)).first()
    return dict(found.runtime or {}) if found is not None else {}


def actions_of(connection: sa.Connection, task_id: str) -> list[dict[str, Any]]:
    """The action executions of one task, by item index."""
    page = queries.Page(sort_keys=("created_at",), sort_dirs=("asc",), limit=queries.MAX_LIMIT)
    where = {"task_execution_id": task_id}
    return queries.list_rows(connection, queries.ACTION_EXECUTIONS, page, where=where)


def listing(
    connection: sa.Connection,
    view: queries.View,
    *,
    marker: str | None = None,
    limit: int = LIST_PAGE_SIZE,
    conditions: Sequence[sa.ColumnElement[bool]] = (),
) -> list[dict[str, Any]]:
    """One page of a collection by name (workflows, triggers, environments): the rows
    that meet ``conditions``, after the row ``marker`` (an id) when given."""
    page = queries.Page(sort_keys=("name",), sort_dirs=("asc",), limit=limit, marker=marker or None)
    return queries.list_rows(connection, view, page, conditions=conditions)


def by_id_or_name(
    connection: sa.Connection,
    view: queries.View,
    identifier: str,
    *,
    conditions: Sequence[sa.ColumnElement[bool]] = (),
    project_id: str | None = None,
) -> dict[str, Any] | None:
    """A definition by id, else by name, among the rows that meet ``conditions``.

    A name is looked up in ``project_id`` first (then in any project the conditions
    allow, e.g. a public definition), in any namespace (the first one)."""
    name = view.columns["name"]
    tries: list[list[sa.ColumnElement[bool]]] = [[view.id_column == identifier]]
    if project_id is not None:
        tries.append([name == identifier, view.columns["project_id"] == project_id])
    tries.append([name == identifier])
    for condition in tries:
        found = queries.get_row(connection, view, conditions=[*condition, *conditions])
        if found is not None:
            return found
    return None


def workbook_of_workflow(connection: sa.Connection, workflow_id: str) -> str | None:
    """The workbook a stored workflow definition came from, if any."""
    table = tables.workflow_definitions
    found = connection.execute(
        sa.select(table.c.workbook_name).where(table.c.id == workflow_id)
    ).scalar()
    return None if found is None else str(found)


def executions_of_workflow(
    connection: sa.Connection,
    workflow_id: str,
    limit: int = 20,
    *,
    conditions: Sequence[sa.ColumnElement[bool]] = (),
) -> list[dict[str, Any]]:
    """The latest executions of one workflow definition that meet ``conditions``."""
    filters = (queries.Filter(field="workflow_id", value=workflow_id),)
    page = queries.Page(
        filters=filters, sort_keys=("created_at",), sort_dirs=("desc",), limit=limit
    )
    return queries.list_rows(
        connection, queries.EXECUTIONS, page, fields=_LIST_FIELDS, conditions=conditions
    )


def duration(start: datetime | None, end: datetime | None, now: datetime) -> str:
    """A short human duration (``4.2 s``, ``3 min 5 s``, ``2 h 10 min``); "" without a start."""
    if start is None:
        return ""
    seconds = max(((end or now) - start).total_seconds(), 0.0)
    if seconds < 60:
        return (
            f"{seconds:.0f} s" if seconds >= 10 or seconds == int(seconds) else f"{seconds:.1f} s"
        )
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def with_items_progress(runtime: Mapping[str, Any] | None) -> str:
    """``done/count`` of a with-items task (``""`` for another task)."""
    counters = (runtime or {}).get("with_items")
    if not isinstance(counters, Mapping) or "count" not in counters:
        return ""
    done = sum(int(counters.get(key, 0)) for key in ("succeeded", "failed", "cancelled"))
    return f"{done}/{int(counters['count'])}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

"""``/v2/tasks``: list and get task executions, rerun or skip failed ones, their children."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import yaml
from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from sirocco import errors
from sirocco.api import (
    action_executions,
    bodies,
    deps,
    identity,
    listing,
    projects,
    render,
    reports,
)
from sirocco.api.render import MistralJSONResponse
from sirocco.store import queries, rows
from sirocco.store.database import Database

router = APIRouter(route_class=deps.StrictRoute, tags=["tasks"])

FILTERS = (
    "workflow_execution_id", "created_at", "workflow_name", "workflow_id", "tags", "state",
    "state_info", "updated_at", "name", "result", "published", "processed", "reset", "env",
)  # fmt: skip
list_query = listing.query_dependency(FILTERS)
#: What a list item shows (no result: it can be big).
LIST_FIELDS = tuple(
    name for name in render.TASK if name not in ("result", "published_global", "reset", "env")
)
#: What a single task shows.
GET_FIELDS = tuple(name for name in render.TASK if name not in ("published_global", "reset", "env"))
_EXECUTION_FILTERS = (
    "created_at", "workflow_name", "workflow_id", "tags", "params", "state", "state_info",
    "input", "output", "updated_at", "description",
)  # fmt: skip
_execution_query = listing.query_dependency(_EXECUTION_FILTERS)
_SUB_EXECUTION_FIELDS = (
    "id", "workflow_id", "workflow_name", "workflow_namespace", "description", "tags",
    "task_execution_id", "root_execution_id", "state", "state_info", "created_at", "updated_at",
    "project_id",
)  # fmt: skip


def show(row: Mapping[str, Any], *, only: Sequence[str] | None = None) -> dict[str, Any]:
    """A task execution as Mistral shows it (``result`` as JSON text)."""
    shown = dict(row)
    if "result" in shown:
        shown["result"] = render.task_result(shown["result"])
    return render.resource(shown, render.TASK, only=only or None, text_fields=("result",))


def list_response(
    request: Request,
    values: Mapping[str, str | None],
    database: Database,
    caller: identity.Caller,
    equal: Mapping[str, str] | None = None,
) -> Response:
    """A page of task executions (those whose fields equal ``equal``)."""
    wanted = listing.parse(values, resource_fields=render.TASK, filters=FILTERS)
    fields = wanted.fields or LIST_FIELDS
    scope = projects.list_scope(queries.TASKS, caller, values)
    with database.read() as connection:
        rows = queries.list_rows(
            connection, queries.TASKS, wanted.page, fields=fields, where=equal, conditions=scope
        )
    items = [show(row, only=wanted.fields) for row in rows]
    return MistralJSONResponse(listing.body(request, "tasks", wanted, queries.TASKS, rows, items))


def read(database: Database, task_id: str, fields: Sequence[str] = GET_FIELDS) -> dict[str, Any]:
    """One task row; NotFoundError in Mistral's words."""
    with database.read() as connection:
        return queries.get_by_id(connection, queries.TASKS, task_id, fields=fields)


@router.get("/v2/tasks")
def list_tasks(
    *,
    request: Request,
    values: Annotated[dict[str, str | None], Depends(list_query)],
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """List task executions."""
    return list_response(request, values, database, caller)


@router.get("/v2/tasks/{task_id}")
def get_task(*, task_id: str, fields: str | None = None, database: deps.DatabaseDep) -> Response:
    """One task execution, with its result."""
    only = listing.selected_fields(fields, render.TASK)
    return MistralJSONResponse(show(read(database, task_id, only or GET_FIELDS), only=only))


@router.put("/v2/tasks/{task_id}")
def update_task(*, task_id: str, task: bodies.TaskBody, service: deps.ServiceDep) -> Response:
    """Rerun (``state: RUNNING``, ``reset``) or skip (``state: SKIPPED``) a failed task."""
    database = service.database
    current = read(database, task_id)
    if task.name and task.name != current["name"]:
        raise errors.InputError("Task name does not match.")
    if task.workflow_name and task.workflow_name != current["workflow_name"]:
        raise errors.InputError("Workflow name does not match.")
    if task.state not in ("RUNNING", "SKIPPED"):
        raise errors.InputError(
            "Invalid task state. Only updating task to RUNNING or SKIPPED is supported."
        )
    if current["state"] != "ERROR":
        raise errors.InputError(
            "The current task execution must be in ERROR for rerun. "
            "Only updating task to rerun is supported."
        )
    env = bodies.json_object("env", task.env) or None
    if task.state == "SKIPPED":
        service.skip_task(task_id)
    else:
        if task.reset is None:
            raise errors.InputError("Reset field is mandatory to rerun task.")
        if not task.reset and not _is_with_items(database, current):
            raise errors.InputError("Only with-items task has the option to not reset.")
        service.rerun_task(task_id, reset=task.reset, env=env)
    return MistralJSONResponse(show(read(database, task_id)))


def _is_with_items(database: Database, task: Mapping[str, Any]) -> bool:
    found = rows.workflow_execution(database, str(task["workflow_execution_id"]))
    if found is None:
        return False
    try:
        document = yaml.safe_load(found.definition)
    except yaml.YAMLError:
        return False
    if not isinstance(document, dict):
        return False
    name = str(found.workflow_name)
    body = document.get(name) or document.get(name.rsplit(".", 1)[-1])
    tasks = body.get("tasks") if isinstance(body, dict) else None
    spec = tasks.get(task["name"]) if isinstance(tasks, dict) else None
    return isinstance(spec, dict) and "with-items" in spec


@router.get("/v2/tasks/{task_id}/action_executions")
def list_task_actions(
    *,
    request: Request,
    task_id: str,
    values: Annotated[dict[str, str | None], Depends(action_executions.list_query)],
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """The action executions of one task (every attempt and item)."""
    listing.check_uuid("task_execution_id", task_id)
    equal = {"task_execution_id": task_id}
    return action_executions.list_response(request, values, database, caller, equal)


@router.get("/v2/tasks/{task_id}/action_executions/{action_execution_id}")
def get_task_action(
    *, task_id: str, action_execution_id: str, database: deps.DatabaseDep
) -> Response:
    """One action execution of a task."""
    row = action_executions.read(database, action_execution_id)
    if row.get("task_execution_id") != task_id:
        raise errors.NotFoundError(f"ActionExecution not found [id={action_execution_id}]")
    return MistralJSONResponse(action_executions.show(row))


@router.get("/v2/tasks/{task_id}/workflow_executions")
def list_task_workflows(
    *,
    request: Request,
    task_id: str,
    values: Annotated[dict[str, str | None], Depends(_execution_query)],
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """The sub-workflow executions a task started."""
    listing.check_uuid("task_execution_id", task_id)
    wanted = listing.parse(values, resource_fields=render.EXECUTION, filters=_EXECUTION_FILTERS)
    fields = wanted.fields or _SUB_EXECUTION_FIELDS
    scope = projects.list_scope(queries.EXECUTIONS, caller, values)
    with database.read() as connection:
        rows = queries.list_rows(
            connection,
            queries.EXECUTIONS,
            wanted.page,
            fields=fields,
            where={"task_execution_id": task_id},
            conditions=scope,
        )
    items = [render.resource(row, render.EXECUTION) for row in rows]
    return MistralJSONResponse(
        listing.body(request, "executions", wanted, queries.EXECUTIONS, rows, items)
    )


@router.get("/v2/tasks/{task_id}/executions")
def list_task_sub_executions(
    *,
    task_id: str,
    errors_only: str | None = None,
    max_depth: str | None = None,
    include_output: str | None = None,
    database: deps.DatabaseDep,
) -> Response:
    """Every sub-workflow execution below a task, flattened."""
    listing.check_uuid("id", task_id)
    options = reports.Options.parse(errors_only, max_depth)
    with database.read() as connection:
        rows = reports.task_sub_executions(connection, task_id, options, depth=0)
    with_output = listing.boolean("include_output", include_output)
    drop = ["published_global", "source_execution_id"] + ([] if with_output else ["output"])
    return MistralJSONResponse(
        {"executions": [render.resource(row, render.EXECUTION, drop=drop) for row in rows]}
    )

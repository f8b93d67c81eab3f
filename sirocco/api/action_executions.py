"""``/v2/action_executions``: run an action outside a workflow, list, get, complete, delete."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from sirocco import errors
from sirocco.api import bodies, deps, identity, listing, projects, render
from sirocco.api.errors import ApiError
from sirocco.api.render import MistralJSONResponse
from sirocco.store import definitions, queries
from sirocco.store.database import Database

router = APIRouter(route_class=deps.StrictRoute, tags=["action_executions"])

FILTERS = (
    "created_at", "name", "tags", "updated_at", "workflow_name", "task_name",
    "task_execution_id", "state", "state_info", "accepted", "input", "output", "params",
    "description",
)  # fmt: skip
list_query = listing.query_dependency(FILTERS, ("include_output",))
SUPPORTED_STATES = ("SUCCESS", "ERROR", "CANCELLED", "PAUSED", "RUNNING")
_COMPLETED = ("SUCCESS", "ERROR", "CANCELLED")
#: What a single action execution shows.
GET_FIELDS = tuple(name for name in render.ACTION_EXECUTION if name != "params")
LIST_FIELDS = tuple(name for name in GET_FIELDS if name != "output")


def show(row: Mapping[str, Any], *, only: Sequence[str] | None = None) -> dict[str, Any]:
    """An action execution as Mistral 23 shows it.

    The output reads ``{"result": ...}``; an error stays in the output and
    ``state_info`` is always null; ``tags`` are null rather than empty; and
    ``task_name`` is left out unless asked for (Mistral 23 no longer fills it).
    """
    shown = dict(row)
    if "output" in shown:
        shown["output"] = render.action_output(row)
    if "workflow_namespace" in shown and shown["workflow_namespace"] is None:
        shown["workflow_namespace"] = ""
    if "state_info" in shown:
        shown["state_info"] = None
    if "tags" in shown and not shown["tags"]:
        shown["tags"] = None
    drop = () if only and "task_name" in only else ("task_name",)
    return render.resource(shown, render.ACTION_EXECUTION, only=only or None, drop=drop)


def read(
    database: Database, action_execution_id: str, fields: Sequence[str] = GET_FIELDS
) -> dict[str, Any]:
    """One action execution row; NotFoundError in Mistral's words."""
    wanted = tuple(fields) + (("state", "state_info") if "output" in fields else ())
    with database.read() as connection:
        return queries.get_by_id(
            connection, queries.ACTION_EXECUTIONS, action_execution_id, fields=wanted
        )


def list_response(
    request: Request,
    values: Mapping[str, str | None],
    database: Database,
    caller: identity.Caller,
    equal: Mapping[str, str] | None = None,
) -> Response:
    """A page of action executions (those whose fields equal ``equal``; outputs only with
    ``include_output``)."""
    include_output = listing.boolean("include_output", values.get("include_output"))
    wanted = listing.parse(values, resource_fields=render.ACTION_EXECUTION, filters=FILTERS)
    fields = wanted.fields or (GET_FIELDS if include_output else LIST_FIELDS)
    scope = projects.list_scope(queries.ACTION_EXECUTIONS, caller, values)
    with database.read() as connection:
        rows = queries.list_rows(
            connection,
            queries.ACTION_EXECUTIONS,
            wanted.page,
            fields=fields,
            where=equal,
            conditions=scope,
        )
    items = [show(row, only=wanted.fields) for row in rows]
    return MistralJSONResponse(
        listing.body(request, "action_executions", wanted, queries.ACTION_EXECUTIONS, rows, items)
    )


@router.post("/v2/action_executions", status_code=201)
def run_action(
    *, action_ex: bodies.ActionExecutionBody, service: deps.ServiceDep, caller: identity.CallerDep
) -> Response:
    """Run an action: its result at once (sync, not saved) or a stored RUNNING record."""
    if not action_ex.name:
        raise errors.InputError("Please provide at least action name to run action.")
    with service.database.read() as connection:
        projects.check_named(
            connection,
            caller,
            "action",
            action_ex.name,
            f"Failed to find action [action_name={action_ex.name}]",
        )
    action_input = bodies.json_object("input", action_ex.input) or {}
    params = bodies.json_object("params", action_ex.params) or {}
    timeout = params.get("timeout")
    try:
        result = service.run_action(
            name=action_ex.name,
            input=action_input,
            namespace=action_ex.workflow_namespace or "",
            description=action_ex.description or "",
            save_result=bool(params.get("save_result", False)),
            run_sync=bool(params.get("run_sync", False)),
            target=params.get("target"),
            timeout=float(timeout) if isinstance(timeout, (int, float)) else None,
            project_id=caller.project_id if caller.authenticated else None,
        )
    except errors.ActionInputError as exc:
        # Mistral 23's message names its exception first ("ActionException: Invalid input
        # [...]"); kept, so that scripts matching its text match ours (a 400 here, a 500 there).
        raise errors.ActionInputError(f"ActionException: {exc.message}") from exc
    if result.get("id"):
        stored = read(service.database, str(result["id"]))
        if not params.get("run_sync"):
            stored = as_created(stored)
        stored["updated_at"] = None  # as Mistral answers for a row it just inserted
        return MistralJSONResponse(show(stored), status_code=201)
    row = {name: result.get(name) for name in GET_FIELDS}
    # Mistral 23 answers an unsaved run with description null (it stores nothing).
    row.update(
        {
            "id": None,
            "workflow_namespace": "",
            "task_name": None,
            "description": row.get("description") or None,
        }
    )
    return MistralJSONResponse(show(row), status_code=201)


def as_created(row: Mapping[str, Any]) -> dict[str, Any]:
    """A saved action execution as Mistral answers its start: RUNNING, no result yet.

    An action that takes no time may have finished before the answer is written;
    Mistral's clients expect the state as of creation.
    """
    shown = dict(row)
    if shown.get("state") in _COMPLETED:
        shown.update(state="RUNNING", state_info=None, output=None, accepted=False)
    return shown


@router.get("/v2/action_executions")
def list_action_executions(
    *,
    request: Request,
    values: Annotated[dict[str, str | None], Depends(list_query)],
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """List action executions."""
    return list_response(request, values, database, caller)


@router.get("/v2/action_executions/{action_execution_id}")
def get_action_execution(
    *,
    action_execution_id: str,
    fields: str | None = None,
    database: deps.DatabaseDep,
) -> Response:
    """One action execution, with its output."""
    only = listing.selected_fields(fields, render.ACTION_EXECUTION)
    row = read(database, action_execution_id, only or GET_FIELDS)
    return MistralJSONResponse(show(row, only=only))


@router.put("/v2/action_executions/{action_execution_id}")
def update_action_execution(
    *,
    action_execution_id: str,
    action_ex: bodies.ActionExecutionBody,
    service: deps.ServiceDep,
) -> Response:
    """Deliver an action's result (SUCCESS, ERROR, CANCELLED) or pause/resume it."""
    if action_ex.state not in SUPPORTED_STATES:
        raise errors.InputError(
            f"Error. Expected one of {list(SUPPORTED_STATES)}, actual: {action_ex.state or 'Unset'}"
        )
    current = read(service.database, action_execution_id)
    if current["state"] in _COMPLETED:
        raise errors.InputError(f"Action {action_execution_id} is already completed")
    output = bodies.json_value("output", action_ex.output)
    if action_ex.state == "ERROR" and not output:
        output = "Unknown error"
    if action_ex.state in ("PAUSED", "RUNNING") and current.get("task_execution_id"):
        raise errors.InvalidStateError(
            f"Changing the state of a workflow's action execution to {action_ex.state} "
            "is not supported."
        )
    service.complete_action(action_execution_id, state=action_ex.state, output=output)
    return MistralJSONResponse(show(read(service.database, action_execution_id)))


@router.delete("/v2/action_executions/{action_execution_id}", status_code=204)
def delete_action_execution(
    *, request: Request, action_execution_id: str, database: deps.DatabaseDep
) -> Response:
    """Delete a completed action execution that was run alone (when the app allows it)."""
    if not getattr(request.app.state, "allow_action_execution_deletion", False):
        raise ApiError("Action execution deletion is not allowed.", 403)
    try:
        with database.transaction() as connection:
            definitions.delete_standalone_action_execution(connection, action_execution_id)
    except errors.InvalidStateError as exc:
        raise ApiError(exc.message, 403) from exc
    return Response(status_code=204)

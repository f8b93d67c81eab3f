"""``/v2/executions``: start, list, get, change, delete workflow executions; their tasks and trees.

Changes go through the engine service; reads come straight from the store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from sirocco import clock, errors
from sirocco.api import bodies, deps, identity, listing, projects, render, reports, tasks
from sirocco.api.errors import ApiError
from sirocco.api.render import MistralJSONResponse
from sirocco.runtime.work import Started
from sirocco.store import definitions, explain, queries
from sirocco.store.database import Database

router = APIRouter(route_class=deps.StrictRoute, tags=["executions"])

FILTERS = (
    "created_at", "workflow_name", "workflow_id", "tags", "params", "task_execution_id",
    "state", "state_info", "input", "output", "updated_at", "description", "project_id",
    "root_execution_id", "nulls",
)  # fmt: skip
_list_query = listing.query_dependency(FILTERS, ("include_output", "all_projects"))
_TERMINAL = ("SUCCESS", "ERROR", "CANCELLED")
_ALLOWED_STATES = ("RUNNING", "PAUSED", "SUCCESS", "ERROR", "CANCELLED")
_ENV_STATES = ("IDLE", "PAUSED", "ERROR")
#: Fields of a list item (no output unless asked, no published_global).
LIST_FIELDS = tuple(
    name for name in render.EXECUTION if name not in ("published_global", "source_execution_id")
)


def show(
    row: Mapping[str, Any], *, only: Sequence[str] | None = None, drop: Sequence[str] = ()
) -> dict[str, Any]:
    """An execution as Mistral shows it (output ``{}`` until there is one)."""
    shown = dict(row)
    if "output" in shown and shown["output"] is None:
        shown["output"] = {}
    return render.resource(
        shown, render.EXECUTION, only=only or None, drop=("source_execution_id", *drop)
    )


def read(database: Database, execution_id: str, fields: Sequence[str] = ()) -> dict[str, Any]:
    """One execution row; NotFoundError in Mistral's words."""
    if not fields:  # every field: what each client's poll asks
        return queries.execution_by_id(database, execution_id)
    with database.read() as connection:
        return queries.get_by_id(connection, queries.EXECUTIONS, execution_id, fields=fields)


def list_fields(wanted: listing.ListRequest, include_output: bool) -> tuple[str, ...]:
    """The columns a list reads: the asked ones, or the default ones."""
    if wanted.fields:
        return wanted.fields
    return tuple(name for name in LIST_FIELDS if include_output or name != "output")


@router.post("/v2/executions", status_code=201)
async def create_execution(*, request: Request, wf_ex: bodies.ExecutionBody) -> Response:
    """Start a workflow (or return the execution that already has the given id).

    A coroutine, unlike the other routes: the wait for the engine to commit the
    start is awaited on the event loop. A start waits behind whatever the engine
    has in hand; no worker thread is held meanwhile, so slow starts never starve
    the pool that serves every other request. The checks and the reads around
    the wait read rows by key (``deps.off_the_loop``). The caller is the one the
    router's checks found (a dependency less for FastAPI to solve).
    """
    caller = await identity.caller(request)
    service = deps.service_of(request)
    database = service.database
    answer = await deps.off_the_loop(database, request_start, wf_ex, service, caller)
    return await start_answer(database, answer)


async def start_answer(database: Database, answer: Future[Started] | Response) -> Response:
    """The answer to a start ``request_start`` asked for, once the engine committed it."""
    if isinstance(answer, Response):
        return answer
    started = await asyncio.wrap_future(answer)
    if started.record is not None:  # answered from what the start wrote: nothing to read
        row = queries.created_execution(started.record)
    else:
        row = await deps.off_the_loop(database, read, database, started.execution_id, LIST_FIELDS)
    return MistralJSONResponse(show(as_created(row)), status_code=201)


def request_start(
    wf_ex: bodies.ExecutionBody, service: deps.EngineService, caller: identity.Caller
) -> Future[Started] | Response:
    """Check a start and ask the engine for it; the answer itself when the execution
    with the given id exists already."""
    database = service.database
    if wf_ex.id:
        existing = _existing(database, wf_ex.id, caller)
        if existing is not None:
            return MistralJSONResponse(show(existing, drop=("published_global",)), status_code=201)
    workflow = wf_ex.workflow_id or wf_ex.workflow_name
    namespace = wf_ex.workflow_namespace
    given_input = bodies.json_object("input", wf_ex.input)
    params = bodies.json_object("params", wf_ex.params)
    description = wf_ex.description or ""
    if wf_ex.source_execution_id:
        with database.read() as connection:
            projects.check_execution(connection, caller, wf_ex.source_execution_id)
        source = read(database, wf_ex.source_execution_id)
        workflow = workflow or source.get("workflow_id") or source.get("workflow_name")
        if namespace is None:
            namespace = source.get("workflow_namespace") or ""
        # Mistral 23 takes the workflow and namespace from the source, not its input or params.
        description = f"{description} Based on the execution '{wf_ex.source_execution_id}'"
        description = description.strip()
    if not workflow:
        raise errors.InputError(
            "Workflow ID or workflow name must be provided. Workflow ID is recommended."
        )
    if caller.authenticated:  # without authentication every workflow is the caller's
        with database.read() as connection:
            projects.check_workflow(connection, caller, workflow, namespace or "")
    _check_env(database, (params or {}).get("env"), caller)
    return service.request_start(
        workflow=workflow,
        namespace=namespace or "",
        input=given_input or {},
        params=params or {},
        description=description,
        execution_id=wf_ex.id or None,
        project_id=caller.project_id if caller.authenticated else None,
    )


def _existing(
    database: Database, execution_id: str, caller: identity.Caller
) -> Mapping[str, Any] | None:
    """The caller's execution with this id; ConflictError if another project has it."""
    with database.read() as connection:
        existing = queries.get_row(
            connection,
            queries.EXECUTIONS,
            where=[
                queries.EXECUTIONS.id_column == execution_id,
                projects.visible(queries.EXECUTIONS, caller),
            ],
        )
        if existing is not None:
            return existing
        taken = queries.get_row(
            connection, queries.EXECUTIONS, where=[queries.EXECUTIONS.id_column == execution_id]
        )
    if taken is not None:  # another project's: never answered with its data
        raise errors.ConflictError(f"Duplicate entry for WorkflowExecution ['id']: {execution_id}")
    return None


def as_created(row: Mapping[str, Any]) -> dict[str, Any]:
    """The execution as Mistral answers its start: as of creation, RUNNING.

    Actions that take no time may have finished it in the step that started
    it; Mistral's clients (and its tempest tests) expect the state the start
    left, so an execution already at an end is shown as it was created.
    """
    shown = dict(row)
    if shown.get("state") in _TERMINAL:
        shown.update(
            state="RUNNING", state_info=None, output=None, updated_at=shown.get("created_at")
        )
    return shown


@router.get("/v2/executions")
def list_executions(
    *,
    request: Request,
    values: Annotated[dict[str, str | None], Depends(_list_query)],
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """List executions (outputs only with ``include_output``)."""
    include_output = listing.boolean("include_output", values.get("include_output"))
    wanted = listing.parse(values, resource_fields=render.EXECUTION, filters=FILTERS)
    fields = list_fields(wanted, include_output)
    where = projects.list_scope(queries.EXECUTIONS, caller, values)
    with database.read() as connection:
        rows = queries.list_rows(
            connection, queries.EXECUTIONS, wanted.page, fields=fields, where=where
        )
    items = [show(row, only=wanted.fields) for row in rows]
    return MistralJSONResponse(
        listing.body(request, "executions", wanted, queries.EXECUTIONS, rows, items)
    )


@router.get("/v2/executions/{execution_id}")
async def get_execution(
    *, request: Request, execution_id: str, fields: str | None = None
) -> Response:
    """One execution, with its output and published globals.

    A coroutine: every client polls it, and it is one read by key
    (``deps.off_the_loop``).
    """
    only = listing.selected_fields(fields, render.EXECUTION)
    return await one(deps.service_of(request).database, execution_id, only)


async def one(database: Database, execution_id: str, only: Sequence[str]) -> Response:
    """The answer to ``GET /v2/executions/{id}`` (``only``: the fields asked for, if any)."""
    row = await deps.off_the_loop(database, read, database, execution_id, only)
    return MistralJSONResponse(show(row, only=only))


@router.put("/v2/executions/{execution_id}")
def update_execution(
    *,
    execution_id: str,
    wf_ex: bodies.ExecutionBody,
    service: deps.ServiceDep,
) -> Response:
    """Pause, resume, stop, describe, or change the env of an execution."""
    database = service.database
    current = read(database, execution_id, ("state", "workflow_name"))
    params = bodies.json_object("params", wf_ex.params) or {}
    env = params.get("env") or None
    state, description = wf_ex.state, wf_ex.description
    if not (state or description or env):
        raise errors.InputError(
            "The property state, description, or env is not provided for update."
        )
    if state and description:
        raise errors.InputError("The property description must be updated separately from state.")
    if env and state and state != "RUNNING":
        raise errors.InputError(
            "The property env can only be updated when workflow execution is not running "
            "or on resume from pause."
        )
    if env and not state and current["state"] not in _ENV_STATES:
        raise ApiError(
            "Updating env to workflow execution is only permitted if it is in IDLE, PAUSED, "
            "or ERROR state.",
            403,
        )
    if env is not None and not isinstance(env, Mapping):
        raise errors.InputError(f"Unexpected value type for environment [env={env}]")
    if description:
        with database.transaction() as connection:
            definitions.set_execution_description(
                connection, execution_id, description, now=clock.utcnow_seconds()
            )
    if env and not state:
        service.update_env(execution_id, env)
    if state:
        _change_state(service, current | {"id": execution_id}, state, env, wf_ex.state_info)
    drop: tuple[str, ...] = ("published_global",)
    if not state:
        drop += ("input", "output") if env else ("params", "input", "output")
    return MistralJSONResponse(show(read(database, execution_id, LIST_FIELDS), drop=drop))


def _change_state(
    service: deps.EngineService,
    current: Mapping[str, Any],
    state: str,
    env: Mapping[str, Any] | None,
    message: str | None,
) -> None:
    """Mistral's rules: resuming, failing or cancelling a finished execution changes
    nothing; pausing it, or making it SUCCESS from another end state, is refused."""
    execution_id, now_in = str(current["id"]), str(current["state"])
    if state not in _ALLOWED_STATES:
        raise errors.InputError(
            f"Cannot change state to {state}. Allowed states are: '{', '.join(_ALLOWED_STATES)}"
        )
    if now_in in _TERMINAL and state in ("PAUSED", "SUCCESS") and state != now_in:
        raise errors.InputError(
            f"Can't change workflow execution state from {now_in} to {state}. "
            f"[workflow={current['workflow_name']}, execution_id={execution_id}]"
        )
    if state == "PAUSED":
        service.pause_workflow(execution_id)
    elif state == "RUNNING":
        if now_in in ("PAUSED", "IDLE"):
            service.resume_workflow(execution_id, env=env)
    elif now_in not in _TERMINAL:
        service.stop_workflow(execution_id, state, message)


@router.delete("/v2/executions/{execution_id}", status_code=204)
def delete_execution(
    *,
    execution_id: str,
    force: str | None = None,
    service: deps.ServiceDep,
) -> Response:
    """Delete a finished execution (an unfinished one only with ``force``)."""
    forced = listing.boolean("force", force)
    current = read(service.database, execution_id, ("state",))
    if not forced and current["state"] not in _TERMINAL:
        raise ApiError(
            "Only completed executions can be deleted. Use --force to override this. "
            f"Execution {execution_id} is in {current['state']} state",
            403,
        )
    service.delete_execution(execution_id, force=True)
    return Response(status_code=204)


@router.get("/v2/executions/{execution_id}/tasks")
def list_execution_tasks(
    *,
    request: Request,
    execution_id: str,
    values: Annotated[dict[str, str | None], Depends(tasks.list_query)],
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """The task executions of one workflow execution."""
    listing.check_uuid("workflow_execution_id", execution_id)
    equal = {"workflow_execution_id": execution_id}
    return tasks.list_response(request, values, database, caller, equal)


@router.get("/v2/executions/{execution_id}/executions")
def list_sub_executions(
    *,
    execution_id: str,
    errors_only: str | None = None,
    max_depth: str | None = None,
    include_output: str | None = None,
    database: deps.DatabaseDep,
) -> Response:
    """The execution and every sub-workflow execution below it, flattened."""
    listing.check_uuid("id", execution_id)
    options = reports.Options.parse(errors_only, max_depth)
    with database.read() as connection:
        rows = reports.sub_executions(connection, execution_id, options)
    with_output = listing.boolean("include_output", include_output)
    drop = ("published_global",) if with_output else ("published_global", "output")
    return MistralJSONResponse({"executions": [show(row, drop=drop) for row in rows]})


@router.get("/v2/executions/{execution_id}/report")
def execution_report(
    *,
    execution_id: str,
    errors_only: str | None = None,
    max_depth: str | None = None,
    statistics_only: str | None = None,
    database: deps.DatabaseDep,
) -> Response:
    """Statistics and the tree of tasks, actions and sub-workflows of an execution."""
    listing.check_uuid("workflow_execution_id", execution_id)
    options = reports.Options.parse(errors_only, max_depth)
    only_statistics = listing.boolean("statistics_only", statistics_only)
    with database.read() as connection:
        report = reports.build(connection, execution_id, options, statistics_only=only_statistics)
    return MistralJSONResponse(report)


@router.get("/v2/executions/{execution_id}/explain")
def explain_execution(*, execution_id: str, database: deps.DatabaseDep) -> Response:
    """What a RUNNING or PAUSED execution waits on, or why an ERROR one failed."""
    with database.read() as connection:
        found = explain.explain(connection, execution_id, now=clock.utcnow())
    return MistralJSONResponse(found.as_json())


def _check_env(database: Database, env: Any, caller: identity.Caller) -> None:
    """``params.env`` is an object or the name of a stored environment (400 otherwise)."""
    if env is None or isinstance(env, Mapping):
        return
    if not isinstance(env, str):
        raise errors.InputError(
            f"Unexpected value type for environment [env={env}, type={type(env)}]"
        )
    with database.read() as connection:
        found = queries.get_row(
            connection,
            queries.ENVIRONMENTS,
            where={"name": env},
            conditions=[projects.visible(queries.ENVIRONMENTS, caller)],
        )
    if found is None:
        raise errors.InputError(f"Environment is not found: {env}")

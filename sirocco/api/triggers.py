"""``/v2/cron_triggers`` and ``/v2/event_triggers``: stored here, fired by the scheduler
(cron) and the event listeners (``sirocco.runtime.event_triggers``), or by a POST of an
event to ``/v2/event_triggers/{id}/events`` (Sirocco's extension)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from sirocco import clock, errors
from sirocco.api import bodies, deps, executions, identity, listing, projects, render
from sirocco.api.errors import ApiError
from sirocco.api.render import MistralJSONResponse
from sirocco.store import definitions, queries
from sirocco.store import triggers as stored

router = APIRouter(route_class=deps.StrictRoute, tags=["triggers"])

CRON_FILTERS = (
    "created_at", "name", "updated_at", "workflow_name", "workflow_id", "workflow_input",
    "workflow_params", "scope", "pattern", "remaining_executions", "first_execution_time",
    "next_execution_time", "project_id",
)  # fmt: skip
EVENT_FILTERS = (
    "created_at", "updated_at", "name", "workflow_id", "workflow_input", "workflow_params",
    "exchange", "topic", "event", "scope", "project_id",
)  # fmt: skip
_cron_query = listing.query_dependency(CRON_FILTERS, ("all_projects",))
_event_query = listing.query_dependency(EVENT_FILTERS, ("all_projects",))


def show_cron(row: dict[str, Any], *, only: Any = None, created: bool = False) -> dict[str, Any]:
    """A cron trigger as Mistral shows it."""
    drop = ("updated_at",) if created and row.get("updated_at") is None else ()
    return render.resource(row, render.CRON_TRIGGER, only=only, drop=drop)


def show_event(row: dict[str, Any], *, only: Any = None) -> dict[str, Any]:
    """An event trigger as Mistral shows it."""
    return render.resource(row, render.EVENT_TRIGGER, only=only)


# ---------------------------------------------------------------- cron triggers


@router.post("/v2/cron_triggers", status_code=201)
def create_cron_trigger(
    *,
    cron_trigger: bodies.CronTriggerBody,
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Store a cron trigger; the workflow input is checked against the workflow."""
    if not cron_trigger.name:
        raise errors.InputError("Cron trigger name is required.")
    workflow = cron_trigger.workflow_id or cron_trigger.workflow_name
    if not workflow:
        raise errors.InputError("Workflow name or workflow ID must be provided.")
    with database.transaction() as connection:
        projects.check_workflow(connection, caller, workflow)
        row = stored.create_cron_trigger(
            connection,
            name=cron_trigger.name,
            workflow=workflow,
            workflow_input=bodies.json_object("workflow_input", cron_trigger.workflow_input),
            workflow_params=bodies.json_object("workflow_params", cron_trigger.workflow_params),
            pattern=cron_trigger.pattern,
            first_execution_time=cron_trigger.first_execution_time,
            remaining_executions=cron_trigger.remaining_executions,
            scope=deps.scope_of(cron_trigger.scope, in_body=True),
            now=clock.utcnow_seconds(),
            project_id=caller.project_id,
        )
    return MistralJSONResponse(show_cron(row, created=True), status_code=201)


listing.add_list_route(
    router,
    "/v2/cron_triggers",
    collection="cron_triggers",
    view=queries.CRON_TRIGGERS,
    resource_fields=render.CRON_TRIGGER,
    filters=CRON_FILTERS,
    show=show_cron,
    query=_cron_query,
    description="List cron triggers.",
)


listing.add_get_route(
    router,
    "/v2/cron_triggers/{identifier}",
    name="get_cron_trigger",
    view=queries.CRON_TRIGGERS,
    resource_fields=render.CRON_TRIGGER,
    show=show_cron,
    locate=lambda connection, identifier, _namespace, owner: stored.cron_trigger_id(
        connection, identifier, project_id=owner
    ),
    namespaced=False,
    description="One cron trigger by name (the caller's own first) or id.",
)


listing.add_delete_route(
    router,
    "/v2/cron_triggers/{identifier}",
    name="delete_cron_trigger",
    delete=lambda connection, identifier, _namespace, owner: stored.delete_cron_trigger(
        connection, identifier, project_id=owner
    ),
    namespaced=False,
    description="Delete a cron trigger by name (the caller's own first) or id.",
)


# ---------------------------------------------------------------- event triggers


@router.post("/v2/event_triggers", status_code=201)
def create_event_trigger(
    *,
    request: Request,
    event_trigger: bodies.EventTriggerBody,
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Store an event trigger for a workflow given by id."""
    body = event_trigger
    if not (body.exchange and body.topic and body.event and body.workflow_id):
        raise errors.InputError(
            "Params {'exchange', 'topic', 'event', 'workflow_id'} must be provided for "
            "creating event trigger."
        )
    if not definitions.is_uuid(body.workflow_id):
        raise ApiError(f"Expected a uuid but received {body.workflow_id}.")
    scope = deps.scope_of(body.scope, in_body=True)
    if scope == "public":
        request.app.state.policy.enforce("event_triggers:create:public", caller)
    with database.transaction() as connection:
        projects.check_workflow(connection, caller, body.workflow_id)
        row = stored.create_event_trigger(
            connection,
            name=body.name,
            workflow_id=body.workflow_id,
            exchange=body.exchange,
            topic=body.topic,
            event=body.event,
            workflow_input=bodies.json_object("workflow_input", body.workflow_input),
            workflow_params=bodies.json_object("workflow_params", body.workflow_params),
            scope=scope,
            now=clock.utcnow_seconds(),
            project_id=caller.project_id,
        )
    return MistralJSONResponse(show_event(row), status_code=201)


@router.put("/v2/event_triggers/{identifier}")
def update_event_trigger(
    *,
    request: Request,
    identifier: str,
    event_trigger: bodies.EventTriggerBody,
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Change an event trigger's name, input, params or scope (making it public takes
    the same rule as creating a public one: administrators only, by default)."""
    listing.check_uuid("id", identifier)
    body = event_trigger
    if body.exchange or body.topic or body.event:
        raise errors.InputError(
            "Can not update fields ['exchange', 'topic', 'event'] of event trigger."
        )
    changes: dict[str, Any] = {}
    if body.name is not None:
        changes["name"] = body.name
    if body.workflow_input is not None:
        changes["workflow_input"] = bodies.json_object("workflow_input", body.workflow_input)
    if body.workflow_params is not None:
        changes["workflow_params"] = bodies.json_object("workflow_params", body.workflow_params)
    if body.scope is not None:
        changes["scope"] = deps.scope_of(body.scope, in_body=True)
        if changes["scope"] == "public":
            request.app.state.policy.enforce("event_triggers:create:public", caller)
    with database.transaction() as connection:
        row = stored.update_event_trigger(
            connection, identifier, changes, now=clock.utcnow_seconds()
        )
    return MistralJSONResponse(show_event(row))


listing.add_list_route(
    router,
    "/v2/event_triggers",
    collection="event_triggers",
    view=queries.EVENT_TRIGGERS,
    resource_fields=render.EVENT_TRIGGER,
    filters=EVENT_FILTERS,
    show=show_event,
    query=_event_query,
    description="List event triggers.",
)


listing.add_get_route(
    router,
    "/v2/event_triggers/{identifier}",
    name="get_event_trigger",
    view=queries.EVENT_TRIGGERS,
    resource_fields=render.EVENT_TRIGGER,
    show=show_event,
    locate=lambda _connection, identifier, _namespace, _owner: identifier,
    missing="Event trigger not found [id={identifier}].",
    namespaced=False,
    check=lambda identifier: listing.check_uuid("id", identifier),
    description="One event trigger by id.",
)


@router.post("/v2/event_triggers/{identifier}/events", status_code=201)
def fire_event_trigger(
    *,
    identifier: str,
    event: bodies.EventBody,
    service: deps.ServiceDep,
    caller: identity.CallerDep,
) -> Response:
    """Sirocco's extension: fire an event trigger with the event in the body, as if the
    notification had come from the broker. 201 with the execution it started; 200 with
    the execution a repeated ``message_id`` started before."""
    listing.check_uuid("id", identifier)
    context = dict(event.context or {})
    if caller.authenticated:
        # The caller speaks for its own project and user, not for the ones it names.
        context.update(project_id=caller.project_id, user_id=caller.user_id)
    execution_id, started = service.fire_event_trigger(
        identifier,
        event_type=event.event_type,
        payload={} if event.payload is None else event.payload,
        publisher_id=event.publisher_id,
        timestamp=event.timestamp,
        message_id=event.message_id,
        context=context,
    )
    row = executions.read(service.database, execution_id)
    return MistralJSONResponse(executions.show(row), status_code=201 if started else 200)


listing.add_delete_route(
    router,
    "/v2/event_triggers/{identifier}",
    name="delete_event_trigger",
    delete=lambda connection, identifier, _namespace, _owner: stored.delete_event_trigger(
        connection, identifier
    ),
    namespaced=False,
    check=lambda identifier: listing.check_uuid("id", identifier),
    description="Delete an event trigger by id.",
)

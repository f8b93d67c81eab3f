"""``/v2/actions``: the Python actions of the registry and the stored ad-hoc actions.

Mistral lists both kinds together and pages them in memory, sorted by name;
a Python action's id is its name and it has no definition, scope or times.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from sirocco import clock, errors
from sirocco.api import deps, identity, listing, projects, render
from sirocco.api.render import MistralJSONResponse
from sirocco.store import definitions, queries
from sirocco.store.database import Database

router = APIRouter(route_class=deps.StrictRoute, tags=["actions"])

FILTERS = (
    "created_at", "name", "scope", "tags", "updated_at", "description", "definition",
    "is_system", "input", "namespace",
)  # fmt: skip
_list_query = listing.query_dependency(FILTERS)


def show(row: Mapping[str, Any], *, only: Any = None, created: bool = False) -> dict[str, Any]:
    """An action as Mistral shows it (no ``updated_at`` in the answer to a creation)."""
    return render.resource(
        row,
        render.ACTION,
        only=only,
        drop=("updated_at",) if created else (),
        text_fields=("input",),
    )


def system_row(action: Mapping[str, Any]) -> dict[str, Any]:
    """A registry action as an action row.

    Mistral 23 builds these rows from its action providers and always says
    ``is_system: false`` for them (only its old database rows had the flag).
    """
    return {
        "id": action["name"],
        "name": action["name"],
        "is_system": False,
        "input": action.get("input") or "",
        "description": action.get("description") or "",
        "tags": None,
        "definition": "",
        "scope": action.get("scope"),
        "project_id": action.get("project_id"),
        "created_at": "",
        "updated_at": "",
        "namespace": action.get("namespace") or "",
    }


@router.post("/v2/actions/validate", openapi_extra=deps.TEXT_BODY)
def validate_actions(*, text: deps.TextBody) -> Response:
    """Check an ad-hoc action text."""
    try:
        definitions.validate_actions(text)
    except errors.DefinitionError as exc:
        return MistralJSONResponse({"valid": False, "error": exc.message})
    return MistralJSONResponse({"valid": True})


def _save(
    text: str,
    namespace: str | None,
    scope: str | None,
    database: Database,
    caller: identity.Caller,
    *,
    create: bool,
    identifier: str | None = None,
) -> Response:
    checked_scope = deps.scope_of(scope)
    with database.transaction() as connection:
        rows = definitions.save_actions(
            connection,
            text,
            now=clock.utcnow_seconds(),
            namespace=namespace or "",
            scope=checked_scope,
            create=create,
            identifier=identifier,
            project_id=caller.project_id,
        )
        projects.require_own(
            rows, caller, "Action definition not found [action_name={name}, namespace={namespace}]"
        )
    body = {"actions": [show(row, created=create) for row in rows]}
    return MistralJSONResponse(body, status_code=201 if create else 200)


@router.post("/v2/actions", status_code=201, openapi_extra=deps.TEXT_BODY)
def create_actions(
    *,
    text: deps.TextBody,
    namespace: str | None = None,
    scope: str | None = None,
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Store every ad-hoc action of the text."""
    return _save(text, namespace, scope, database, caller, create=True)


@router.put("/v2/actions", openapi_extra=deps.TEXT_BODY)
def update_actions(
    *,
    text: deps.TextBody,
    namespace: str | None = None,
    scope: str | None = None,
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Replace the ad-hoc actions named in the text."""
    return _save(text, namespace, scope, database, caller, create=False)


@router.put("/v2/actions/{identifier}", openapi_extra=deps.TEXT_BODY)
def update_action(
    *,
    identifier: str,
    text: deps.TextBody,
    namespace: str | None = None,
    scope: str | None = None,
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Replace one ad-hoc action, given by name or id."""
    return _save(text, namespace, scope, database, caller, create=False, identifier=identifier)


@router.get("/v2/actions")
def list_actions(
    *,
    request: Request,
    values: Annotated[dict[str, str | None], Depends(_list_query)],
    service: deps.ServiceDep,
    caller: identity.CallerDep,
) -> Response:
    """Python and ad-hoc actions together, paged in memory."""
    wanted = listing.parse(
        values,
        resource_fields=render.ACTION,
        filters=FILTERS,
        default_sort="name",
        marker_is_uuid=False,
        defaults={"namespace": ""},
    )
    everything = queries.Page(limit=queries.MAX_LIMIT * 100)
    where = projects.list_scope(queries.ACTIONS, caller, values)
    with service.database.read() as connection:
        stored = queries.list_rows(connection, queries.ACTIONS, everything, where=where)
    rows = [_stamped(row) for row in stored]
    rows.extend(system_row(action) for action in service.list_actions() if _visible(action, caller))
    keys, directions = queries.sort_order(queries.ACTIONS, wanted.page)
    page = queries.Page(
        filters=wanted.page.filters,
        tags=wanted.page.tags,
        sort_keys=keys,
        sort_dirs=directions,
        limit=wanted.page.limit,
        marker=wanted.page.marker,
    )
    selected = queries.page_in_memory(rows, page)
    items = [show(row, only=wanted.fields or None) for row in selected]
    return MistralJSONResponse(
        listing.body(request, "actions", wanted, queries.ACTIONS, selected, items)
    )


def _visible(action: Mapping[str, Any], caller: identity.Caller) -> bool:
    """Registry actions are everyone's; a dynamic action is its project's, or public."""
    owner = action.get("project_id")
    if owner is None or not caller.authenticated:
        return True
    return owner == caller.project_id or action.get("scope") == "public"


def _stamped(row: Mapping[str, Any]) -> dict[str, Any]:
    return {key: render.timestamp(value) for key, value in row.items()}


def _find(
    database: Database,
    service: deps.EngineService,
    name: str,
    namespace: str,
    caller: identity.Caller,
) -> dict[str, Any]:
    with database.read() as connection:
        # By id, or by name in the namespace then in the default one (as Mistral 23),
        # the caller's own action first.
        found = definitions.action_id(connection, name, namespace, projects.owner(caller))
        row = (
            None
            if found is None
            else queries.get_row(connection, queries.ACTIONS, where={"id": found})
        )
    if row is not None:
        return row
    for action in service.list_actions():
        in_namespace = (action.get("namespace") or "") in (namespace, "")
        if action["name"] == name and in_namespace and _visible(action, caller):
            return system_row(action)
    raise errors.NotFoundError(f"Action not found [name={name}, namespace={namespace}]")


@router.get("/v2/actions/{name}")
@router.get("/v2/actions/{name}/")
def get_action(
    *,
    name: str,
    service: deps.ServiceDep,
    caller: identity.CallerDep,
    namespace: str | None = None,
) -> Response:
    """One action by name (or id), in ``?namespace=`` or the default namespace."""
    found = _find(service.database, service, name, namespace or "", caller)
    return MistralJSONResponse(show(found))


@router.get("/v2/actions/{name}/{namespace}")
def get_namespaced_action(
    *, name: str, namespace: str, service: deps.ServiceDep, caller: identity.CallerDep
) -> Response:
    """One action by name in a namespace (the client puts the namespace in the path)."""
    return MistralJSONResponse(show(_find(service.database, service, name, namespace, caller)))


def _delete(name: str, namespace: str, database: Database, caller: identity.Caller) -> Response:
    with database.transaction() as connection:
        definitions.delete_action(connection, name, namespace, project_id=projects.owner(caller))
    return Response(status_code=204)


@router.delete("/v2/actions/{name}", status_code=204)
@router.delete("/v2/actions/{name}/", status_code=204)
def delete_action(
    *,
    name: str,
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
    namespace: str | None = None,
) -> Response:
    """Delete an ad-hoc action, in ``?namespace=`` or the default namespace."""
    return _delete(name, namespace or "", database, caller)


@router.delete("/v2/actions/{name}/{namespace}", status_code=204)
def delete_namespaced_action(
    *, name: str, namespace: str, database: deps.DatabaseDep, caller: identity.CallerDep
) -> Response:
    """Delete an ad-hoc action of a namespace."""
    return _delete(name, namespace, database, caller)

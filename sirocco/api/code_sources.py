"""``/v2/code_sources`` and ``/v2/dynamic_actions``: Python code uploaded through the API,
and the actions defined from its classes, with Mistral 23's bodies, codes and arguments.

A code source is the text of a Python module (``POST /v2/code_sources?name=NAME``,
any content type); a dynamic action names one of its classes
(``{"name", "class_name", "code_source_id" | "code_source_name"}``). Both are found
by id, or by name with ``?namespace=``. Mistral's policy makes every operation
administrators' only (``code_sources:*``, ``dynamic_actions:*``): uploading code runs
it on the executors (``docs/security.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from sirocco import clock, errors
from sirocco.api import bodies, deps, identity, listing, projects, render
from sirocco.api.render import MistralJSONResponse
from sirocco.store import code_sources, queries

router = APIRouter(route_class=deps.StrictRoute, tags=["code sources"])

CODE_SOURCE = (
    "id", "name", "namespace", "content", "version", "project_id", "scope", "created_at",
    "updated_at",
)  # fmt: skip
DYNAMIC_ACTION = (
    "id", "name", "namespace", "code_source_id", "code_source_name", "class_name",
    "project_id", "scope", "created_at", "updated_at",
)  # fmt: skip
_CODE_SOURCE_MISSING = "Code Source not found [name={name},namespace={namespace}]"
_DYNAMIC_ACTION_MISSING = "Dynamic Action not found [name={name},namespace={namespace}]"
FILTERS = ("name", "tags", "scope", "project_id", "created_at", "updated_at", "namespace")
_list_query = listing.query_dependency(FILTERS, ("all_projects",))


def _show(order: tuple[str, ...]) -> Any:
    def show(row: dict[str, Any], *, only: Any = None, created: bool = False) -> dict[str, Any]:
        # Mistral leaves the unset updated_at out of a creation's answer.
        drop = ("updated_at",) if created and row.get("updated_at") is None else ()
        return render.resource(row, order, only=only, drop=drop)

    return show


show_code_source = _show(CODE_SOURCE)
show_dynamic_action = _show(DYNAMIC_ACTION)


def _publicize(request: Request, resource: str, scope: str, caller: identity.Caller) -> str:
    """A public scope also needs ``<resource>:publicize`` (Mistral's rule)."""
    if scope == "public":
        request.app.state.policy.enforce(f"{resource}:publicize", caller)
    return scope


def _owner(caller: identity.Caller) -> str | None:
    """The project whose rows a caller reaches (None: authentication off, all rows)."""
    return caller.project_id if caller.authenticated else None


def _add_get_and_delete(
    collection: str,
    *,
    fields: tuple[str, ...],
    get: Callable[..., Any],
    delete: Callable[..., Any],
    show: Callable[..., dict[str, Any]],
    missing: str,
    describe: tuple[str, str],
) -> None:
    """Declare ``GET`` and ``DELETE /v2/<collection>/{identifier}`` (by id, or name and
    ``?namespace=``); both resources answer them alike."""
    singular = collection.removesuffix("s")

    def get_one(
        *,
        identifier: str,
        namespace: str = "",
        fields: str | None = None,
        database: deps.DatabaseDep,
        caller: identity.CallerDep,
    ) -> Response:
        only = listing.selected_fields(fields, resource_fields)
        with database.read() as connection:
            row = get(connection, identifier, namespace, project_id=_owner(caller))
        return MistralJSONResponse(show(row, only=only or None))

    def delete_one(
        *,
        identifier: str,
        namespace: str = "",
        database: deps.DatabaseDep,
        caller: identity.CallerDep,
    ) -> Response:
        with database.transaction() as connection:
            row = delete(connection, identifier, namespace, project_id=_owner(caller))
            projects.require_own([row], caller, missing)
        return Response(status_code=204)

    resource_fields = fields
    path = f"/v2/{collection}/{{identifier}}"
    router.add_api_route(
        path, get_one, methods=["GET"], name=f"get_{singular}", description=describe[0]
    )
    router.add_api_route(
        path,
        delete_one,
        methods=["DELETE"],
        status_code=204,
        name=f"delete_{singular}",
        description=describe[1],
    )


# ---------------------------------------------------------------- code sources


@router.post("/v2/code_sources", status_code=201, openapi_extra=deps.TEXT_BODY)
def create_code_source(
    *,
    request: Request,
    content: deps.TextBody,
    name: str | None = None,
    scope: str | None = None,
    namespace: str = "",
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Store a code source: the body is the module's text."""
    if not name:
        raise errors.InputError('Missing argument: "name"')
    with database.transaction() as connection:
        row = code_sources.create_code_source(
            connection,
            name=name,
            namespace=namespace,
            content=content,
            scope=_publicize(request, "code_sources", deps.scope_of(scope), caller),
            now=clock.utcnow_seconds(),
            project_id=caller.project_id,
        )
    return MistralJSONResponse(show_code_source(row, created=True), status_code=201)


@router.put("/v2/code_sources", openapi_extra=deps.TEXT_BODY)
def update_code_source_named_in_query(
    *,
    request: Request,
    content: deps.TextBody,
    identifier: str | None = None,
    scope: str | None = None,
    namespace: str = "",
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Replace a code source's text, naming it by ``?identifier=`` (the CLI's way)."""
    if not identifier:
        raise errors.InputError('Missing argument: "identifier"')
    return update_code_source(
        request=request,
        identifier=identifier,
        content=content,
        scope=scope,
        namespace=namespace,
        database=database,
        caller=caller,
    )


@router.put("/v2/code_sources/{identifier}", openapi_extra=deps.TEXT_BODY)
def update_code_source(
    *,
    request: Request,
    identifier: str,
    content: deps.TextBody,
    scope: str | None = None,
    namespace: str = "",
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Replace a code source's text (its version goes up; executors load it again)."""
    with database.transaction() as connection:
        row = code_sources.update_code_source(
            connection,
            identifier,
            namespace,
            content=content,
            scope=_publicize(request, "code_sources", deps.scope_of(scope), caller),
            now=clock.utcnow_seconds(),
            project_id=_owner(caller),
        )
        projects.require_own([row], caller, _CODE_SOURCE_MISSING)
    return MistralJSONResponse(show_code_source(row))


listing.add_list_route(
    router,
    "/v2/code_sources",
    collection="code_sources",
    view=queries.CODE_SOURCES,
    resource_fields=CODE_SOURCE,
    filters=FILTERS,
    show=show_code_source,
    query=_list_query,
    description="List code sources.",
)


_add_get_and_delete(
    "code_sources",
    fields=CODE_SOURCE,
    get=code_sources.get_code_source,
    delete=code_sources.delete_code_source,
    show=show_code_source,
    missing=_CODE_SOURCE_MISSING,
    describe=(
        "One code source, by id or by name.",
        "Delete a code source and the dynamic actions defined from it.",
    ),
)


# ---------------------------------------------------------------- dynamic actions


class DynamicActionBody(bodies.Body):
    id: str | None = None
    name: str | None = None
    namespace: str = ""
    code_source_id: str | None = None
    code_source_name: str | None = None
    class_name: str | None = None
    project_id: str | None = None
    scope: str | None = None
    created_at: str | None = None
    updated_at: str | None = None


@router.post("/v2/dynamic_actions", status_code=201)
def create_dynamic_action(
    *,
    request: Request,
    dyn_action: DynamicActionBody,
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Define an action from a class of a code source."""
    if not dyn_action.code_source_id and not dyn_action.code_source_name:
        raise errors.InputError("Either 'code_source_id' or 'code_source_name' must be provided.")
    if not dyn_action.name:
        raise errors.InputError("Dynamic action name is required ('name').")
    if not dyn_action.class_name:
        raise errors.InputError("The class of a dynamic action is required ('class_name').")
    with database.transaction() as connection:
        source = code_sources.get_code_source(
            connection,
            str(dyn_action.code_source_id or dyn_action.code_source_name),
            dyn_action.namespace,
            project_id=_owner(caller),
        )
        row = code_sources.create_dynamic_action(
            connection,
            name=dyn_action.name,
            namespace=dyn_action.namespace,
            class_name=dyn_action.class_name,
            code_source=source,
            scope=_publicize(
                request,
                "dynamic_actions",
                deps.scope_of(dyn_action.scope, in_body=True),
                caller,
            ),
            now=clock.utcnow_seconds(),
            project_id=caller.project_id,
        )
    return MistralJSONResponse(show_dynamic_action(row, created=True), status_code=201)


@router.put("/v2/dynamic_actions")
def update_dynamic_action(
    *,
    request: Request,
    dyn_action: DynamicActionBody,
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Change a dynamic action named (or identified) in the body."""
    if not dyn_action.id and not dyn_action.name:
        raise errors.InputError("Either 'name' or 'id' must be provided.")
    changes: dict[str, Any] = {}
    if dyn_action.class_name:
        changes["class_name"] = dyn_action.class_name
    if dyn_action.scope:
        scope = deps.scope_of(dyn_action.scope, in_body=True)
        changes["scope"] = _publicize(request, "dynamic_actions", scope, caller)
    with database.transaction() as connection:
        if dyn_action.code_source_id or dyn_action.code_source_name:
            source = code_sources.get_code_source(
                connection,
                str(dyn_action.code_source_id or dyn_action.code_source_name),
                dyn_action.namespace,
                project_id=_owner(caller),
            )
            changes["code_source_id"] = source["id"]
            changes["code_source_name"] = source["name"]
        row = code_sources.update_dynamic_action(
            connection,
            str(dyn_action.id or dyn_action.name),
            dyn_action.namespace,
            changes,
            now=clock.utcnow_seconds(),
            project_id=_owner(caller),
        )
        projects.require_own([row], caller, _DYNAMIC_ACTION_MISSING)
    return MistralJSONResponse(show_dynamic_action(row))


listing.add_list_route(
    router,
    "/v2/dynamic_actions",
    collection="dynamic_actions",
    view=queries.DYNAMIC_ACTIONS,
    resource_fields=DYNAMIC_ACTION,
    filters=FILTERS,
    show=show_dynamic_action,
    query=_list_query,
    description="List dynamic actions.",
)


_add_get_and_delete(
    "dynamic_actions",
    fields=DYNAMIC_ACTION,
    get=code_sources.get_dynamic_action,
    delete=code_sources.delete_dynamic_action,
    show=show_dynamic_action,
    missing=_DYNAMIC_ACTION_MISSING,
    describe=("One dynamic action, by id or by name.", "Delete a dynamic action."),
)

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
from sirocco.store import code_sources
from sirocco.store.database import Connection

router = APIRouter(route_class=deps.StrictRoute, tags=["code sources"])

CODE_SOURCE = (
    "id", "name", "namespace", "content", "version", "project_id", "scope", "created_at",
    "updated_at",
)  # fmt: skip
DYNAMIC_ACTION = (
    "id", "name", "namespace", "code_source_id", "code_source_name", "class_name",
    "project_id", "scope", "created_at", "updated_at",
)  # fmt: skip
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


def _add_read_and_delete_routes(
    collection: str,
    kind: code_sources.Kind,
    *,
    fields: tuple[str, ...],
    show: Callable[..., dict[str, Any]],
    describe: tuple[str, str, str],
) -> None:
    """Declare ``GET /v2/<collection>`` (a page), and ``GET`` and ``DELETE
    /v2/<collection>/{identifier}`` (by id, or name and ``?namespace=``): both resources
    answer them alike. ``describe``: the three routes' descriptions."""
    singular = collection.removesuffix("s")
    listing.add_list_route(
        router,
        f"/v2/{collection}",
        collection=collection,
        view=kind.view,
        resource_fields=fields,
        filters=FILTERS,
        show=show,
        query=_list_query,
        description=describe[0],
    )
    path = f"/v2/{collection}/{{identifier}}"
    listing.add_get_route(
        router,
        path,
        name=f"get_{singular}",
        view=kind.view,
        resource_fields=fields,
        show=show,
        locate=lambda connection, identifier, namespace, owner: code_sources.find_id(
            connection, kind, identifier, namespace, owner
        ),
        missing=kind.missing,
        namespace_default="",
        description=describe[1],
    )

    listing.add_delete_route(
        router,
        path,
        name=f"delete_{singular}",
        delete=lambda connection, identifier, namespace, owner: _delete(
            connection, kind, identifier, namespace, owner
        ),
        namespace_default="",
        description=describe[2],
    )


def _delete(
    connection: Connection,
    kind: code_sources.Kind,
    identifier: str,
    namespace: str,
    owner: str | None,
) -> None:
    """Delete the row of ``kind``; another project's is refused (404, or 403 when public)
    inside the transaction, so nothing stays deleted."""
    row = code_sources.delete(connection, kind, identifier, namespace, project_id=owner)
    if owner is not None:  # authenticated: ``owner`` is the caller's project
        projects.require_own([row], identity.Caller(project_id=owner), kind.missing)


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
        row = code_sources.create(
            connection,
            code_sources.CODE_SOURCE,
            name=name,
            namespace=namespace,
            values={"content": content},
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
        row = code_sources.update(
            connection,
            code_sources.CODE_SOURCE,
            identifier,
            namespace,
            {
                "content": content,
                "scope": _publicize(request, "code_sources", deps.scope_of(scope), caller),
            },
            now=clock.utcnow_seconds(),
            project_id=projects.owner(caller),
        )
        projects.require_own([row], caller, code_sources.CODE_SOURCE.missing)
    return MistralJSONResponse(show_code_source(row))


_add_read_and_delete_routes(
    "code_sources",
    code_sources.CODE_SOURCE,
    fields=CODE_SOURCE,
    show=show_code_source,
    describe=(
        "List code sources.",
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
        source = code_sources.get(
            connection,
            code_sources.CODE_SOURCE,
            str(dyn_action.code_source_id or dyn_action.code_source_name),
            dyn_action.namespace,
            project_id=projects.owner(caller),
        )
        row = code_sources.create(
            connection,
            code_sources.DYNAMIC_ACTION,
            name=dyn_action.name,
            namespace=dyn_action.namespace,
            values={
                "class_name": dyn_action.class_name,
                "code_source_id": source["id"],
                "code_source_name": source["name"],
            },
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
            source = code_sources.get(
                connection,
                code_sources.CODE_SOURCE,
                str(dyn_action.code_source_id or dyn_action.code_source_name),
                dyn_action.namespace,
                project_id=projects.owner(caller),
            )
            changes["code_source_id"] = source["id"]
            changes["code_source_name"] = source["name"]
        row = code_sources.update(
            connection,
            code_sources.DYNAMIC_ACTION,
            str(dyn_action.id or dyn_action.name),
            dyn_action.namespace,
            changes,
            now=clock.utcnow_seconds(),
            project_id=projects.owner(caller),
        )
        projects.require_own([row], caller, code_sources.DYNAMIC_ACTION.missing)
    return MistralJSONResponse(show_dynamic_action(row))


_add_read_and_delete_routes(
    "dynamic_actions",
    code_sources.DYNAMIC_ACTION,
    fields=DYNAMIC_ACTION,
    show=show_dynamic_action,
    describe=(
        "List dynamic actions.",
        "One dynamic action, by id or by name.",
        "Delete a dynamic action.",
    ),
)

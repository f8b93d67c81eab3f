"""``/v2/workflows``: upload, validate, list, get, update and delete workflow definitions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from sirocco import clock, errors
from sirocco.api import deps, identity, listing, projects, render
from sirocco.api.render import MistralJSONResponse
from sirocco.store import definitions, queries

router = APIRouter(route_class=deps.StrictRoute, tags=["workflows"])

_MISSING = "Workflow not found [workflow_identifier={name}, namespace={namespace}]"

FILTERS = (
    "created_at", "name", "scope", "tags", "updated_at", "input", "definition", "project_id",
    "namespace",
)  # fmt: skip
_list_query = listing.query_dependency(FILTERS, ("all_projects",))


def show(
    row: dict[str, Any], *, uploaded: bool = False, created: bool = False, only: Any = None
) -> dict[str, Any]:
    """A workflow as Mistral shows it (uploads: ``interface`` as an object; the answer to a
    creation has no ``updated_at``, the answer to a replacement shows it, null if unchanged)."""
    return render.resource(
        row,
        render.WORKFLOW,
        only=only,
        drop=("updated_at",) if created else (),
        objects=("interface",) if uploaded else (),
        text_fields=("input",),
    )


@router.post("/v2/workflows/validate", openapi_extra=deps.TEXT_BODY)
def validate_workflows(*, text: deps.TextBody) -> Response:
    """Check a workflow text: ``{"valid": true}`` or ``{"valid": false, "error": ...}``."""
    try:
        definitions.validate_workflows(text)
    except errors.DefinitionError as exc:
        return MistralJSONResponse({"valid": False, "error": exc.message})
    return MistralJSONResponse({"valid": True})


@router.post("/v2/workflows", status_code=201, openapi_extra=deps.TEXT_BODY)
def create_workflows(
    *,
    text: deps.TextBody,
    namespace: str | None = None,
    scope: str | None = None,
    skip_validation: str | None = None,
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Store every workflow of the text."""
    checked_scope = deps.scope_of(scope)
    with database.transaction() as connection:
        rows = definitions.create_workflows(
            connection,
            text,
            now=clock.utcnow_seconds(),
            namespace=namespace or "",
            scope=checked_scope,
            project_id=caller.project_id,
        )
    body = {"workflows": [show(row, uploaded=True, created=True) for row in rows]}
    return MistralJSONResponse(body, status_code=201)


@router.put("/v2/workflows", openapi_extra=deps.TEXT_BODY)
def update_workflows(
    *,
    text: deps.TextBody,
    namespace: str | None = None,
    scope: str | None = None,
    skip_validation: str | None = None,
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Replace the workflows named in the text."""
    checked_scope = deps.scope_of(scope)
    with database.transaction() as connection:
        rows = definitions.update_workflows(
            connection,
            text,
            now=clock.utcnow_seconds(),
            namespace=namespace or "",
            scope=checked_scope,
            project_id=projects.owner(caller),
            # Checked before the change: the row's scope as stored decides 403 or 404.
            check=lambda row: projects.require_own(
                [row], caller, _MISSING, projects.FORBIDDEN_WORDS["/v2/workflows/"]
            ),
        )
    return MistralJSONResponse({"workflows": [show(row, uploaded=True) for row in rows]})


@router.put("/v2/workflows/{identifier}", openapi_extra=deps.TEXT_BODY)
def update_workflow(
    *,
    identifier: str,
    text: deps.TextBody,
    namespace: str | None = None,
    scope: str | None = None,
    skip_validation: str | None = None,
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Replace one workflow, given by id (or by name: the caller's own first)."""
    checked_scope = deps.scope_of(scope)
    with database.transaction() as connection:
        rows = definitions.update_workflows(
            connection,
            text,
            now=clock.utcnow_seconds(),
            namespace=namespace or "",
            scope=checked_scope,
            identifier=identifier,
            project_id=projects.owner(caller),
        )
    return MistralJSONResponse(show(rows[0], uploaded=True))


listing.add_list_route(
    router,
    "/v2/workflows",
    collection="workflows",
    view=queries.WORKFLOWS,
    resource_fields=render.WORKFLOW,
    filters=FILTERS,
    show=show,
    query=_list_query,
    description="List workflows with Mistral's filters and paging.",
)


listing.add_get_route(
    router,
    "/v2/workflows/{identifier}",
    name="get_workflow",
    view=queries.WORKFLOWS,
    resource_fields=render.WORKFLOW,
    show=show,
    locate=lambda connection, identifier, namespace, owner: definitions.get_workflow_row(
        connection, identifier, namespace, project_id=owner
    )["id"],
    description="One workflow by name (in a namespace; the caller's own first) or id.",
)


listing.add_delete_route(
    router,
    "/v2/workflows/{identifier}",
    name="delete_workflow",
    delete=lambda connection, identifier, namespace, owner: definitions.delete_workflow(
        connection, identifier, namespace, project_id=owner
    ),
    description="Delete a workflow (refused while triggers use it).",
)

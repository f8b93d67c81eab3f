"""``/v2/workbooks``: upload, validate, list, get, update and delete workbooks."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from sirocco import clock, errors
from sirocco.api import deps, identity, listing, projects, render
from sirocco.api.render import MistralJSONResponse
from sirocco.store import definitions, queries
from sirocco.store.database import Database

router = APIRouter(route_class=deps.StrictRoute, tags=["workbooks"])

FILTERS = ("created_at", "definition", "name", "scope", "tags", "updated_at", "namespace")
_list_query = listing.query_dependency(FILTERS)


def show(row: dict[str, Any], *, only: Any = None, created: bool = False) -> dict[str, Any]:
    """A workbook as Mistral shows it (no ``updated_at`` in the answer to a creation)."""
    return render.resource(row, render.WORKBOOK, only=only, drop=("updated_at",) if created else ())


@router.post("/v2/workbooks/validate", openapi_extra=deps.TEXT_BODY)
def validate_workbook(*, text: deps.TextBody) -> Response:
    """Check a workbook text."""
    try:
        definitions.validate_workbook(text)
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
) -> Response:
    checked_scope = deps.scope_of(scope)
    with database.transaction() as connection:
        row = definitions.save_workbook(
            connection,
            text,
            now=clock.utcnow_seconds(),
            namespace=namespace or "",
            scope=checked_scope,
            create=create,
            project_id=caller.project_id,
        )
        projects.require_own(
            [row], caller, "Workbook not found [name={name}, namespace={namespace}]"
        )
    return MistralJSONResponse(show(row, created=create), status_code=201 if create else 200)


@router.post("/v2/workbooks", status_code=201, openapi_extra=deps.TEXT_BODY)
def create_workbook(
    *,
    text: deps.TextBody,
    namespace: str | None = None,
    scope: str | None = None,
    skip_validation: str | None = None,
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Store a workbook with its workflows and actions."""
    return _save(text, namespace, scope, database, caller, create=True)


@router.put("/v2/workbooks", openapi_extra=deps.TEXT_BODY)
def update_workbook(
    *,
    text: deps.TextBody,
    namespace: str | None = None,
    scope: str | None = None,
    skip_validation: str | None = None,
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Replace a workbook (named in the text) and store its workflows and actions again."""
    return _save(text, namespace, scope, database, caller, create=False)


listing.add_list_route(
    router,
    "/v2/workbooks",
    collection="workbooks",
    view=queries.WORKBOOKS,
    resource_fields=render.WORKBOOK,
    filters=FILTERS,
    show=show,
    query=_list_query,
    description="List workbooks.",
)


listing.add_get_route(
    router,
    "/v2/workbooks/{name}",
    name="get_workbook",
    view=queries.WORKBOOKS,
    resource_fields=render.WORKBOOK,
    show=show,
    locate=definitions.workbook_id,
    missing="Workbook not found [name={name}, namespace={namespace}]",
    description="One workbook by name (the caller's own first).",
)


listing.add_delete_route(
    router,
    "/v2/workbooks/{name}",
    name="delete_workbook",
    delete=lambda connection, name, namespace, owner: definitions.delete_workbook(
        connection, name, namespace, project_id=owner
    ),
    description="Delete a workbook; its workflows and actions stay.",
)

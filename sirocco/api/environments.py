"""``/v2/environments``: named sets of variables that executions can use as ``env``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from sirocco import clock, errors
from sirocco.api import bodies, deps, identity, listing, projects, render
from sirocco.api.render import MistralJSONResponse
from sirocco.store import definitions, queries

router = APIRouter(route_class=deps.StrictRoute, tags=["environments"])

FILTERS = ("created_at", "name", "updated_at", "description", "variables", "scope")
_list_query = listing.query_dependency(FILTERS)


def show(row: dict[str, Any], *, only: Any = None, created: bool = False) -> dict[str, Any]:
    """An environment as Mistral shows it (on creation, unset fields are left out)."""
    drop = [name for name in ("description", "variables", "updated_at") if row.get(name) is None]
    return render.resource(row, render.ENVIRONMENT, only=only, drop=drop if created else ())


@router.post("/v2/environments", status_code=201)
def create_environment(
    *, env: bodies.EnvironmentBody, database: deps.DatabaseDep, caller: identity.CallerDep
) -> Response:
    """Store an environment."""
    if not env.name:
        raise errors.InputError("Environment name is required.")
    variables = bodies.json_object("variables", env.variables)
    with database.transaction() as connection:
        row = definitions.create_environment(
            connection,
            name=env.name,
            description=env.description,
            variables=variables,
            scope=deps.scope_of(env.scope, in_body=True),
            now=clock.utcnow_seconds(),
            project_id=caller.project_id,
        )
    return MistralJSONResponse(show(row, created=True), status_code=201)


@router.put("/v2/environments")
def update_environment(
    *, env: bodies.EnvironmentBody, database: deps.DatabaseDep, caller: identity.CallerDep
) -> Response:
    """Change an environment named in the body."""
    if not env.name:
        raise errors.InputError("Name of the environment is not provided.")
    changes: dict[str, Any] = {}
    given = env.model_fields_set
    if "description" in given:
        changes["description"] = env.description
    if "variables" in given and env.variables is not None:
        changes["variables"] = bodies.json_object("variables", env.variables)
    if "scope" in given and env.scope is not None:
        changes["scope"] = deps.scope_of(env.scope, in_body=True)
    with database.transaction() as connection:
        row = definitions.update_environment(
            connection,
            env.name,
            changes,
            now=clock.utcnow_seconds(),
            project_id=projects.owner(caller),
        )
        projects.require_own([row], caller, "Environment not found [name={name}]")
    return MistralJSONResponse(show(row))


listing.add_list_route(
    router,
    "/v2/environments",
    collection="environments",
    view=queries.ENVIRONMENTS,
    resource_fields=render.ENVIRONMENT,
    filters=FILTERS,
    show=show,
    query=_list_query,
    description="List environments.",
)


listing.add_get_route(
    router,
    "/v2/environments/{name}",
    name="get_environment",
    view=queries.ENVIRONMENTS,
    resource_fields=render.ENVIRONMENT,
    show=show,
    locate=lambda connection, name, _namespace, owner: definitions.environment_id(
        connection, name, owner
    ),
    missing="Environment not found [name={name}]",
    namespaced=False,
    description="One environment by name (the caller's own first).",
)


listing.add_delete_route(
    router,
    "/v2/environments/{name}",
    name="delete_environment",
    delete=lambda connection, name, _namespace, owner: definitions.delete_environment(
        connection, name, project_id=owner
    ),
    namespaced=False,
    description="Delete an environment (the caller's own first).",
)

"""The FastAPI application serving Mistral's REST API v2 over a Sirocco engine service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.responses import Response

from sirocco import clock
from sirocco.api import (
    action_executions,
    actions,
    code_sources,
    deps,
    environments,
    errors,
    executions,
    guard,
    health,
    hot,
    identity,
    info,
    maintenance,
    members,
    openapi,
    projects,
    tasks,
    token_endpoint,
    triggers,
    workbooks,
    workflows,
)
from sirocco.api.policy import Policy
from sirocco.api.render import MistralJSONResponse
from sirocco.api.ui import negotiation, site
from sirocco.limits import DEFAULT as DEFAULT_LIMITS
from sirocco.limits import Limits
from sirocco.runtime.maintenance import Maintenance


async def _checks(request: Request) -> None:
    """Who calls (401), whether maintenance mode lets the request through (423), may the
    caller make it and is the resource theirs (403), in Mistral's order: one dependency
    with none of its own. FastAPI solves every dependency of every request, a cached
    one again too (a ``Depends`` inside a dependency costs as much as one beside it),
    so the caller is found here directly and kept on the request (``identity.caller``)."""
    caller = await identity.caller(request)
    await maintenance.refuse_changes(request)
    await projects.checks(request, caller)


#: What every /v2 resource route checks first.
_CHECKS = [Depends(_checks)]

_root = APIRouter(route_class=deps.StrictRoute, tags=["versions"])


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@_root.get("/")
def versions(request: Request) -> Response:
    """The API versions this server speaks (only v2); a browser is sent to the web view."""
    if negotiation.prefers_html(request.headers.get("accept")):
        response = site.home(request)
    else:
        link = {"href": f"{_base(request)}/v2", "target": "v2", "rel": "self"}
        version = {"id": "v2.0", "status": "CURRENT", "links": [link]}
        response = MistralJSONResponse({"versions": [version]})
    response.headers["Vary"] = "Accept"
    return response


@_root.get("/v2")
@_root.get("/v2/")
def version_2(request: Request) -> Response:
    """The root of API v2."""
    return MistralJSONResponse({"uri": f"{_base(request)}/v2"})


def create_app(
    service: deps.EngineService,
    *,
    allow_action_execution_deletion: bool = False,
    gate: identity.Gate | None = None,
    policy: Policy | None = None,
    limits: Limits = DEFAULT_LIMITS,
    readiness: Callable[[], Any] | None = None,
    info_settings: info.InfoSettings | None = None,
) -> FastAPI:
    """The API application for one engine service.

    Args:
        service: what starts, changes and deletes executions and runs actions
            (``sirocco.runtime.service.Service``); its ``database`` serves the reads.
        allow_action_execution_deletion: let ``DELETE /v2/action_executions/{id}``
            delete completed standalone action executions (Mistral's
            ``[api] allow_action_execution_deletion``, off by default: 403).
        gate: how callers prove who they are (``sirocco.api.authentication``);
            None: no authentication, every caller is the default project's admin.
        policy: who may do what (Mistral's defaults when None).
        limits: the request body limit (``request_max_bytes``, 413 above it)
            and the field size limit checked on the way in.
        readiness: what ``GET /ready`` asks (``sirocco.runtime.health.Health.report``);
            without it the API is ready whenever it answers.
        info_settings: whether ``GET /info`` serves a JSON file, and which
            (Mistral's ``[api] enable_info_endpoint``, off by default).

    Returns:
        The FastAPI application (serve it with uvicorn).
    """
    app = FastAPI(
        title="Sirocco",
        summary="OpenStack Mistral's REST API v2, served by Sirocco.",
        version="2.0",
        default_response_class=MistralJSONResponse,
    )
    app.state.service = service
    app.openapi = lambda: openapi.document(app)  # type: ignore[method-assign]
    app.state.allow_action_execution_deletion = allow_action_execution_deletion
    app.state.gate = gate
    app.state.policy = policy or Policy.defaults()
    app.state.limits = limits
    app.state.readiness = readiness
    app.state.info = info_settings or info.InfoSettings()
    app.state.maintenance = Maintenance(service.database, service, clock.utcnow)
    errors.install(app)
    app.add_middleware(guard.BodyLimit, limit=limits.request_max_bytes)
    # In front of the body limit (it checks the limit itself): plain starts and polls of
    # one execution are answered without FastAPI's routing and dependencies (hot.py).
    app.add_middleware(hot.HotRoutes, api=app)
    # Routes are tried in order and no two routers share a path prefix: the busiest
    # (executions, polled by every client) come first.
    for module in (
        members,
        executions,
        tasks,
        action_executions,
        workflows,
        workbooks,
        actions,
        environments,
        triggers,
        code_sources,
    ):
        # Every /v2 resource route needs a caller (401 otherwise); the routes that
        # use it take it again as a parameter (found once a request, see ``_checks``).
        app.include_router(module.router, dependencies=_CHECKS)
    site.install(app)
    app.include_router(_root)
    if gate is not None and getattr(gate, "mode", None) == "tokens":
        app.include_router(token_endpoint.router)
    app.include_router(health.router)
    app.include_router(info.router)  # no token, as in Mistral
    app.include_router(maintenance.router, dependencies=[Depends(identity.caller)])
    return app

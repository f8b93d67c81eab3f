"""``GET``/``PUT /maintenance``: Mistral 23's maintenance mode, and the check that refuses
changes while it is on.

As in Mistral the routes live at the root (``/maintenance``, not under ``/v2``) and
need a valid token when authentication is on. Mistral lets any authenticated caller
switch the whole cluster into maintenance; Sirocco asks the policy rule
``maintenance:update`` (administrators by default, ``docs/security.md``).

While the mode is not ``RUNNING`` every request that changes something under
``/v2`` answers ``423 Locked`` with Mistral's sentence (also in the
``Server-Error-Message`` header), except the two Mistral allows: completing an
action execution (``PUT /v2/action_executions/...``) while ``PAUSING``, so that
asynchronous actions can finish, and cancelling an execution
(``PUT /v2/executions/... {"state": "CANCELLED"}``). Reads always pass.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.responses import Response

from sirocco.api import deps, identity
from sirocco.api.render import MistralJSONResponse
from sirocco.runtime import maintenance as mode
from sirocco.runtime.maintenance import Maintenance

# Not a StrictRoute: Mistral ignores query arguments here.
router = APIRouter(tags=["maintenance"])

_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def _maintenance(request: Request) -> Maintenance:
    found: Maintenance = request.app.state.maintenance
    return found


@router.get("/maintenance")
def get_maintenance(request: Request) -> Response:
    """The cluster's maintenance status: ``RUNNING``, ``PAUSING`` or ``PAUSED``."""
    return MistralJSONResponse({"status": _maintenance(request).refresh()})


@router.put("/maintenance")
async def put_maintenance(request: Request, caller: identity.CallerDep) -> Response:
    """Turn maintenance on (``{"status": "PAUSED"}``) or off (``{"status": "RUNNING"}``)."""
    request.app.state.policy.enforce("maintenance:update", caller)
    requested = _requested(await request.body())
    status = await run_in_threadpool(_maintenance(request).change, requested)
    return MistralJSONResponse({"status": status})


def _requested(body: bytes) -> Any:
    if not body.strip():
        raise HTTPException(400, 'Missing argument: "new_maintenance_status"')
    try:
        given = json.loads(body)
    except ValueError:
        raise HTTPException(400, "Request is not in valid JSON format") from None
    if not isinstance(given, dict):
        raise HTTPException(
            400, "Invalid input for argument new_maintenance_status: a JSON object is expected."
        )
    unknown = sorted(set(given) - {"status"})
    if unknown:
        raise HTTPException(
            400, f"Unknown attribute for argument new_maintenance_status: {', '.join(unknown)}"
        )
    return given.get("status")


async def refuse_changes(request: Request) -> None:
    """423 for a changing ``/v2`` request while maintenance is on (a router dependency)."""
    if request.method in _READS:
        return
    maintenance: Maintenance | None = getattr(request.app.state, "maintenance", None)
    if maintenance is None:
        return
    status = await deps.off_the_loop(maintenance.database, maintenance.status)
    if status == mode.RUNNING:
        return
    if status == mode.PAUSING:
        status = await run_in_threadpool(maintenance.refresh)
    if await _allowed(request, status):
        return
    message = f"Current Mistral state is {status}. Method is not allowed"
    raise HTTPException(423, message, headers={"Server-Error-Message": message})


async def _allowed(request: Request, status: str) -> bool:
    path = request.url.path
    if status == mode.RUNNING:
        return True
    if request.method != "PUT":
        return False
    if "/v2/action_executions" in path:
        return status == mode.PAUSING
    if "/v2/executions" in path:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return False
        return isinstance(body, dict) and body.get("state") == "CANCELLED"
    return False

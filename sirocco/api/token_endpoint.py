"""A Keystone v3 token endpoint for built-in tokens, at ``/identity/v3``.

python-mistralclient's CLI never sends ``--os-auth-token`` as it is: it hands
the token to keystoneauth, which exchanges it at ``--os-auth-url`` (default
``http://localhost:35357/v3``) for a scoped token and a service catalog. So
that the unchanged CLI works with ``--auth tokens``, Sirocco answers that
exchange itself: ``mistral --os-auth-url http://HOST:8989/identity/v3
--os-auth-token TOKEN ...``. The answer is the same token, its project and
role, and a catalog whose ``workflowv2`` endpoint is this server's ``/v2``.
Passwords are not accepted: 401. ``/identity`` (without the version) answers
Keystone's list of versions, so ``--os-auth-url http://HOST:8989/identity``
works too, as an unversioned Keystone URL does.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from sirocco import clock
from sirocco.api.authentication import Gate, Unauthorized

router = APIRouter(tags=["identity"], include_in_schema=False)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _v3(request: Request) -> dict[str, Any]:
    """Keystone's description of its v3 API, pointing at this server's ``/identity/v3/``."""
    return {
        "id": "v3.14",
        "status": "stable",
        "updated": "2020-04-07T00:00:00Z",
        "links": [{"rel": "self", "href": f"{_base(request)}/identity/v3/"}],
        "media-types": [
            {"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}
        ],
    }


@router.get("/identity")
@router.get("/identity/")
def versions(request: Request) -> Response:
    """Keystone's list of versions (v3 only), for discovery from an unversioned URL."""
    return JSONResponse({"versions": {"values": [_v3(request)]}}, status_code=300)


@router.get("/identity/v3")
@router.get("/identity/v3/")
def version(request: Request) -> Response:
    """Keystone's version document, for keystoneauth's discovery."""
    return JSONResponse({"version": _v3(request)})


@router.post("/identity/v3/auth/tokens")
async def exchange(request: Request) -> Response:
    """Exchange a built-in token (method ``token``) for itself, with its scope and catalog."""
    gate: Gate = request.app.state.gate
    try:
        body = await request.json()
        token = body["auth"]["identity"]["token"]["id"]
        methods = body["auth"]["identity"]["methods"]
    except (ValueError, KeyError, TypeError):
        raise Unauthorized() from None
    if not isinstance(token, str) or "token" not in methods or gate.authenticator is None:
        raise Unauthorized()
    caller = await run_in_threadpool(gate.authenticator.identify, token)
    now = clock.utcnow_seconds().replace(tzinfo=UTC)
    endpoint = f"{_base(request)}/v2"
    scoped: dict[str, Any] = {
        "methods": ["token"],
        "issued_at": now.isoformat().replace("+00:00", ".000000Z"),
        "expires_at": (now + timedelta(hours=1)).isoformat().replace("+00:00", ".000000Z"),
        "user": {"id": caller.user_id or "sirocco", "name": "sirocco", "domain": _DOMAIN},
        "project": {"id": caller.project_id, "name": caller.project_id, "domain": _DOMAIN},
        "roles": [{"id": role, "name": role} for role in sorted(caller.roles)],
        "catalog": [
            {
                "id": "sirocco",
                "type": "workflowv2",
                "name": "mistral",
                "endpoints": [
                    {
                        "id": f"sirocco-{interface}",
                        "interface": interface,
                        "region": "RegionOne",
                        "region_id": "RegionOne",
                        "url": endpoint,
                    }
                    for interface in ("public", "internal", "admin")
                ],
            }
        ],
    }
    return JSONResponse({"token": scoped}, status_code=201, headers={"X-Subject-Token": token})


_DOMAIN = {"id": "default", "name": "Default"}

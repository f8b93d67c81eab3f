"""``/v2/workflows/{id}/members``: share a private workflow with another project (Mistral's routes).

Sharing needs authentication, as in Mistral: without it every route answers
400. The workflow is given by id. See :mod:`sirocco.store.members` for who may
do what.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from sirocco import clock, errors
from sirocco.api import bodies, deps, identity, render
from sirocco.api.render import MistralJSONResponse
from sirocco.store import members

router = APIRouter(route_class=deps.StrictRoute, tags=["members"])


def _checked(caller: identity.Caller) -> identity.Caller:
    if not caller.authenticated:
        raise errors.InputError(
            "Resource sharing feature can only be supported with authentication enabled."
        )
    return caller


def show(row: dict[str, Any]) -> dict[str, Any]:
    return render.resource(row, members.FIELDS)


@router.post("/v2/workflows/{identifier}/members", status_code=201)
def create_member(
    *,
    identifier: str,
    member: bodies.MemberBody,
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """Share the workflow with project ``member_id`` (pending until it accepts)."""
    project = _checked(caller).project_id
    if not member.member_id:
        raise errors.InputError("Member id must be provided.")
    with database.transaction() as connection:
        row = members.create(
            connection,
            workflow_id=identifier,
            member_id=member.member_id,
            project_id=project,
            now=clock.utcnow_seconds(),
        )
    return MistralJSONResponse(show(row), status_code=201)


@router.get("/v2/workflows/{identifier}/members")
def list_members(
    *, identifier: str, database: deps.DatabaseDep, caller: identity.CallerDep
) -> Response:
    """The workflow's members (the owner sees all; a member its own)."""
    project = _checked(caller).project_id
    with database.read() as connection:
        rows = members.list_all(connection, workflow_id=identifier, project_id=project)
    return MistralJSONResponse({"members": [show(row) for row in rows]})


@router.get("/v2/workflows/{identifier}/members/{member_id}")
def get_member(
    *, identifier: str, member_id: str, database: deps.DatabaseDep, caller: identity.CallerDep
) -> Response:
    project = _checked(caller).project_id
    with database.read() as connection:
        row = members.get(
            connection, workflow_id=identifier, member_id=member_id, project_id=project
        )
    return MistralJSONResponse(show(row))


@router.put("/v2/workflows/{identifier}/members/{member_id}")
def update_member(
    *,
    identifier: str,
    member_id: str,
    member: bodies.MemberBody,
    database: deps.DatabaseDep,
    caller: identity.CallerDep,
) -> Response:
    """The member project accepts or rejects the share."""
    project = _checked(caller).project_id
    if not member.status:
        raise errors.InputError("Status must be provided.")
    if member.status not in members.STATUSES:
        raise errors.InputError(
            f"Invalid input for field/attribute status. Value: '{member.status}'. "
            f"Value should be one of: {', '.join(members.STATUSES)}"
        )
    with database.transaction() as connection:
        row = members.set_status(
            connection,
            workflow_id=identifier,
            member_id=member_id,
            project_id=project,
            status=member.status,
            now=clock.utcnow_seconds(),
        )
    return MistralJSONResponse(show(row))


@router.delete("/v2/workflows/{identifier}/members/{member_id}", status_code=204)
def delete_member(
    *, identifier: str, member_id: str, database: deps.DatabaseDep, caller: identity.CallerDep
) -> Response:
    """The owner stops sharing the workflow with ``member_id``."""
    project = _checked(caller).project_id
    with database.transaction() as connection:
        members.delete(connection, workflow_id=identifier, member_id=member_id, project_id=project)
    return Response(status_code=204)

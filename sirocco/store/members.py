"""Workflow members: a private workflow shared by its project with another project.

The owner adds a member (``pending``); the member project accepts or rejects
(``accepted``/``rejected``); an accepted member reads the workflow and starts
executions of it. Both the owner and the member see the membership; only the
owner removes it; only the member changes its status (Mistral's rules, with
its messages).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sirocco import errors, ids
from sirocco.store import tables

STATUSES = ("pending", "accepted", "rejected")
FIELDS = (
    "id", "resource_id", "resource_type", "project_id", "member_id", "status", "created_at",
    "updated_at",
)  # fmt: skip

_members = tables.resource_members
_workflow_definitions = tables.workflow_definitions


def _missing(resource_id: str, member_id: str) -> errors.NotFoundError:
    return errors.NotFoundError(
        f"Resource member not found [resource_id={resource_id}, member_id={member_id}]"
    )


def _seen_by(project_id: str) -> sa.ColumnElement[bool]:
    """Memberships a project sees: those of its workflows, and its own."""
    return sa.or_(_members.c.project_id == project_id, _members.c.member_id == project_id)


def create(
    connection: sa.Connection,
    *,
    workflow_id: str,
    member_id: str,
    project_id: str,
    now: datetime,
) -> dict[str, Any]:
    """Share the caller's private workflow with ``member_id`` (``pending``)."""
    workflow = connection.execute(
        sa.select(_workflow_definitions.c.scope, _workflow_definitions.c.project_id).where(
            _workflow_definitions.c.id == workflow_id
        )
    ).first()
    if workflow is None or workflow.project_id != project_id:
        raise errors.NotFoundError(f"WorkflowDefinition not found [id={workflow_id}]")
    if workflow.scope != "private":
        raise errors.InputError("Only private resource could be shared.")
    exists = connection.execute(
        sa.select(_members.c.id).where(
            _members.c.resource_id == workflow_id,
            _members.c.resource_type == "workflow",
            _members.c.member_id == member_id,
        )
    ).first()
    if exists is not None:
        raise errors.ConflictError(
            "Duplicate entry for ResourceMember ['resource_id', 'resource_type', 'member_id']: "
            f"{workflow_id}, workflow, {member_id}"
        )
    identifier = ids.new_id()
    connection.execute(
        sa.insert(_members).values(
            id=identifier,
            resource_id=workflow_id,
            resource_type="workflow",
            project_id=project_id,
            member_id=member_id,
            status="pending",
            created_at=now,
        )
    )
    return get(connection, workflow_id=workflow_id, member_id=member_id, project_id=project_id)


def list_all(
    connection: sa.Connection, *, workflow_id: str, project_id: str
) -> list[dict[str, Any]]:
    """The memberships of a workflow the project sees (all, for the owner; its own, else)."""
    rows = connection.execute(
        sa.select(_members)
        .where(
            _members.c.resource_id == workflow_id,
            _members.c.resource_type == "workflow",
            _seen_by(project_id),
        )
        .order_by(_members.c.created_at, _members.c.id)
    )
    return [dict(row._mapping) for row in rows]


def get(
    connection: sa.Connection, *, workflow_id: str, member_id: str, project_id: str
) -> dict[str, Any]:
    row = connection.execute(
        sa.select(_members).where(
            _members.c.resource_id == workflow_id,
            _members.c.resource_type == "workflow",
            _members.c.member_id == member_id,
            _seen_by(project_id),
        )
    ).first()
    if row is None:
        raise _missing(workflow_id, member_id)
    return dict(row._mapping)


def set_status(
    connection: sa.Connection,
    *,
    workflow_id: str,
    member_id: str,
    project_id: str,
    status: str,
    now: datetime,
) -> dict[str, Any]:
    """The member project accepts or rejects the share."""
    if member_id != project_id:
        raise _missing(workflow_id, member_id)
    changed = connection.execute(
        sa.update(_members)
        .where(
            _members.c.resource_id == workflow_id,
            _members.c.resource_type == "workflow",
            _members.c.member_id == member_id,
        )
        .values(status=status, updated_at=now)
    ).rowcount
    if not changed:
        raise _missing(workflow_id, member_id)
    return get(connection, workflow_id=workflow_id, member_id=member_id, project_id=project_id)


def delete(connection: sa.Connection, *, workflow_id: str, member_id: str, project_id: str) -> None:
    """The owner stops sharing."""
    deleted = connection.execute(
        sa.delete(_members).where(
            _members.c.resource_id == workflow_id,
            _members.c.resource_type == "workflow",
            _members.c.member_id == member_id,
            _members.c.project_id == project_id,
        )
    ).rowcount
    if not deleted:
        raise _missing(workflow_id, member_id)

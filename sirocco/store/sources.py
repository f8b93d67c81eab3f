"""Where an execution's workflow definition comes from: found by id or name, or stored from
a file for `sirocco run`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from sirocco import clock, errors, ids
from sirocco.store import tables
from sirocco.store.database import Database

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class FoundWorkflow:
    id: str
    name: str
    namespace: str
    definition: str
    workbook: str | None
    project_id: str = "<default-project>"
    scope: str = "private"


def find_workflow(
    database: Database,
    identifier: str,
    *,
    namespace: str = "",
    workbook: str | None = None,
    project_id: str | None = None,
) -> FoundWorkflow:
    """A workflow definition by id, or by name: same workbook first, then the
    namespace, then the default namespace (Mistral's resolution order).

    With ``project_id`` a name means that project's workflow first, then a public one
    or one shared with the project (another project's private workflow is not seen;
    an id is checked by the caller, which says 404 in its own words)."""
    # Every start looks its workflow up: a read of one prebuilt statement each
    # (``Database.fetch``: on SQLite straight through the driver).
    if _UUID.match(identifier):
        rows = database.fetch(_WORKFLOW_BY_ID, {"id": identifier})
        if rows:
            return _found(rows[0])
    candidates: list[tuple[str, str]] = []
    if workbook:
        candidates.append((f"{workbook}.{identifier}", namespace))
    candidates.append((identifier, namespace))
    if namespace:
        if workbook:
            candidates.append((f"{workbook}.{identifier}", ""))
        candidates.append((identifier, ""))
    for name, candidate_namespace in candidates:
        if project_id is None:
            rows = database.fetch(
                _WORKFLOW_BY_NAME, {"name": name, "namespace": candidate_namespace}
            )
        else:
            values = {"name": name, "namespace": candidate_namespace, "project": project_id}
            rows = database.fetch(_WORKFLOW_BY_NAME_FOR_PROJECT, values)
        if rows:
            return _found(rows[0])
    where = f" in namespace '{namespace}'" if namespace else ""
    raise errors.NotFoundError(f"Workflow not found [workflow_identifier={identifier}{where}]")


# Built once: every start looks a workflow up (building a select per call cost more
# than running it).
# Only the columns a start uses (the interface and tags are JSON to decode).
_FOUND = [
    tables.workflow_definitions.c[name]
    for name in ("id", "name", "namespace", "definition", "workbook_name", "project_id", "scope")
]
_WORKFLOW_BY_ID = sa.select(*_FOUND).where(tables.workflow_definitions.c.id == sa.bindparam("id"))
_WORKFLOW_BY_NAME = sa.select(*_FOUND).where(
    tables.workflow_definitions.c.name == sa.bindparam("name"),
    tables.workflow_definitions.c.namespace == sa.bindparam("namespace"),
)

_workflow_definitions = tables.workflow_definitions
_members = tables.resource_members
_WORKFLOW_BY_NAME_FOR_PROJECT = (
    sa.select(*_FOUND)
    .where(
        _workflow_definitions.c.name == sa.bindparam("name"),
        _workflow_definitions.c.namespace == sa.bindparam("namespace"),
        sa.or_(
            _workflow_definitions.c.project_id == sa.bindparam("project"),
            _workflow_definitions.c.scope == "public",
            _workflow_definitions.c.id.in_(
                sa.select(_members.c.resource_id).where(
                    _members.c.resource_type == "workflow",
                    _members.c.member_id == sa.bindparam("project"),
                    _members.c.status == "accepted",
                )
            ),
        ),
    )
    .order_by(
        sa.case((_workflow_definitions.c.project_id == sa.bindparam("project"), 0), else_=1),
        _workflow_definitions.c.created_at,
    )
    .limit(1)
)


def _found(row: Sequence[Any]) -> FoundWorkflow:
    """A row of ``_FOUND``'s columns, in their order."""
    found_id, name, namespace, definition, workbook, project_id, scope = row
    return FoundWorkflow(
        id=str(found_id),
        name=str(name),
        namespace=str(namespace or ""),
        definition=str(definition),
        workbook=workbook,
        project_id=str(project_id),
        scope=str(scope),
    )


def readable_by(database: Database, found: FoundWorkflow, project_id: str | None) -> bool:
    """Whether an execution of ``project_id`` may start ``found`` as a sub-workflow: its
    project's own, a public one, or one shared with that project (accepted)."""
    if project_id is None or found.project_id == project_id or found.scope == "public":
        return True
    members = tables.resource_members
    with database.read() as connection:
        shared = connection.execute(
            sa.select(members.c.id).where(
                members.c.resource_id == found.id,
                members.c.resource_type == "workflow",
                members.c.member_id == project_id,
                members.c.status == "accepted",
            )
        ).first()
    return shared is not None


def save_for_run(
    database: Database,
    workflows: list[tuple[str, str, str, str | None]],
    actions: list[tuple[str, str, str, str | None]],
    *,
    namespace: str = "",
) -> dict[str, str]:
    """Store (replace) the workflows and ad-hoc actions of a file that ``sirocco run`` runs.

    Each item is (name, definition, input text, workbook). Returns ids by name.
    """
    import hashlib

    now = clock.utcnow()
    ids_by_name: dict[str, str] = {}
    with database.transaction() as connection:
        for table, items, is_workflow in (
            (tables.workflow_definitions, workflows, True),
            (tables.action_definitions, actions, False),
        ):
            for name, text, input_text, workbook in items:
                existing = connection.execute(
                    sa.select(table.c.id).where(
                        table.c.name == name, table.c.namespace == namespace
                    )
                ).first()
                values: dict[str, object] = {
                    "definition": text,
                    "input": input_text,
                    "workbook_name": workbook,
                    "updated_at": now,
                }
                if is_workflow:
                    values["checksum"] = hashlib.md5(text.encode()).hexdigest()
                    values["interface"] = workflow_interface(text, name, workbook)
                if existing is not None:
                    connection.execute(
                        sa.update(table).where(table.c.id == existing.id).values(values)
                    )
                    ids_by_name[name] = existing.id
                else:
                    new_id = ids.new_id()
                    values.update(
                        {
                            "id": new_id,
                            "name": name,
                            "namespace": namespace,
                            "created_at": now,
                            "updated_at": None,
                            "tags": [],
                        }
                    )
                    connection.execute(sa.insert(table), [values])
                    ids_by_name[name] = new_id
    return ids_by_name


def workflow_interface(text: str, name: str, workbook: str | None) -> dict[str, object]:
    """The ``interface`` column: the declared input as written and the output keys."""
    from sirocco import lang

    document = lang.parse_workflows(text, workbook=workbook)
    spec = document.workflows.get(name) or next(iter(document.workflows.values()))
    declared: list[object] = [
        {item.name: item.default} if item.has_default else item.name for item in spec.input
    ]
    output = spec.output
    return {
        "input": declared,
        "output": list(output) if isinstance(output, (dict, list)) else [],
    }

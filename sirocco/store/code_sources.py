"""Code sources (Python modules uploaded through the API) and the dynamic actions defined
from their classes, as Mistral 23 stores them.

A code source is found by id, or by name in a namespace; a dynamic action the same
way. Updating a code source's content raises its ``version``, which tells the
processes that loaded the module to load it again. Deleting a code source deletes its
dynamic actions (``ON DELETE CASCADE``, done explicitly for SQLite).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sirocco import errors, ids
from sirocco.store import definitions, queries, tables

_cs = tables.code_sources
_da = tables.dynamic_action_definitions
DEFAULT_PROJECT = "<default-project>"


@dataclass(frozen=True, slots=True, kw_only=True)
class Loadable:
    """What an executor needs to build a dynamic action: its class in its module's text."""

    action_name: str
    namespace: str
    class_name: str
    code_source_id: str
    module_name: str
    version: int
    content: str
    project_id: str = DEFAULT_PROJECT
    scope: str = "private"


def _visible(table: sa.Table, project_id: str | None) -> list[sa.ColumnElement[bool]]:
    if project_id is None:
        return []
    return [sa.or_(table.c.project_id == project_id, table.c.scope == "public")]


def _find(
    connection: sa.Connection,
    table: sa.Table,
    identifier: str,
    namespace: str,
    project_id: str | None,
) -> Any:
    """The row named ``identifier`` (an id, or a name in ``namespace``): the caller's own
    first, then a public one."""
    visible = _visible(table, project_id)
    if definitions.is_uuid(identifier):
        row = connection.execute(sa.select(table).where(table.c.id == identifier, *visible)).first()
        if row is not None:
            return row
    order = [] if project_id is None else [sa.case((table.c.project_id == project_id, 0), else_=1)]
    return connection.execute(
        sa.select(table)
        .where(table.c.name == identifier, table.c.namespace == namespace, *visible)
        .order_by(*order, table.c.created_at)
        .limit(1)
    ).first()


def _read(connection: sa.Connection, view: queries.View, identifier: str) -> dict[str, Any]:
    row = queries.get_row(connection, view, where={"id": identifier})
    assert row is not None
    return row


# ---------------------------------------------------------------- code sources


def code_source_missing(identifier: str, namespace: str) -> errors.NotFoundError:
    return errors.NotFoundError(f"Code Source not found [name={identifier},namespace={namespace}]")


def create_code_source(
    connection: sa.Connection,
    *,
    name: str,
    namespace: str,
    content: str,
    scope: str,
    now: datetime,
    project_id: str = DEFAULT_PROJECT,
) -> dict[str, Any]:
    """Store a new code source (version 1); ConflictError in Mistral's words if its
    name is taken in that namespace and project."""
    taken = connection.execute(
        sa.select(_cs.c.id).where(
            _cs.c.name == name, _cs.c.namespace == namespace, _cs.c.project_id == project_id
        )
    ).first()
    if taken is not None:
        raise errors.ConflictError(
            "Duplicate entry for CodeSource ['name', 'namespace', 'project_id']: "
            f"{name}, {namespace}, None"
        )
    identifier = ids.new_id()
    connection.execute(
        sa.insert(_cs).values(
            id=identifier,
            name=name,
            namespace=namespace,
            content=content,
            version=1,
            scope=scope,
            project_id=project_id,
            created_at=now,
        )
    )
    return _read(connection, queries.CODE_SOURCES, identifier)


def get_code_source(
    connection: sa.Connection, identifier: str, namespace: str, *, project_id: str | None = None
) -> dict[str, Any]:
    """The code source ``identifier`` (id, or name in ``namespace``); NotFoundError."""
    row = _find(connection, _cs, identifier, namespace, project_id)
    if row is None:
        raise code_source_missing(identifier, namespace)
    return _read(connection, queries.CODE_SOURCES, str(row.id))


def update_code_source(
    connection: sa.Connection,
    identifier: str,
    namespace: str,
    *,
    content: str,
    scope: str,
    now: datetime,
    project_id: str | None = None,
) -> dict[str, Any]:
    """Replace a code source's content and scope; its version goes up by one."""
    row = _find(connection, _cs, identifier, namespace, project_id)
    if row is None:
        raise code_source_missing(identifier, namespace)
    connection.execute(
        sa.update(_cs)
        .where(_cs.c.id == row.id)
        .values(content=content, scope=scope, version=row.version + 1, updated_at=now)
    )
    return _read(connection, queries.CODE_SOURCES, str(row.id))


def delete_code_source(
    connection: sa.Connection, identifier: str, namespace: str, *, project_id: str | None = None
) -> Mapping[str, Any]:
    """Delete a code source and the dynamic actions defined from it; returns its row."""
    row = _find(connection, _cs, identifier, namespace, project_id)
    if row is None:
        raise code_source_missing(identifier, namespace)
    connection.execute(sa.delete(_da).where(_da.c.code_source_id == row.id))
    connection.execute(sa.delete(_cs).where(_cs.c.id == row.id))
    return dict(row._mapping)


# ---------------------------------------------------------------- dynamic actions


def dynamic_action_missing(identifier: str, namespace: str) -> errors.NotFoundError:
    return errors.NotFoundError(
        f"Dynamic Action not found [name={identifier},namespace={namespace}]"
    )


def create_dynamic_action(
    connection: sa.Connection,
    *,
    name: str,
    namespace: str,
    class_name: str,
    code_source: Mapping[str, Any],
    scope: str,
    now: datetime,
    project_id: str = DEFAULT_PROJECT,
) -> dict[str, Any]:
    """Store a dynamic action defined by class ``class_name`` of ``code_source``."""
    taken = connection.execute(
        sa.select(_da.c.id).where(
            _da.c.name == name, _da.c.namespace == namespace, _da.c.project_id == project_id
        )
    ).first()
    if taken is not None:
        raise errors.ConflictError(
            "Duplicate entry for dynamic action definition "
            f"[name={name}, namespace={namespace}, project_id=None]"
        )
    identifier = ids.new_id()
    connection.execute(
        sa.insert(_da).values(
            id=identifier,
            name=name,
            namespace=namespace,
            class_name=class_name,
            code_source_id=code_source["id"],
            code_source_name=code_source["name"],
            scope=scope,
            project_id=project_id,
            created_at=now,
        )
    )
    return _read(connection, queries.DYNAMIC_ACTIONS, identifier)


def get_dynamic_action(
    connection: sa.Connection, identifier: str, namespace: str, *, project_id: str | None = None
) -> dict[str, Any]:
    """The dynamic action ``identifier`` (id, or name in ``namespace``); NotFoundError."""
    row = _find(connection, _da, identifier, namespace, project_id)
    if row is None:
        raise dynamic_action_missing(identifier, namespace)
    return _read(connection, queries.DYNAMIC_ACTIONS, str(row.id))


def update_dynamic_action(
    connection: sa.Connection,
    identifier: str,
    namespace: str,
    changes: Mapping[str, Any],
    *,
    now: datetime,
    project_id: str | None = None,
) -> dict[str, Any]:
    """Change a dynamic action's class, scope or code source."""
    row = _find(connection, _da, identifier, namespace, project_id)
    if row is None:
        raise dynamic_action_missing(identifier, namespace)
    connection.execute(
        sa.update(_da).where(_da.c.id == row.id).values(**dict(changes), updated_at=now)
    )
    return _read(connection, queries.DYNAMIC_ACTIONS, str(row.id))


def delete_dynamic_action(
    connection: sa.Connection, identifier: str, namespace: str, *, project_id: str | None = None
) -> Mapping[str, Any]:
    """Delete a dynamic action; returns its row."""
    row = _find(connection, _da, identifier, namespace, project_id)
    if row is None:
        raise dynamic_action_missing(identifier, namespace)
    connection.execute(sa.delete(_da).where(_da.c.id == row.id))
    return dict(row._mapping)


def loadable(
    connection: sa.Connection, name: str, namespace: str, project_id: str | None = None
) -> Loadable | None:
    """The dynamic action ``name`` as a workflow of ``namespace`` finds it (that namespace,
    then the default one), with its code source's text; None when there is none.

    With ``project_id``: only that project's dynamic action or a public one, the
    project's own first (Mistral's secure query for the execution's project)."""
    visible = _visible(_da, project_id)
    own_first = (
        [sa.case((_da.c.project_id == project_id, 0), else_=1)] if project_id is not None else []
    )
    for candidate in dict.fromkeys((namespace, "")):
        row = connection.execute(
            sa.select(
                _da.c.name,
                _da.c.namespace,
                _da.c.class_name,
                _cs.c.id,
                _cs.c.name.label("module_name"),
                _cs.c.version,
                _cs.c.content,
            )
            .select_from(_da.join(_cs, _cs.c.id == _da.c.code_source_id))
            .where(_da.c.name == name, _da.c.namespace == candidate, *visible)
            .order_by(*own_first, _da.c.created_at)
            .limit(1)
        ).first()
        if row is not None:
            return Loadable(
                action_name=row.name,
                namespace=row.namespace,
                class_name=row.class_name,
                code_source_id=row.id,
                module_name=row.module_name,
                version=int(row.version),
                content=row.content,
            )
    return None


def all_loadable(connection: sa.Connection) -> list[Loadable]:
    """Every dynamic action with its code source (for the list of actions)."""
    rows = connection.execute(
        sa.select(
            _da.c.name,
            _da.c.namespace,
            _da.c.class_name,
            _cs.c.id,
            _cs.c.name.label("module_name"),
            _cs.c.version,
            _cs.c.content,
            _da.c.project_id,
            _da.c.scope,
        )
        .select_from(_da.join(_cs, _cs.c.id == _da.c.code_source_id))
        .order_by(_da.c.name)
    )
    return [
        Loadable(
            action_name=row.name,
            namespace=row.namespace,
            class_name=row.class_name,
            code_source_id=row.id,
            module_name=row.module_name,
            version=int(row.version),
            content=row.content,
            project_id=row.project_id,
            scope=row.scope,
        )
        for row in rows
    ]


def code_source_row(connection: sa.Connection, code_source_id: str) -> Any:
    """The code source row with id ``code_source_id`` (name, version, content), or None."""
    return connection.execute(
        sa.select(_cs.c.name, _cs.c.version, _cs.c.content).where(_cs.c.id == code_source_id)
    ).first()

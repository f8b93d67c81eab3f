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

_code_sources = tables.code_sources
_dynamic_actions = tables.dynamic_action_definitions
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Kind:
    """One of the two resources of this module: where it is stored and Mistral's words
    about it. Code sources and dynamic actions are created, found, changed and deleted
    alike; only these differ.

    Attributes:
        table: the table of its rows.
        view: how a row is read back (``sirocco.store.queries``).
        missing: the 404 message, formatted with ``name`` (the identifier asked for,
            or the row's name) and ``namespace``.
        duplicate: the 409 message of a taken name, formatted with ``name`` and
            ``namespace``.
        versioned: a change raises the row's ``version`` (executors load it again).
        dependents: rows of other tables that go with a deleted row: (table, the
            column that holds its id).
    """

    table: sa.Table
    view: queries.View
    missing: str
    duplicate: str
    versioned: bool = False
    dependents: tuple[tuple[sa.Table, str], ...] = ()

    def not_found(self, identifier: str, namespace: str) -> errors.NotFoundError:
        return errors.NotFoundError(self.missing.format(name=identifier, namespace=namespace))


CODE_SOURCE = Kind(
    table=_code_sources,
    view=queries.CODE_SOURCES,
    missing="Code Source not found [name={name},namespace={namespace}]",
    duplicate=(
        "Duplicate entry for CodeSource ['name', 'namespace', 'project_id']: "
        "{name}, {namespace}, None"
    ),
    versioned=True,
    dependents=((_dynamic_actions, "code_source_id"),),
)
DYNAMIC_ACTION = Kind(
    table=_dynamic_actions,
    view=queries.DYNAMIC_ACTIONS,
    missing="Dynamic Action not found [name={name},namespace={namespace}]",
    duplicate=(
        "Duplicate entry for dynamic action definition "
        "[name={name}, namespace={namespace}, project_id=None]"
    ),
)


def create(
    connection: sa.Connection,
    kind: Kind,
    *,
    name: str,
    namespace: str,
    values: Mapping[str, Any],
    scope: str,
    now: datetime,
    project_id: str = DEFAULT_PROJECT,
) -> dict[str, Any]:
    """Store a new row of ``kind`` with ``values`` (a versioned one at version 1);
    ConflictError in Mistral's words if its name is taken in that namespace and project."""
    table = kind.table
    taken = connection.execute(
        sa.select(table.c.id).where(
            table.c.name == name, table.c.namespace == namespace, table.c.project_id == project_id
        )
    ).first()
    if taken is not None:
        raise errors.ConflictError(kind.duplicate.format(name=name, namespace=namespace))
    identifier = ids.new_id()
    connection.execute(
        sa.insert(table).values(
            id=identifier,
            name=name,
            namespace=namespace,
            scope=scope,
            project_id=project_id,
            created_at=now,
            **({"version": 1} if kind.versioned else {}),
            **values,
        )
    )
    return _read(connection, kind.view, identifier)


def get(
    connection: sa.Connection,
    kind: Kind,
    identifier: str,
    namespace: str,
    *,
    project_id: str | None = None,
) -> dict[str, Any]:
    """The row of ``kind`` named ``identifier`` (id, or name in ``namespace``); NotFoundError."""
    return _read(
        connection, kind.view, _require(connection, kind, identifier, namespace, project_id).id
    )


def find_id(
    connection: sa.Connection,
    kind: Kind,
    identifier: str,
    namespace: str,
    project_id: str | None = None,
) -> str | None:
    """The id of the row of ``kind`` named ``identifier`` (id, or name in ``namespace``),
    or None."""
    row = _find(connection, kind.table, identifier, namespace, project_id)
    return None if row is None else str(row.id)


def update(
    connection: sa.Connection,
    kind: Kind,
    identifier: str,
    namespace: str,
    changes: Mapping[str, Any],
    *,
    now: datetime,
    project_id: str | None = None,
) -> dict[str, Any]:
    """Change the row of ``kind`` named ``identifier`` (a versioned one's version goes up
    by one)."""
    row = _require(connection, kind, identifier, namespace, project_id)
    table = kind.table
    version = {"version": row.version + 1} if kind.versioned else {}
    connection.execute(
        sa.update(table).where(table.c.id == row.id).values(**changes, **version, updated_at=now)
    )
    return _read(connection, kind.view, str(row.id))


def delete(
    connection: sa.Connection,
    kind: Kind,
    identifier: str,
    namespace: str,
    *,
    project_id: str | None = None,
) -> Mapping[str, Any]:
    """Delete the row of ``kind`` named ``identifier`` and its dependents; returns the row."""
    row = _require(connection, kind, identifier, namespace, project_id)
    for table, column in kind.dependents:
        connection.execute(sa.delete(table).where(table.c[column] == row.id))
    connection.execute(sa.delete(kind.table).where(kind.table.c.id == row.id))
    return dict(row._mapping)


def _require(
    connection: sa.Connection, kind: Kind, identifier: str, namespace: str, project_id: str | None
) -> Any:
    row = _find(connection, kind.table, identifier, namespace, project_id)
    if row is None:
        raise kind.not_found(identifier, namespace)
    return row


def loadable(
    connection: sa.Connection, name: str, namespace: str, project_id: str | None = None
) -> Loadable | None:
    """The dynamic action ``name`` as a workflow of ``namespace`` finds it (that namespace,
    then the default one), with its code source's text; None when there is none.

    With ``project_id``: only that project's dynamic action or a public one, the
    project's own first (Mistral's secure query for the execution's project)."""
    visible = _visible(_dynamic_actions, project_id)
    own_first = (
        [sa.case((_dynamic_actions.c.project_id == project_id, 0), else_=1)]
        if project_id is not None
        else []
    )
    for candidate in dict.fromkeys((namespace, "")):
        row = connection.execute(
            _loadable_query()
            .where(
                _dynamic_actions.c.name == name, _dynamic_actions.c.namespace == candidate, *visible
            )
            .order_by(*own_first, _dynamic_actions.c.created_at)
            .limit(1)
        ).first()
        if row is not None:
            return _loadable_of(row)
    return None


def all_loadable(connection: sa.Connection) -> list[Loadable]:
    """Every dynamic action with its code source (for the list of actions)."""
    rows = connection.execute(
        _loadable_query(_dynamic_actions.c.project_id, _dynamic_actions.c.scope).order_by(
            _dynamic_actions.c.name
        )
    )
    return [_loadable_of(row, project_id=row.project_id, scope=row.scope) for row in rows]


def _loadable_query(*more: sa.ColumnElement[Any]) -> sa.Select[Any]:
    """Dynamic actions joined to their code sources: what a :class:`Loadable` holds
    (and ``more``)."""
    return sa.select(
        _dynamic_actions.c.name,
        _dynamic_actions.c.namespace,
        _dynamic_actions.c.class_name,
        _code_sources.c.id,
        _code_sources.c.name.label("module_name"),
        _code_sources.c.version,
        _code_sources.c.content,
        *more,
    ).select_from(
        _dynamic_actions.join(
            _code_sources, _code_sources.c.id == _dynamic_actions.c.code_source_id
        )
    )


def _loadable_of(row: Any, **owner: str) -> Loadable:
    return Loadable(
        action_name=row.name,
        namespace=row.namespace,
        class_name=row.class_name,
        code_source_id=row.id,
        module_name=row.module_name,
        version=int(row.version),
        content=row.content,
        **owner,
    )


def code_source_row(connection: sa.Connection, code_source_id: str) -> Any:
    """The code source row with id ``code_source_id`` (name, version, content), or None."""
    return connection.execute(
        sa.select(_code_sources.c.name, _code_sources.c.version, _code_sources.c.content).where(
            _code_sources.c.id == code_source_id
        )
    ).first()

"""Stored definitions: workflows, workbooks, ad-hoc actions and environments.

Every function takes the open connection (the caller owns the transaction),
the time ``now`` (naive UTC, whole seconds) and, where a row is created, a
``new_id`` factory. Texts are parsed with :mod:`sirocco.lang` first, so a bad
text raises :class:`sirocco.errors.DefinitionError` before anything is
written. What is stored follows Mistral:

* a workflow text holding one workflow is stored as written; with several,
  each is cut out as ``version`` plus its own section, dumped again as YAML;
* a workbook keeps its text; its workflows and actions are stored as
  ``<workbook>.<name>`` with the lines of their section cut out of the text,
  and stay when the workbook is deleted;
* an action text is stored whole for each of its actions;
* a workflow's ``input`` reads ``a, b="1"`` (defaults as Python prints them),
  an action's ``a, b=1`` (defaults as JSON); ``checksum`` is the MD5 of the
  stored text.

Functions return the stored rows as the read side (:mod:`sirocco.store.queries`)
shows them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import yaml

from sirocco import errors, ids, lang
from sirocco.store import blobs, queries, tables

IdFactory = Callable[[], str]
#: The project of rows made without authentication (Mistral's value).
DEFAULT_PROJECT = "<default-project>"
_UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)

_workbooks = tables.workbooks
_workflow_definitions = tables.workflow_definitions
_action_definitions = tables.action_definitions
_environments = tables.environments
_cron = tables.cron_triggers
_event = tables.event_triggers


def is_uuid(text: str) -> bool:
    """Whether ``text`` looks like a UUID (Mistral tells ids from names this way)."""
    return bool(_UUID.match(text or ""))


# ---------------------------------------------------------------- workflows


def validate_workflows(text: str) -> None:
    """Raise DefinitionError if ``text`` is not a valid workflow document."""
    lang.parse_workflows(text)


def create_workflows(
    connection: sa.Connection,
    text: str,
    *,
    now: datetime,
    namespace: str = "",
    scope: str = "private",
    project_id: str = DEFAULT_PROJECT,
    new_id: IdFactory = ids.new_id,
) -> list[dict[str, Any]]:
    """Store every workflow of ``text``; ConflictError if one exists in the namespace."""
    ids = []
    for name, values in _workflow_values(text, scope=scope):
        if _find_id(
            connection, _workflow_definitions, name, namespace, project_id=project_id, own=True
        ):
            raise errors.ConflictError(
                "Duplicate entry for WorkflowDefinition ['name', 'namespace', 'project_id']: "
                f"{name}, {namespace}, None"
            )
        ids.append(new_id())
        connection.execute(
            sa.insert(_workflow_definitions).values(
                id=ids[-1],
                name=name,
                namespace=namespace,
                created_at=now,
                updated_at=None,
                project_id=project_id,
                **values,
            )
        )
    return [_read(connection, queries.WORKFLOWS, identifier) for identifier in ids]


def update_workflows(
    connection: sa.Connection,
    text: str,
    *,
    now: datetime,
    namespace: str = "",
    scope: str = "private",
    identifier: str | None = None,
    project_id: str | None = None,
    check: Callable[[Mapping[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Replace the stored workflows named in ``text`` (or the one with id ``identifier``);
    a name means ``project_id``'s own workflow first. ``check`` sees each stored row
    before it is changed (and may refuse the change by raising)."""
    items = _workflow_values(text, scope=scope)
    if identifier and len(items) > 1:
        raise errors.InputError(
            "More than one workflows are not supported for update with identifier. "
            f"[identifier: {identifier}]"
        )
    ids = []
    for name, values in items:
        found = get_workflow_row(connection, identifier or name, namespace, project_id=project_id)
        if check is not None:
            check(found)
        ids.append(found["id"])
        _update_if_changed(
            connection, _workflow_definitions, found["id"], {"name": name, **values}, now=now
        )
    return [_read(connection, queries.WORKFLOWS, item) for item in ids]


def get_workflow_row(
    connection: sa.Connection,
    identifier: str,
    namespace: str = "",
    *,
    project_id: str | None = None,
) -> Any:
    """A stored workflow by id, or by name in ``namespace`` (``project_id``'s own first,
    see :func:`name_order`); NotFoundError otherwise."""
    query = sa.select(_workflow_definitions)
    if is_uuid(identifier):
        row = connection.execute(query.where(_workflow_definitions.c.id == identifier)).first()
        if row is not None:
            return row._mapping
    row = connection.execute(
        query.where(
            _workflow_definitions.c.name == identifier,
            _workflow_definitions.c.namespace == (namespace or ""),
        )
        .order_by(*name_order(_workflow_definitions, project_id))
        .limit(1)
    ).first()
    if row is None:
        raise errors.NotFoundError(
            f"Workflow not found [workflow_identifier={identifier}, namespace={namespace or ''}]"
        )
    return row._mapping


def delete_workflow(
    connection: sa.Connection,
    identifier: str,
    namespace: str = "",
    *,
    project_id: str | None = None,
) -> None:
    """Delete a workflow (``project_id``'s own first, by name); refused while cron or
    event triggers start it."""
    found = get_workflow_row(connection, identifier, namespace, project_id=project_id)
    crons = (
        connection.execute(
            sa.select(_cron.c.id).where(_cron.c.workflow_id == found["id"]).order_by(_cron.c.id)
        )
        .scalars()
        .all()
    )
    if crons:
        raise errors.InvalidStateError(
            "Can't delete workflow that has cron triggers associated. "
            f"[workflow_identifier={identifier}, namespace={namespace or ''}], "
            f"[cron_trigger_id(s)={', '.join(crons)}]"
        )
    events = (
        connection.execute(
            sa.select(_event.c.id).where(_event.c.workflow_id == found["id"]).order_by(_event.c.id)
        )
        .scalars()
        .all()
    )
    if events:
        raise errors.InvalidStateError(
            "Can't delete workflow that has event triggers associated. "
            f"[workflow_identifier={identifier}], [event_trigger_id(s)={', '.join(events)}]"
        )
    connection.execute(
        sa.delete(_workflow_definitions).where(_workflow_definitions.c.id == found["id"])
    )


def _workflow_values(text: str, *, scope: str) -> list[tuple[str, dict[str, Any]]]:
    document = lang.parse_workflows(text)
    raw = _load_yaml(text)
    several = len(document.workflows) > 1
    items = []
    for key, spec in document.workflows.items():
        name = spec.name or key
        body = raw.get(name, raw.get(key)) if isinstance(raw, dict) else None
        definition = text
        if several and isinstance(raw, dict) and isinstance(body, dict):
            definition = yaml.safe_dump(
                {"version": raw.get("version"), name: body}, sort_keys=False
            )
        items.append((name, _workflow_columns(spec, body, definition, scope=scope)))
    return items


def _workflow_columns(spec: Any, body: Any, definition: str, *, scope: str) -> dict[str, Any]:
    raw_input = _raw_input(spec, body)
    output = body.get("output") if isinstance(body, dict) else spec.output
    return {
        "definition": definition,
        "input": ", ".join(_python_input(item) for item in raw_input),
        "interface": {
            "input": raw_input,
            "output": list(output) if isinstance(output, (dict, list)) else [],
        },
        "checksum": hashlib.md5(definition.encode("utf-8"), usedforsecurity=False).hexdigest(),
        "tags": list(spec.tags),
        "scope": scope,
    }


# ---------------------------------------------------------------- workbooks


def validate_workbook(text: str) -> None:
    """Raise DefinitionError if ``text`` is not a valid workbook."""
    lang.parse_workbook(text)


def save_workbook(
    connection: sa.Connection,
    text: str,
    *,
    now: datetime,
    namespace: str = "",
    scope: str = "private",
    create: bool,
    project_id: str = DEFAULT_PROJECT,
    new_id: IdFactory = ids.new_id,
) -> dict[str, Any]:
    """Create (``create=True``) or update a workbook, then store its workflows and actions."""
    book = lang.parse_workbook(text)
    existing = _find_id(
        connection, _workbooks, book.name, namespace, project_id=project_id, own=create
    )
    values = {"definition": text, "tags": list(book.tags), "scope": scope}
    if create:
        if existing is not None:
            raise errors.ConflictError(
                "Duplicate entry for WorkbookDefinition ['name', 'namespace', 'project_id']: "
                f"{book.name}, {namespace}, None"
            )
        existing = new_id()
        connection.execute(
            sa.insert(_workbooks).values(
                id=existing,
                name=book.name,
                namespace=namespace,
                created_at=now,
                project_id=project_id,
                **values,
            )
        )
    else:
        if existing is None:
            raise errors.NotFoundError(
                f"Workbook not found [name={book.name}, namespace={namespace}]"
            )
        _update_if_changed(connection, _workbooks, existing, values, now=now)
    raw = _load_yaml(text)
    sections = raw if isinstance(raw, dict) else {}
    for key, action in book.actions.items():
        short = key.rsplit(".", 1)[-1] if key.startswith(book.name + ".") else key
        snippet = cut_section(text, "actions", short)
        body = _section(sections, "actions", short)
        _upsert(
            connection,
            _action_definitions,
            project_id,
            f"{book.name}.{short}",
            namespace,
            {
                "definition": snippet,
                "workbook_name": book.name,
                "description": action.description or None,
                "input": _action_input_text(action, body),
                "tags": list(action.tags),
                "scope": scope,
                "project_id": project_id,
            },
            now=now,
            new_id=new_id,
        )
    for key, workflow in book.workflows.items():
        short = key.rsplit(".", 1)[-1] if key.startswith(book.name + ".") else key
        snippet = cut_section(text, "workflows", short)
        body = _section(sections, "workflows", short)
        columns = _workflow_columns(workflow, body, snippet, scope=scope)
        _upsert(
            connection,
            _workflow_definitions,
            project_id,
            f"{book.name}.{short}",
            namespace,
            {**columns, "workbook_name": book.name, "project_id": project_id},
            now=now,
            new_id=new_id,
        )
    return _read(connection, queries.WORKBOOKS, existing)


def delete_workbook(
    connection: sa.Connection,
    name: str,
    namespace: str = "",
    *,
    project_id: str | None = None,
) -> None:
    """Delete a workbook row (``project_id``'s own first; its workflows and actions stay,
    as in Mistral)."""
    found = _find_id(connection, _workbooks, name, namespace, project_id=project_id)
    if (
        found is None
        or not connection.execute(sa.delete(_workbooks).where(_workbooks.c.id == found)).rowcount
    ):
        raise errors.NotFoundError(
            f"Workbook not found [workbook_name={name}, namespace={namespace or ''}]"
        )


def cut_section(text: str, section: str, item: str) -> str:
    """The lines of ``item`` under ``section:`` of a workbook, dedented to the item's level."""
    lines = text.splitlines(keepends=True)
    start = next((index for index, line in enumerate(lines) if line.strip() == f"{section}:"), None)
    if start is None:
        return ""
    kept: list[str] = []
    indent = -1
    for line in lines[start + 1 :]:
        stripped = line.strip()
        if indent < 0:
            if stripped == f"{item}:":
                indent = len(line) - len(line.lstrip())
                kept.append(line.lstrip())
            continue
        if not stripped:
            kept.append(line)
        elif stripped.startswith("#"):
            hash_at = line.index("#")
            kept.append(line if indent > hash_at else line[indent:])
        elif len(line) - len(line.lstrip()) > indent:
            kept.append(line[indent:])
        else:
            break
    return "".join(kept).rstrip() + "\n"


# ---------------------------------------------------------------- actions


def validate_actions(text: str) -> None:
    """Raise DefinitionError if ``text`` is not a valid ad-hoc action document."""
    lang.parse_actions(text)


def save_actions(
    connection: sa.Connection,
    text: str,
    *,
    now: datetime,
    namespace: str = "",
    scope: str = "private",
    create: bool,
    identifier: str | None = None,
    project_id: str = DEFAULT_PROJECT,
    new_id: IdFactory = ids.new_id,
) -> list[dict[str, Any]]:
    """Create or update every ad-hoc action of ``text`` (each keeps the whole text)."""
    document = lang.parse_actions(text)
    raw = _load_yaml(text)
    if identifier and len(document.actions) > 1:
        raise errors.InputError(
            "More than one actions are not supported for update with identifier. "
            f"[identifier: {identifier}]"
        )
    ids = []
    for key, action in document.actions.items():
        name = action.name or key
        body = raw.get(name) if isinstance(raw, dict) else None
        values = {
            "definition": text,
            "description": action.description or None,
            "input": _action_input_text(action, body),
            "tags": list(action.tags),
            "scope": scope,
        }
        found = _find_id(
            connection, _action_definitions, name, namespace, project_id=project_id, own=create
        )
        if identifier:
            found = _action_id(connection, identifier, namespace, project_id)
        if create:
            if found is not None:
                raise errors.ConflictError(
                    "Duplicate entry for Action ['name', 'namespace', 'project_id']: "
                    f"{name}, {namespace}, None"
                )
            ids.append(new_id())
            connection.execute(
                sa.insert(_action_definitions).values(
                    id=ids[-1],
                    name=name,
                    namespace=namespace,
                    created_at=now,
                    project_id=project_id,
                    **values,
                )
            )
        else:
            if found is None:
                raise errors.NotFoundError(
                    f"Action definition not found [action_name={identifier or name}, "
                    f"namespace={namespace}]"
                )
            ids.append(found)
            _update_if_changed(
                connection, _action_definitions, found, {"name": name, **values}, now=now
            )
    return [_read(connection, queries.ACTIONS, item) for item in ids]


def delete_action(
    connection: sa.Connection,
    identifier: str,
    namespace: str = "",
    *,
    project_id: str | None = None,
) -> None:
    """Delete an ad-hoc action by name (``project_id``'s own first) or id."""
    found = _action_id(connection, identifier, namespace, project_id)
    if found is None:
        raise errors.NotFoundError(
            f"Action definition not found [action_name={identifier}, namespace={namespace}]"
        )
    connection.execute(sa.delete(_action_definitions).where(_action_definitions.c.id == found))


def _action_id(
    connection: sa.Connection, identifier: str, namespace: str, project_id: str | None = None
) -> str | None:
    if is_uuid(identifier):
        found = connection.execute(
            sa.select(_action_definitions.c.id).where(_action_definitions.c.id == identifier)
        ).first()
        if found is not None:
            return str(found.id)
    found_id = _find_id(
        connection, _action_definitions, identifier, namespace, project_id=project_id
    )
    if found_id is None and namespace:
        # As Mistral 23: an action not in the namespace is looked up in the default one.
        found_id = _find_id(connection, _action_definitions, identifier, "", project_id=project_id)
    return found_id


def _action_input_text(action: Any, body: Any) -> str | None:
    parts: list[str] = []
    for item in _raw_input(action, body):
        if isinstance(item, dict):
            parts.extend(f"{key}={json.dumps(value)}" for key, value in item.items())
        else:
            parts.append(str(item))
    return ", ".join(parts) if parts else None


# ---------------------------------------------------------------- environments


def create_environment(
    connection: sa.Connection,
    *,
    name: str | None,
    description: str | None,
    variables: Mapping[str, Any] | None,
    scope: str = "private",
    now: datetime,
    project_id: str = DEFAULT_PROJECT,
    new_id: IdFactory = ids.new_id,
) -> dict[str, Any]:
    """Store a new environment; ConflictError if the name is taken."""
    if name is not None and _find_named(
        connection, _environments, name, project_id=project_id, own=True
    ):
        raise errors.ConflictError(
            f"Duplicate entry for Environment ['name', 'project_id']: {name}, None"
        )
    identifier = new_id()
    connection.execute(
        sa.insert(_environments).values(
            id=identifier,
            name=name,
            description=description,
            variables=None if variables is None else dict(variables),
            scope=scope,
            created_at=now,
            project_id=project_id,
        )
    )
    return _read(connection, queries.ENVIRONMENTS, identifier)


def update_environment(
    connection: sa.Connection,
    name: str,
    changes: Mapping[str, Any],
    *,
    now: datetime,
    project_id: str | None = None,
) -> dict[str, Any]:
    """Change the given fields (description, variables, scope) of a named environment
    (``project_id``'s own first)."""
    found = _find_named(connection, _environments, name, project_id=project_id)
    if found is None:
        raise errors.NotFoundError(f"Environment not found [name={name}]")
    values = {key: changes[key] for key in ("description", "variables", "scope") if key in changes}
    _update_if_changed(connection, _environments, found, values, now=now)
    return _read(connection, queries.ENVIRONMENTS, found)


def delete_environment(
    connection: sa.Connection, name: str, *, project_id: str | None = None
) -> None:
    """Delete a named environment (``project_id``'s own first)."""
    found = _find_named(connection, _environments, name, project_id=project_id)
    if (
        found is None
        or not connection.execute(
            sa.delete(_environments).where(_environments.c.id == found)
        ).rowcount
    ):
        raise errors.NotFoundError(f"Environment not found [name={name}]")


# ---------------------------------------------------------------- input checks


def check_workflow_input(workflow_row: Mapping[str, Any], given: Mapping[str, Any] | None) -> None:
    """InputError in Mistral's words when ``given`` lacks a required input or has an unknown one."""
    declared = (workflow_row.get("interface") or {}).get("input") or []
    names: list[str] = []
    required: list[str] = []
    for item in declared:
        if isinstance(item, dict):
            names.extend(str(key) for key in item)
        else:
            names.append(str(item))
            required.append(str(item))
    given = given or {}
    missing = [name for name in required if name not in given]
    unexpected = [name for name in given if name not in names]
    if missing or unexpected:
        kind = _workflow_type(workflow_row)
        short = str(workflow_row.get("name") or "")
        if workflow_row.get("workbook_name"):
            short = short.rsplit(".", 1)[-1]
        message = f"Invalid input [name={short}, class={kind}"
        if missing:
            message += f", missing={missing}"
        if unexpected:
            message += f", unexpected={unexpected}"
        raise errors.InputError(message + "]")


def _workflow_type(workflow_row: Mapping[str, Any]) -> str:
    raw = _load_yaml(str(workflow_row.get("definition") or ""))
    short = str(workflow_row.get("name") or "").rsplit(".", 1)[-1]
    body = raw.get(workflow_row.get("name"), raw.get(short)) if isinstance(raw, dict) else None
    reverse = isinstance(body, dict) and body.get("type") == "reverse"
    return "ReverseWorkflowSpec" if reverse else "DirectWorkflowSpec"


# ---------------------------------------------------------------- helpers


def _read(connection: sa.Connection, view: queries.View, identifier: str) -> dict[str, Any]:
    return queries.get_by_id(connection, view, identifier)


def name_order(table: sa.Table, project_id: str | None) -> list[sa.ColumnElement[Any]]:
    """The order in which the rows of one name are meant for ``project_id`` (names are
    unique per project, as in Mistral): its own row, then one it may read (public; for
    workflows, shared with it and accepted), then the others (oldest first)."""
    if project_id is None:
        return [table.c.created_at]
    readable: sa.ColumnElement[bool] = table.c.scope == "public"
    if table is _workflow_definitions:
        members = tables.resource_members
        shared = sa.select(members.c.resource_id).where(
            members.c.resource_type == "workflow",
            members.c.member_id == project_id,
            members.c.status == "accepted",
        )
        readable = sa.or_(readable, table.c.id.in_(shared))
    return [
        sa.case((table.c.project_id == project_id, 0), (readable, 1), else_=2),
        table.c.created_at,
    ]


def workbook_id(
    connection: sa.Connection, name: str, namespace: str, project_id: str | None
) -> str | None:
    """The id of workbook ``name`` in ``namespace`` (``project_id``'s own first), or None."""
    return _find_id(connection, _workbooks, name, namespace, project_id=project_id)


def action_id(
    connection: sa.Connection, identifier: str, namespace: str, project_id: str | None
) -> str | None:
    """The id of an ad-hoc action by id, or by name in ``namespace`` then in the default
    one (``project_id``'s own first), or None."""
    return _action_id(connection, identifier, namespace, project_id)


def environment_id(connection: sa.Connection, name: str, project_id: str | None) -> str | None:
    """The id of environment ``name`` (``project_id``'s own first), or None."""
    return _find_named(connection, _environments, name, project_id=project_id)


def _find_id(
    connection: sa.Connection,
    table: sa.Table,
    name: str,
    namespace: str,
    *,
    project_id: str | None = None,
    own: bool = False,
) -> str | None:
    """The id of the row ``name`` in ``namespace``: ``project_id``'s own first (only its
    own with ``own``, as a duplicate check does), any project's when None."""
    query = sa.select(table.c.id).where(
        table.c.name == name, table.c.namespace == (namespace or "")
    )
    return _first_id(connection, table, query, project_id, own)


def _find_named(
    connection: sa.Connection,
    table: sa.Table,
    name: str,
    *,
    project_id: str | None = None,
    own: bool = False,
) -> str | None:
    query = sa.select(table.c.id).where(table.c.name == name)
    return _first_id(connection, table, query, project_id, own)


def _first_id(
    connection: sa.Connection,
    table: sa.Table,
    query: sa.Select[Any],
    project_id: str | None,
    own: bool,
) -> str | None:
    if own and project_id is not None:
        query = query.where(table.c.project_id == project_id)
    found = connection.execute(query.order_by(*name_order(table, project_id)).limit(1)).first()
    return None if found is None else str(found.id)


def _upsert(
    connection: sa.Connection,
    table: sa.Table,
    project_id: str,
    name: str,
    namespace: str,
    values: Mapping[str, Any],
    *,
    now: datetime,
    new_id: IdFactory,
) -> None:
    """Insert or update ``project_id``'s row ``name`` (another project's stays as it is)."""
    existing = _find_id(connection, table, name, namespace, project_id=project_id, own=True)
    if existing is None:
        connection.execute(
            sa.insert(table).values(
                id=new_id(), name=name, namespace=namespace, created_at=now, **values
            )
        )
    else:
        _update_if_changed(connection, table, existing, values, now=now)


def _update_if_changed(
    connection: sa.Connection,
    table: sa.Table,
    identifier: str,
    values: Mapping[str, Any],
    *,
    now: datetime,
) -> bool:
    """Write ``values`` and ``updated_at`` only when a value differs from the stored one.

    Mistral's ORM issues no UPDATE for an unchanged row, so uploading the same
    text again leaves ``updated_at`` as it was (null after creation).
    """
    current = connection.execute(
        sa.select(*[table.c[name] for name in values]).where(table.c.id == identifier)
    ).first()
    if current is not None and all(
        current._mapping[name] == value for name, value in values.items()
    ):
        return False
    connection.execute(
        sa.update(table).where(table.c.id == identifier).values(updated_at=now, **values)
    )
    return True


def _load_yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def _section(raw: Mapping[str, Any], section: str, item: str) -> Any:
    group = raw.get(section)
    return group.get(item) if isinstance(group, dict) else None


def _raw_input(spec: Any, body: Any) -> list[Any]:
    """The ``input`` list as written: names and one-key ``{name: default}`` mappings."""
    if isinstance(body, dict) and isinstance(body.get("input"), list):
        return list(body["input"])
    return [
        {parameter.name: parameter.default} if parameter.has_default else parameter.name
        for parameter in spec.input
    ]


def _python_input(item: Any) -> str:
    if isinstance(item, dict):
        return ", ".join(f'{key}="{value}"' for key, value in item.items())
    return str(item)


# ---------------------------------------------------------------- execution metadata


def set_execution_description(
    connection: sa.Connection, execution_id: str, description: str, *, now: datetime
) -> None:
    """Change an execution's description (metadata the engine never reads).

    The row's ``version`` goes up too: the engine keeps a snapshot of each
    execution keyed by that version and writes the whole row back from it, so
    without the bump its next step would put the old description back.
    """
    table = tables.workflow_executions
    connection.execute(
        sa.update(table)
        .where(table.c.id == execution_id)
        .values(description=description, updated_at=now, version=table.c.version + 1)
    )


def delete_standalone_action_execution(connection: sa.Connection, action_execution_id: str) -> None:
    """Delete a completed action execution that belongs to no workflow."""
    table = tables.action_executions
    row = connection.execute(sa.select(table).where(table.c.id == action_execution_id)).first()
    if row is None:
        raise errors.NotFoundError(f"ActionExecution not found [id={action_execution_id}]")
    if row.task_execution_id is not None or row.workflow_execution_id is not None:
        raise errors.InvalidStateError("Only ad-hoc action execution can be deleted.")
    if row.state not in ("SUCCESS", "ERROR", "CANCELLED"):
        raise errors.InvalidStateError("Only completed action execution can be deleted.")
    connection.execute(sa.delete(table).where(table.c.id == action_execution_id))
    blobs.release(connection, [action_execution_id])

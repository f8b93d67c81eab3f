"""Stored cron and event triggers (the scheduler fires them; this module keeps them).

A cron trigger follows Mistral's rules: a valid croniter ``pattern`` and/or a
``first_execution_time`` (``YYYY-MM-DD HH:MM``, at least a minute ahead); with
only a first time it runs once (Mistral stores the pattern ``0 0 30 2 0``,
"never"); ``workflow_input`` must match the workflow's declared input; the
next execution time is computed at creation. Functions take the open
connection and ``now``; they return rows as :mod:`sirocco.store.queries` shows them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import croniter
import sqlalchemy as sa

from sirocco import errors, ids
from sirocco.store import definitions, queries, tables

IdFactory = Callable[[], str]
#: The pattern Mistral stores for a cron trigger that has only a first time: "never".
NEVER_PATTERN = "0 0 30 2 0"

_workflow_definitions = tables.workflow_definitions
_cron = tables.cron_triggers
_event = tables.event_triggers


# ---------------------------------------------------------------- cron triggers


def create_cron_trigger(
    connection: sa.Connection,
    *,
    name: str,
    workflow: str,
    workflow_input: Mapping[str, Any] | None,
    workflow_params: Mapping[str, Any] | None,
    pattern: str | None,
    first_execution_time: str | datetime | None,
    remaining_executions: int | None,
    scope: str = "private",
    namespace: str = "",
    now: datetime,
    project_id: str = definitions.DEFAULT_PROJECT,
    new_id: IdFactory = ids.new_id,
) -> dict[str, Any]:
    """Store a cron trigger after Mistral's checks; computes the next execution time."""
    first = first_execution_time
    if isinstance(first, str):
        try:
            first = datetime.strptime(first, "%Y-%m-%d %H:%M")
        except ValueError as exc:
            raise errors.InputError(str(exc)) from exc
    if not (first or pattern):
        raise errors.InputError("Pattern or first_execution_time must be specified.")
    if first:
        if now + timedelta(seconds=60) > first:
            raise errors.InputError("first_execution_time must be at least 1 minute in the future.")
        if not pattern and remaining_executions and remaining_executions > 1:
            raise errors.InputError("Pattern must be provided if count is superior to 1.")
    if pattern:
        try:
            croniter.croniter(pattern)
        except (ValueError, KeyError) as exc:
            raise errors.InputError(f"The specified pattern is not valid: {pattern}") from exc
    if first:
        next_time = first
        if not (pattern or remaining_executions):
            remaining_executions = 1
    else:
        next_time = croniter.croniter(pattern, now).get_next(datetime)
    found = definitions.get_workflow_row(connection, workflow, namespace, project_id=project_id)
    definitions.check_workflow_input(found, workflow_input)
    stored_pattern = pattern or NEVER_PATTERN
    if connection.execute(
        sa.select(_cron.c.id).where(_cron.c.name == name, _cron.c.project_id == project_id)
    ).first() or _same_schedule(
        connection,
        project_id=project_id,
        workflow_id=found["id"],
        pattern=stored_pattern,
        first=first,
        remaining=remaining_executions,
        workflow_input=workflow_input,
        workflow_params=workflow_params,
    ):
        raise errors.ConflictError(
            f"Duplicate entry for cron trigger ['name', 'project_id']: {name}, None"
        )
    identifier = new_id()
    connection.execute(
        sa.insert(_cron).values(
            id=identifier,
            name=name,
            pattern=stored_pattern,
            first_execution_time=first,
            next_execution_time=next_time,
            remaining_executions=remaining_executions,
            workflow_name=found["name"],
            workflow_id=found["id"],
            workflow_namespace=found["namespace"] or "",
            workflow_input=dict(workflow_input or {}),
            workflow_params=dict(workflow_params or {}),
            project_id=project_id,
            scope=scope,
            created_at=now,
        )
    )
    return queries.get_by_id(connection, queries.CRON_TRIGGERS, identifier)


def _same_schedule(
    connection: sa.Connection,
    *,
    project_id: str,
    workflow_id: str,
    pattern: str,
    first: datetime | None,
    remaining: int | None,
    workflow_input: Mapping[str, Any] | None,
    workflow_params: Mapping[str, Any] | None,
) -> bool:
    """Whether a trigger already starts this workflow with the same input, params and schedule.

    Mistral has a unique key over (workflow, input, params, pattern, count,
    first time, project); as in SQL, a key with a null column never collides,
    so triggers without a first time or a count are never duplicates.
    """
    if first is None or remaining is None:
        return False
    candidates = connection.execute(
        sa.select(_cron.c.workflow_input, _cron.c.workflow_params).where(
            _cron.c.project_id == project_id,
            _cron.c.workflow_id == workflow_id,
            _cron.c.pattern == pattern,
            _cron.c.first_execution_time == first,
            _cron.c.remaining_executions == remaining,
        )
    )
    wanted = (dict(workflow_input or {}), dict(workflow_params or {}))
    return any(
        (dict(row.workflow_input or {}), dict(row.workflow_params or {})) == wanted
        for row in candidates
    )


def cron_trigger_id(
    connection: sa.Connection, identifier: str, *, project_id: str | None = None
) -> str:
    """The id of a cron trigger given by id, or by name (``project_id``'s own first);
    NotFoundError otherwise."""
    found = connection.execute(sa.select(_cron.c.id).where(_cron.c.id == identifier)).first()
    if found is None:
        found = connection.execute(
            sa.select(_cron.c.id)
            .where(_cron.c.name == identifier)
            .order_by(*definitions.name_order(_cron, project_id))
            .limit(1)
        ).first()
    if found is None:
        raise errors.NotFoundError(f"Cron trigger not found [identifier={identifier}]")
    return str(found.id)


def delete_cron_trigger(
    connection: sa.Connection, identifier: str, *, project_id: str | None = None
) -> None:
    """Delete a cron trigger by name (``project_id``'s own first) or id."""
    found = cron_trigger_id(connection, identifier, project_id=project_id)
    connection.execute(sa.delete(_cron).where(_cron.c.id == found))


# ---------------------------------------------------------------- event triggers


def create_event_trigger(
    connection: sa.Connection,
    *,
    name: str | None,
    workflow_id: str,
    exchange: str,
    topic: str,
    event: str,
    workflow_input: Mapping[str, Any] | None,
    workflow_params: Mapping[str, Any] | None,
    scope: str = "private",
    now: datetime,
    project_id: str = definitions.DEFAULT_PROJECT,
    new_id: IdFactory = ids.new_id,
) -> dict[str, Any]:
    """Store an event trigger for a workflow given by id."""
    found = connection.execute(
        sa.select(_workflow_definitions).where(_workflow_definitions.c.id == workflow_id)
    ).first()
    if found is None:
        raise errors.NotFoundError(f"Workflow not found [workflow_id={workflow_id}]")
    definitions.check_workflow_input(dict(found._mapping), workflow_input)
    duplicate = connection.execute(
        sa.select(_event.c.id).where(
            _event.c.exchange == exchange,
            _event.c.topic == topic,
            _event.c.event == event,
            _event.c.workflow_id == workflow_id,
            _event.c.project_id == project_id,
        )
    ).first()
    if duplicate is not None:
        raise errors.ConflictError(
            "Duplicate entry for EventTrigger ['exchange', 'topic', 'event', 'workflow_id', "
            f"'project_id']: {exchange}, {topic}, {event}, {workflow_id}, None"
        )
    identifier = new_id()
    connection.execute(
        sa.insert(_event).values(
            id=identifier,
            name=name or "",
            workflow_id=workflow_id,
            workflow_input=dict(workflow_input or {}),
            workflow_params=dict(workflow_params or {}),
            project_id=project_id,
            exchange=exchange,
            topic=topic,
            event=event,
            scope=scope,
            created_at=now,
        )
    )
    return queries.get_by_id(connection, queries.EVENT_TRIGGERS, identifier)


def update_event_trigger(
    connection: sa.Connection, identifier: str, changes: Mapping[str, Any], *, now: datetime
) -> dict[str, Any]:
    """Change name, workflow_input, workflow_params or scope of an event trigger."""
    found = connection.execute(sa.select(_event.c.id).where(_event.c.id == identifier)).first()
    if found is None:
        raise errors.NotFoundError(f"Event trigger not found [id={identifier}].")
    allowed = ("name", "workflow_input", "workflow_params", "scope")
    values = {key: changes[key] for key in allowed if key in changes}
    connection.execute(
        sa.update(_event).where(_event.c.id == identifier).values(updated_at=now, **values)
    )
    return queries.get_by_id(connection, queries.EVENT_TRIGGERS, identifier)


def delete_event_trigger(connection: sa.Connection, identifier: str) -> None:
    """Delete an event trigger by id."""
    if not connection.execute(sa.delete(_event).where(_event.c.id == identifier)).rowcount:
        raise errors.NotFoundError(f"Event trigger not found [id={identifier}].")
    deliveries = tables.event_deliveries
    connection.execute(sa.delete(deliveries).where(deliveries.c.trigger_id == identifier))

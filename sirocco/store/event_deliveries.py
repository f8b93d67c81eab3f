"""Event triggers as listeners see them, and each notification's starts, recorded once.

A notification that matches a trigger is recorded in one transaction: a row in
``event_deliveries`` keyed by (trigger id, message id), and an outbox row asking
for the workflow start (the execution id is chosen here, so the start itself is
idempotent too). A notification seen again (redelivered by the broker, or
posted twice with the same ``message_id``) finds its row and records nothing;
the caller learns the execution it started the first time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from sirocco import ids
from sirocco.store import outbox, tables
from sirocco.store.database import Database

_event = tables.event_triggers
_deliveries = tables.event_deliveries
_workflow_definitions = tables.workflow_definitions


@dataclass(frozen=True, slots=True, kw_only=True)
class Trigger:
    """An event trigger with what a listener needs to fire it."""

    id: str
    name: str
    exchange: str
    topic: str
    event: str
    workflow_id: str
    workflow_namespace: str
    workflow_input: Mapping[str, Any] = field(default_factory=dict)
    workflow_params: Mapping[str, Any] = field(default_factory=dict)
    project_id: str
    scope: str = "private"


@dataclass(frozen=True, slots=True, kw_only=True)
class Recorded:
    """What recording a notification for one trigger gave.

    ``outbox_id`` is None when the notification had been recorded before
    (``execution_id`` is then the execution it started that time).
    """

    trigger_id: str
    execution_id: str
    outbox_id: str | None
    payload: Mapping[str, Any]


def _select() -> sa.Select[Any]:
    return sa.select(
        _event.c.id,
        _event.c.name,
        _event.c.exchange,
        _event.c.topic,
        _event.c.event,
        _event.c.workflow_id,
        sa.func.coalesce(_workflow_definitions.c.namespace, "").label("workflow_namespace"),
        _event.c.workflow_input,
        _event.c.workflow_params,
        _event.c.project_id,
        _event.c.scope,
    ).select_from(
        _event.outerjoin(_workflow_definitions, _workflow_definitions.c.id == _event.c.workflow_id)
    )


def _trigger(row: Any) -> Trigger:
    return Trigger(
        id=str(row.id),
        name=str(row.name),
        exchange=str(row.exchange),
        topic=str(row.topic),
        event=str(row.event),
        workflow_id=str(row.workflow_id),
        workflow_namespace=str(row.workflow_namespace or ""),
        workflow_input=dict(row.workflow_input or {}),
        workflow_params=dict(row.workflow_params or {}),
        project_id=str(row.project_id),
        scope=str(row.scope),
    )


def all_triggers(connection: sa.Connection) -> list[Trigger]:
    """Every event trigger of every project (what the listeners listen for)."""
    return [_trigger(row) for row in connection.execute(_select().order_by(_event.c.id))]


def trigger(connection: sa.Connection, trigger_id: str) -> Trigger | None:
    """One event trigger by id (None when there is none)."""
    row = connection.execute(_select().where(_event.c.id == trigger_id)).first()
    return None if row is None else _trigger(row)


def _insert(connection: sa.Connection) -> Any:
    dialect = sqlite if connection.dialect.name == "sqlite" else postgresql
    # RETURNING says whether the row went in (psycopg's rowcount is -1 here).
    return dialect.insert(_deliveries).on_conflict_do_nothing().returning(_deliveries.c.trigger_id)


def record(
    connection: sa.Connection,
    trigger: Trigger,
    *,
    message_id: str,
    payload: Mapping[str, Any],
    now: datetime,
    claimed_until: datetime | None,
) -> Recorded:
    """Record that notification ``message_id`` starts ``trigger``'s workflow, in the
    caller's transaction: the delivery row and the outbox row of the start, or
    nothing when the notification was recorded before.

    ``payload``: the start (as :mod:`sirocco.store.cron` writes it), with its
    ``execution_id``. ``claimed_until``: pollers leave the row alone until then
    (the recording process starts the workflow itself).
    """
    execution_id = str(payload["execution_id"])
    inserted = connection.execute(
        _insert(connection).values(
            trigger_id=trigger.id,
            message_id=message_id,
            execution_id=execution_id,
            created_at=now,
        )
    ).first()
    if inserted is None:
        earlier = connection.execute(
            sa.select(_deliveries.c.execution_id).where(
                _deliveries.c.trigger_id == trigger.id, _deliveries.c.message_id == message_id
            )
        ).scalar_one()
        return Recorded(
            trigger_id=trigger.id, execution_id=str(earlier), outbox_id=None, payload=payload
        )
    outbox_id = ids.new_id()
    outbox.insert(
        connection,
        [
            outbox.row(
                id=outbox_id,
                kind=outbox.Kind.EVENT_START,
                payload=dict(payload),
                created_at=now,
                claimed_until=claimed_until,
            )
        ],
    )
    return Recorded(
        trigger_id=trigger.id, execution_id=execution_id, outbox_id=outbox_id, payload=payload
    )


def forget_before(connection: sa.Connection, before: datetime) -> int:
    """Drop the records of notifications older than ``before``; return how many."""
    return int(
        connection.execute(sa.delete(_deliveries).where(_deliveries.c.created_at < before)).rowcount
    )


#: How long a notification is remembered: a broker redelivers within minutes.
REMEMBER = timedelta(days=7)


def listened(database: Database) -> list[Trigger]:
    """Every event trigger, read in a transaction of its own."""
    with database.read() as connection:
        return all_triggers(connection)


def record_all(
    database: Database,
    starts: Sequence[tuple[Trigger, Mapping[str, Any]]],
    *,
    message_id: str,
    now: datetime,
    claimed_until: datetime | None,
) -> list[Recorded]:
    """Record one notification's starts (trigger and start payload) in one transaction."""
    with database.transaction() as connection:
        return [
            record(
                connection,
                trigger,
                message_id=message_id,
                payload=payload,
                now=now,
                claimed_until=claimed_until,
            )
            for trigger, payload in starts
        ]


def forget_old(database: Database, now: datetime) -> int:
    """Drop the records of notifications older than :data:`REMEMBER`."""
    with database.transaction() as connection:
        return forget_before(connection, now - REMEMBER)


def forget(database: Database, trigger_id: str, message_id: str) -> None:
    """Drop one record (its start failed: the same notification may try again)."""
    with database.transaction() as connection:
        connection.execute(
            sa.delete(_deliveries).where(
                _deliveries.c.trigger_id == trigger_id, _deliveries.c.message_id == message_id
            )
        )


def find_trigger(database: Database, trigger_id: str) -> Trigger | None:
    """One event trigger by id, read in a transaction of its own."""
    with database.read() as connection:
        return trigger(connection, trigger_id)

"""Cron triggers claimed once per tick: a conditional update of ``next_execution_time``
(the loser of a race between schedulers updates nothing) and, in the same
transaction, an outbox row asking for the workflow start."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sirocco import ids
from sirocco.store import outbox, tables
from sirocco.store.database import Database

#: The pattern stored for a trigger that has only a first execution time.
NEVER_PATTERN = "0 0 30 2 0"


def next_time(pattern: str | None, after: datetime) -> datetime | None:
    """The first tick of ``pattern`` after ``after`` (None when there is no pattern)."""
    if not pattern:
        return None
    import croniter  # only when there are triggers: a `sirocco run` has none

    return croniter.croniter(pattern, after).get_next(datetime)  # type: ignore[no-any-return]


def claim_due(database: Database, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    """Claim every due trigger once; return the outbox rows (id, payload) of the starts."""
    table = tables.cron_triggers
    claimed: list[tuple[str, dict[str, Any]]] = []
    with database.read() as connection:
        due = connection.execute(
            sa.select(table.c.id).where(table.c.next_execution_time <= now).limit(1)
        ).first()
    if due is None:
        return claimed
    with database.transaction() as connection:
        rows = list(
            connection.execute(
                sa.select(table).where(table.c.next_execution_time <= now).limit(100)
            )
        )
        for row in rows:
            payload = _start_payload(row)
            remaining = row.remaining_executions
            # A trigger given only a first time stores Mistral's "never" pattern; croniter
            # reads it as "Sundays in February" (day fields are OR-ed), so never follow it.
            once = row.pattern == NEVER_PATTERN
            following = None if once else next_time(row.pattern, max(now, row.next_execution_time))
            guard = sa.and_(
                table.c.id == row.id, table.c.next_execution_time == row.next_execution_time
            )
            if (remaining is not None and remaining <= 1) or following is None or once:
                changed = connection.execute(sa.delete(table).where(guard)).rowcount
            else:
                values: dict[str, Any] = {"next_execution_time": following, "updated_at": now}
                if remaining is not None:
                    values["remaining_executions"] = remaining - 1
                changed = connection.execute(sa.update(table).where(guard).values(values)).rowcount
            if changed != 1:
                continue  # another scheduler took this tick
            outbox_id = ids.new_id()
            outbox.insert(
                connection,
                [
                    outbox.row(
                        id=outbox_id, kind=outbox.Kind.CRON_START, payload=payload, created_at=now
                    )
                ],
            )
            claimed.append((outbox_id, payload))
    return claimed


def _start_payload(row: Any) -> dict[str, Any]:
    description = json.dumps(
        {
            "description": f"Workflow execution created by cron trigger '({row.id})'.",
            "triggered_by": {"type": "cron_trigger", "id": row.id},
        }
    )
    return {
        "workflow": row.workflow_id or row.workflow_name,
        "namespace": row.workflow_namespace or "",
        "input": row.workflow_input or {},
        "params": row.workflow_params or {},
        "description": description,
        "execution_id": ids.new_id(),
        "project_id": row.project_id,
    }

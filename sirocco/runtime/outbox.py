"""The outbox as the queue between roles in separate processes (``sirocco engine``,
``executor``, ``scheduler``, ``api`` on one database).

A row is claimed before it is delivered: either deleted at once (an executor taking
a RunAction: "handed over") or marked ``claimed_until`` (an engine taking an event;
the step that applies the event deletes the row). A claim that runs out because
its process died is taken over by another process.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from sirocco.store import tables
from sirocco.store.database import Database

CLAIM_FOR = timedelta(seconds=60)

#: Rows an engine takes: events for executions and requests to start one.
ENGINE_KINDS = (
    "SendEvent",
    "NotifyParent",
    "StartSubworkflow",
    "CronStart",
    "ActionResult",
    "TimerEvent",
)
RUN_ACTION = "RunAction"

_outbox = tables.outbox


def put(
    database: Database,
    kind: str,
    payload: dict[str, Any],
    *,
    now: datetime,
    workflow_execution_id: str | None = None,
    row_id: str | None = None,
) -> str:
    """Add one row (in its own transaction) and return its id."""
    row_id = row_id or str(uuid.uuid4())
    with database.transaction() as connection:
        connection.execute(
            sa.insert(_outbox),
            [
                {
                    "id": row_id,
                    "workflow_execution_id": workflow_execution_id,
                    "kind": kind,
                    "payload": payload,
                    "created_at": now,
                    "claimed_until": None,
                    "target": None,
                }
            ],
        )
    return row_id


def claim(
    database: Database,
    kinds: Sequence[str],
    *,
    now: datetime,
    limit: int = 500,
    targets: Sequence[str | None] | None = None,
    take: bool = False,
) -> list[Any]:
    """Claim up to ``limit`` unclaimed rows of ``kinds``, oldest first.

    With ``take`` the rows are deleted (handed over for good); otherwise they
    are marked claimed for ``CLAIM_FOR``. ``targets`` restricts RunAction rows
    to those for one of the given targets (``None`` in it: rows for any executor).
    """
    free = sa.or_(_outbox.c.claimed_until.is_(None), _outbox.c.claimed_until < now)
    query = sa.select(_outbox).where(_outbox.c.kind.in_(kinds), free)
    if targets is not None:
        named = [target for target in targets if target is not None]
        choices = [_outbox.c.target.in_(named)] if named else []
        if None in targets:
            choices.append(_outbox.c.target.is_(None))
        query = query.where(sa.or_(*choices))
    query = query.order_by(_outbox.c.created_at).limit(limit)
    with database.read() as connection:
        if connection.execute(query.with_only_columns(_outbox.c.id)).first() is None:
            return []
    with database.transaction() as connection:
        if connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(connection.execute(query))
        if not rows:
            return []
        ids = [row.id for row in rows]
        if take:
            connection.execute(sa.delete(_outbox).where(_outbox.c.id.in_(ids)))
        else:
            connection.execute(
                sa.update(_outbox)
                .where(_outbox.c.id.in_(ids))
                .values(claimed_until=now + CLAIM_FOR)
            )
    return rows

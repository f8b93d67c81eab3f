"""The timers table: events to deliver at a due time, leased while they are delivered."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from sirocco.store import executions, outbox, tables
from sirocco.store.database import Database

_timers = tables.timers

_DELETE = (
    sa.delete(_timers)
    .where(_timers.c.id.in_(sa.bindparam("ids", expanding=True)))
    .returning(_timers.c.id)
)
_INSERT = sa.insert(_timers)


def insert(connection: sa.Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Write timer rows (a chunk per ``executemany``)."""
    executions.execute_many(connection, _INSERT, rows)


def delete(connection: sa.Connection, ids: Sequence[str]) -> set[str]:
    """Delete timers by id; return the ids that were still there."""
    if not ids:
        return set()
    return set(connection.execute(_DELETE, {"ids": list(ids)}).scalars())


def release_all(database: Database) -> None:
    """Free every lease (a process that held them died)."""
    with database.transaction() as connection:
        connection.execute(sa.update(_timers).values(claimed_until=None))


def claim_due(
    database: Database, now: datetime, *, limit: int = 1000
) -> tuple[list[tuple[str, Any]], datetime | None]:
    """Lease up to ``limit`` due timers; return their (id, payload) and, when none is
    due, when the next one is."""
    unclaimed = sa.or_(_timers.c.claimed_until.is_(None), _timers.c.claimed_until < now)
    with database.read() as connection:
        due = connection.execute(
            sa.select(_timers.c.id).where(_timers.c.due <= now, unclaimed).limit(1)
        ).first()
        if due is None:
            upcoming = connection.execute(
                sa.select(sa.func.min(_timers.c.due)).where(unclaimed)
            ).scalar()
            return [], upcoming
    # A lease a database crash forgets only lets another process fire the timer again, and
    # the step that applies it drops the duplicate (the timer is gone): no flush to wait for.
    with database.transaction(durable=False) as connection:
        rows = list(
            connection.execute(
                sa.select(_timers.c.id, _timers.c.payload)
                .where(_timers.c.due <= now, unclaimed)
                .order_by(_timers.c.due)
                .limit(limit)
            )
        )
        if rows:
            connection.execute(
                sa.update(_timers)
                .where(_timers.c.id.in_([found.id for found in rows]), unclaimed)
                .values(claimed_until=now + outbox.CLAIM_FOR)
            )
    return [(found.id, found.payload) for found in rows], None

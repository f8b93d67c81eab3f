"""Counts read at scrape time for the metrics: outbox rows by kind, timers due, actions
running per executor process."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from sirocco.store import outbox, tables


def outbox_depth(connection: sa.Connection) -> dict[str, int]:
    """Outbox rows by kind."""
    box = tables.outbox
    rows = connection.execute(sa.select(box.c.kind, sa.func.count()).group_by(box.c.kind))
    return {str(kind): int(count) for kind, count in rows}


def timers_due(connection: sa.Connection, *, now: datetime) -> int:
    """Timers whose due time passed (not delivered yet)."""
    timers = tables.timers
    query = sa.select(sa.func.count()).select_from(timers).where(timers.c.due <= now)
    return int(connection.execute(query).scalar_one())


def running_actions(connection: sa.Connection, *, now: datetime) -> dict[str, int]:
    """RunAction rows held on a live lease, by the process that holds them (its name)."""
    box = tables.outbox
    rows = connection.execute(
        sa.select(box.c.holder, sa.func.count())
        .where(
            box.c.kind == outbox.Kind.RUN_ACTION,
            box.c.holder.is_not(None),
            box.c.claimed_until >= now,
        )
        .group_by(box.c.holder)
    )
    return {str(holder): int(count) for holder, count in rows}

"""Durable timers: rows in the ``timers`` table, delivered as events when due.

A timer row is claimed for a while before its event is queued; the step
that consumes the event deletes the row in its own transaction, so a crash
at any point delivers the event again rather than losing it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from sirocco.engine import events
from sirocco.runtime import codec
from sirocco.runtime.health import Guard, Health
from sirocco.store import tables
from sirocco.store.database import Database

log = logging.getLogger("sirocco.timers")

CLAIM_FOR = timedelta(seconds=60)
IDLE_POLL = 1.0


class TimerThread:
    """Waits for the next due timer and hands its event over."""

    def __init__(
        self,
        database: Database,
        deliver: Callable[[str, events.Event], None],
        clock: Callable[[], datetime],
        health: Health | None = None,
    ) -> None:
        self._database = database
        self._deliver = deliver
        self._clock = clock
        self._health = health
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sirocco-timers", daemon=True)
        self._thread.start()
        if self._health is not None:
            self._health.watch(self._thread)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._health is not None:
            self._health.forget(self._thread)
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def wake(self, due: datetime) -> None:
        """A new timer exists; look again (it may be due sooner than the one awaited)."""
        self._wake.set()

    def _run(self) -> None:
        guard = Guard("timers", self._health)
        while not self._stop.is_set():
            try:
                delay = self.fire_due()
            except Exception as exc:
                guard.failed(exc)
                delay = max(guard.backoff, IDLE_POLL)
            else:
                guard.succeeded()
            self._wake.wait(delay)
            self._wake.clear()

    def fire_due(self) -> float:
        """Deliver every due timer; return seconds until the next one (capped)."""
        now = self._clock()
        table = tables.timers
        unclaimed = sa.or_(table.c.claimed_until.is_(None), table.c.claimed_until < now)
        with self._database.read() as connection:
            due = connection.execute(
                sa.select(table.c.id).where(table.c.due <= now, unclaimed).limit(1)
            ).first()
            if due is None:
                upcoming = connection.execute(
                    sa.select(sa.func.min(table.c.due)).where(unclaimed)
                ).scalar()
                return _seconds_until(upcoming, now)
        with self._database.transaction() as connection:
            rows = list(
                connection.execute(
                    sa.select(table.c.id, table.c.payload)
                    .where(table.c.due <= now, unclaimed)
                    .order_by(table.c.due)
                    .limit(1000)
                )
            )
            if rows:
                connection.execute(
                    sa.update(table)
                    .where(table.c.id.in_([row.id for row in rows]), unclaimed)
                    .values(claimed_until=now + CLAIM_FOR)
                )
        for row in rows:
            self._deliver(row.id, codec.decode(row.payload))
        return 0.0 if len(rows) == 1000 else 0.001


def _seconds_until(due: datetime | None, now: datetime) -> float:
    if due is None:
        return IDLE_POLL
    return max(0.0, min(IDLE_POLL, (due - now).total_seconds()))

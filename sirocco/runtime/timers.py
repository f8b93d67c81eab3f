"""Durable timers: rows in the ``timers`` table, delivered as events when due.

A timer row is claimed for a while before its event is queued; the step
that consumes the event deletes the row in its own transaction, so a crash
at any point delivers the event again rather than losing it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sirocco.engine import events
from sirocco.runtime import codec
from sirocco.runtime.health import Guard, Health
from sirocco.store import timers
from sirocco.store.database import Database

log = logging.getLogger("sirocco.timers")

IDLE_POLL = 1.0
#: Due timers leased per pass.
BATCH = 1000


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
        rows, upcoming = timers.claim_due(self._database, now, limit=BATCH)
        if not rows:
            return _seconds_until(upcoming, now)
        for timer_id, payload in rows:
            self._deliver(timer_id, codec.decode(payload))
        return 0.0 if len(rows) == BATCH else 0.001


def _seconds_until(due: datetime | None, now: datetime) -> float:
    if due is None:
        return IDLE_POLL
    return max(0.0, min(IDLE_POLL, (due - now).total_seconds()))

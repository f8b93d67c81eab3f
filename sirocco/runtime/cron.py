"""Cron triggers fire on time, once per tick, durably, even with several scheduler processes.

Each pass claims a due trigger with a conditional update of its
``next_execution_time`` (the loser of a race updates nothing) and, in the same
transaction, writes an outbox row asking for the workflow start. The start
deletes that row in its own transaction, so a crash in between starts the
workflow on recovery instead of losing the tick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sirocco.runtime.health import Guard, Health
from sirocco.store import cron
from sirocco.store import maintenance as maintenance_mode
from sirocco.store.database import Database

log = logging.getLogger("sirocco.cron")

POLL = 1.0


class CronThread:
    """Checks the cron triggers every second and starts what is due."""

    def __init__(
        self,
        database: Database,
        start: Callable[[str, dict[str, Any]], object],
        clock: Callable[[], datetime],
        health: Health | None = None,
    ) -> None:
        self._database = database
        self._start = start
        self._clock = clock
        self._health = health
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sirocco-cron", daemon=True)
        self._thread.start()
        if self._health is not None:
            self._health.watch(self._thread)

    def stop(self) -> None:
        self._stop.set()
        if self._health is not None:
            self._health.forget(self._thread)
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def _run(self) -> None:
        guard = Guard("cron", self._health)
        while not self._stop.wait(POLL + guard.backoff):
            guard.call(self.fire_due)

    def fire_due(self) -> int:
        """One pass: claim and start every due trigger; return how many were started.

        While maintenance mode is on nothing is claimed: the due ticks wait for its end
        (new executions are refused meanwhile, as through the API)."""
        with self._database.read() as connection:
            if maintenance_mode.status(connection) != maintenance_mode.RUNNING:
                return 0
        claimed = cron.claim_due(self._database, self._clock())
        for outbox_id, payload in claimed:
            self._start(outbox_id, payload)
        return len(claimed)

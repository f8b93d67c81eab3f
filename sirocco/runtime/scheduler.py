"""``sirocco scheduler``: due timers and cron ticks turned into outbox rows for the engines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sirocco.engine import events
from sirocco.runtime import codec
from sirocco.runtime.cron import CronThread
from sirocco.runtime.health import Health
from sirocco.runtime.timers import TimerThread
from sirocco.store import outbox
from sirocco.store.database import Database


class Scheduler:
    """Timers and cron triggers for engines that run in other processes."""

    def __init__(self, database: Database, clock: Callable[[], datetime]) -> None:
        self._database = database
        self._clock = clock
        self.health = Health()
        self.health.probe("database", database.ping)
        self.timers = TimerThread(database, self._timer_due, clock, self.health)
        # claim_due already wrote the start as an outbox row; an engine takes it from there.
        self.cron = CronThread(database, _left_to_engines, clock, self.health)

    def start(self) -> None:
        """Start the timer and cron threads (watched by ``health``)."""
        self.timers.start()
        self.cron.start()

    def stop(self) -> None:
        self.timers.stop()
        self.cron.stop()

    def _timer_due(self, timer_id: str, event: events.Event) -> None:
        outbox.put(
            self._database,
            outbox.Kind.TIMER_EVENT,
            {"timer_id": timer_id, "event": codec.encode(event)},
            now=self._clock(),
            workflow_execution_id=event.workflow_execution_id,
        )


def _left_to_engines(_outbox_id: str, _payload: dict[str, Any]) -> None:
    return None

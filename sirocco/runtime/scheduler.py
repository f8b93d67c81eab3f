"""``sirocco scheduler``: due timers and cron ticks turned into outbox rows for the engines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sirocco.engine import events
from sirocco.runtime import codec, delivery, maintenance
from sirocco.runtime.cron import CronThread
from sirocco.runtime.health import Health
from sirocco.runtime.timers import TimerThread
from sirocco.store import notify, outbox
from sirocco.store.database import Database


class Scheduler:
    """Timers and cron triggers for engines that run in other processes."""

    def __init__(
        self,
        database: Database,
        clock: Callable[[], datetime],
        parcels: delivery.Delivery | None = None,
    ) -> None:
        self._database = database
        self._clock = clock
        self._delivery = parcels
        self.health = Health()
        self.health.probe("database", database.ping)
        self.health.condition("maintenance", maintenance.readiness(database))
        self.timers = TimerThread(database, self._timer_due, clock, self.health)
        # claim_due already wrote the start as an outbox row; an engine takes it from there.
        self.cron = CronThread(database, self._cron_due, clock, self.health)

    def start(self) -> None:
        """Start the timer and cron threads (watched by ``health``)."""
        self.timers.start()
        self.cron.start()

    def stop(self) -> None:
        self.timers.stop()
        self.cron.stop()

    def _timer_due(self, timer_id: str, event: events.Event) -> None:
        brokered = self._delivery is not None and self._delivery.brokered
        now = self._clock()
        payload = {"timer_id": timer_id, "event": codec.encode(event)}
        row_id = outbox.put(
            self._database,
            outbox.Kind.TIMER_EVENT,
            payload,
            now=now,
            workflow_execution_id=event.workflow_execution_id,
            claimed_until=now + outbox.CLAIM_FOR if brokered else None,
            wake=None if brokered else notify.ENGINE,
        )
        if brokered:
            self._send(
                delivery.Parcel(kind=outbox.Kind.TIMER_EVENT, outbox_id=row_id, payload=payload)
            )

    def _cron_due(self, outbox_id: str, payload: dict[str, Any]) -> None:
        if self._delivery is None:
            return  # the engines' pollers find the row
        parcel = delivery.Parcel(kind=outbox.Kind.CRON_START, outbox_id=outbox_id, payload=payload)
        if self._delivery.brokered:
            self._delivery.send([parcel])  # refused: the row is unleased, a poller takes it
        else:
            outbox.release(self._database, [outbox_id], channel=notify.ENGINE)

    def _send(self, parcel: delivery.Parcel) -> None:
        assert self._delivery is not None
        if self._delivery.send([parcel]):
            outbox.release(self._database, [parcel.outbox_id], channel=notify.ENGINE)

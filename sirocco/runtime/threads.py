"""The threads an engine process runs beside its engine thread when roles are split:
the outbox poller, which takes the engine rows no live process is delivering, and
the heartbeat watch, which takes over the actions of executors that went silent.

Each runs its work under a ``Guard``: an outage of the database is logged once,
reported to ``Health``, and waited out with a growing pause; the thread goes on.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from datetime import datetime

from sirocco.runtime import delivery
from sirocco.runtime.dispatch import Dispatcher
from sirocco.runtime.health import Guard, Health
from sirocco.runtime.heartbeats import HeartbeatChecker
from sirocco.runtime.intake import Intake
from sirocco.runtime.work import Outgoing
from sirocco.store import engine_slots, notify, outbox
from sirocco.store.database import Database

#: Seconds between looks at the outbox when roles run in separate processes.
OUTBOX_POLL = 0.05
#: Seconds between looks at which engines are live (their shares of the executions).
SHARE_REFRESH = 1.0


class _Worker:
    """A daemon thread watched by ``Health`` that runs ``_run`` until stopped."""

    name = "sirocco-worker"

    def __init__(self, health: Health) -> None:
        self.health = health
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()
        self.health.watch(self._thread)

    def stop(self, timeout: float) -> None:
        self._stop.set()
        self.health.forget(self._thread)
        if self._thread is not None:
            self._thread.join(timeout)
        self._thread = None

    def _run(self) -> None:
        raise NotImplementedError


class OutboxPoller(_Worker):
    """Takes the engine rows of the outbox that no live process is delivering; waits
    on the delivery port (a broker, or PostgreSQL NOTIFY) between looks.

    With several engines on PostgreSQL each takes the rows of its own share of the
    executions first (``engine_slots``): an execution keeps being stepped by the
    engine that holds its snapshot. Without a broker it is woken by the events of its
    share (on its slot's channel) and by those for any engine, not by the others'."""

    name = "sirocco-outbox"

    def __init__(
        self,
        database: Database,
        intake: Intake,
        parcels: delivery.Delivery | None,
        health: Health,
        clock: Callable[[], datetime],
    ) -> None:
        super().__init__(health)
        self.database = database
        self.intake = intake
        self.parcels = parcels
        self.clock = clock
        self._last_poll = 0
        self.membership = engine_slots.Membership(database)
        self._share: outbox.Share | None = None
        self._shared_at: float | None = None

    def stop(self, timeout: float) -> None:
        super().stop(timeout)
        self.membership.close()

    def share(self) -> outbox.Share | None:
        """This engine's share of the executions (looked up again every ``SHARE_REFRESH``)."""
        now = time.monotonic()
        if self._shared_at is None or now - self._shared_at >= SHARE_REFRESH:
            self._share = self.membership.share()
            self._shared_at = now
            if self.parcels is not None:  # over a broker: the queues of this engine's slot
                self.parcels.follow_slot(
                    self.membership.slot, self.membership.live, self.intake.receive
                )
        return self._share

    def poll(self) -> int:
        """Take the engine rows no live process is delivering (roles in separate processes)."""
        share = self.share()
        rows = outbox.claim(self.database, outbox.ENGINE_KINDS, now=self.clock(), share=share)
        if not rows and share is not None:
            # Woken for nothing while sharing: an engine may have gone, whose share the
            # senders now wake this one for (they read the live engines as they commit).
            self._shared_at = None
            if self.share() != share:
                rows = outbox.claim(
                    self.database, outbox.ENGINE_KINDS, now=self.clock(), share=self._share
                )
        for row in rows:
            self.intake.deliver(outbox.Kind(row.kind), row.id, row.payload)
        self._last_poll = len(rows)
        return len(rows)

    def _run(self) -> None:
        guard = Guard("outbox-poll", self.health)
        if self.parcels is not None:
            # Listening before the first look (which takes a slot): nothing sent in between
            # is missed.
            guard.call(functools.partial(self.parcels.wait, notify.ENGINE, 0.0))
        found = True  # look at once
        while not self._stop.is_set():
            if found:
                pass  # a full page may have more behind it: look again at once
            elif self.parcels is not None and not guard.in_outage:
                # Its slot's channel too (it changes if the slot is lost and taken again).
                channels = self.membership.channels()
                self.parcels.wait(notify.ENGINE, also=channels[1:])
            elif self._stop.wait(OUTBOX_POLL + guard.backoff):
                break
            found = bool(guard.call(self.poll)) and self._last_poll >= outbox.PAGE


class HeartbeatWatch(_Worker):
    """Fails, or offers again, the actions whose executor missed its heartbeats; looks
    again when the soonest lease runs out."""

    name = "sirocco-heartbeats"

    def __init__(
        self,
        checker: HeartbeatChecker,
        intake: Intake,
        dispatcher: Dispatcher,
        health: Health,
        clock: Callable[[], datetime],
    ) -> None:
        super().__init__(health)
        self.checker = checker
        self.intake = intake
        self.dispatcher = dispatcher
        self.clock = clock

    def check(self) -> int:
        """Fail or offer again the actions whose executor missed its heartbeats."""
        outcome = self.checker.check()
        for result_id, event in outcome.failed:
            self.intake.event(event, outbox_id=result_id)
        if outcome.offered:
            # This process's executor runs them, or the broker announces them to executors.
            self.dispatcher.dispatch(Outgoing(items=list(outcome.offered)))
        return len(outcome.failed) + len(outcome.offered)

    def _run(self) -> None:
        guard = Guard("heartbeat-check", self.health)
        while True:
            if guard.in_outage:
                pause = guard.backoff
            else:
                pause = max(0.0, (self.checker.next_check() - self.clock()).total_seconds())
            if self._stop.wait(pause):
                break
            if not guard.call(self.check):
                self.checker.outage()

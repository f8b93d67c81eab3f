"""The engines' queues on a broker: one shared, and one per engine slot.

With several engines on PostgreSQL, each holds a slot and claims the event rows of its
share of the executions (``store/engine_slots``): stepping the same execution from one
event to the next, it keeps its snapshot instead of reading the execution again. Over
a broker the same holds: a sender routes an event of an execution to the queue of the
slot whose share the execution is (:class:`Routes`, the live slots read again every
``REFRESH`` seconds), and only that engine consumes that queue (:class:`Following`).

Which queue a parcel goes to is a preference, never something correctness rests on:
every parcel's row is in the outbox, and the step that applies it drops a duplicate.

* Parcels of no execution, or sent while fewer than two engines are live (or while the
  sender can't read the slots) go to the shared queue, which every engine consumes.
* An engine consumes the queue of its own slot, and the queues of the slots below the
  highest it has seen that no engine holds now: the queue of an engine that died (its
  unacknowledged messages went back to it) is emptied by the others until an engine
  takes its slot again; then they stop consuming it (what they were handed is still
  applied and acknowledged).
* Senders and engines learn that the live slots changed about a second apart: meanwhile
  a parcel may go to an engine that no longer owns its execution (it applies it, as any
  engine can), never to a queue nobody will consume.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sirocco.store import engine_slots, outbox
from sirocco.store.database import Database

log = logging.getLogger("sirocco.delivery")

#: The queue every engine consumes.
SHARED = "sirocco.engine"
#: Seconds between a sender's looks at the live engines' slots.
REFRESH = 1.0


def of_slot(slot: int) -> str:
    """The queue of the engine holding ``slot``."""
    return f"{SHARED}.{slot}"


class Routes:
    """Where a sender sends an execution's events: the queue of the engine whose share the
    execution is (the live slots looked up again every ``REFRESH`` seconds)."""

    def __init__(self, database: Database, clock: Callable[[], float] = time.monotonic) -> None:
        self._database = database
        self._clock = clock
        self._lock = threading.Lock()
        self._live: list[int] = []
        self._looked: float | None = None

    def queue(self, execution_id: str | None) -> str:
        """The queue for an event of ``execution_id`` (None: of no execution)."""
        if execution_id is None:
            return SHARED
        live = self.live()
        if len(live) < 2:
            return SHARED
        return of_slot(live[outbox.share_of(execution_id, len(live))])

    def live(self) -> list[int]:
        """The live engines' slots, as last looked up (empty: send to the shared queue)."""
        now = self._clock()
        with self._lock:
            if self._looked is not None and now - self._looked < REFRESH:
                return self._live
            self._looked = now
            try:
                self._live = engine_slots.live_slots(self._database)
            except Exception as exc:  # the database is away: the shared queue meanwhile
                log.debug("engine slots unreadable", extra={"error": str(exc)})
                self._live = []
            return self._live


class Following:
    """The slot queues one engine consumes, brought in line with the live slots."""

    def __init__(self, start: Callable[[str], None], stop: Callable[[str], None]) -> None:
        self._start = start
        self._stop = stop
        self._seen: set[int] = set()
        self.following: set[int] = set()

    def update(self, slot: int | None, live: list[int]) -> None:
        """This engine holds ``slot`` among the ``live`` slots (None: it holds none now, or
        can't tell: it keeps consuming what it consumes)."""
        if slot is None:
            return
        self._seen.update(live)
        self._seen.add(slot)
        held = set(live) | {slot}
        wanted = {slot} | {one for one in range(max(self._seen) + 1) if one not in held}
        for one in sorted(wanted - self.following):
            self._start(of_slot(one))
        for one in sorted(self.following - wanted):
            self._stop(of_slot(one))
        self.following = wanted

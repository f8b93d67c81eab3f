"""The periodic integrity check: RUNNING executions that wait on nothing are set going again.

Every ``interval`` seconds a daemon thread asks the store for suspects (RUNNING
executions with no outbox row, no timer and no unfinished sub-workflow,
``store.integrity``). A suspect is repaired only when the next check finds it again
at the same row version: an execution that moved in between (a step was in flight,
an event waited in this process's queue) is left alone. The repair, written under the
execution's row lock, is an outbox row an engine applies (a lost action's failure, a
sub-workflow's notification made again, or the execution's failure); this process
delivers it at once. Each repair is logged at WARNING and counted in
``sirocco_integrity_repairs_total{kind}``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sirocco import ids
from sirocco.runtime import codec, metrics
from sirocco.runtime.health import Guard, Health
from sirocco.store import integrity, outbox
from sirocco.store.database import Database

log = logging.getLogger("sirocco.integrity")

#: Queues the work of an outbox row an engine applies (``Intake.deliver``).
Deliver = Callable[[outbox.Kind, str, Any], None]


class IntegrityChecker:
    """Finds RUNNING executions that wait on nothing and repairs them."""

    def __init__(
        self,
        database: Database,
        clock: Callable[[], datetime],
        deliver: Deliver | None,
        *,
        interval: float,
        health: Health | None = None,
    ) -> None:
        """``deliver``: this process applies the repairs itself (else any engine's outbox
        poller takes them); ``interval``: seconds between checks (0: never)."""
        self.database = database
        self.clock = clock
        self.deliver = deliver
        self.interval = interval
        self.health = health
        #: Suspects of the previous check: their row version, by execution id.
        self._seen: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="sirocco-integrity", daemon=True)
        self._thread.start()
        if self.health is not None:
            self.health.watch(self._thread)

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            if self.health is not None:
                self.health.forget(thread)
            thread.join(timeout=10)

    def _loop(self) -> None:
        guard = Guard("integrity-check", self.health)
        while not self._stop.wait(guard.backoff if guard.in_outage else self.interval):
            guard.call(self.check)

    def check(self) -> list[integrity.Repair]:
        """One check: repair the suspects the previous check saw at the same version."""
        with self.database.read() as connection:
            found = integrity.suspects(connection)
        confirmed = {
            execution_id: version
            for execution_id, version in found.items()
            if self._seen.get(execution_id) == version
        }
        # A repaired execution moves (its version changes): it is not seen again.
        self._seen = {key: value for key, value in found.items() if key not in confirmed}
        done: list[integrity.Repair] = []
        for execution_id, version in sorted(confirmed.items()):
            now = self.clock()
            with self.database.transaction() as connection:
                repairs = integrity.repair(
                    connection,
                    execution_id,
                    version=version,
                    now=now,
                    new_id=ids.new_id,
                    encode=codec.encode,
                    claimed_until=now + outbox.CLAIM_FOR if self.deliver else None,
                )
            for item in repairs:
                log.warning(
                    "integrity check repaired execution %s (%s): %s",
                    item.execution_id,
                    item.kind,
                    item.detail,
                    extra={
                        "workflow_execution_id": item.execution_id,
                        "repair": item.kind,
                        "task": item.task,
                        "outbox_id": item.outbox_id,
                    },
                )
                metrics.METRICS.repaired(item.kind)
                if self.deliver is not None:
                    self.deliver(outbox.Kind(item.row_kind), item.outbox_id, item.payload)
            done.extend(repairs)
        return done

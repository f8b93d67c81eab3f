"""The periodic run of the execution expiration policy (``sirocco.store.expiration``).

A daemon thread wakes every ``interval`` seconds and deletes expired executions a
batch (one transaction) at a time until none is left. A failed pass is logged and
tried again at the next wake-up; the thread never dies of it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from sirocco.store import expiration
from sirocco.store.database import Database

log = logging.getLogger("sirocco.expiration")


def run_once(database: Database, policy: expiration.Policy, now: datetime) -> int:
    """Delete every execution the policy expires at ``now``; how many."""
    total = 0
    while True:
        with database.transaction() as connection:
            found = expiration.expired(connection, policy, now=now)
            total += expiration.delete(connection, found)
        if not found or not policy.batch_size or len(found) < policy.batch_size:
            return total


class Expiration:
    """Runs :func:`run_once` every ``interval`` seconds in a daemon thread."""

    def __init__(
        self,
        database: Database,
        policy: expiration.Policy,
        *,
        interval: float,
        clock: Callable[[], datetime],
    ) -> None:
        self.database = database
        self.policy = policy
        self.interval = interval
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="sirocco-expiration", daemon=True)

    def start(self) -> None:
        if self.policy.enabled:
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                deleted = run_once(self.database, self.policy, self.clock())
            except Exception:
                log.exception("expiration pass failed; trying again in %s s", self.interval)
                continue
            if deleted:
                log.info("expiration policy deleted %d finished executions", deleted)

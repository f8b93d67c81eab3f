"""The periodic run of the execution expiration policy (``sirocco.store.expiration``).

A daemon thread wakes every ``interval`` seconds and deletes expired executions a
batch (one transaction) at a time until none is left. A failed pass is logged and
tried again at the next wake-up; the thread never dies of it.

With an export file, each execution of a batch is appended to it as one JSON line
(the execution, its tasks and actions, its sub-workflows) and the file is flushed to
disk before the batch is deleted: a line is never lost, but an execution whose
deletion then failed is written again by the next pass (at least once).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sirocco.store import expiration
from sirocco.store.database import Database

log = logging.getLogger("sirocco.expiration")


def run_once(
    database: Database, policy: expiration.Policy, now: datetime, export: Path | None = None
) -> int:
    """Delete every execution the policy expires at ``now`` (appended to ``export``
    first, when given); how many."""
    total = 0
    while True:
        with database.transaction() as connection:
            found = expiration.expired(connection, policy, now=now)
            if export is not None and found:
                _append(export, [expiration.exported(connection, id) for id in found])
            total += expiration.delete(connection, found)
        if not found or not policy.batch_size or len(found) < policy.batch_size:
            return total


def _append(path: Path, records: Sequence[dict[str, Any]]) -> None:
    lines = "".join(json.dumps(record, default=str, sort_keys=True) + "\n" for record in records)
    with path.open("a", encoding="utf-8") as file:
        file.write(lines)
        file.flush()
        os.fsync(file.fileno())


class Expiration:
    """Runs :func:`run_once` every ``interval`` seconds in a daemon thread."""

    def __init__(
        self,
        database: Database,
        policy: expiration.Policy,
        *,
        interval: float,
        clock: Callable[[], datetime],
        export: str | Path | None = None,
    ) -> None:
        self.database = database
        self.policy = policy
        self.export = Path(export) if export else None
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
                deleted = run_once(self.database, self.policy, self.clock(), self.export)
            except Exception:
                log.exception("expiration pass failed; trying again in %s s", self.interval)
                continue
            if deleted:
                log.info(
                    "expiration policy deleted %d finished executions",
                    deleted,
                    extra={"deleted": deleted, "export": str(self.export or "")},
                )

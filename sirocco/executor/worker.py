"""`sirocco executor`: takes RunAction rows from the outbox, runs them, writes results back."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sirocco.actions.registry import ActionRegistry
from sirocco.engine import commands, events
from sirocco.engine.states import State
from sirocco.executor.pool import ExecutorPool
from sirocco.runtime import codec, outbox
from sirocco.store import executions
from sirocco.store.database import Database

log = logging.getLogger("sirocco.executor")

POLL = 0.05


class ExecutorWorker:
    """An executor in its own process, serving ``target`` (or any action without one)."""

    def __init__(
        self,
        database: Database,
        registry: ActionRegistry,
        *,
        clock: Callable[[], datetime],
        target: str | None = None,
        workers: int = 32,
    ) -> None:
        self._database = database
        self._clock = clock
        self._targets: list[str | None] = [None] if target is None else [None, target]
        self._workers = workers
        self._pool = ExecutorPool(registry, self._report, workers=workers)
        self._busy = threading.Semaphore(workers)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sirocco-executor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        self._pool.shutdown()

    def _run(self) -> None:
        while not self._stop.wait(POLL):
            try:
                self.take()
            except Exception:
                log.exception("executor poll failed")

    def take(self) -> int:
        """Take as many RunAction rows as there are free workers and start them."""
        free = self._free()
        if free == 0:
            return 0
        rows = outbox.claim(
            self._database,
            [outbox.RUN_ACTION],
            now=self._clock(),
            limit=free,
            targets=self._targets,
            take=True,
        )
        for row in rows:
            command = codec.decode(row.payload)
            self._busy.acquire()
            self._pool.submit(command, on_done=self._busy.release)
        return len(rows)

    def _free(self) -> int:
        count = 0
        while count < self._workers and self._busy.acquire(blocking=False):
            count += 1
        for _ in range(count):
            self._busy.release()
        return count

    def _report(
        self, command: commands.RunAction, state: State, result: Any, message: str | None
    ) -> None:
        if command.workflow_execution_id is None:
            with self._database.transaction() as connection:
                executions.finish_standalone_action(
                    connection,
                    command.action_execution_id,
                    state=state,
                    result=result,
                    message=message,
                    now=self._clock(),
                )
            return
        event = events.ActionCompleted(
            workflow_execution_id=command.workflow_execution_id,
            action_execution_id=command.action_execution_id,
            state=state,
            result=result,
            message=message,
        )
        outbox.put(
            self._database,
            "ActionResult",
            codec.encode(event),
            now=self._clock(),
            workflow_execution_id=command.workflow_execution_id,
        )

"""The embedded process: runtime, executor pool and timers in one process on one database."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sirocco.engine import commands
from sirocco.engine.states import State
from sirocco.executor.pool import ExecutorPool
from sirocco.runtime import compose, tracing
from sirocco.settings import Settings
from sirocco.store import outbox


@dataclass(slots=True)
class Embedded:
    parts: compose.Parts
    pool: ExecutorPool
    start: Callable[[], None]

    @property
    def service(self) -> Any:
        return self.parts.service

    def close(self) -> None:
        self.parts.runtime.stop()
        self.pool.shutdown()
        self.parts.database.dispose()


def open_embedded(
    db_url: str | None, *, start: bool = True, settings: Settings | None = None
) -> Embedded:
    """Build every role of Sirocco in this process and (by default) start its threads.

    ``settings``: the process's settings (default: from ``SIROCCO_*``); ``db_url`` wins.
    """
    settings = Settings.load({"db": db_url}) if settings is None else settings
    if db_url is not None and settings.db != db_url:
        settings = dataclasses.replace(settings, db=db_url)
    outbox.set_claim_duration(settings.claim_seconds)
    tracing.configure(settings.tracing)
    parts = compose.build(
        settings.db, limits=settings.limits(), blob_threshold=settings.blob_threshold
    )
    parts.service.limit_in_flight(settings.in_flight())
    runtime, service = parts.runtime, parts.service

    def report(command: commands.RunAction, state: State, result: Any, message: str | None) -> None:
        if command.workflow_execution_id is None:
            service.report_standalone(command, state, result, message)
        else:
            runtime.report(command, state, result, message)

    pool = ExecutorPool(parts.registry, report, workers=settings.executor_workers)
    runtime.attach_executor(pool.submit, pool.run_inline)

    def stop_cancelled(execution_id: str, state: str) -> None:
        if state == State.CANCELLED:
            pool.cancel([execution_id])  # its waiting actions stop waiting

    runtime.on_state(stop_cancelled)
    service.attach_executor(pool.submit)

    def start_threads() -> None:
        from sirocco.cli.roles import heartbeat_timing

        # Executor processes may share this database (or have left actions in it).
        runtime.start(heartbeats=heartbeat_timing(settings))

    if start:
        start_threads()
    return Embedded(parts=parts, pool=pool, start=start_threads)

"""Wiring of every role: which parts a process builds, how they are attached to each
other, and which threads it starts.

* ``embedded``: every role in one process (``sirocco run``; ``server`` adds the
  expiration, the integrity check and the event-trigger listener);
* ``api``, ``engine``, ``executor``, ``scheduler``: one role per process on a shared
  database (see ``sirocco.cli.roles``), handing work over through the outbox and the
  delivery port (``runtime/delivery.py``).

The CLI chooses the role, serves HTTP, waits for a signal, then calls ``stop`` on
what it got from here. What only one role needs is imported by that role's function,
so that ``sirocco run`` does not pay for the others at start-up. This module sits
above the runtime, the executor and the settings, which know nothing of each other's
wiring.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sirocco import clock
from sirocco.actions.registry import ActionRegistry
from sirocco.engine.states import State
from sirocco.executor.pool import ExecutorPool
from sirocco.limits import DEFAULT as DEFAULT_LIMITS
from sirocco.limits import Limits
from sirocco.runtime import delivery, metrics, notifications, tracing
from sirocco.runtime.health import Guard, Report, is_outage
from sirocco.runtime.heartbeats import Timing
from sirocco.runtime.loop import Runtime
from sirocco.runtime.service import Service
from sirocco.settings import Settings
from sirocco.store import blobs, migrate, outbox
from sirocco.store.database import Database


@dataclass(frozen=True, slots=True, kw_only=True)
class Parts:
    database: Database
    registry: ActionRegistry
    runtime: Runtime
    service: Service


def build(
    db_url: str | None = None,
    *,
    upgrade: bool = True,
    limits: Limits = DEFAULT_LIMITS,
    blob_threshold: int = blobs.DEFAULT_THRESHOLD,
) -> Parts:
    """Open the database (applying migrations) and build the runtime and service.

    ``blob_threshold``: JSON bytes above which a value is stored once, by reference
    (``SIROCCO_BLOB_THRESHOLD``; -1: never).
    """
    database = Database(db_url)
    blobs.configure(database.engine, threshold=blob_threshold)
    if upgrade:
        migrate.prepare(database)
    registry = ActionRegistry(limits=limits)
    runtime = Runtime(database, registry, limits=limits)
    return Parts(database=database, registry=registry, runtime=runtime, service=Service(runtime))


def heartbeat_timing(settings: Settings) -> Timing:
    """The heartbeat settings as the executors and engines use them."""
    return Timing(
        interval=settings.heartbeat_interval,
        max_missed=settings.heartbeat_max_missed,
        first_timeout=settings.heartbeat_first_timeout,
        untaken_timeout=settings.heartbeat_untaken_timeout,
    )


def _configure(settings: Settings) -> None:
    """What the settings set for the whole process."""
    outbox.set_claim_duration(settings.claim_seconds)
    tracing.configure(settings.tracing)


def _build(settings: Settings) -> Parts:
    return build(settings.db, limits=settings.limits(), blob_threshold=settings.blob_threshold)


# ---------------------------------------------------------------- every role in one process


@dataclass(slots=True)
class Embedded:
    parts: Parts
    pool: ExecutorPool
    start: Callable[[], None]

    @property
    def service(self) -> Any:
        return self.parts.service

    def close(self) -> None:
        self.parts.runtime.stop()
        self.pool.shutdown()
        self.parts.database.dispose()


def embedded(settings: Settings, *, start: bool = True) -> Embedded:
    """Build every role of Sirocco in this process and (by default) start its threads."""
    _configure(settings)
    parts = _build(settings)
    parts.service.limit_in_flight(settings.in_flight())
    runtime, service = parts.runtime, parts.service

    pool = ExecutorPool(parts.registry, runtime.report, workers=settings.executor_workers)
    runtime.attach_executor(pool.submit, pool.run_inline)

    def stop_cancelled(execution_id: str, state: str) -> None:
        if state == State.CANCELLED:
            pool.cancel([execution_id])  # its waiting actions stop waiting

    runtime.on_state(stop_cancelled)
    service.attach_executor(pool.submit)

    def start_threads() -> None:
        # Executor processes may share this database (or have left actions in it).
        runtime.start(heartbeats=heartbeat_timing(settings))

    if start:
        start_threads()
    return Embedded(parts=parts, pool=pool, start=start_threads)


# ---------------------------------------------------------------- one role per process


@dataclass(slots=True)
class Role:
    """A role wired and started in this process."""

    parts: Parts
    #: What ``/health`` reports for this role.
    readiness: Callable[[], Report]
    #: Called in order by :meth:`stop`.
    stops: list[Callable[[], None]] = field(default_factory=list)

    def stop(self) -> None:
        """Stop the role's threads and release what it holds, in order."""
        for stop in self.stops:
            stop()


def _build_waiting(settings: Settings) -> Parts:
    """The parts of a role; while its database can't be reached, wait for it (a role
    restarted during an outage starts once the database is back)."""
    _configure(settings)
    guard = Guard("start-up", None)
    while True:
        try:
            return _build(settings)
        except Exception as exc:
            if not (is_outage(exc) or is_outage(exc.__cause__ or exc)):
                raise
            guard.failed(exc)
            time.sleep(guard.backoff)


def server(settings: Settings) -> Role:
    """Every role in this process, with the expiration, the integrity check and the
    event-trigger listener of ``sirocco server``; the caller serves the API over it."""
    # kombu (event triggers): not for `sirocco run`
    from sirocco.runtime import event_triggers, expiration, integrity

    definitions = notifications.load_definitions(settings.event_definitions)
    app = embedded(settings)
    app.parts.service.event_definitions = definitions
    expirer = expiration.Expiration(
        app.parts.database,
        settings.expiration_policy(),
        interval=settings.expiration_interval * 60,
        clock=app.parts.runtime.clock,
        export=settings.expiration_export,
    )
    expirer.start()
    checker = integrity.IntegrityChecker(
        app.parts.database,
        app.parts.runtime.clock,
        app.parts.runtime.intake.deliver,
        interval=settings.integrity_interval,
        health=app.parts.runtime.health,
    )
    checker.start()
    listener = event_triggers.listen(app.parts.runtime, settings.events_broker_url(), definitions)
    stops = [checker.stop]
    if listener is not None:
        stops.append(listener.stop)
    stops += [expirer.stop, app.close]
    return Role(app.parts, app.parts.runtime.health.report, stops)


def api(settings: Settings) -> Role:
    """The REST API's process: it starts executions itself and leaves actions to
    executors; the caller serves the API over it."""
    definitions = notifications.load_definitions(settings.event_definitions)
    parts = _build_waiting(settings)
    parts.service.event_definitions = definitions
    metrics.METRICS.watch(parts.database, clock.utcnow)
    parts.service.limit_in_flight(settings.in_flight())
    parcels = delivery.open_delivery(parts.database, settings.transport)
    inline = ExecutorPool(parts.registry, lambda *_: None, workers=1)
    parts.runtime.attach_executor(None, inline.run_inline)
    parts.runtime.attach_delivery(parcels)  # the actions of the starts it makes
    parts.runtime.health.probe("broker", parcels.reach)
    parts.service.attach_executor(None)
    parts.runtime.start(recover=False, timers=False, cron=False)
    stops = [parts.runtime.stop, parcels.close, inline.shutdown, parts.database.dispose]
    return Role(parts, parts.runtime.health.report, stops)


def engine(settings: Settings) -> Role:
    """Apply events and start workflows; actions go to executor processes."""
    # kombu (event triggers): not for `sirocco run`
    from sirocco.runtime import event_triggers, integrity

    definitions = notifications.load_definitions(settings.event_definitions)
    parts = _build_waiting(settings)
    metrics.METRICS.watch(parts.database, clock.utcnow)
    parcels = delivery.open_delivery(parts.database, settings.transport)
    inline = ExecutorPool(parts.registry, lambda *_: None, workers=1)
    parts.runtime.attach_executor(None, inline.run_inline)
    parts.runtime.attach_delivery(parcels)
    parts.runtime.health.probe("broker", parcels.reach)
    parts.runtime.start(
        lost_actions=False,
        timers=False,
        cron=False,
        poll_outbox=True,
        heartbeats=heartbeat_timing(settings),
    )
    checker = integrity.IntegrityChecker(
        parts.database,
        clock.utcnow,
        parts.runtime.intake.deliver,
        interval=settings.integrity_interval,
        health=parts.runtime.health,
    )
    checker.start()
    events = event_triggers.listen(parts.runtime, settings.events_broker_url(), definitions)
    stops = [checker.stop]
    if events is not None:
        stops.append(events.stop)
    stops += [parts.runtime.stop, parcels.close, inline.shutdown, parts.database.dispose]
    return Role(parts, parts.runtime.health.report, stops)


def executor(settings: Settings) -> Role:
    """Run the actions that engines left in the outbox for this executor."""
    from sirocco.executor.worker import ExecutorWorker

    parts = _build_waiting(settings)
    metrics.METRICS.watch(parts.database, clock.utcnow)
    parcels = delivery.open_delivery(parts.database, settings.transport)
    worker = ExecutorWorker(
        parts.database,
        parts.registry,
        clock=clock.utcnow,
        target=settings.executor_target,
        workers=settings.executor_workers,
        timing=heartbeat_timing(settings),
        parcels=parcels,
    )
    worker.health.probe("broker", parcels.reach)
    worker.start()
    return Role(parts, worker.health.report, [worker.stop, parcels.close, parts.database.dispose])


def scheduler(settings: Settings) -> Role:
    """Deliver due timers and cron ticks to the engines, and expire old executions."""
    from sirocco.runtime import expiration
    from sirocco.runtime.scheduler import Scheduler

    parts = _build_waiting(settings)
    metrics.METRICS.watch(parts.database, clock.utcnow)
    parcels = delivery.open_delivery(parts.database, settings.transport)
    timers = Scheduler(parts.database, clock.utcnow, parcels)
    timers.health.probe("broker", parcels.reach)
    timers.start()
    expirer = expiration.Expiration(
        parts.database,
        settings.expiration_policy(),
        interval=settings.expiration_interval * 60,
        clock=clock.utcnow,
        export=settings.expiration_export,
    )
    expirer.start()
    stops = [expirer.stop, timers.stop, parcels.close, parts.database.dispose]
    return Role(parts, timers.health.report, stops)


def with_database(settings: Settings, db_url: str | None) -> Settings:
    """``settings`` with ``db_url`` when one is given."""
    if db_url is not None and settings.db != db_url:
        return dataclasses.replace(settings, db=db_url)
    return settings

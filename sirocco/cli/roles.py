"""One role per process on a shared database: `sirocco api`, `engine`, `executor`, `scheduler`.

The roles talk through the outbox table (``sirocco.store.outbox``): the API
and engines write commands and events there, executors take RunAction rows
and write results back, the scheduler turns due timers and cron ticks into rows
that engines take. Any number of each may run; on PostgreSQL rows are claimed
with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from sirocco import clock, errors
from sirocco.cli.health_port import HealthListener
from sirocco.cli.process import settle_process
from sirocco.executor.pool import ExecutorPool
from sirocco.executor.worker import ExecutorWorker
from sirocco.runtime import (
    compose,
    delivery,
    expiration,
    integrity,
    metrics,
    notifications,
    tracing,
)
from sirocco.runtime.health import Guard, Report, is_outage
from sirocco.runtime.heartbeats import Timing
from sirocco.runtime.scheduler import Scheduler
from sirocco.settings import Settings
from sirocco.store import outbox

log = logging.getLogger("sirocco.roles")


def _listen_for_health(
    settings: Settings, readiness: Callable[[], Report]
) -> HealthListener | None:
    if settings.health_port is None:
        return None
    try:
        listener = HealthListener(settings.health_host, settings.health_port, readiness)
    except OSError as exc:
        raise errors.ConfigurationError(
            f"can't serve /health on {settings.health_host}:{settings.health_port}: "
            f"{exc.strerror or exc}"
        ) from exc
    listener.start()
    return listener


def _build(settings: Settings) -> compose.Parts:
    """The parts of a role; while its database can't be reached, wait for it (a role
    restarted during an outage starts once the database is back)."""
    outbox.set_claim_duration(settings.claim_seconds)
    tracing.configure(settings.tracing)
    guard = Guard("start-up", None)
    while True:
        try:
            return compose.build(
                settings.db, limits=settings.limits(), blob_threshold=settings.blob_threshold
            )
        except Exception as exc:
            if not (is_outage(exc) or is_outage(exc.__cause__ or exc)):
                raise
            guard.failed(exc)
            time.sleep(guard.backoff)


def _wait_for_signal() -> None:
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping on signal %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    stop.wait()


def run_engine(settings: Settings) -> None:
    """Apply events and start workflows; actions go to executor processes."""
    from sirocco.runtime import event_triggers  # kombu: not for `sirocco run` (heartbeat_timing)

    definitions = notifications.load_definitions(settings.event_definitions)
    parts = _build(settings)
    metrics.METRICS.watch(parts.database, clock.utcnow)
    parcels = delivery.open_delivery(parts.database, settings.transport)
    inline = ExecutorPool(parts.registry, lambda *_: None, workers=1)
    parts.runtime.attach_executor(None, inline.run_inline)
    parts.runtime.attach_delivery(parcels)
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
        parts.runtime.deliver,
        interval=settings.integrity_interval,
        health=parts.runtime.health,
    )
    checker.start()
    events = event_triggers.listen(parts.runtime, settings.events_broker_url(), definitions)
    listener = _listen_for_health(settings, parts.runtime.health.report)
    settle_process()
    log.info("sirocco engine running (database %s)", settings.db or "default")
    try:
        _wait_for_signal()
    finally:
        if listener is not None:
            listener.stop()
        checker.stop()
        if events is not None:
            events.stop()
        parts.runtime.stop()
        parcels.close()
        inline.shutdown()
        parts.database.dispose()


def heartbeat_timing(settings: Settings) -> Timing:
    """The heartbeat settings as the executors and engines use them."""
    return Timing(
        interval=settings.heartbeat_interval,
        max_missed=settings.heartbeat_max_missed,
        first_timeout=settings.heartbeat_first_timeout,
    )


def run_executor(settings: Settings) -> None:
    """Run the actions that engines left in the outbox for this executor."""
    parts = _build(settings)
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
    worker.start()
    listener = _listen_for_health(settings, worker.health.report)
    settle_process()
    log.info("sirocco executor running (target %s)", settings.executor_target or "any")
    try:
        _wait_for_signal()
    finally:
        if listener is not None:
            listener.stop()
        worker.stop()
        parcels.close()
        parts.database.dispose()


def run_scheduler(settings: Settings) -> None:
    """Deliver due timers and cron ticks to the engines."""
    parts = _build(settings)
    metrics.METRICS.watch(parts.database, clock.utcnow)
    parcels = delivery.open_delivery(parts.database, settings.transport)
    scheduler = Scheduler(parts.database, clock.utcnow, parcels)
    scheduler.start()
    expirer = expiration.Expiration(
        parts.database,
        settings.expiration_policy(),
        interval=settings.expiration_interval * 60,
        clock=clock.utcnow,
        export=settings.expiration_export,
    )
    expirer.start()
    listener = _listen_for_health(settings, scheduler.health.report)
    settle_process()
    log.info("sirocco scheduler running")
    try:
        _wait_for_signal()
    finally:
        if listener is not None:
            listener.stop()
        expirer.stop()
        scheduler.stop()
        parcels.close()
        parts.database.dispose()


def run_api(
    settings: Settings,
    *,
    host: str,
    port: int,
    log_level: str,
    access_log: bool = False,
    insecure_no_auth: bool = False,
) -> None:
    """Serve the REST API; it starts executions itself and leaves actions to executors."""
    from sirocco.cli.server import serve_parts

    definitions = notifications.load_definitions(settings.event_definitions)
    parts = _build(settings)
    parts.service.event_definitions = definitions
    metrics.METRICS.watch(parts.database, clock.utcnow)
    parts.service.limit_in_flight(settings.in_flight())
    parcels = delivery.open_delivery(parts.database, settings.transport)
    inline = ExecutorPool(parts.registry, lambda *_: None, workers=1)
    parts.runtime.attach_executor(None, inline.run_inline)
    parts.runtime.attach_delivery(parcels)  # the actions of the starts it makes
    parts.service.attach_executor(None)
    parts.runtime.start(recover=False, timers=False, cron=False)
    try:
        serve_parts(
            parts,
            host=host,
            port=port,
            log_level=log_level,
            access_log=access_log,
            settings=settings,
            insecure_no_auth=insecure_no_auth,
        )
    finally:
        parts.runtime.stop()
        parcels.close()
        inline.shutdown()
        parts.database.dispose()

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
from collections.abc import Callable
from types import FrameType

from sirocco import compose, errors
from sirocco.cli.health_port import HealthListener
from sirocco.cli.process import settle_process
from sirocco.runtime.health import Report
from sirocco.settings import Settings

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


def _wait_for_signal() -> None:
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping on signal %s", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    stop.wait()


def _run(role: compose.Role, settings: Settings, running: str) -> None:
    """Serve ``/health`` for ``role``, wait for SIGTERM or SIGINT, then stop it."""
    listener = _listen_for_health(settings, role.readiness)
    settle_process()
    log.info(running)
    try:
        _wait_for_signal()
    finally:
        if listener is not None:
            listener.stop()
        role.stop()


def run_engine(settings: Settings) -> None:
    """Apply events and start workflows; actions go to executor processes."""
    role = compose.engine(settings)
    _run(role, settings, f"sirocco engine running (database {settings.db or 'default'})")


def run_executor(settings: Settings) -> None:
    """Run the actions that engines left in the outbox for this executor."""
    role = compose.executor(settings)
    _run(role, settings, f"sirocco executor running (target {settings.executor_target or 'any'})")


def run_scheduler(settings: Settings) -> None:
    """Deliver due timers and cron ticks to the engines."""
    role = compose.scheduler(settings)
    _run(role, settings, "sirocco scheduler running")


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

    role = compose.api(settings)
    try:
        serve_parts(
            role.parts,
            host=host,
            port=port,
            log_level=log_level,
            access_log=access_log,
            settings=settings,
            insecure_no_auth=insecure_no_auth,
        )
    finally:
        role.stop()

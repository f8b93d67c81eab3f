"""``sirocco server``: the API, the engine, the executor and the timers in one process."""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Iterator
from types import FrameType

import uvicorn
from sqlalchemy.engine import make_url

from sirocco import compose, masking
from sirocco.api import authentication, info
from sirocco.api.app import create_app
from sirocco.api.policy import Policy
from sirocco.api.warmup import warm_up
from sirocco.cli import logformat
from sirocco.cli.process import settle_process
from sirocco.settings import Settings

log = logging.getLogger("sirocco.server")


class _Server(uvicorn.Server):
    """uvicorn's server, with the signals left to :func:`serve` (uvicorn would re-raise
    SIGTERM after its own shutdown and kill the process before the engine stops)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve(
    *,
    host: str,
    port: int,
    db_url: str | None,
    log_level: str,
    access_log: bool = False,
    settings: Settings | None = None,
    insecure_no_auth: bool = False,
) -> None:
    """Run every role in this process until SIGTERM or SIGINT."""
    settings = settings or Settings.load({"db": db_url})
    authentication.mode_for(settings, host, insecure_no_auth=insecure_no_auth)  # refuse early
    role = compose.server(compose.with_database(settings, db_url))
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
        log.info("sirocco server stopped")


def serve_parts(
    parts: compose.Parts,
    *,
    host: str,
    port: int,
    log_level: str,
    access_log: bool = False,
    settings: Settings | None = None,
    insecure_no_auth: bool = False,
) -> None:
    """Serve the API over ``parts`` until SIGTERM or SIGINT: stop taking requests, let the
    requests in hand finish; the caller then stops the engine after its batch in hand."""
    settings = settings or Settings.load()
    mode = authentication.mode_for(settings, host, insecure_no_auth=insecure_no_auth)
    gate = authentication.gate_for(mode, settings, parts.database)
    app = create_app(
        parts.service,
        gate=gate,
        policy=Policy.from_file(settings.policy_file),
        limits=settings.limits(),
        readiness=parts.runtime.health.report,
        info_settings=info.InfoSettings(
            enabled=settings.enable_info_endpoint, path=settings.info_json_file_path
        ),
    )
    # Logging JSON: uvicorn's loggers write through the root's handler, not their own.
    own_logging = {"log_config": None} if logformat.is_json() else {}
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=access_log,
        lifespan="off",
        timeout_graceful_shutdown=10,
        **own_logging,  # type: ignore[arg-type]
    )
    server = _Server(config)
    # uvicorn's loggers have their own handlers (an access line shows the query string).
    masking.install(masking.parts_of(settings.secret_keys), ("", "uvicorn.error", "uvicorn.access"))
    warm_up(app)
    settle_process()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("stopping on signal %s", signal.Signals(signum).name)
        server.should_exit = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    url = make_url(parts.database.url).render_as_string(hide_password=True)
    log.info("sirocco API on http://%s:%s/v2 (database %s, auth %s)", host, port, url, mode)
    if mode == "none" and not authentication.is_loopback(host):
        log.warning("no authentication on %s: anyone who reaches the port owns it", host)
    server.run()

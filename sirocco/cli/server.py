"""``sirocco server``: the API, the engine, the executor and the timers in one process."""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Iterator
from types import FrameType

import uvicorn

from sirocco.api.app import create_app
from sirocco.cli.embedded import Embedded, open_embedded

log = logging.getLogger("sirocco.server")


class _Server(uvicorn.Server):
    """uvicorn's server, with the signals left to :func:`serve` (uvicorn would re-raise
    SIGTERM after its own shutdown and kill the process before the engine stops)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve(*, host: str, port: int, db_url: str | None, log_level: str) -> None:
    """Run until SIGTERM or SIGINT; then stop taking requests and finish the batch in hand."""
    app = open_embedded(db_url)
    config = uvicorn.Config(
        create_app(app.service),
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=True,
        lifespan="off",
        timeout_graceful_shutdown=10,
    )
    server = _Server(config)

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.warning("stopping on signal %s", signal.Signals(signum).name)
        server.should_exit = True

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    log.warning("sirocco server on http://%s:%s/v2 (database %s)", host, port, _safe(app))
    try:
        server.run()
    finally:
        app.close()
        log.warning("sirocco server stopped")


def _safe(app: Embedded) -> str:
    """The database URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(app.parts.database.url).render_as_string(hide_password=True)

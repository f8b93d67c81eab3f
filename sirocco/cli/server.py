"""``sirocco server``: the API, the engine, the executor and the timers in one process."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from sirocco.cli.embedded import open_embedded

log = logging.getLogger("sirocco.server")


def serve(*, host: str, port: int, db_url: str | None, log_level: str) -> None:
    """Run until SIGTERM or SIGINT; then stop taking requests and finish the step in hand."""
    import uvicorn

    from sirocco.api.app import create_app

    app = open_embedded(db_url)
    api = create_app(app.service)
    config = uvicorn.Config(
        api,
        host=host,
        port=port,
        log_level=log_level.lower(),
        access_log=True,
        lifespan="off",
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        log.warning("stopping on signal", extra={"signal": signum})
        stop.set()
        server.should_exit = True

    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    log.warning(
        "sirocco server listening",
        extra={"host": host, "port": port, "database": app.parts.database.url},
    )
    try:
        server.run()
    finally:
        app.close()

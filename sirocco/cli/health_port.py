"""A small HTTP listener for roles without an API (``engine``, ``executor``, ``scheduler``):
``GET /live`` (alive), ``GET /health`` (threads alive, database and broker reachable; else
503 with the faults) and ``GET /ready`` (the same, and no maintenance; else 503 with the
reasons), as ``sirocco api`` and ``sirocco server`` answer them."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sirocco.runtime.health import Report

log = logging.getLogger("sirocco.health")


class HealthListener:
    """Serves ``/live``, ``/health``, ``/ready`` and ``/metrics`` on ``host:port`` (a thread)."""

    def __init__(self, host: str, port: int, readiness: Callable[[], Report]) -> None:
        handler = _handler(readiness)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="sirocco-health", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(readiness: Callable[[], Report]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/live":
                self._answer(200, {"status": "ok"})
            elif self.path in ("/health", "/ready"):
                try:
                    report = readiness()
                except Exception as exc:  # the answer, never a dead listener
                    self._answer(503, {"status": "unavailable", "reasons": [str(exc)]})
                    return
                self._answer(*report.answer(faults_only=self.path == "/health"))
            elif self.path == "/metrics":
                from sirocco.runtime import metrics

                data = metrics.METRICS.exposition()
                self.send_response(200)
                self.send_header("Content-Type", metrics.CONTENT_TYPE)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            else:
                self._answer(404, {"faultstring": f"Not found: {self.path}"})

        def _answer(self, status: int, body: dict[str, object]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 503:
                self.send_header("Retry-After", "5")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return  # probes every few seconds: not worth a log line each

    return Handler

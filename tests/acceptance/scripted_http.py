"""A small HTTP server on 127.0.0.1 that answers from a script and records what it was sent.

The example workflows call HTTP services (a deployment API, a metrics API, a
webhook...); the tests stand those up with this: each route ``(METHOD, path)``
has a list of replies given in order, the last one repeated.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any = None


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    path: str
    body: Any


class ScriptedServer:
    """The server's script and what it received, in order."""

    def __init__(self, routes: Mapping[tuple[str, str], Sequence[Reply]]) -> None:
        self._routes = {key: list(replies) for key, replies in routes.items()}
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.url = ""

    def answer(self, method: str, path: str, body: Any) -> Reply:
        with self._lock:
            self.received.append(Received(method, path, body))
            replies = self._routes.get((method, path))
            if not replies:
                return Reply(404, {"error": f"no route {method} {path}"})
            return replies.pop(0) if len(replies) > 1 else replies[0]

    def calls(self, method: str, path: str) -> list[Any]:
        """The bodies sent to one route, in order."""
        with self._lock:
            return [
                item.body for item in self.received if (item.method, item.path) == (method, path)
            ]


def _handler(script: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            reply = script.answer(self.command, self.path, body)
            data = json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def scripted_server(routes: Mapping[tuple[str, str], Sequence[Reply]]) -> Iterator[ScriptedServer]:
    """Serve ``routes`` on a free port of 127.0.0.1 while the block runs."""
    script = ScriptedServer(routes)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
    script.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield script
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)

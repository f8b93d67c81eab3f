"""Warm a new API application up before it serves: a few requests without side effects.

The first request along a path pays for one-time work (FastAPI resolving its
routes and dependencies, SQLAlchemy compiling the queries, the JSON renderer's
first use); a fresh server would otherwise make its first clients wait for it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.types import ASGIApp, Message

_MISSING_ID = "00000000-0000-0000-0000-000000000000"
_MISSING_NAME = "sirocco-warm-up-no-such-workflow"

#: (method, path, query, body): reads, and requests that are refused before any change.
REQUESTS: tuple[tuple[str, str, str, bytes], ...] = (
    ("GET", "/v2", "", b""),
    ("GET", "/v2/executions", "limit=1", b""),
    ("GET", f"/v2/executions/{_MISSING_ID}", "", b""),
    ("GET", f"/v2/executions/{_MISSING_ID}/tasks", "", b""),
    ("GET", "/v2/tasks", "limit=1", b""),
    ("GET", "/v2/workflows", "limit=1", b""),
    ("GET", f"/v2/workflows/{_MISSING_NAME}", "", b""),
    ("GET", "/v2/action_executions", "limit=1", b""),
    ("POST", "/v2/executions", "", json.dumps({"workflow_name": _MISSING_NAME}).encode()),
)


def warm_up(app: ASGIApp) -> list[int]:
    """Send :data:`REQUESTS` to ``app`` in this thread; the status codes, in order."""
    return asyncio.run(_send_all(app))


async def _send_all(app: ASGIApp) -> list[int]:
    statuses = []
    for method, path, query, body in REQUESTS:
        status, _ = await request(app, method, path, query=query, body=body)
        statuses.append(status)
    return statuses


async def request(
    app: ASGIApp,
    method: str,
    path: str,
    *,
    query: str = "",
    body: bytes = b"",
    content_type: bytes = b"application/json",
) -> tuple[int, bytes]:
    """Call ``app`` as uvicorn would for one request; its status and body. (Also what
    ``bench/api_inprocess.py`` measures the API with.)"""
    headers = [(b"host", b"127.0.0.1"), (b"accept", b"application/json")]
    if body:
        headers += [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 0),
        "server": ("127.0.0.1", 0),
    }
    sent_body = False
    status = 0
    parts: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent_body
        if not sent_body:
            sent_body = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # never: the app does not wait for a disconnect
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            parts.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(parts)

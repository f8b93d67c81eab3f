"""The request guard: a body larger than the limit is refused with 413 before it is read.

A request that says its length (``Content-Length``) over the limit is
answered at once, without reading a byte of its body; one that does not say
it (chunked) is counted while it is read and answered as soon as the count
passes the limit, so a refused request never holds more than the limit in
memory. Everything else passes through untouched.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def too_large_message(limit: int) -> str:
    return (
        f"Request body too large: more than the limit of {limit} bytes (SIROCCO_REQUEST_MAX_BYTES)"
    )


class BodyLimit:
    """ASGI middleware refusing request bodies over ``limit`` bytes (``-1``: no limit)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.limit < 0:
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await _refuse(send, self.limit)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # The API's error handlers answer it (FastAPI passes HTTP errors on).
                    raise HTTPException(413, too_large_message(self.limit))
            return message

        await self.app(scope, counting_receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(
        {"faultcode": "Client", "faultstring": too_large_message(limit), "debuginfo": None}
    ).encode()
    headers: list[Any] = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})

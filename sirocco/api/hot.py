"""The two requests clients make most, answered without FastAPI's routing and dependency
solving: ``POST /v2/executions`` (a start) and ``GET /v2/executions/{id}`` (every poll).

FastAPI's way to a route (its middleware, the match over every route, the dependencies
solved for each request) costs about as much CPU as ``GET /v2``, the API's floor
(~0.3 ms), which is more than these two routes' own work. :class:`HotRoutes`, an ASGI
middleware in front of the application, answers such a request itself through the very
functions the routes call (``executions.start_answer``, ``executions.one``) when the
request is plain:

- no authentication (every caller is the default project's administrator, so there is
  no policy rule or project to check), no query string, no root path;
- for a start: a ``Content-Type: application/json`` body of a declared length within
  the body limit, which the route's model (``bodies.ExecutionBody``) accepts, and
  maintenance mode off.

Anything else goes to the application as it came, and so does a plain request whose
checks fail before the engine is asked (an unknown workflow, a bad input, a read that
finds nothing or fails): the application then checks it again and answers it as it
always has, errors in Mistral's words included. Once the engine has been asked to
start, an error is answered by the application's own exception handler for it. No
answer differs from the application's (``tests/unit/api/test_api_hot_routes.py``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sirocco.api import bodies, deps, executions, identity
from sirocco.runtime import maintenance as mode

_ONE = "/v2/executions/"
_START = "/v2/executions"

Handler = Callable[[Request, Exception], Response | Awaitable[Response]]


class HotRoutes:
    """ASGI middleware: plain starts and reads of one execution answered here (see the
    module), every other request passed on to ``app``."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and not scope.get("query_string")
            and not scope.get("root_path")
            and _open(self.api.state.gate)
        ):
            method, path = scope["method"], scope["path"]
            if method == "GET" and path.startswith(_ONE):
                execution_id = path[len(_ONE) :]
                plain = execution_id and "/" not in execution_id
                if plain and await self._one(scope, receive, send, execution_id):
                    return
            elif method == "POST" and path == _START and self._plain_body(scope):
                await self._start(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _one(self, scope: Scope, receive: Receive, send: Send, execution_id: str) -> bool:
        """Answer ``GET /v2/executions/{id}``; False (nothing sent) when the application
        is to answer it."""
        database = self.api.state.service.database
        try:
            response = await executions.one(database, execution_id, ())
        except Exception:  # a read: the application reads again and answers
            return False
        await response(scope, receive, send)
        return True

    def _plain_body(self, scope: Scope) -> bool:
        """Whether the request says its body is JSON of a length within the limit."""
        kind = length = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                kind = value
            elif name == b"content-length":
                length = value
        if kind != b"application/json" or length is None or not length.isdigit():
            return False
        limit: int = self.api.state.limits.request_max_bytes
        return limit < 0 or int(length) <= limit

    async def _start(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a plain ``POST /v2/executions`` (the application answers it if one of
        the checks before the start fails)."""
        body, ending = await _read_body(receive)
        again = _replay(body, ending, receive)
        if ending is not None:
            await self.app(scope, again, send)
            return
        service = self.api.state.service
        database = service.database
        try:
            maintenance = self.api.state.maintenance
            if maintenance is not None:
                status = await deps.off_the_loop(database, maintenance.status)
                if status != mode.RUNNING:
                    raise _ToTheApplication
            wf_ex = bodies.ExecutionBody.model_validate(json.loads(body))
            answer = await deps.off_the_loop(
                database, executions.request_start, wf_ex, service, identity.ANONYMOUS
            )
        except Exception:  # nothing started: the application answers
            await self.app(scope, again, send)
            return
        try:
            response = await executions.start_answer(database, answer)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise
            answered = handler(Request(scope, again), exc)
            response = answered if isinstance(answered, Response) else await answered
        await response(scope, again, send)

    def _handler(self, exc: Exception) -> Handler | None:
        """The application's handler for ``exc`` (as Starlette looks it up), but the one of
        ``Exception``, which Starlette's outermost middleware calls for what is raised."""
        for cls in type(exc).__mro__:
            if cls is Exception:
                return None
            handler: Handler | None = self.api.exception_handlers.get(cls)
            if handler is not None:
                return handler
        return None


def _open(gate: identity.Gate | None) -> bool:
    """Whether the app authenticates no one: every caller is ``identity.ANONYMOUS``
    (no gate, or ``authentication.Gate`` of the mode ``none``)."""
    return gate is None or getattr(gate, "mode", None) == "none"


class _ToTheApplication(Exception):
    """The request is not plain after all: the application answers it."""


async def _read_body(receive: Receive) -> tuple[bytes, Message | None]:
    """The request's body, and the message that ended it early (the client went away),
    None when it came whole."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(parts), message
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts), None


def _replay(body: bytes, ending: Message | None, receive: Receive) -> Receive:
    """A ``receive`` that gives what was read again: ``body`` in one message (then
    ``ending``, if the body did not come whole), then what ``receive`` gives."""
    again: list[Message] = [{"type": "http.request", "body": body, "more_body": ending is not None}]
    if ending is not None:
        again.append(ending)

    async def replayed() -> Message:
        if again:
            return again.pop(0)
        return await receive()

    return replayed

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
  the body limit and 64 KiB, which the route's model (``bodies.ExecutionBody``)
  accepts, and maintenance mode off.

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
from concurrent.futures import Future

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sirocco.api import bodies, deps, executions, identity
from sirocco.runtime import maintenance as mode
from sirocco.runtime.work import Started
from sirocco.store.database import Database

#: The largest body a plain start has (bytes): above it, FastAPI's own cost is small
#: beside the body's parsing and checks, and the application reads it as it always has.
PLAIN_BODY = 64 * 1024

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
        """Whether the request says its body is JSON of a length within the body limit and
        ``PLAIN_BODY``, each once (a header given twice is for the application to read as
        it reads headers: its first)."""
        kind = length = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                if kind is not None:
                    return False
                kind = value
            elif name == b"content-length":
                if length is not None:
                    return False
                length = value
        if kind != b"application/json" or length is None or not length.isdigit():
            return False
        limit: int = self.api.state.limits.request_max_bytes
        return int(length) <= (PLAIN_BODY if limit < 0 else min(limit, PLAIN_BODY))

    async def _start(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a plain ``POST /v2/executions`` (the application answers it if one of
        the checks before the start fails)."""
        body, ending = await _read_body(receive)
        if ending is not None:
            await self.app(scope, _replay(body, ending, receive), send)
            return
        database = self.api.state.service.database
        answer = await self._ask(database, body)
        if answer is None:  # nothing started: the application answers
            await self.app(scope, _replay(body, None, receive), send)
            return
        del body  # a start's input may be large: not kept while the engine starts it
        try:
            response = await executions.start_answer(database, answer)
        except Exception as exc:
            del answer  # it holds the error, whose frames hold this one: no cycle kept
            handler = self._handler(exc)
            if handler is None:
                raise
            answered = handler(Request(scope, receive), exc)
            response = answered if isinstance(answered, Response) else await answered
        await response(scope, receive, send)

    async def _ask(self, database: Database, body: bytes) -> Future[Started] | Response | None:
        """Check a start and ask the engine for it (``executions.request_start``); None
        when a check fails or the request is not plain after all (nothing asked)."""
        try:
            maintenance = self.api.state.maintenance
            if maintenance is not None:
                status = await deps.off_the_loop(database, maintenance.status)
                if status != mode.RUNNING:
                    return None
            wf_ex = bodies.ExecutionBody.model_validate(json.loads(body))
            service = self.api.state.service
            return await deps.off_the_loop(
                database, executions.request_start, wf_ex, service, identity.ANONYMOUS
            )
        except Exception:  # the application checks it again and answers
            return None

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

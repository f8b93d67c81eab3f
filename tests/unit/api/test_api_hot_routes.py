"""The hot routes (``sirocco.api.hot``): plain starts and polls answered without FastAPI's
routing, exactly as the application answers them; anything else passed on to it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from sirocco.api import authentication, hot
from sirocco.api.app import create_app
from sirocco.api.identity import Caller
from sirocco.cli.embedded import Embedded, open_embedded
from sirocco.limits import DEFAULT as DEFAULT_LIMITS

WORKFLOWS = b"""version: '2.0'
waits:
  input:
    - name
  tasks:
    only:
      action: std.async_noop
"""

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Embedded]:
    running = open_embedded(f"sqlite:///{tmp_path / 'hot.sqlite'}")
    try:
        yield running
    finally:
        running.close()


def _without_hot_routes(app: FastAPI) -> FastAPI:
    """``app`` as it answers without the hot routes (before it served a request)."""
    kept = [item for item in app.user_middleware if getattr(item, "cls", None) is not hot.HotRoutes]
    assert len(kept) == len(app.user_middleware) - 1
    app.user_middleware = kept
    return app


async def _call(
    app: Any,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    query: bytes = b"",
    chunks: int = 1,
) -> Answer:
    """One request as uvicorn sends it (the body in ``chunks`` messages); the status,
    headers and body of the answer."""
    if headers is None:
        headers = [(b"content-type", b"application/json")] if body else []
        if body:
            headers.append((b"content-length", b"%d" % len(body)))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
        "root_path": "", "headers": [(b"host", b"sirocco.test"), *headers],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    size = max(1, -(-len(body) // chunks))
    pieces = [body[start : start + size] for start in range(0, len(body), size)] or [b""]
    messages: list[Message] = [
        {"type": "http.request", "body": piece, "more_body": index < len(pieces) - 1}
        for index, piece in enumerate(pieces)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)  # as uvicorn: nothing more until the client goes away
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    answer = b"".join(message.get("body", b"") for message in sent[1:])
    return start["status"], list(start["headers"]), answer


def _both(embedded: Embedded) -> tuple[FastAPI, FastAPI]:
    return create_app(embedded.service), _without_hot_routes(create_app(embedded.service))


def _shown(answer: Answer) -> tuple[int, list[tuple[bytes, bytes]], dict[str, Any]]:
    """A start's answer without what differs between two starts (id, times)."""
    status, headers, body = answer
    fields = json.loads(body)
    for name in ("id", "created_at", "updated_at"):
        fields.pop(name, None)
    return status, [item for item in headers if item[0] != b"content-length"], fields


def test_a_poll_is_answered_as_the_application_answers_it(embedded: Embedded) -> None:
    hot_app, plain_app = _both(embedded)

    async def scenario() -> None:
        await _call(plain_app, "POST", "/v2/workflows", WORKFLOWS, headers=[])
        status, _, body = await _call(
            plain_app, "POST", "/v2/executions", b'{"workflow_name": "waits", "input": {"name": 1}}'
        )
        assert status == 201, body
        path = f"/v2/executions/{json.loads(body)['id']}"
        assert await _call(hot_app, "GET", path) == await _call(plain_app, "GET", path)
        # Not there, a query string, a path below: the application's answers (404, fields).
        for where, query in (("/v2/executions/nothing", b""), (path, b"fields=state")):
            hot_answer = await _call(hot_app, "GET", where, query=query)
            assert hot_answer == await _call(plain_app, "GET", where, query=query)
        tasks = await _call(hot_app, "GET", f"{path}/tasks")
        assert tasks[0] == 200

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("body", "kind", "chunks"),
    [
        (b'{"workflow_name": "waits", "input": {"name": "x"}}', b"application/json", 1),
        (b'{"workflow_name": "waits", "input": "{\\"name\\": 2}", "description": "d"}', None, 3),
        (b'{"workflow_name": "waits"}', None, 1),  # the input misses a parameter: 400
        (b'{"workflow_name": "nothing"}', None, 1),  # 404
        (b'{"workflow_name": "waits", "colour": "red"}', None, 1),  # not an attribute: 400
        (b'{"workflow_name": "waits", "input": [1]}', None, 1),
        (b'{"workflow_name": ', None, 1),  # not JSON
        (b"[]", None, 1),
        (b'{"workflow_name": "waits", "input": {"name": 1}}', b"text/plain", 1),
        (b'{"workflow_name": "waits", "input": {"name": 1}}', b"application/json; x=1", 2),
    ],
)
def test_a_start_is_answered_as_the_application_answers_it(
    embedded: Embedded, body: bytes, kind: bytes | None, chunks: int
) -> None:
    hot_app, plain_app = _both(embedded)
    headers = [
        (b"content-type", kind or b"application/json"),
        (b"content-length", b"%d" % len(body)),
    ]

    async def scenario() -> None:
        await _call(plain_app, "POST", "/v2/workflows", WORKFLOWS, headers=[])
        hot_answer = await _call(
            hot_app, "POST", "/v2/executions", body, headers=headers, chunks=chunks
        )
        plain_answer = await _call(
            plain_app, "POST", "/v2/executions", body, headers=headers, chunks=chunks
        )
        if plain_answer[0] == 201:
            assert _shown(hot_answer) == _shown(plain_answer)
        else:
            assert hot_answer == plain_answer

    asyncio.run(scenario())


def test_a_start_with_a_given_id_is_answered_as_the_application_answers_it(
    embedded: Embedded,
) -> None:
    hot_app, plain_app = _both(embedded)
    given = "c0ffee00-0000-4000-8000-000000000001"
    body = json.dumps({"id": given, "workflow_name": "waits", "input": {"name": 1}}).encode()

    async def scenario() -> None:
        await _call(plain_app, "POST", "/v2/workflows", WORKFLOWS, headers=[])
        first = await _call(hot_app, "POST", "/v2/executions", body)
        assert first[0] == 201
        # Asked again: the execution that has the id (both ways).
        again = await _call(hot_app, "POST", "/v2/executions", body)
        assert again == await _call(plain_app, "POST", "/v2/executions", body)
        assert json.loads(again[2])["id"] == json.loads(first[2])["id"] == given

    asyncio.run(scenario())


def test_limits_and_maintenance_are_the_applications(embedded: Embedded) -> None:
    small = dataclasses.replace(DEFAULT_LIMITS, request_max_bytes=40)
    hot_app = create_app(embedded.service, limits=small)
    plain_app = _without_hot_routes(create_app(embedded.service, limits=small))
    body = b'{"workflow_name": "waits", "input": {"name": 1}}'
    chunked = [(b"content-type", b"application/json")]  # no length said

    async def scenario() -> None:
        await _call(plain_app, "POST", "/v2/workflows", WORKFLOWS, headers=[])
        for headers in (None, chunked):
            hot_answer = await _call(hot_app, "POST", "/v2/executions", body, headers=headers)
            assert hot_answer[0] == 413
            assert hot_answer == await _call(
                plain_app, "POST", "/v2/executions", body, headers=headers
            )
        paused = await _call(plain_app, "PUT", "/maintenance", b'{"status": "PAUSED"}')
        assert paused[0] == 200, paused
        small_body = b'{"workflow_name": "waits"}'
        hot_answer = await _call(hot_app, "POST", "/v2/executions", small_body)
        assert hot_answer[0] == 423
        assert hot_answer == await _call(plain_app, "POST", "/v2/executions", small_body)

    asyncio.run(scenario())


@pytest.mark.parametrize("gate", [None, authentication.Gate(None)])
def test_only_plain_requests_are_answered_here(
    embedded: Embedded, gate: authentication.Gate | None
) -> None:
    """The application sees every request that is not plain, and no plain one (without
    authentication: no gate, or the gate of the mode ``none``, as ``sirocco server``'s)."""
    passed: list[str] = []
    app = create_app(embedded.service, gate=gate)

    async def recorded(scope: Scope, receive: Receive, send: Send) -> None:
        passed.append(f"{scope['method']} {scope['path']}?{scope['query_string'].decode()}")
        await app(scope, receive, send)

    lane = hot.HotRoutes(recorded, api=app)
    body = b'{"workflow_name": "waits", "input": {"name": 1}}'

    async def scenario() -> None:
        await _call(app, "POST", "/v2/workflows", WORKFLOWS, headers=[])
        status, _, answer = await _call(lane, "POST", "/v2/executions", body)
        assert status == 201
        path = f"/v2/executions/{json.loads(answer)['id']}"
        assert (await _call(lane, "GET", path))[0] == 200
        assert passed == []
        await _call(lane, "GET", path, query=b"fields=state")
        await _call(lane, "GET", f"{path}/tasks")
        await _call(lane, "GET", "/v2/executions/nothing")
        await _call(lane, "POST", "/v2/executions", b'{"workflow_name": "nothing"}')
        large = {"workflow_name": "waits", "input": {"name": "x" * hot.PLAIN_BODY}}
        assert (await _call(lane, "POST", "/v2/executions", json.dumps(large).encode()))[0] == 201
        # A header given twice: the application reads the first (not JSON) and refuses it.
        twice = [(b"content-type", b"text/plain"), (b"content-type", b"application/json"),
                 (b"content-length", b"%d" % len(body))]  # fmt: skip
        assert (await _call(lane, "POST", "/v2/executions", body, headers=twice))[0] == 400
        assert passed == [
            f"GET {path}?fields=state",
            f"GET {path}/tasks?",
            "GET /v2/executions/nothing?",
            "POST /v2/executions?",
            "POST /v2/executions?",
            "POST /v2/executions?",
        ]

    asyncio.run(scenario())


class FakeTokens:
    """An authenticator that knows no token."""

    mode = "tokens"

    def identify(self, token: str) -> Caller:
        raise authentication.Unauthorized()


def test_with_authentication_every_request_goes_to_the_application(embedded: Embedded) -> None:
    passed: list[str] = []
    app = create_app(embedded.service, gate=authentication.Gate(FakeTokens()))

    async def recorded(scope: Scope, receive: Receive, send: Send) -> None:
        passed.append(f"{scope['method']} {scope['path']}")
        await app(scope, receive, send)

    lane = hot.HotRoutes(recorded, api=app)

    async def scenario() -> None:
        start = await _call(lane, "POST", "/v2/executions", b'{"workflow_name": "waits"}')
        assert start[0] == 401
        assert (await _call(lane, "GET", "/v2/executions/x"))[0] == 401
        assert passed == ["POST /v2/executions", "GET /v2/executions/x"]

    asyncio.run(scenario())

"""Requests and values over the limits: 413 and 400 naming the limit, failed tasks, and
the service serving the others all along."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from sirocco.api.app import create_app
from sirocco.limits import Limits
from tests.integration import helpers

LIMITS = Limits(request_max_bytes=200_000, field_size_limit_kb=64)

WORKFLOWS = """
version: '2.0'
echo:
  input:
    - x
  tasks:
    say:
      action: std.echo output=<% $.x %>
  output:
    said: <% task(say).result %>
big_result:
  tasks:
    say:
      # A small input (an input over the limit fails before the action runs, as Mistral).
      action: test.big text=ab times=50000
big_output:
  tasks:
    say:
      action: std.noop
  output:
    many: <% 'ab' * 50000 %>
big_publish:
  tasks:
    say:
      action: std.noop
      publish:
        many: <% 'ab' * 50000 %>
"""


@pytest.fixture
def served(sqlite_url: str) -> Iterator[tuple[helpers.Embedded, TestClient]]:
    with helpers.embedded(sqlite_url, limits=LIMITS) as app:
        helpers.deploy(app, WORKFLOWS)
        api = create_app(app.service, limits=LIMITS)
        with TestClient(api, base_url="http://sirocco.test") as client:
            yield app, client


def _serves(app: helpers.Embedded, client: TestClient) -> None:
    answer = client.post("/v2/executions", json={"workflow_name": "echo", "input": {"x": 7}})
    assert answer.status_code == 201, answer.text
    row = helpers.wait_for(app, answer.json()["id"])
    assert row.state == "SUCCESS", row.state_info
    assert row.output == {"said": 7}


def _fault(answer: object) -> str:
    return str(answer.json()["faultstring"])  # type: ignore[attr-defined]


def test_a_body_over_the_limit_is_refused_with_413(
    served: tuple[helpers.Embedded, TestClient],
) -> None:
    app, client = served
    big = json.dumps({"workflow_name": "echo", "input": {"x": "a" * 300_000}})
    answer = client.post(
        "/v2/executions", content=big, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert "more than the limit of 200000 bytes (SIROCCO_REQUEST_MAX_BYTES)" in _fault(answer)

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        for start in range(0, len(big), 10_000):
            yield big[start : start + 10_000].encode()

    answer = client.post(
        "/v2/executions", content=chunks(), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413
    assert "SIROCCO_REQUEST_MAX_BYTES" in _fault(answer)
    answer = client.post("/v2/workflows", content="x" * 300_000)
    assert answer.status_code == 413
    _serves(app, client)


def test_deep_json_anywhere_is_400(served: tuple[helpers.Embedded, TestClient]) -> None:
    app, client = served
    deep = "[" * 50_000 + "]" * 50_000
    bodies = [
        '{"workflow_name": "echo", "input": {"x": ' + deep + "}}",
        json.dumps({"workflow_name": "echo", "input": '{"x": ' + deep + "}"}),
        json.dumps({"workflow_name": "echo", "input": {"x": 1}, "params": '{"env": ' + deep + "}"}),
    ]
    for body in bodies:
        answer = client.post(
            "/v2/executions", content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 400, answer.text
    answer = client.put(
        "/v2/environments", content=deep, headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    _serves(app, client)


def test_invalid_utf8_is_400(served: tuple[helpers.Embedded, TestClient]) -> None:
    app, client = served
    definition = "version: '2.0'\nw\xff:\n  tasks:\n    t:\n      action: std.noop\n"
    answer = client.post(
        "/v2/workflows",
        content=definition.encode("latin-1"),
        headers={"content-type": "text/plain"},
    )
    assert answer.status_code == 400
    assert "not valid UTF-8" in _fault(answer)
    answer = client.post(
        "/v2/executions",
        content=b'{"workflow_name": "echo", "input": {"x": "\xff\xfe"}}',
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 400
    assert client.get("/v2/workflows/w\ufffd").status_code == 404  # nothing stored
    _serves(app, client)


def test_an_input_over_the_field_size_limit_is_400(
    served: tuple[helpers.Embedded, TestClient],
) -> None:
    app, client = served
    answer = client.post(
        "/v2/executions", json={"workflow_name": "echo", "input": {"x": "a" * 100_000}}
    )
    assert answer.status_code == 400
    assert _fault(answer).startswith(
        "Field size limit exceeded [class=WorkflowExecution, field=input, size=97KB, limit=64KB]"
    )
    _serves(app, client)


@pytest.mark.parametrize(
    ("workflow", "where"),
    [
        ("big_result", "class=ActionExecution, field=output"),
        ("big_publish", "class=TaskExecution, field=published"),
    ],
)
def test_a_result_or_publish_over_the_field_size_limit_fails_the_task(
    served: tuple[helpers.Embedded, TestClient], workflow: str, where: str
) -> None:
    app, client = served
    answer = client.post("/v2/executions", json={"workflow_name": workflow})
    assert answer.status_code == 201, answer.text
    _serves(app, client)
    row = helpers.wait_for(app, answer.json()["id"])
    assert row.state == "ERROR"
    task = helpers.task(app, row.id, "say")
    assert task.state == "ERROR"
    assert f"Field size limit exceeded [{where}" in task.state_info
    assert "(SIROCCO_FIELD_SIZE_LIMIT_KB)" in task.state_info


def test_an_output_over_the_field_size_limit_fails_the_workflow(
    served: tuple[helpers.Embedded, TestClient],
) -> None:
    app, client = served
    answer = client.post("/v2/executions", json={"workflow_name": "big_output"})
    assert answer.status_code == 201, answer.text
    _serves(app, client)
    row = helpers.wait_for(app, answer.json()["id"])
    assert row.state == "ERROR"
    assert "Field size limit exceeded [class=WorkflowExecution, field=output" in row.state_info, (
        row.state_info
    )
    assert "ab" * 1000 not in str(row.output)

"""schemathesis over ``/openapi.json``: no request it makes gets a 5xx, and the document is right.

The app runs over the real embedded engine (SQLite, executor, timers). For
every operation of the document, schemathesis generates schema-valid and
schema-invalid requests and checks, besides "no server error", that each
answer's status code, content type and body are the ones the document
declares, and that invalid requests are refused. Its ``positive_data_acceptance``
check is left out: a name or a YAML text can be valid for the schema and still
name nothing or be an invalid workflow, which Mistral answers with 400/404.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from sirocco.api.app import create_app
from sirocco.cli.embedded import open_embedded

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a test dependency")
positive_data_acceptance = schemathesis.checks.positive_data_acceptance

WORKFLOW = """version: '2.0'
wf:
  input: [x]
  tasks:
    t:
      action: std.echo output=<% $.x %>
"""

#: Examples per operation and generation mode (62 operations: a few seconds in all).
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 8, schemathesis.GenerationMode.NEGATIVE: 8}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    embedded = open_embedded(f"sqlite:///{folder / 'sirocco.sqlite'}")
    app = create_app(embedded.service)
    with TestClient(app) as client:
        client.post("/v2/workflows", content=WORKFLOW, headers={"content-type": "text/plain"})
        client.post("/v2/executions", json={"workflow_name": "wf", "input": {"x": 1}})
        client.post("/v2/environments", json={"name": "env", "variables": {"a": 1}})
    try:
        yield app
    finally:
        embedded.close()


def test_the_openapi_document_loads_and_names_every_route(app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert len(labels) >= 60
    assert {"POST /v2/executions", "PUT /v2/tasks/{task_id}", "GET /v2/cron_triggers"} <= labels
    document = TestClient(app).get("/openapi.json").json()
    responses = document["paths"]["/v2/workflows"]["post"]["responses"]
    assert set(responses) == {"201", "400", "404", "409"}  # never FastAPI's 422
    assert responses["400"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Fault"
    }
    assert set(document["paths"]["/v2/executions/{execution_id}"]["delete"]["responses"]) == {
        "204",
        "400",
        "403",
        "404",
    }


def test_schemathesis_finds_no_server_error_and_no_mismatch(app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    problems: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode, count in EXAMPLES.items():
            if mode == schemathesis.GenerationMode.NEGATIVE and not _takes_json(operation):
                continue
            strategy = operation.as_strategy(generation_mode=mode)
            _run(strategy, count, problems)
    assert not problems, "\n\n".join(problems[:5])


def _takes_json(operation: Any) -> bool:
    """Whether the operation has a JSON body: the only input whose schema can be broken
    (paths and queries are free strings, so their negative cases cannot be made)."""
    content = operation.definition.raw.get("requestBody", {}).get("content", {})
    return "application/json" in content


def _run(strategy: Any, count: int, problems: list[str]) -> None:
    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def check(case: schemathesis.Case) -> None:
        try:
            case.call_and_validate(excluded_checks=[positive_data_acceptance])
        except (AssertionError, BaseExceptionGroup) as failure:
            problems.append(f"{case.method} {case.formatted_path}: {_first_lines(failure)}")

    try:
        check()
    except Exception as error:  # e.g. an operation whose negative cases are impossible
        if "Unsatisfiable" not in type(error).__name__:
            raise


def _first_lines(failure: BaseException) -> str:
    text = str(failure)
    found = re.findall(r"- (ST\d+ [^\n]*)", text)
    return "; ".join(found) or text[:500]


DEEP = "[" * 50_000 + "]" * 50_000
#: The JSON-typed fields of the bodies: each may be given as JSON text too.
JSON_FIELDS = ("input", "params", "output", "variables", "workflow_input", "workflow_params")


def test_deep_json_and_invalid_utf8_bodies_are_400_on_every_operation(app: FastAPI) -> None:
    """Every operation that takes a JSON body, given JSON nested 50,000 deep (as the body
    and as a JSON-typed field) or bytes that are not UTF-8: 400, never a 5xx."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    client = TestClient(app, raise_server_exceptions=False)
    seen: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        if not _takes_json(operation):
            continue
        path = re.sub(r"\{[^}]+\}", "x", operation.path)
        bodies = [DEEP.encode(), b'{"name": "\xff\xfe"}']
        for field in JSON_FIELDS:  # one at a time: a body with an unknown field is refused
            bodies.append(('{"' + field + '": "' + DEEP + '"}').encode())
            bodies.append(('{"' + field + '": ' + DEEP + "}").encode())
        for body in bodies:
            answer = client.request(
                operation.method.upper(),
                path,
                content=body,
                headers={"content-type": "application/json"},
            )
            if answer.status_code >= 500 or answer.status_code == 422:
                seen.append(f"{operation.label}: {answer.status_code} {answer.text[:200]}")
    assert not seen, "\n".join(seen[:10])

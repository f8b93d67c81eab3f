"""Random requests over every operation of ``/openapi.json`` never get a 500."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from api_fakes import FakeService
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sirocco.api.app import create_app
from sirocco.store.database import Database

WORKFLOW = """version: '2.0'
wf:
  input: [x]
  tasks:
    t:
      action: std.noop
"""

_words = st.sampled_from(
    ["", "wf", "x", "eq:wf", "in:a,b", "has:w", "gt:2020-01-01", "1", "-1", "0", "true",
     "name", "desc", "asc", "id,name", "RUNNING", "00000000-0000-0000-0000-000000000000",
     "{}", '{"x": 1}', "[", "%", "null"]
)  # fmt: skip
_text = st.one_of(_words, st.text(max_size=20))
_json = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


def _operations(document: dict[str, Any]) -> list[tuple[str, str, list[str], list[str], str]]:
    found = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            queries = [p["name"] for p in operation.get("parameters", ()) if p["in"] == "query"]
            properties: list[str] = []
            kind = ""
            content = operation.get("requestBody", {}).get("content", {})
            if "text/plain" in content:
                kind = "text"
            elif "application/json" in content:
                kind = "json"
                reference = content["application/json"]["schema"].get("$ref", "")
                schema = document["components"]["schemas"].get(reference.rsplit("/", 1)[-1], {})
                properties = list(schema.get("properties", {}))
            found.append((method.upper(), path, queries, properties, kind))
    return found


@st.composite
def requests(draw: st.DrawFn, operations: list[Any]) -> tuple[str, str, dict[str, Any]]:
    method, path, queries, properties, kind = draw(st.sampled_from(operations))
    url = re.sub(r"\{[^}]+\}", lambda _: draw(st.sampled_from(["wf", "nope", "std.echo"])), path)
    chosen = draw(st.lists(st.sampled_from(queries), unique=True, max_size=4)) if queries else []
    params = {name: draw(_text) for name in chosen}
    options: dict[str, Any] = {"params": params}
    if kind == "text":
        options["content"] = draw(st.one_of(st.just(WORKFLOW), st.text(max_size=60)))
        options["headers"] = {"content-type": "text/plain"}
    elif kind == "json":
        keys = draw(st.lists(st.sampled_from(properties or ["x"]), unique=True, max_size=4))
        body = {key: draw(st.one_of(_text, _json)) for key in keys}
        options["content"] = json.dumps(body)
        options["headers"] = {"content-type": "application/json"}
    return method, url, options


def test_random_requests_never_get_a_server_error(tmp_path: Path, migrated_file: Path) -> None:
    path = tmp_path / "fuzz.sqlite"
    path.write_bytes(migrated_file.read_bytes())
    database = Database(f"sqlite:///{path}")
    client = TestClient(create_app(FakeService(database)), raise_server_exceptions=False)
    client.post("/v2/workflows", content=WORKFLOW, headers={"content-type": "text/plain"})
    operations = _operations(client.get("/openapi.json").json())
    assert len(operations) > 40

    @settings(
        max_examples=80,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
    )
    @given(requests(operations))
    def check(request: tuple[str, str, dict[str, Any]]) -> None:
        method, url, options = request
        response = client.request(method, url, **options)
        assert response.status_code < 500, (method, url, options, response.text)
        if response.status_code >= 400:
            assert "faultstring" in response.json()

    try:
        check()
    finally:
        database.dispose()

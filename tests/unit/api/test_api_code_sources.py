"""``/v2/code_sources`` and ``/v2/dynamic_actions`` answered as Mistral 23 answers them.

Each expectation was read from the oracle (``shared/oracle``, with a policy file
opening these routes: Mistral's defaults let only administrators use them, and
without Keystone no caller is one). Where Mistral answers 500 (no ``name``, a bad
``scope`` it stores anyway) Sirocco answers 400 and stores nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from api_fakes import FakeService
from fastapi.testclient import TestClient

from sirocco.api import authentication
from sirocco.api.app import create_app
from sirocco.settings import Settings
from sirocco.store import tokens
from sirocco.store.database import Database

MODULE = "class Greet:\n    def run(self, context):\n        return 1\n"
TEXT = {"content-type": "text/plain"}


def _upload(client: TestClient, query: str, text: str = MODULE) -> object:
    return client.post(f"/v2/code_sources?{query}", content=text, headers=TEXT)


def test_code_source_lifecycle(client: TestClient) -> None:
    created = _upload(client, "name=my_mod")
    assert created.status_code == 201, created.text  # type: ignore[attr-defined]
    body = created.json()  # type: ignore[attr-defined]
    # Mistral 23: the creation's answer has no updated_at; these fields, in this order.
    assert list(body) == [
        "id", "name", "namespace", "content", "version", "project_id", "scope", "created_at",
    ]  # fmt: skip
    assert (body["name"], body["namespace"], body["version"], body["scope"]) == (
        "my_mod",
        "",
        1,
        "private",
    )
    assert body["content"] == MODULE and body["project_id"] == "<default-project>"
    # Mistral 23: 409 {"faultstring": "Duplicate entry for CodeSource [...]: my_mod, , None"}
    duplicate = _upload(client, "name=my_mod")
    assert duplicate.status_code == 409  # type: ignore[attr-defined]
    assert duplicate.json() == {  # type: ignore[attr-defined]
        "faultstring": "Duplicate entry for CodeSource ['name', 'namespace', 'project_id']: "
        "my_mod, , None"
    }
    other = _upload(client, "name=my_mod&namespace=ns1&scope=public", "x = 1").json()  # type: ignore[attr-defined]
    assert (other["namespace"], other["scope"]) == ("ns1", "public")
    got = client.get("/v2/code_sources/my_mod").json()
    assert got["id"] == body["id"] and got["updated_at"] is None
    assert client.get("/v2/code_sources/my_mod?namespace=ns1").json()["content"] == "x = 1"
    assert client.get(f"/v2/code_sources/{body['id']}").json()["name"] == "my_mod"
    listed = client.get("/v2/code_sources?fields=name,version").json()["code_sources"]
    # Created in the same second, they list in either order (ids break the tie).
    assert sorted(listed, key=lambda item: item["id"]) == sorted(
        [
            {"id": body["id"], "name": "my_mod", "version": 1},
            {"id": other["id"], "name": "my_mod", "version": 1},
        ],
        key=lambda item: item["id"],
    )
    only_ns = client.get("/v2/code_sources?namespace=ns1&fields=name").json()
    assert only_ns == {"code_sources": [{"id": other["id"], "name": "my_mod"}]}
    # Mistral 23: PUT answers the new version, with updated_at.
    updated = client.put("/v2/code_sources/my_mod", content="y = 2", headers=TEXT)
    assert updated.status_code == 200
    assert (updated.json()["version"], updated.json()["content"]) == (2, "y = 2")
    assert updated.json()["updated_at"] is not None
    by_query = client.put("/v2/code_sources?identifier=my_mod", content="z = 3", headers=TEXT)
    assert by_query.json()["version"] == 3
    # Mistral 23: 404 "Code Source not found [name=nope,namespace=]" for get, put, delete.
    for answer in (
        client.get("/v2/code_sources/nope"),
        client.put("/v2/code_sources/nope", content="x", headers=TEXT),
        client.delete("/v2/code_sources/nope"),
    ):
        assert answer.status_code == 404
        assert answer.json()["faultstring"] == "Code Source not found [name=nope,namespace=]"
    assert client.delete("/v2/code_sources/my_mod").status_code == 204
    assert client.get("/v2/code_sources/my_mod").status_code == 404


def test_code_source_bad_requests(client: TestClient) -> None:
    missing = _upload(client, "")
    assert missing.status_code == 400  # type: ignore[attr-defined]
    assert missing.json()["faultstring"] == 'Missing argument: "name"'  # type: ignore[attr-defined]
    bad_scope = _upload(client, "name=m3&scope=bad")
    assert bad_scope.status_code == 400  # type: ignore[attr-defined]
    assert client.get("/v2/code_sources").json() == {"code_sources": []}
    assert client.get("/v2/code_sources?unknown=1").status_code == 400


def test_dynamic_action_lifecycle(client: TestClient) -> None:
    source = _upload(client, "name=my_mod").json()  # type: ignore[attr-defined]
    created = client.post(
        "/v2/dynamic_actions",
        json={"name": "greet", "class_name": "Greet", "code_source_name": "my_mod"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    # Mistral 23: these fields, in this order, no updated_at on creation.
    assert list(body) == [
        "id", "name", "namespace", "code_source_id", "code_source_name", "class_name",
        "project_id", "scope", "created_at",
    ]  # fmt: skip
    assert (body["code_source_id"], body["code_source_name"], body["class_name"]) == (
        source["id"],
        "my_mod",
        "Greet",
    )
    by_id = client.post(
        "/v2/dynamic_actions",
        json={"name": "other", "class_name": "Greet", "code_source_id": source["id"]},
    )
    assert by_id.status_code == 201
    # Mistral 23's refusals, word for word.
    duplicate = client.post(
        "/v2/dynamic_actions",
        json={"name": "greet", "class_name": "Greet", "code_source_name": "my_mod"},
    )
    assert (duplicate.status_code, duplicate.json()["faultstring"]) == (
        409,
        "Duplicate entry for dynamic action definition [name=greet, namespace=, project_id=None]",
    )
    no_source = client.post("/v2/dynamic_actions", json={"name": "g2", "class_name": "Greet"})
    assert (no_source.status_code, no_source.json()["faultstring"]) == (
        400,
        "Either 'code_source_id' or 'code_source_name' must be provided.",
    )
    unknown_source = client.post(
        "/v2/dynamic_actions",
        json={"name": "g2", "class_name": "Greet", "code_source_name": "zzz"},
    )
    assert (unknown_source.status_code, unknown_source.json()["faultstring"]) == (
        404,
        "Code Source not found [name=zzz,namespace=]",
    )
    got = client.get("/v2/dynamic_actions/greet").json()
    assert got["id"] == body["id"] and got["updated_at"] is None
    names = [item["name"] for item in client.get("/v2/dynamic_actions").json()["dynamic_actions"]]
    assert sorted(names) == ["greet", "other"]
    updated = client.put("/v2/dynamic_actions", json={"name": "greet", "class_name": "Boom"})
    assert updated.status_code == 200
    assert updated.json()["class_name"] == "Boom" and updated.json()["updated_at"] is not None
    nameless = client.put("/v2/dynamic_actions", json={"class_name": "Greet"})
    assert (nameless.status_code, nameless.json()["faultstring"]) == (
        400,
        "Either 'name' or 'id' must be provided.",
    )
    missing = client.put("/v2/dynamic_actions", json={"name": "nope", "class_name": "Greet"})
    assert (missing.status_code, missing.json()["faultstring"]) == (
        404,
        "Dynamic Action not found [name=nope,namespace=]",
    )
    assert client.delete("/v2/dynamic_actions/greet").status_code == 204
    assert client.delete("/v2/dynamic_actions/greet").json()["faultstring"] == (
        "Dynamic Action not found [name=greet,namespace=]"
    )
    # Deleting the code source deletes the actions defined from it.
    assert client.delete("/v2/code_sources/my_mod").status_code == 204
    assert client.get("/v2/dynamic_actions").json() == {"dynamic_actions": []}


@pytest.fixture
def secured(service: FakeService) -> Iterator[TestClient]:
    gate = authentication.gate_for("tokens", Settings(), service.database)
    with TestClient(create_app(service, gate=gate)) as client:
        yield client


def _token(database: Database, project: str, role: str) -> dict[str, str]:
    with database.transaction() as connection:
        _made, secret = tokens.create(
            connection, project_id=project, role=role, now=datetime(2026, 1, 1)
        )
    return {"X-Auth-Token": secret}


def test_only_administrators_upload_code(secured: TestClient, database: Database) -> None:
    member = _token(database, "alpha", "member")
    for method, path in (
        ("POST", "/v2/code_sources?name=m"),
        ("GET", "/v2/code_sources"),
        ("GET", "/v2/code_sources/m"),
        ("PUT", "/v2/code_sources/m"),
        ("DELETE", "/v2/code_sources/m"),
        ("POST", "/v2/dynamic_actions"),
        ("GET", "/v2/dynamic_actions"),
        ("DELETE", "/v2/dynamic_actions/d"),
    ):
        assert secured.request(method, path).status_code == 401, (method, path)
        answer = secured.request(method, path, headers=member, content="x = 1")
        assert answer.status_code == 403, (method, path, answer.text)
        rule = f"{path.split('/')[2].split('?')[0]}:"
        assert answer.json()["faultstring"].startswith(f"Policy doesn't allow {rule}")
    admin = _token(database, "alpha", "admin")
    made = secured.post("/v2/code_sources?name=m", content="x = 1", headers={**admin, **TEXT})
    assert made.status_code == 201 and made.json()["project_id"] == "alpha"
    # Another project's administrator does not see alpha's private code.
    beta = _token(database, "beta", "admin")
    assert secured.get("/v2/code_sources/m", headers=beta).status_code == 404
    assert secured.get("/v2/code_sources", headers=beta).json() == {"code_sources": []}
    assert secured.delete("/v2/code_sources/m", headers=beta).status_code == 404
    # A public one it sees, but may not delete (the delete is rolled back).
    public = secured.post(
        "/v2/code_sources?name=p&scope=public", content="x = 1", headers={**admin, **TEXT}
    )
    assert public.status_code == 201, public.text
    refused = secured.delete("/v2/code_sources/p", headers=beta)
    assert refused.status_code == 403, refused.text
    assert refused.json()["faultstring"].startswith("Can not modify")
    assert secured.get("/v2/code_sources/p", headers=admin).status_code == 200


def test_tags_filter_matches_no_untagged_row(client: TestClient) -> None:
    # Mistral takes ?tags= on both lists; code sources are stored without tags and
    # dynamic actions have none, so the filter matches nothing (it answered 500 before).
    assert _upload(client, "name=tagless").status_code == 201  # type: ignore[attr-defined]
    created = client.post(
        "/v2/dynamic_actions",
        json={"name": "greet", "class_name": "Greet", "code_source_name": "tagless"},
    )
    assert created.status_code == 201, created.text
    assert len(client.get("/v2/code_sources").json()["code_sources"]) == 1
    assert len(client.get("/v2/dynamic_actions").json()["dynamic_actions"]) == 1
    assert client.get("/v2/code_sources?tags=a").json() == {"code_sources": []}
    assert client.get("/v2/dynamic_actions?tags=a,b").json() == {"dynamic_actions": []}

"""Paging, sorting, filters, fields, ``next`` links, version documents and error shapes."""

from __future__ import annotations

import sqlalchemy as sa
from api_fakes import T0
from fastapi.testclient import TestClient

from sirocco.store import queries, tables
from sirocco.store.database import Database


def make_environments(client: TestClient, count: int) -> list[str]:
    names = [f"env{index:02d}" for index in range(count)]
    for index, name in enumerate(names):
        body = {"name": name, "description": "even" if index % 2 == 0 else None, "variables": {}}
        assert client.post("/v2/environments", json=body).status_code == 201
    return names


def test_version_documents(client: TestClient) -> None:
    assert client.get("/").json() == {
        "versions": [
            {
                "id": "v2.0",
                "status": "CURRENT",
                "links": [{"href": "http://sirocco.test/v2", "target": "v2", "rel": "self"}],
            }
        ]
    }
    assert client.get("/v2").json() == {"uri": "http://sirocco.test/v2"}
    assert client.get("/v2/").json() == {"uri": "http://sirocco.test/v2"}


def test_walking_pages_with_next_links(client: TestClient) -> None:
    names = make_environments(client, 5)
    seen: list[str] = []
    url: str | None = "/v2/environments?limit=2&sort_keys=name&fields=name"
    pages = 0
    while url:
        page = client.get(url).json()
        seen.extend(item["name"] for item in page["environments"])
        url = page.get("next")
        pages += 1
        assert pages < 10
    assert seen == names
    assert pages == 3


def test_next_link_carries_sorting_filters_and_fields(client: TestClient) -> None:
    make_environments(client, 4)
    page = client.get(
        "/v2/environments?limit=1&sort_keys=name&sort_dirs=desc&name=neq:zz&fields=name"
    ).json()
    last = page["environments"][-1]["id"]
    assert page["next"] == (
        "http://sirocco.test/v2/environments?sort_keys=name,id&sort_dirs=desc,asc"
        f"&name=neq:zz&limit=1&marker={last}&fields=id,name"
    )
    assert page["environments"][0]["name"] == "env03"
    full = client.get("/v2/environments?limit=10").json()
    assert "next" not in full


def test_descending_pages_with_null_sort_values(client: TestClient) -> None:
    make_environments(client, 5)
    seen: list[str] = []
    url: str | None = "/v2/environments?limit=2&sort_keys=description,name&sort_dirs=desc,asc"
    while url:
        page = client.get(url).json()
        seen.extend(item["name"] for item in page["environments"])
        url = page.get("next")
    assert seen == ["env00", "env02", "env04", "env01", "env03"]


def test_filter_operators(client: TestClient) -> None:
    make_environments(client, 4)

    def names(query: str) -> list[str]:
        response = client.get(f"/v2/environments?sort_keys=name&{query}")
        assert response.status_code == 200, response.text
        return [item["name"] for item in response.json()["environments"]]

    assert names("name=env01") == ["env01"]
    assert names("name=eq:env01") == ["env01"]
    assert names("name=neq:env01") == ["env00", "env02", "env03"]
    assert names("name=gt:env01") == ["env02", "env03"]
    assert names("name=gte:env01") == ["env01", "env02", "env03"]
    assert names("name=lt:env01") == ["env00"]
    assert names("name=lte:env01") == ["env00", "env01"]
    assert names("name=in:env01,env03") == ["env01", "env03"]
    assert names("name=nin:env01,env03") == ["env00", "env02"]
    assert names("name=has:v0") == ["env00", "env01", "env02", "env03"]
    assert names("description=even") == ["env00", "env02"]
    assert names("created_at=gte:2000-01-01") == ["env00", "env01", "env02", "env03"]
    assert names("created_at=lt:2000-01-01") == []


def test_list_parameter_errors(client: TestClient) -> None:
    cases = {
        "limit=0": "Limit must be positive.",
        "limit=abc": "Invalid input for field/attribute limit. Value: 'abc'. unable to convert "
        "to int. Error: invalid literal for int() with base 10: 'abc'",
        "marker=abc": "Invalid input for field/attribute marker. Value: 'abc'. unable to "
        "convert to uuid. Error: Expected a uuid but received abc.",
        "sort_dirs=up": "Unknown sort direction, must be 'desc' or 'asc'.",
        "sort_keys=name&sort_dirs=asc,desc": "Length of sort_keys must be equal or greater "
        "than sort_dirs.",
        "sort_keys=nope": "Sort key supplied is invalid: nope",
        "unknown=1": 'Unknown argument: "unknown"',
        "created_at=gt:yesterday": "Invalid input for field/attribute created_at. Value: "
        "'yesterday'. Invalid isoformat string: 'yesterday'",
    }
    for query, message in cases.items():
        response = client.get(f"/v2/environments?{query}")
        assert response.status_code == 400, query
        assert response.json() == {"faultcode": "Client", "faultstring": message, "debuginfo": None}
    unknown_marker = client.get("/v2/environments?marker=00000000-0000-0000-0000-000000000000")
    assert unknown_marker.status_code == 404


def test_limit_is_capped_at_1000(client: TestClient, database: Database) -> None:
    rows = [
        {"id": f"00000000-0000-0000-0000-{index:012d}", "name": f"e{index:04d}", "created_at": T0}
        for index in range(1001)
    ]
    with database.transaction() as connection:
        connection.execute(sa.insert(tables.environments), rows)
    page = client.get("/v2/environments?limit=5000&fields=name").json()
    assert len(page["environments"]) == 1000
    assert "limit=1000&marker=00000000-0000-0000-0000-000000000999" in page["next"]


def test_unknown_path_and_method_use_the_error_body(client: TestClient) -> None:
    missing = client.get("/v2/nothing")
    assert missing.status_code == 404
    assert missing.json()["faultcode"] == "Client"
    wrong_method = client.patch("/v2/workflows")
    assert wrong_method.status_code == 405
    assert "faultstring" in wrong_method.json()


def test_unexpected_errors_are_500_without_a_traceback(database: Database) -> None:
    from sirocco.api.app import create_app

    class Broken:
        def __init__(self) -> None:
            self.database = database

        def list_actions(self) -> list[dict[str, str]]:
            raise RuntimeError("boom")

    with TestClient(create_app(Broken()), raise_server_exceptions=False) as broken:  # type: ignore[arg-type]
        response = broken.get("/v2/actions")
    assert response.status_code == 500
    assert response.json() == {
        "faultcode": "Server",
        "faultstring": "Internal server error.",
        "debuginfo": None,
    }


def test_openapi_document_lists_the_endpoints_and_their_parameters(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    for path in (
        "/v2/workflows",
        "/v2/workbooks",
        "/v2/actions",
        "/v2/executions",
        "/v2/tasks",
        "/v2/action_executions",
        "/v2/environments",
        "/v2/cron_triggers",
        "/v2/event_triggers",
        "/v2/executions/{execution_id}/report",
    ):
        assert path in paths, path
    parameters = {item["name"] for item in paths["/v2/executions"]["get"]["parameters"]}
    assert {
        "marker",
        "limit",
        "sort_keys",
        "fields",
        "state",
        "nulls",
        "include_output",
    } <= parameters
    upload = paths["/v2/workflows"]["post"]["requestBody"]["content"]
    assert "text/plain" in upload


def test_in_memory_paging_matches_the_sql_paging() -> None:
    rows = [
        {"id": str(index), "name": name, "tags": None}
        for index, name in enumerate(["b", "a", "c", "a"])
    ]
    page = queries.Page(sort_keys=("name", "id"), sort_dirs=("asc", "asc"), limit=2)
    first = queries.page_in_memory(rows, page)
    assert [(row["name"], row["id"]) for row in first] == [("a", "1"), ("a", "3")]
    after = queries.page_in_memory(
        rows, queries.Page(sort_keys=("name", "id"), sort_dirs=("asc", "asc"), limit=2, marker="3")
    )
    assert [row["name"] for row in after] == ["b", "c"]
    filtered = queries.page_in_memory(
        rows, queries.Page(filters=(queries.Filter(field="name", operator="in", value=["c", "b"]),))
    )
    assert sorted(row["name"] for row in filtered) == ["b", "c"]

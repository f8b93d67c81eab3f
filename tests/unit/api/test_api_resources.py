"""Environments, cron triggers and event triggers over HTTP."""

from __future__ import annotations

from datetime import datetime, timedelta

import croniter
from fastapi.testclient import TestClient

WORKFLOW = """version: '2.0'
wf1:
  input:
    - x
    - y: 1
  tasks:
    t1:
      action: std.noop
rev:
  type: reverse
  input: [a]
  tasks:
    t1:
      action: std.noop
"""


def make_workflows(client: TestClient) -> dict[str, str]:
    created = client.post("/v2/workflows", content=WORKFLOW, headers={"content-type": "text/plain"})
    return {item["name"]: item["id"] for item in created.json()["workflows"]}


# ---------------------------------------------------------------- environments


def test_environment_create_leaves_out_unset_fields(client: TestClient) -> None:
    full = client.post(
        "/v2/environments",
        json={"name": "env1", "description": "d", "variables": {"a": 1, "b": [1, 2]}},
    )
    assert full.status_code == 201
    body = full.json()
    assert body["variables"] == '{"a": 1, "b": [1, 2]}'
    assert body["description"] == "d"
    assert "updated_at" not in body
    text_variables = client.post(
        "/v2/environments", json={"name": "env2", "variables": '{"a": 2}'}
    ).json()
    assert text_variables["variables"] == '{"a": 2}'
    assert "description" not in text_variables
    got = client.get("/v2/environments/env2").json()
    assert got["description"] is None
    assert got["updated_at"] is None


def test_environment_errors(client: TestClient) -> None:
    client.post("/v2/environments", json={"name": "env1", "variables": {}})
    duplicate = client.post("/v2/environments", json={"name": "env1", "variables": {}})
    assert duplicate.status_code == 409
    assert duplicate.json()["faultstring"] == (
        "Duplicate entry for Environment ['name', 'project_id']: env1, None"
    )
    extra = client.post("/v2/environments", json={"name": "e", "variables": {}, "foo": 1})
    assert extra.status_code == 400
    assert extra.json()["faultstring"] == "Unknown attribute for argument env: foo"
    bad_json = client.post("/v2/environments", json={"name": "e", "variables": "notjson"})
    assert bad_json.status_code == 400
    assert "Expecting value" in bad_json.json()["faultstring"]
    not_json = client.post(
        "/v2/environments", content="notjson", headers={"content-type": "application/json"}
    )
    assert not_json.status_code == 400
    assert not_json.json()["faultstring"] == "Request is not in valid JSON format"
    wrong_type = client.post("/v2/environments", json={"name": 5})
    assert wrong_type.status_code == 400
    missing = client.get("/v2/environments/nope")
    assert missing.status_code == 404
    assert missing.json()["faultstring"] == "Environment not found [name=nope]"


def test_environment_update_list_delete(client: TestClient) -> None:
    client.post(
        "/v2/environments", json={"name": "env1", "description": "d", "variables": {"a": 1}}
    )
    client.post("/v2/environments", json={"name": "env2", "variables": {"b": 2}})
    updated = client.put("/v2/environments", json={"name": "env1", "variables": {"c": 3}})
    assert updated.status_code == 200
    assert updated.json()["variables"] == '{"c": 3}'
    assert updated.json()["description"] == "d"
    assert updated.json()["updated_at"] is not None
    missing = client.put("/v2/environments", json={"name": "nope", "description": "x"})
    assert missing.status_code == 404
    page = client.get("/v2/environments?limit=1&sort_keys=name").json()
    assert [item["name"] for item in page["environments"]] == ["env1"]
    assert page["next"].startswith("http://sirocco.test/v2/environments?sort_keys=name,id")
    only = client.get("/v2/environments?fields=name&name=env2").json()["environments"]
    assert only == [{"id": only[0]["id"], "name": "env2"}]
    assert client.delete("/v2/environments/env2").status_code == 204
    assert client.delete("/v2/environments/env2").status_code == 404


# ---------------------------------------------------------------- cron triggers


def test_cron_trigger_with_a_pattern(client: TestClient) -> None:
    ids = make_workflows(client)
    response = client.post(
        "/v2/cron_triggers",
        json={
            "name": "ct1",
            "workflow_name": "wf1",
            "workflow_input": '{"x": 1}',
            "pattern": "*/5 * * * *",
        },
    )
    assert response.status_code == 201
    body = response.json()
    assert body["workflow_id"] == ids["wf1"]
    assert body["workflow_input"] == '{"x": 1}'
    assert body["workflow_params"] == "{}"
    assert body["remaining_executions"] is None
    assert body["first_execution_time"] is None
    assert "updated_at" not in body
    created = datetime.strptime(body["created_at"], "%Y-%m-%d %H:%M:%S")
    expected = croniter.croniter("*/5 * * * *", created).get_next(datetime)
    assert body["next_execution_time"] == expected.strftime("%Y-%m-%d %H:%M:%S")
    assert client.get("/v2/cron_triggers/ct1").json()["id"] == body["id"]
    assert client.get(f"/v2/cron_triggers/{body['id']}").json()["name"] == "ct1"


def test_cron_trigger_with_only_a_first_time_runs_once(client: TestClient) -> None:
    make_workflows(client)
    first = (datetime.utcnow() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
    body = client.post(
        "/v2/cron_triggers",
        json={
            "name": "once",
            "workflow_name": "wf1",
            "workflow_input": {"x": 2},
            "first_execution_time": first,
        },
    ).json()
    assert body["pattern"] == "0 0 30 2 0"
    assert body["remaining_executions"] == 1
    assert body["first_execution_time"] == first + ":00"
    assert body["next_execution_time"] == first + ":00"


def test_cron_trigger_errors(client: TestClient) -> None:
    make_workflows(client)
    soon = (datetime.utcnow() + timedelta(seconds=10)).strftime("%Y-%m-%d %H:%M")
    later = (datetime.utcnow() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    cases = [
        (
            {"workflow_input": {"y": 2}, "pattern": "* * * * *"},
            400,
            "Invalid input [name=wf1, class=DirectWorkflowSpec, missing=['x']]",
        ),
        (
            {"workflow_input": {"x": 2, "bad": 1}, "pattern": "* * * * *"},
            400,
            "Invalid input [name=wf1, class=DirectWorkflowSpec, unexpected=['bad']]",
        ),
        (
            {"workflow_input": {"x": 2}, "pattern": "bad pattern"},
            400,
            "The specified pattern is not valid: bad pattern",
        ),
        ({"workflow_input": {"x": 2}}, 400, "Pattern or first_execution_time must be specified."),
        (
            {"workflow_input": {"x": 2}, "first_execution_time": soon},
            400,
            "first_execution_time must be at least 1 minute in the future.",
        ),
        (
            {"workflow_input": {"x": 2}, "first_execution_time": later, "remaining_executions": 3},
            400,
            "Pattern must be provided if count is superior to 1.",
        ),
        (
            {"workflow_input": {"x": 2}, "first_execution_time": "2030-01-01 10:00:30"},
            400,
            "unconverted data remains: :30",
        ),
    ]
    for extra, status, message in cases:
        response = client.post(
            "/v2/cron_triggers", json={"name": "ct", "workflow_name": "wf1", **extra}
        )
        assert (response.status_code, response.json()["faultstring"]) == (status, message)
    reverse = client.post(
        "/v2/cron_triggers", json={"name": "ct", "workflow_name": "rev", "pattern": "* * * * *"}
    )
    assert reverse.json()["faultstring"] == (
        "Invalid input [name=rev, class=ReverseWorkflowSpec, missing=['a']]"
    )
    zero = client.post(
        "/v2/cron_triggers",
        json={
            "name": "ct",
            "workflow_name": "wf1",
            "pattern": "* * * * *",
            "remaining_executions": 0,
        },
    )
    assert zero.status_code == 400
    assert "remaining_executions" in zero.json()["faultstring"]
    missing = client.post(
        "/v2/cron_triggers", json={"name": "ct", "workflow_name": "nope", "pattern": "* * * * *"}
    )
    assert missing.status_code == 404
    assert missing.json()["faultstring"] == (
        "Workflow not found [workflow_identifier=nope, namespace=]"
    )
    assert client.get("/v2/cron_triggers").json() == {"cron_triggers": []}


def test_cron_trigger_duplicate_list_delete_and_workflow_in_use(client: TestClient) -> None:
    make_workflows(client)
    body = {
        "name": "ct1",
        "workflow_name": "wf1",
        "workflow_input": {"x": 1},
        "pattern": "0 * * * *",
    }
    trigger = client.post("/v2/cron_triggers", json=body).json()
    duplicate = client.post("/v2/cron_triggers", json=body)
    assert duplicate.status_code == 409
    assert duplicate.json()["faultstring"] == (
        "Duplicate entry for cron trigger ['name', 'project_id']: ct1, None"
    )
    in_use = client.delete("/v2/workflows/wf1")
    assert in_use.status_code == 400
    assert in_use.json()["faultstring"] == (
        "Can't delete workflow that has cron triggers associated. "
        f"[workflow_identifier=wf1, namespace=], [cron_trigger_id(s)={trigger['id']}]"
    )
    listed = client.get("/v2/cron_triggers?workflow_name=wf1").json()["cron_triggers"]
    assert [item["name"] for item in listed] == ["ct1"]
    assert listed[0]["updated_at"] is None
    assert client.delete("/v2/cron_triggers/ct1").status_code == 204
    missing = client.get("/v2/cron_triggers/ct1")
    assert missing.status_code == 404
    assert missing.json()["faultstring"] == "Cron trigger not found [identifier=ct1]"
    assert client.delete("/v2/workflows/wf1").status_code == 204


# ---------------------------------------------------------------- event triggers


def test_event_trigger_crud(client: TestClient) -> None:
    ids = make_workflows(client)
    body = {
        "name": "et1",
        "workflow_id": ids["wf1"],
        "workflow_input": {"x": 1},
        "exchange": "nova",
        "topic": "notifications",
        "event": "compute.*",
    }
    created = client.post("/v2/event_triggers", json=body)
    assert created.status_code == 201
    trigger = created.json()
    assert list(trigger) == [
        "id",
        "created_at",
        "updated_at",
        "project_id",
        "name",
        "workflow_id",
        "workflow_input",
        "workflow_params",
        "exchange",
        "topic",
        "event",
        "scope",
    ]
    assert trigger["updated_at"] is None
    assert client.post("/v2/event_triggers", json=body).status_code == 409
    in_use = client.delete("/v2/workflows/wf1")
    assert in_use.status_code == 400
    assert "event triggers associated" in in_use.json()["faultstring"]
    updated = client.put(
        f"/v2/event_triggers/{trigger['id']}", json={"name": "et1b", "workflow_input": {"x": 5}}
    ).json()
    assert (updated["name"], updated["workflow_input"]) == ("et1b", '{"x": 5}')
    assert updated["updated_at"] is not None
    refused = client.put(f"/v2/event_triggers/{trigger['id']}", json={"topic": "zz"})
    assert refused.json()["faultstring"] == (
        "Can not update fields ['exchange', 'topic', 'event'] of event trigger."
    )
    listed = client.get("/v2/event_triggers").json()["event_triggers"]
    assert [item["name"] for item in listed] == ["et1b"]
    assert client.delete(f"/v2/event_triggers/{trigger['id']}").status_code == 204
    gone = client.get(f"/v2/event_triggers/{trigger['id']}")
    assert gone.status_code == 404
    assert gone.json()["faultstring"] == f"Event trigger not found [id={trigger['id']}]."


def test_event_trigger_errors(client: TestClient) -> None:
    ids = make_workflows(client)
    not_uuid = client.post(
        "/v2/event_triggers",
        json={"name": "e", "workflow_id": "wf1", "exchange": "a", "topic": "b", "event": "c"},
    )
    assert not_uuid.json()["faultstring"] == "Expected a uuid but received wf1."
    missing_params = client.post(
        "/v2/event_triggers", json={"name": "e", "workflow_id": ids["wf1"]}
    )
    assert missing_params.status_code == 400
    assert "must be provided for creating event trigger" in missing_params.json()["faultstring"]
    bad_input = client.post(
        "/v2/event_triggers",
        json={"name": "e", "workflow_id": ids["wf1"], "exchange": "a", "topic": "b", "event": "c"},
    )
    assert bad_input.json()["faultstring"] == (
        "Invalid input [name=wf1, class=DirectWorkflowSpec, missing=['x']]"
    )
    bad_id = client.get("/v2/event_triggers/nope")
    assert bad_id.status_code == 400
    assert bad_id.json()["faultstring"] == (
        "Invalid input for field/attribute id. Value: 'nope'. unable to convert to uuid. "
        "Error: Expected a uuid but received nope."
    )

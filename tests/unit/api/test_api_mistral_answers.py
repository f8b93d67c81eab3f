"""Answers checked against Mistral 23: bad requests, refused state changes, what a row shows.

Each expectation here was read from a real Mistral 23 server for the same
request (``shared/oracle``); where Mistral answers 500 (a missing ``name``, an
unknown workflow at start) Sirocco answers the client error instead.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import sqlalchemy as sa
from api_fakes import T0, add_action, add_task
from fastapi.testclient import TestClient

from sirocco.store import tables
from sirocco.store.database import Database

WORKFLOW = """version: '2.0'
wf:
  input: [x]
  tasks:
    t1:
      action: std.echo output=<% $.x %>
"""
UUID = "00000000-0000-0000-0000-000000000000"


def _fault(response: object, status: int) -> str:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["faultcode"] == "Client" and body["debuginfo"] is None, body
    return str(body["faultstring"])


def _start(client: TestClient) -> str:
    client.post("/v2/workflows", content=WORKFLOW, headers={"content-type": "text/plain"})
    response = client.post("/v2/executions", json={"workflow_name": "wf", "input": {"x": 1}})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _set(database: Database, execution_id: str, **values: object) -> None:
    table = tables.workflow_executions
    with database.transaction() as connection:
        connection.execute(sa.update(table).where(table.c.id == execution_id).values(**values))


def test_services_are_gone_as_in_mistral_23(client: TestClient) -> None:
    # Mistral 21 removed GET /v2/services; Mistral 23 answers 404 for it.
    for method in ("GET", "POST"):
        response = client.request(method, "/v2/services")
        assert response.status_code == 404
        assert response.json()["faultstring"] == "The resource could not be found: /v2/services"


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v2/executions/nope/tasks", "workflow_execution_id"),
        ("/v2/executions/nope/report", "workflow_execution_id"),
        ("/v2/executions/nope/executions", "id"),
        ("/v2/tasks/nope/action_executions", "task_execution_id"),
        ("/v2/tasks/nope/workflow_executions", "task_execution_id"),
        ("/v2/tasks/nope/executions", "id"),
    ],
)
def test_children_of_a_non_uuid_are_refused_like_mistral(
    client: TestClient, path: str, field: str
) -> None:
    assert _fault(client.get(path), 400) == (
        f"Invalid input for field/attribute {field}. Value: 'nope'. unable to convert to uuid. "
        "Error: Expected a uuid but received nope."
    )


def test_bodies_that_are_missing_or_not_objects(client: TestClient) -> None:
    assert _fault(client.post("/v2/executions"), 400) == 'Missing argument: "wf_ex"'
    assert _fault(client.post("/v2/action_executions"), 400) == 'Missing argument: "action_ex"'
    assert _fault(client.put(f"/v2/tasks/{UUID}"), 400) == 'Missing argument: "task"'
    for body in ("null", "[]", '"text"', "7"):
        message = _fault(
            client.post(
                "/v2/executions", content=body, headers={"content-type": "application/json"}
            ),
            400,
        )
        assert message.startswith("Invalid input for field/attribute wf_ex.")
    bad = client.post(
        "/v2/executions", content="{bad", headers={"content-type": "application/json"}
    )
    assert _fault(bad, 400) == "Request is not in valid JSON format"
    wrong = client.post("/v2/executions", json={"workflow_name": ["wf"]})
    assert _fault(wrong, 400).startswith(
        "Invalid input for field/attribute workflow_name. Value: '['wf']'."
    )


def test_start_with_a_bad_env(client: TestClient) -> None:
    _start(client)
    body = {"workflow_name": "wf", "input": {"x": 1}}
    assert _fault(client.post("/v2/executions", json={**body, "params": {"env": "nope"}}), 400) == (
        "Environment is not found: nope"
    )
    assert _fault(client.post("/v2/executions", json={**body, "params": {"env": 5}}), 400) == (
        "Unexpected value type for environment [env=5, type=<class 'int'>]"
    )
    client.post("/v2/environments", json={"name": "named", "variables": {"k": 1}})
    named = client.post("/v2/executions", json={**body, "params": {"env": "named"}})
    assert named.status_code == 201


def test_env_update_is_refused_unless_idle_paused_or_error(
    client: TestClient, database: Database
) -> None:
    execution_id = _start(client)
    url = f"/v2/executions/{execution_id}"
    change = {"params": {"env": {"k": 2}}}
    assert _fault(client.put(url, json=change), 403) == (
        "Updating env to workflow execution is only permitted if it is in IDLE, PAUSED, or "
        "ERROR state."
    )
    _set(database, execution_id, state="PAUSED")
    changed = client.put(url, json=change)
    assert changed.status_code == 200
    assert json.loads(changed.json()["params"])["env"] == {"k": 2}
    assert "input" not in changed.json()  # Mistral leaves input and output out here
    assert _fault(client.put(url, json={"params": {"env": 5}}), 400) == (
        "Unexpected value type for environment [env=5]"
    )


def test_state_changes_of_a_finished_execution(client: TestClient, database: Database) -> None:
    execution_id = _start(client)
    url = f"/v2/executions/{execution_id}"
    _set(database, execution_id, state="CANCELLED")
    for state in ("PAUSED", "SUCCESS"):
        assert _fault(client.put(url, json={"state": state}), 400) == (
            f"Can't change workflow execution state from CANCELLED to {state}. "
            f"[workflow=wf, execution_id={execution_id}]"
        )
    for state in ("RUNNING", "ERROR", "CANCELLED"):  # nothing happens, as in Mistral
        unchanged = client.put(url, json={"state": state})
        assert unchanged.status_code == 200
        assert unchanged.json()["state"] == "CANCELLED"
    assert _fault(client.put(url, json={"state": "IDLE"}), 400) == (
        "Cannot change state to IDLE. Allowed states are: 'RUNNING, PAUSED, SUCCESS, ERROR, "
        "CANCELLED"
    )


def test_a_description_change_bumps_the_row_version(client: TestClient, database: Database) -> None:
    # The engine caches each execution by version and writes the whole row back: without
    # a new version its next step would restore the old description.
    execution_id = _start(client)
    table = tables.workflow_executions
    query = sa.select(table.c.version, table.c.description).where(table.c.id == execution_id)
    with database.read() as connection:
        before = connection.execute(query).one()
    described = client.put(f"/v2/executions/{execution_id}", json={"description": "new"})
    assert described.json()["description"] == "new"
    with database.read() as connection:
        after = connection.execute(query).one()
    assert (after.version, after.description) == (before.version + 1, "new")


def test_uploading_the_same_text_leaves_updated_at_null(client: TestClient) -> None:
    headers = {"content-type": "text/plain"}
    client.post("/v2/workflows", content=WORKFLOW, headers=headers)
    same = client.put("/v2/workflows", content=WORKFLOW, headers=headers).json()
    assert same["workflows"][0]["updated_at"] is None  # Mistral 23 answers null
    assert client.get("/v2/workflows/wf").json()["updated_at"] is None
    changed = client.put(
        "/v2/workflows", content=WORKFLOW.replace("[x]", "[x, y]"), headers=headers
    )
    assert changed.json()["workflows"][0]["updated_at"] is not None
    env = {"name": "e", "variables": {"a": 1}}
    client.post("/v2/environments", json=env)
    assert client.put("/v2/environments", json=env).json()["updated_at"] is None
    assert client.put("/v2/environments", json={**env, "variables": {}}).json()["updated_at"]


def test_environment_and_trigger_bodies(client: TestClient) -> None:
    assert _fault(client.put("/v2/environments", json={"variables": {}}), 400) == (
        "Name of the environment is not provided."
    )
    assert _fault(client.post("/v2/environments", json={"name": "e", "scope": "bogus"}), 400) == (
        "Invalid input for field/attribute scope. Value: 'bogus'. Value should be one of: "
        "private, public"
    )
    assert _fault(
        client.post("/v2/environments", json={"name": "e", "variables": "notjson"}), 400
    ) == (
        "Invalid input for field/attribute variables. Value: 'notjson'. "
        "Expecting value: line 1 column 1 (char 0)"
    )


def test_cron_triggers_with_the_same_schedule_are_duplicates(client: TestClient) -> None:
    _start(client)
    body = {
        "workflow_name": "wf",
        "workflow_input": {"x": 1},
        "first_execution_time": "2099-01-01 00:00",
    }
    assert client.post("/v2/cron_triggers", json={**body, "name": "a"}).status_code == 201
    # Mistral's second unique key: workflow, input, params, pattern, count and first time.
    response = client.post("/v2/cron_triggers", json={**body, "name": "b"})
    assert response.status_code == 409
    assert response.json()["faultstring"] == (
        "Duplicate entry for cron trigger ['name', 'project_id']: b, None"
    )
    other_input = {**body, "name": "c", "workflow_input": {"x": 2}}
    assert client.post("/v2/cron_triggers", json=other_input).status_code == 201
    # Without a first time the key has a null column: never a duplicate (as in SQL).
    endless = {"workflow_name": "wf", "workflow_input": {"x": 1}, "pattern": "0 * * * *"}
    for name in ("d", "e"):
        assert client.post("/v2/cron_triggers", json={**endless, "name": name}).status_code == 201


def test_rows_show_what_mistral_shows(client: TestClient, database: Database) -> None:
    execution_id = _start(client)
    task_id = add_task(database, execution_id, "t1")
    table = tables.task_executions
    runtime = {"attempt": 1, "action_id": "x", "retry_task_policy": {"retry_no": 2}}
    with database.transaction() as connection:
        connection.execute(
            sa.update(table).where(table.c.id == task_id).values(runtime=runtime, updated_at=None)
        )
    task = client.get(f"/v2/tasks/{task_id}").json()
    # The engine's own bookkeeping stays hidden; Mistral's keys are shown.
    assert json.loads(task["runtime_context"]) == {"retry_task_policy": {"retry_no": 2}}
    # A runtime row is never "not updated" in Mistral: it is updated as it is created.
    assert task["updated_at"] == task["created_at"] == T0.strftime("%Y-%m-%d %H:%M:%S")
    later = datetime(2026, 5, 5, 5, 5, 5)
    action_id = add_action(database, execution_id, task_id, state="ERROR", output="bad")
    action = client.get(f"/v2/action_executions/{action_id}").json()
    assert (action["tags"], action["state_info"]) == (None, None)
    assert json.loads(action["output"]) == {"result": "bad"}
    assert "task_name" not in action
    ordered = client.get(f"/v2/tasks?updated_at=lt:{later.isoformat()}").json()["tasks"]
    assert [item["id"] for item in ordered] == [task_id]
    python_action = client.get("/v2/actions/std.echo").json()
    assert python_action["is_system"] is False  # Mistral 23 says so for every action


@pytest.mark.parametrize(
    ("path", "text", "key"),
    [
        ("/v2/workflows", WORKFLOW, "workflows"),
        ("/v2/actions", "version: '2.0'\nc2_greet:\n  base: std.noop\n", "actions"),
        (
            "/v2/workbooks",
            "version: '2.0'\nname: c2wb\nworkflows:\n  w:\n    tasks:\n      t:\n"
            "        action: std.noop\n",
            None,
        ),
    ],
)
def test_updated_at_is_left_out_on_creation_and_null_on_an_unchanged_replacement(
    client: TestClient, path: str, text: str, key: str | None
) -> None:
    # Mistral 23: POST answers have no updated_at; PUT of the same text answers
    # "updated_at": null (workflows, actions and workbooks alike).
    headers = {"content-type": "text/plain"}
    created = client.post(path, content=text, headers=headers)
    assert created.status_code == 201, created.text
    replaced = client.put(path, content=text, headers=headers)
    assert replaced.status_code == 200, replaced.text
    created_items = created.json()[key] if key else [created.json()]
    replaced_items = replaced.json()[key] if key else [replaced.json()]
    assert all("updated_at" not in item for item in created_items)
    assert [item["updated_at"] for item in replaced_items] == [None] * len(replaced_items)

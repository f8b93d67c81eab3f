"""Executions, tasks and action executions over HTTP (engine calls go to a fake service)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from api_fakes import FakeService, add_action, add_task
from fastapi.testclient import TestClient

from sirocco.api.app import create_app
from sirocco.store import tables
from sirocco.store.database import Database

WORKFLOW = """version: '2.0'
wf:
  input: [x]
  vars:
    hidden: 1
  tasks:
    t1:
      action: std.echo output=<% $.x %>
    t2:
      with-items: i in [1, 2]
      action: std.echo output=<% $.i %>
"""


def start(client: TestClient, **extra: object) -> dict[str, object]:
    client.post("/v2/workflows", content=WORKFLOW, headers={"content-type": "text/plain"})
    body = {"workflow_name": "wf", "input": json.dumps({"x": 5}), "params": '{"env": {"k": 1}}'}
    body.update(extra)
    response = client.post("/v2/executions", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def set_state(database: Database, execution_id: str, state: str) -> None:
    table = tables.workflow_executions
    with database.transaction() as connection:
        connection.execute(sa.update(table).where(table.c.id == execution_id).values(state=state))


# ---------------------------------------------------------------- executions


def test_create_execution_passes_json_strings_to_the_engine(
    client: TestClient, service: FakeService
) -> None:
    execution = start(client, description="d1")
    assert service.calls[0] == ("start_workflow", ("wf", "", {"x": 5}, {"env": {"k": 1}}))
    assert list(execution) == [
        "id",
        "workflow_id",
        "workflow_name",
        "workflow_namespace",
        "description",
        "tags",
        "params",
        "task_execution_id",
        "root_execution_id",
        "state",
        "state_info",
        "input",
        "output",
        "created_at",
        "updated_at",
        "project_id",
    ]
    assert execution["input"] == '{"x": 5}'
    assert execution["output"] == "{}"
    assert execution["params"] == '{"env": {"k": 1}, "namespace": ""}'
    assert execution["state"] == "RUNNING"


def test_get_execution_has_published_global_without_vars(client: TestClient) -> None:
    execution = start(client)
    got = client.get(f"/v2/executions/{execution['id']}").json()
    assert got["published_global"] == '{"g": 1}'
    only = client.get(f"/v2/executions/{execution['id']}?fields=state").json()
    assert only == {"id": execution["id"], "state": "RUNNING"}
    missing = client.get("/v2/executions/nope")
    assert missing.status_code == 404
    assert missing.json()["faultstring"] == "WorkflowExecution not found [id=nope]"


def test_create_execution_errors(client: TestClient) -> None:
    client.post("/v2/workflows", content=WORKFLOW, headers={"content-type": "text/plain"})
    no_workflow = client.post("/v2/executions", json={"input": "{}"})
    assert no_workflow.status_code == 400
    assert no_workflow.json()["faultstring"] == (
        "Workflow ID or workflow name must be provided. Workflow ID is recommended."
    )
    bad_input = client.post("/v2/executions", json={"workflow_name": "wf", "input": "{x"})
    assert bad_input.status_code == 400
    missing_input = client.post("/v2/executions", json={"workflow_name": "wf"})
    assert missing_input.status_code == 400
    assert "missing=['x']" in missing_input.json()["faultstring"]
    unknown = client.post("/v2/executions", json={"workflow_name": "nope"})
    assert unknown.status_code == 404
    extra = client.post("/v2/executions", json={"workflow_name": "wf", "bogus": 1})
    assert extra.json()["faultstring"] == "Unknown attribute for argument wf_ex: bogus"


def test_create_with_an_existing_id_returns_it(client: TestClient, service: FakeService) -> None:
    execution = start(client)
    again = client.post("/v2/executions", json={"id": execution["id"], "workflow_name": "wf"})
    assert again.status_code == 201
    assert again.json()["id"] == execution["id"]
    assert len([call for call in service.calls if call[0] == "start_workflow"]) == 1


def test_create_from_a_source_execution(client: TestClient, service: FakeService) -> None:
    execution = start(client, description="first")
    copy = client.post(
        "/v2/executions",
        json={"source_execution_id": execution["id"], "description": "again", "input": {"x": 6}},
    ).json()
    assert copy["description"] == f"again Based on the execution '{execution['id']}'"
    # Mistral 23 takes the workflow from the source, not its input or params: asked with
    # {"a": 5} over a source run with {"a": 1}, it answered "input": "{\"a\": 5, \"b\": 2}"
    # (the default b filled in), and without input it refused: missing=['a'].
    assert copy["input"] == '{"x": 6}'
    assert service.calls[-1][1][3] == {}  # the source's params ({"env": {"k": 1}}) not taken
    assert service.calls[-1][1][0] == execution["workflow_id"]


def test_list_executions_leaves_out_output_unless_asked(client: TestClient) -> None:
    execution = start(client)
    listed = client.get("/v2/executions").json()["executions"]
    assert [item["id"] for item in listed] == [execution["id"]]
    assert "output" not in listed[0]
    assert "published_global" not in listed[0]
    with_output = client.get("/v2/executions?include_output=true").json()["executions"]
    assert with_output[0]["output"] == "{}"
    cli_fields = (
        "id,workflow_id,workflow_name,workflow_namespace,description,task_execution_id,"
        "root_execution_id,state,state_info,created_at,updated_at"
    )
    page = client.get(
        f"/v2/executions?limit=100&sort_keys=created_at&sort_dirs=desc&fields={cli_fields}"
        "&nulls=root_execution_id"
    ).json()
    assert set(page["executions"][0]) == set(cli_fields.split(","))
    assert client.get("/v2/executions?state=ERROR").json() == {"executions": []}
    assert len(client.get("/v2/executions?state=in:RUNNING,ERROR").json()["executions"]) == 1


def test_update_execution_state(client: TestClient, service: FakeService) -> None:
    execution_id = start(client)["id"]
    paused = client.put(f"/v2/executions/{execution_id}", json={"state": "PAUSED"})
    assert paused.json()["state"] == "PAUSED"
    resumed = client.put(
        f"/v2/executions/{execution_id}", json={"state": "RUNNING", "params": {"env": {"b": 2}}}
    )
    assert resumed.json()["state"] == "RUNNING"
    assert ("resume_workflow", (execution_id, {"b": 2})) in service.calls
    stopped = client.put(
        f"/v2/executions/{execution_id}", json={"state": "ERROR", "state_info": "by me"}
    )
    assert (stopped.json()["state"], stopped.json()["state_info"]) == ("ERROR", "by me")
    # Stopping or resuming a finished execution changes nothing, as in Mistral.
    again = client.put(f"/v2/executions/{execution_id}", json={"state": "CANCELLED"})
    assert again.status_code == 200
    assert again.json()["state"] == "ERROR"
    assert [call[0] for call in service.calls].count("stop_workflow") == 1


def test_update_execution_description_and_env(client: TestClient, database: Database) -> None:
    execution_id = start(client)["id"]
    described = client.put(f"/v2/executions/{execution_id}", json={"description": "new"}).json()
    assert described["description"] == "new"
    assert "params" not in described and "input" not in described
    set_state(database, execution_id, "PAUSED")
    env = client.put(f"/v2/executions/{execution_id}", json={"params": {"env": {"a": 1}}}).json()
    assert json.loads(str(env["params"]))["env"] == {"k": 1, "a": 1}


def test_update_execution_errors(client: TestClient) -> None:
    execution_id = start(client)["id"]
    cases = [
        ({}, "The property state, description, or env is not provided for update."),
        (
            {"state": "PAUSED", "description": "x"},
            "The property description must be updated separately from state.",
        ),
        (
            {"state": "PAUSED", "params": {"env": {"a": 1}}},
            "The property env can only be updated when workflow execution is not running or on "
            "resume from pause.",
        ),
        (
            {"state": "IDLE"},
            "Cannot change state to IDLE. Allowed states are: 'RUNNING, PAUSED, SUCCESS, ERROR, "
            "CANCELLED",
        ),
    ]
    for body, message in cases:
        response = client.put(f"/v2/executions/{execution_id}", json=body)
        assert (response.status_code, response.json()["faultstring"]) == (400, message)
    missing = client.put("/v2/executions/nope", json={"state": "PAUSED"})
    assert missing.status_code == 404


def test_delete_execution(client: TestClient, database: Database) -> None:
    execution_id = start(client)["id"]
    refused = client.delete(f"/v2/executions/{execution_id}")
    assert refused.status_code == 403
    assert refused.json()["faultstring"] == (
        "Only completed executions can be deleted. Use --force to override this. "
        f"Execution {execution_id} is in RUNNING state"
    )
    assert client.delete(f"/v2/executions/{execution_id}?force=True").status_code == 204
    assert client.get(f"/v2/executions/{execution_id}").status_code == 404
    other = start(client)["id"]
    set_state(database, other, "SUCCESS")
    assert client.delete(f"/v2/executions/{other}").status_code == 204


# ---------------------------------------------------------------- tasks


def test_tasks_of_an_execution(client: TestClient, database: Database) -> None:
    execution_id = str(start(client)["id"])
    first = add_task(
        database,
        execution_id,
        "t1",
        result=5,
        published={"y": 5},
        next_tasks=[["t2", "on-success"]],
    )
    second = add_task(database, execution_id, "t2", state="ERROR", seq=1, triggered_by=[first])
    listed = client.get(f"/v2/executions/{execution_id}/tasks").json()["tasks"]
    assert {item["name"] for item in listed} == {"t1", "t2"}
    item = next(task for task in listed if task["name"] == "t1")
    assert "result" not in item
    assert item["published"] == '{"y": 5}'
    assert item["workflow_name"] == "wf"
    assert item["project_id"] == "<default-project>"
    task = client.get(f"/v2/tasks/{second}").json()
    assert json.loads(task["runtime_context"]) == {
        "triggered_by": [{"task_id": first, "event": "on-success"}]
    }
    assert task["result"] == "null"
    assert client.get(f"/v2/tasks/{first}").json()["result"] == "5"
    assert [t["name"] for t in client.get("/v2/tasks?state=ERROR").json()["tasks"]] == ["t2"]
    missing = client.get("/v2/tasks/nope")
    assert missing.status_code == 404
    assert missing.json()["faultstring"] == "Task execution not found [id=nope]"


def test_rerun_and_skip(client: TestClient, database: Database, service: FakeService) -> None:
    execution_id = str(start(client)["id"])
    done = add_task(database, execution_id, "t1")
    failed = add_task(database, execution_id, "t1", state="ERROR", seq=1)
    items = add_task(database, execution_id, "t2", state="ERROR", seq=2)
    not_error = client.put(f"/v2/tasks/{done}", json={"state": "RUNNING", "reset": True})
    assert not_error.json()["faultstring"] == (
        "The current task execution must be in ERROR for rerun. "
        "Only updating task to rerun is supported."
    )
    no_reset = client.put(f"/v2/tasks/{failed}", json={"state": "RUNNING"})
    assert no_reset.json()["faultstring"] == "Reset field is mandatory to rerun task."
    keep = client.put(f"/v2/tasks/{failed}", json={"state": "RUNNING", "reset": False})
    assert keep.json()["faultstring"] == "Only with-items task has the option to not reset."
    wrong = client.put(f"/v2/tasks/{failed}", json={"state": "SUCCESS"})
    assert wrong.json()["faultstring"] == (
        "Invalid task state. Only updating task to RUNNING or SKIPPED is supported."
    )
    name = client.put(f"/v2/tasks/{failed}", json={"state": "RUNNING", "reset": True, "name": "z"})
    assert name.json()["faultstring"] == "Task name does not match."
    rerun = client.put(
        f"/v2/tasks/{failed}",
        json={"id": failed, "state": "RUNNING", "reset": True, "env": '{"a": 1}'},
    )
    assert rerun.status_code == 200
    assert rerun.json()["state"] == "RUNNING"
    assert ("rerun_task", (failed, True, {"a": 1})) in service.calls
    resumed = client.put(f"/v2/tasks/{items}", json={"state": "RUNNING", "reset": False})
    assert resumed.status_code == 200
    skipped = add_task(database, execution_id, "t1", state="ERROR", seq=3)
    assert (
        client.put(f"/v2/tasks/{skipped}", json={"state": "SKIPPED"}).json()["state"] == "SKIPPED"
    )


# ---------------------------------------------------------------- action executions


def test_action_executions_of_a_task(client: TestClient, database: Database) -> None:
    execution_id = str(start(client)["id"])
    task = add_task(database, execution_id, "t1", result=5)
    action = add_action(database, execution_id, task, output=5)
    listed = client.get(f"/v2/tasks/{task}/action_executions").json()["action_executions"]
    assert [item["id"] for item in listed] == [action]
    assert "output" not in listed[0]
    # Mistral 23 leaves task_name out (and keeps tags and state_info null).
    assert "task_name" not in listed[0]
    assert (listed[0]["tags"], listed[0]["state_info"]) == (None, None)
    assert listed[0]["workflow_name"] == "wf"
    named = client.get(f"/v2/action_executions/{action}?fields=task_name").json()
    assert named == {"id": action, "task_name": "t1"}
    got = client.get(f"/v2/action_executions/{action}").json()
    assert got["output"] == '{"result": 5}'
    assert got["input"] == '{"output": 5}'
    with_output = client.get("/v2/action_executions?include_output=1").json()
    assert with_output["action_executions"][0]["output"] == '{"result": 5}'
    assert client.get(f"/v2/tasks/{task}/action_executions/{action}").status_code == 200
    missing = client.get("/v2/action_executions/nope")
    assert missing.json()["faultstring"] == "ActionExecution not found [id=nope]"


def test_run_action_sync_and_async(client: TestClient, service: FakeService) -> None:
    sync = client.post(
        "/v2/action_executions", json={"name": "std.echo", "input": '{"output": "hi"}'}
    )
    assert sync.status_code == 201
    assert sync.json()["id"] is None
    assert sync.json()["output"] == '{"result": "hi"}'
    saved = client.post(
        "/v2/action_executions",
        json={"name": "std.echo", "input": {"output": "hi"}, "params": '{"save_result": true}'},
    ).json()
    assert saved["id"]
    assert client.get(f"/v2/action_executions/{saved['id']}").json()["state"] == "SUCCESS"
    pending = client.post("/v2/action_executions", json={"name": "std.async_noop"}).json()
    assert (pending["state"], pending["output"]) == ("RUNNING", None)
    done = client.put(
        f"/v2/action_executions/{pending['id']}", json={"state": "SUCCESS", "output": {"a": 1}}
    )
    assert done.json()["output"] == '{"result": {"a": 1}}'
    failed = client.post("/v2/action_executions", json={"name": "std.async_noop"}).json()
    client.put(f"/v2/action_executions/{failed['id']}", json={"state": "ERROR"})
    assert service.calls[-1] == ("complete_action", (failed["id"], "ERROR", "Unknown error"))


def test_action_execution_errors_and_delete(client: TestClient) -> None:
    no_name = client.post("/v2/action_executions", json={"input": {}})
    assert no_name.json()["faultstring"] == "Please provide at least action name to run action."
    unknown = client.post("/v2/action_executions", json={"name": "std.nope"})
    assert unknown.status_code == 400
    assert unknown.json()["faultstring"] == "Failed to find action [action_name=std.nope]"
    pending = client.post("/v2/action_executions", json={"name": "std.async_noop"}).json()
    bogus = client.put(f"/v2/action_executions/{pending['id']}", json={"state": "BOGUS"})
    assert bogus.json()["faultstring"] == (
        "Error. Expected one of ['SUCCESS', 'ERROR', 'CANCELLED', 'PAUSED', 'RUNNING'], "
        "actual: BOGUS"
    )
    refused = client.delete(f"/v2/action_executions/{pending['id']}")
    assert refused.status_code == 403
    assert refused.json()["faultstring"] == "Action execution deletion is not allowed."
    missing = client.put("/v2/action_executions/nope", json={"state": "SUCCESS"})
    assert missing.status_code == 404
    assert missing.json()["faultstring"] == "ActionExecution not found [id=nope]"


def test_deleting_action_executions_when_the_app_allows_it(service: FakeService) -> None:
    app = create_app(service, allow_action_execution_deletion=True)
    with TestClient(app) as client:
        pending = client.post("/v2/action_executions", json={"name": "std.async_noop"}).json()
        url = f"/v2/action_executions/{pending['id']}"
        running = client.delete(url)
        assert running.status_code == 403
        assert running.json()["faultstring"] == "Only completed action execution can be deleted."
        client.put(url, json={"state": "SUCCESS", "output": "1"})
        again = client.put(url, json={"state": "ERROR"})
        assert again.status_code == 400
        assert again.json()["faultstring"] == f"Action {pending['id']} is already completed"
        assert client.delete(url).status_code == 204
        assert client.get(url).status_code == 404


# ---------------------------------------------------------------- trees and reports


def _child(database: Database, parent_task: str, root: str, state: str = "ERROR") -> str:
    with database.transaction() as connection:
        parent = connection.execute(
            sa.select(tables.workflow_executions).where(tables.workflow_executions.c.id == root)
        ).one()
        values = dict(parent._mapping)
        values.update(
            id="child-1",
            task_execution_id=parent_task,
            root_execution_id=root,
            state=state,
            workflow_name="sub",
        )
        connection.execute(sa.insert(tables.workflow_executions).values(**values))
    return "child-1"


def test_report_and_sub_executions(client: TestClient, database: Database) -> None:
    root = str(start(client)["id"])
    good = add_task(database, root, "t1")
    add_action(database, root, good, output=1)
    bad = add_task(database, root, "t2", state="ERROR", seq=1)
    child = _child(database, bad, root)
    add_task(database, child, "inner", state="ERROR")
    report = client.get(f"/v2/executions/{root}/report").json()
    assert report["statistics"]["total_tasks_count"] == 3
    assert report["statistics"]["error_tasks_count"] == 2
    tree = report["root_workflow_execution"]
    assert [task["name"] for task in tree["task_executions"]] == ["t1", "t2"]
    assert tree["task_executions"][0]["action_executions"][0]["accepted"] is True
    assert tree["task_executions"][1]["workflow_executions"][0]["name"] == "sub"
    errors_only = client.get(f"/v2/executions/{root}/report?errors_only=True").json()
    assert [t["name"] for t in errors_only["root_workflow_execution"]["task_executions"]] == ["t2"]
    shallow = client.get(f"/v2/executions/{root}/report?max_depth=0").json()
    sub = shallow["root_workflow_execution"]["task_executions"][1]["workflow_executions"][0]
    assert "task_executions" not in sub
    statistics = client.get(f"/v2/executions/{root}/report?statistics_only=true").json()
    assert set(statistics) == {"statistics"}
    tree_list = client.get(f"/v2/executions/{root}/executions").json()["executions"]
    assert [item["id"] for item in tree_list] == [root, child]
    assert "output" not in tree_list[0]
    below = client.get(f"/v2/tasks/{bad}/executions").json()["executions"]
    assert [item["id"] for item in below] == [child]
    started = client.get(f"/v2/tasks/{bad}/workflow_executions").json()["executions"]
    assert [item["id"] for item in started] == [child]
    assert "params" not in started[0]
    subs = client.get(f"/v2/executions?root_execution_id={root}").json()["executions"]
    assert [item["id"] for item in subs] == [child]

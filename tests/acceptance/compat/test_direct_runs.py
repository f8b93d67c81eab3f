"""Starting executions and running actions directly, answered as Mistral 23 answers.

Every expected value was read from a real Mistral 23 server (``shared/oracle``)
for the same requests; the oracle's answer is quoted above each test.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.waiting import wait_for

WORKFLOWS = """version: '2.0'
c2_quick:
  tasks:
    t1:
      action: std.noop
"""
ACTIONS = """version: '2.0'
c2_greet:
  base: std.echo
  base-input:
    output: "Hello <% $.name %>"
  input:
    - name
  output: <% $ %>!
"""
TEXT = {"content-type": "text/plain"}


def _define(client: TestClient, path: str, text: str) -> None:
    response = client.post(path, content=text, headers=TEXT)
    assert response.status_code in (201, 409), response.text


def _action_execution(client: TestClient, action_execution_id: str) -> dict[str, Any]:
    response = client.get(f"/v2/action_executions/{action_execution_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_a_started_execution_is_answered_as_created_even_when_it_already_finished(
    client: TestClient,
) -> None:
    # Mistral 23: {"state": "RUNNING", "state_info": null, "output": "{}",
    #  "created_at": "2026-12-07 08:04:12", "updated_at": "2026-12-07 08:04:12", ...}
    _define(client, "/v2/workflows", WORKFLOWS)
    response = client.post("/v2/executions", json={"workflow_name": "c2_quick"})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["state"], body["state_info"], body["output"]) == ("RUNNING", None, "{}")
    assert body["updated_at"] == body["created_at"]
    wait_for(
        lambda: client.get(f"/v2/executions/{body['id']}").json()["state"] == "SUCCESS",
        what="the execution to end",
    )


def test_a_saved_action_run_is_answered_as_created(client: TestClient) -> None:
    # Mistral 23, {"name": "std.noop", "params": {"save_result": true}}:
    # {"state": "RUNNING", "accepted": false, "output": null, "updated_at": null, ...}
    response = client.post(
        "/v2/action_executions", json={"name": "std.noop", "params": {"save_result": True}}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["state"], body["accepted"], body["output"]) == ("RUNNING", False, None)
    assert body["updated_at"] is None and body["state_info"] is None
    wait_for(
        lambda: _action_execution(client, body["id"])["state"] == "SUCCESS",
        what="the action execution to end",
    )


def test_a_synchronous_saved_run_answers_its_result(client: TestClient) -> None:
    # Mistral 23, std.echo output=1 with save_result and run_sync:
    # {"state": "SUCCESS", "accepted": false, "output": "{\"result\": 1}",
    #  "updated_at": null, ...}, and GET the same: stored as it ended, never updated.
    response = client.post(
        "/v2/action_executions",
        json={
            "name": "std.echo",
            "input": {"output": 1},
            "params": {"save_result": True, "run_sync": True},
        },
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["state"], body["output"], body["updated_at"]) == ("SUCCESS", '{"result": 1}', None)
    assert body["accepted"] is False
    stored = _action_execution(client, body["id"])
    assert (stored["state"], stored["accepted"], stored["updated_at"]) == ("SUCCESS", False, None)
    assert stored["output"] == '{"result": 1}'


def test_an_unsaved_run_is_answered_as_never_stored(client: TestClient) -> None:
    # Mistral 23, std.echo output=5 without save_result:
    # {"id": null, "state": "SUCCESS", "accepted": null, "description": null,
    #  "output": "{\"result\": 5}", "updated_at": null, ...}
    response = client.post(
        "/v2/action_executions", json={"name": "std.echo", "input": {"output": 5}}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["id"], body["state"], body["accepted"], body["description"]) == (
        None,
        "SUCCESS",
        None,
        None,
    )
    assert (body["output"], body["updated_at"]) == ('{"result": 5}', None)


def test_an_adhoc_action_runs_alone_without_its_output_transform(client: TestClient) -> None:
    # Mistral 23 answers a direct (unsaved) run of an ad-hoc action with the
    # base action's result, its `output` not applied:
    # {"id": null, "state": "SUCCESS", "name": "c2_greet",
    #  "input": "{\"name\": \"Ann\"}", "output": "{\"result\": \"Hello Ann\"}", ...}
    _define(client, "/v2/actions", ACTIONS)
    response = client.post(
        "/v2/action_executions", json={"name": "c2_greet", "input": {"name": "Ann"}}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["id"], body["state"], body["name"]) == (None, "SUCCESS", "c2_greet")
    assert (body["input"], body["output"]) == ('{"name": "Ann"}', '{"result": "Hello Ann"}')


def test_a_saved_adhoc_run_applies_its_output_transform(client: TestClient) -> None:
    # Mistral 23: answer {"state": "RUNNING", "name": "c2_greet", "output": null};
    # then GET: {"state": "SUCCESS", "accepted": true,
    #            "output": "{\"result\": \"Hello Ann!\"}"}
    _define(client, "/v2/actions", ACTIONS)
    response = client.post(
        "/v2/action_executions",
        json={"name": "c2_greet", "input": {"name": "Ann"}, "params": {"save_result": True}},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["state"], body["name"], body["output"]) == ("RUNNING", "c2_greet", None)
    wait_for(
        lambda: _action_execution(client, body["id"])["state"] != "RUNNING",
        what="the ad-hoc action execution to end",
    )
    done = _action_execution(client, body["id"])
    assert (done["state"], done["accepted"]) == ("SUCCESS", True)
    assert done["output"] == '{"result": "Hello Ann!"}'
    assert done["input"] == '{"name": "Ann"}'


def test_an_adhoc_run_with_missing_input_names_it(client: TestClient) -> None:
    # Mistral 23 (a 500 there; Sirocco answers the client error with the same text):
    # "ActionException: Invalid input [name=c2_greet,
    #  class=mistral.actions.adhoc.AdHocAction, missing=['name']]"
    _define(client, "/v2/actions", ACTIONS)
    response = client.post("/v2/action_executions", json={"name": "c2_greet", "input": {}})
    assert response.status_code == 400, response.text
    assert response.json()["faultstring"] == (
        "ActionException: Invalid input [name=c2_greet, "
        "class=mistral.actions.adhoc.AdHocAction, missing=['name']]"
    )


DEFAULTS = """version: '2.0'
c2_defaults:
  base: std.echo
  base-input:
    output: "<% $.a %>-<% $.b %>"
  input:
    - a
    - b: dflt
"""


def test_an_adhoc_run_records_its_input_with_the_defaults_filled_in(client: TestClient) -> None:
    # Mistral 23 (engine/test_run_action.py, ad-hoc action with a default), unsaved:
    # {"id": null, "state": "SUCCESS", "input": "{\"a\": 1, \"b\": \"dflt\"}",
    #  "output": "{\"result\": \"1-dflt\"}", ...}
    # saved: answer and then GET both have "input": "{\"a\": 1, \"b\": \"dflt\"}".
    _define(client, "/v2/actions", DEFAULTS)
    response = client.post("/v2/action_executions", json={"name": "c2_defaults", "input": {"a": 1}})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["id"], body["state"]) == (None, "SUCCESS")
    assert (body["input"], body["output"]) == ('{"a": 1, "b": "dflt"}', '{"result": "1-dflt"}')
    response = client.post(
        "/v2/action_executions",
        json={"name": "c2_defaults", "input": {"a": 1}, "params": {"save_result": True}},
    )
    assert response.status_code == 201, response.text
    saved = response.json()
    assert saved["input"] == '{"a": 1, "b": "dflt"}'
    wait_for(
        lambda: _action_execution(client, saved["id"])["state"] != "RUNNING",
        what="the saved ad-hoc run to end",
    )
    done = _action_execution(client, saved["id"])
    assert (done["state"], done["input"]) == ("SUCCESS", '{"a": 1, "b": "dflt"}')
    assert done["output"] == '{"result": "1-dflt"}'


ASYNC_ADHOC = """version: '2.0'
c2_waits:
  base: std.async_noop
  input:
    - tag: x
  output:
    got: <% $ %>
    n: <% $.n + 1 %>
"""
ASYNC_FLOW = """version: '2.0'
c2_waits_flow:
  tasks:
    t:
      action: c2_waits tag=y
      publish:
        seen: <% task().result %>
  output:
    seen: <% $.seen %>
"""


def _put_result(client: TestClient, action_execution_id: str, result: Any) -> dict[str, Any]:
    response = client.put(
        f"/v2/action_executions/{action_execution_id}",
        json={"state": "SUCCESS", "output": json.dumps(result)},
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def _waiting_action(
    client: TestClient, adhoc: str, flow: str, workflow_name: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Define the ad-hoc action and the workflow, start it: the execution, and its one
    task's action execution once it is RUNNING (waiting for its result)."""
    _define(client, "/v2/actions", adhoc)
    _define(client, "/v2/workflows", flow)
    started: dict[str, Any] = client.post(
        "/v2/executions", json={"workflow_name": workflow_name}
    ).json()

    def running_action() -> dict[str, Any] | None:
        tasks = client.get(f"/v2/executions/{started['id']}/tasks").json()["tasks"]
        if not tasks:
            return None
        listed = client.get(f"/v2/tasks/{tasks[0]['id']}/action_executions").json()
        found = listed["action_executions"]
        return found[0] if found and found[0]["state"] == "RUNNING" else None

    action = wait_for(running_action, what="the ad-hoc action to wait for its result")
    return started, action


def test_an_adhoc_action_over_an_async_base_transforms_the_result_put_to_it(
    client: TestClient,
) -> None:
    # Mistral 23, in a workflow: the task's action execution RUNNING with input
    # {"tag": "x"} (so the oracle records it: the default, not the inline tag=y);
    # PUT {"state": "SUCCESS", "output": "{\"n\": 1}"} answers {"state": "SUCCESS",
    # "accepted": true, "output": "{\"result\": {\"got\": {\"n\": 1}, \"n\": 2}}"};
    # the workflow ends SUCCESS with output {"seen": {"got": {"n": 1}, "n": 2}}.
    started, action = _waiting_action(client, ASYNC_ADHOC, ASYNC_FLOW, "c2_waits_flow")
    assert (action["name"], action["input"]) == ("c2_waits", '{"tag": "x"}')
    put = _put_result(client, action["id"], {"n": 1})
    assert (put["state"], put["accepted"]) == ("SUCCESS", True)
    assert json.loads(put["output"]) == {"result": {"got": {"n": 1}, "n": 2}}
    wait_for(
        lambda: client.get(f"/v2/executions/{started['id']}").json()["state"] != "RUNNING",
        what="the workflow to end",
    )
    ended = client.get(f"/v2/executions/{started['id']}").json()
    assert ended["state"] == "SUCCESS", ended["state_info"]
    assert json.loads(ended["output"]) == {"seen": {"got": {"n": 1}, "n": 2}}

    # Mistral 23, run alone and saved: answer {"state": "RUNNING", "accepted": false,
    # "input": "{\"tag\": \"z\"}"}; PUT {"n": 2} answers {"state": "SUCCESS",
    # "accepted": true, "output": "{\"result\": {\"got\": {\"n\": 2}, \"n\": 3}}"}.
    alone = client.post(
        "/v2/action_executions",
        json={"name": "c2_waits", "input": {"tag": "z"}, "params": {"save_result": True}},
    ).json()
    assert (alone["state"], alone["accepted"], alone["input"]) == ("RUNNING", False, '{"tag": "z"}')
    put = _put_result(client, alone["id"], {"n": 2})
    assert (put["state"], put["accepted"]) == ("SUCCESS", True)
    assert json.loads(put["output"]) == {"result": {"got": {"n": 2}, "n": 3}}
    assert _action_execution(client, alone["id"])["output"] == put["output"]


BROKEN_TRANSFORM = """version: '2.0'
c2_waits_broken:
  base: std.async_noop
  input:
    - tag: x
  output:
    tag: <% $.tag %>
"""
BROKEN_FLOW = """version: '2.0'
c2_broken_flow:
  tasks:
    t:
      action: c2_waits_broken
"""


def test_a_result_its_output_expression_cannot_take_fails_the_action_unaccepted(
    client: TestClient,
) -> None:
    # Mistral 23: PUT {"state": "SUCCESS", "output": "{\"n\": 1}"} to the task's action
    # answers {"state": "ERROR", "accepted": false, "output": "{\"result\": \"Failed to
    # complete action [error=Can not evaluate YAQL expression [expression=$.tag,
    # error='tag'], action=c2_waits_broken, task=t]:\n<traceback>\"}"}; the workflow
    # ERROR. (Sirocco leaves the traceback out.)
    started, action = _waiting_action(client, BROKEN_TRANSFORM, BROKEN_FLOW, "c2_broken_flow")
    put = _put_result(client, action["id"], {"n": 1})
    assert (put["state"], put["accepted"]) == ("ERROR", False)
    assert json.loads(put["output"])["result"].startswith(
        "Failed to complete action [error=Can not evaluate YAQL expression "
        "[expression=$.tag, error='tag'], action=c2_waits_broken, task=t]"
    )
    wait_for(
        lambda: client.get(f"/v2/executions/{started['id']}").json()["state"] == "ERROR",
        what="the workflow to fail",
    )


BIG_ADHOC = """version: '2.0'
c2_big_inner:
  base: std.async_noop
  input:
    - head
  output:
    got: <% $ %>
c2_big_outer:
  base: c2_big_inner
  input:
    - blob
  base-input:
    head: <% $.blob.substring(0, 3) %>
"""


def test_a_large_input_of_a_standalone_adhoc_run_is_its_value_when_its_result_comes(
    client: TestClient,
) -> None:
    # Sirocco's own case: an input over the blob threshold (64 KiB) is stored by reference;
    # the ad-hoc chain expanded again when the PUT comes must see the value (Mistral keeps
    # the whole input in the row, and this PUT succeeds there as here).
    _define(client, "/v2/actions", BIG_ADHOC)
    blob = "abc" + "x" * (100 * 1024)
    alone = client.post(
        "/v2/action_executions",
        json={"name": "c2_big_outer", "input": {"blob": blob}, "params": {"save_result": True}},
    )
    assert alone.status_code == 201, alone.text
    body = alone.json()
    assert body["state"] == "RUNNING", body
    put = _put_result(client, body["id"], {"n": 1})
    assert (put["state"], put["accepted"]) == ("SUCCESS", True), put
    assert json.loads(put["output"]) == {"result": {"got": {"n": 1}}}
    assert json.loads(_action_execution(client, body["id"])["input"]) == {"blob": blob}

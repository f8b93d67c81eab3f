"""Dynamic actions run like any other action: in workflows and directly, from the code
source's newest version, looked up in the workflow's namespace.

Mistral 23 on the oracle runs ``greet`` with ``input: {name: World}`` to
``Hello, World!`` and fails ``boom`` with ``The action raised an exception [...
msg='boom']``; its direct runs of dynamic actions time out in its RPC layer
(``This rpc call "start_action" took longer than configured 60 seconds.``), where
Sirocco answers them. The failures of broken code are Sirocco's own words.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.waiting import wait_for

MODULE = '''from mistral_lib import actions


class Greet(actions.Action):
    """Says hello."""

    def __init__(self, name, punctuation="!"):
        self.name = name
        self.punctuation = punctuation

    def run(self, context):
        return "Hello, %s%s" % (self.name, self.punctuation)


class Boom(actions.Action):
    def run(self, context):
        raise RuntimeError("boom")
'''
TEXT = {"content-type": "text/plain"}


def _define(
    client: TestClient, name: str, class_name: str, source: str, namespace: str = ""
) -> None:
    answer = client.post(
        "/v2/dynamic_actions",
        json={
            "name": name,
            "class_name": class_name,
            "code_source_name": source,
            "namespace": namespace,
        },
    )
    assert answer.status_code == 201, answer.text


def _run(client: TestClient, definition: str, workflow: str, namespace: str = "") -> dict[str, Any]:
    suffix = f"?namespace={namespace}" if namespace else ""
    created = client.post(f"/v2/workflows{suffix}", content=definition, headers=TEXT)
    assert created.status_code == 201, created.text
    started = client.post(
        "/v2/executions", json={"workflow_name": workflow, "workflow_namespace": namespace}
    )
    assert started.status_code == 201, started.text
    execution_id = started.json()["id"]
    found: dict[str, Any] = {}

    def ended() -> bool:
        found.update(client.get(f"/v2/executions/{execution_id}").json())
        return found["state"] in ("SUCCESS", "ERROR")

    wait_for(ended, what=f"{workflow} to end", seen=lambda: found)
    tasks = client.get(f"/v2/executions/{execution_id}/tasks").json()["tasks"]
    found["tasks"] = {task["name"]: task for task in tasks}
    return found


def test_dynamic_actions_in_a_workflow(client: TestClient) -> None:
    assert (
        client.post("/v2/code_sources?name=dyn_mod", content=MODULE, headers=TEXT).status_code
        == 201
    )
    _define(client, "dyn_greet", "Greet", "dyn_mod")
    _define(client, "dyn_boom", "Boom", "dyn_mod")
    ended = _run(
        client,
        """version: '2.0'
dyn_wf:
  tasks:
    hello:
      action: dyn_greet
      input:
        name: World
      publish:
        said: <% task().result %>
    failing:
      action: dyn_boom
""",
        "dyn_wf",
    )
    assert ended["state"] == "ERROR"
    hello, failing = ended["tasks"]["hello"], ended["tasks"]["failing"]
    assert hello["state"] == "SUCCESS"
    assert json.loads(hello["published"]) == {"said": "Hello, World!"}
    assert failing["state"] == "ERROR"
    assert failing["state_info"].startswith("The action raised an exception [action=dyn_boom")
    assert failing["state_info"].endswith("msg='boom']")
    # Input is checked against the class, as for a Python action (Mistral's words).
    wrong = client.post("/v2/action_executions", json={"name": "dyn_greet", "input": {}})
    assert (wrong.status_code, wrong.json()["faultstring"]) == (
        400,
        "ActionException: Invalid input [name=dyn_greet, class=dyn_mod.Greet, missing=['name']]",
    )


def test_direct_runs_and_a_new_version(client: TestClient) -> None:
    client.post("/v2/code_sources?name=run_mod", content=MODULE, headers=TEXT)
    _define(client, "run_greet", "Greet", "run_mod")
    ran = client.post("/v2/action_executions", json={"name": "run_greet", "input": {"name": "Bob"}})
    assert ran.status_code == 201, ran.text
    assert (ran.json()["state"], json.loads(ran.json()["output"])) == (
        "SUCCESS",
        {"result": "Hello, Bob!"},
    )
    saved = client.post(
        "/v2/action_executions",
        json={"name": "run_greet", "input": {"name": "Eve"}, "params": {"save_result": True}},
    )
    assert saved.status_code == 201, saved.text
    action_id = saved.json()["id"]
    wait_for(
        lambda: client.get(f"/v2/action_executions/{action_id}").json()["state"] == "SUCCESS",
        what="the saved run to succeed",
    )
    output = client.get(f"/v2/action_executions/{action_id}").json()["output"]
    assert json.loads(output) == {"result": "Hello, Eve!"}
    # An update is used by the next run, without a restart.
    updated = client.put(
        "/v2/code_sources/run_mod", content=MODULE.replace("Hello", "Hi"), headers=TEXT
    )
    assert updated.json()["version"] == 2
    again = client.post(
        "/v2/action_executions", json={"name": "run_greet", "input": {"name": "Bob"}}
    )
    assert json.loads(again.json()["output"]) == {"result": "Hi, Bob!"}
    # Listed with the actions, as Mistral 23 shows them (GET /v2/actions/greet there:
    # {"id": "greet", "name": "greet", "is_system": false, "input": "name, punctuation=\"!\"",
    #  "description": "Says hello.", "tags": null, "definition": "", "scope": "private",
    #  "project_id": "<default-project>", "created_at": "", "updated_at": "", "namespace": ""}).
    assert client.get("/v2/actions/run_greet").json() == {
        "id": "run_greet",
        "name": "run_greet",
        "is_system": False,
        "input": 'name, punctuation="!"',
        "description": "Says hello.",
        "tags": None,
        "definition": "",
        "scope": "private",
        "project_id": "<default-project>",
        "created_at": "",
        "updated_at": "",
        "namespace": "",
    }
    listed = client.get("/v2/actions?name=run_greet&fields=name,input").json()["actions"]
    assert [item["name"] for item in listed] == ["run_greet"]
    # Deleting the code source deletes the action.
    assert client.delete("/v2/code_sources/run_mod").status_code == 204
    assert client.get("/v2/actions/run_greet").status_code == 404
    gone = client.post("/v2/action_executions", json={"name": "run_greet", "input": {"name": "B"}})
    assert gone.status_code == 400, gone.text  # as for any unknown action
    assert gone.json()["faultstring"] == "Failed to find action [action_name=run_greet]"


def test_namespaces_and_broken_code(client: TestClient) -> None:
    client.post("/v2/code_sources?name=ns_mod&namespace=team", content=MODULE, headers=TEXT)
    _define(client, "ns_greet", "Greet", "ns_mod", namespace="team")
    uses = """version: '2.0'
{name}:
  tasks:
    hello:
      action: ns_greet
      input:
        name: team
"""
    inside = _run(client, uses.format(name="ns_inside"), "ns_inside", namespace="team")
    assert inside["state"] == "SUCCESS", inside
    outside = _run(client, uses.format(name="ns_outside"), "ns_outside")
    assert outside["state"] == "ERROR"
    assert "Failed to find action [action_name=ns_greet, namespace=]" in outside["state_info"]

    client.post("/v2/code_sources?name=bad_mod", content="def broken(:\n", headers=TEXT)
    _define(client, "bad_action", "Anything", "bad_mod")
    client.post("/v2/code_sources?name=empty_mod", content="x = 1\n", headers=TEXT)
    _define(client, "no_class", "Missing", "empty_mod")
    broken = _run(
        client,
        """version: '2.0'
uses_broken:
  tasks:
    bad:
      action: bad_action
    missing:
      action: no_class
""",
        "uses_broken",
    )
    assert broken["state"] == "ERROR"
    bad, missing = broken["tasks"]["bad"], broken["tasks"]["missing"]
    assert bad["state"] == "ERROR"
    assert bad["state_info"].startswith(
        "Code source bad_mod (version 1) failed to load (line 1): SyntaxError:"
    )
    assert missing["state_info"] == (
        "Class Missing not found in code source empty_mod (version 1) [action=no_class]"
    )

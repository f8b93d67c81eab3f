"""Sub-workflow executions as Mistral 23 records them (expectations read from the oracle)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.waiting import wait_for

WORKFLOWS = """version: '2.0'
c2_parent:
  tasks:
    call:
      workflow: c2_child
c2_child:
  tasks:
    t:
      action: std.noop
"""


def test_a_subworkflow_execution_is_described_as_mistral_does(client: TestClient) -> None:
    # Mistral 23: the child's "description": "sub-workflow execution".
    response = client.post(
        "/v2/workflows", content=WORKFLOWS, headers={"content-type": "text/plain"}
    )
    assert response.status_code == 201, response.text
    started = client.post("/v2/executions", json={"workflow_name": "c2_parent"}).json()

    def children() -> list[dict[str, object]]:
        listed = client.get(f"/v2/executions?root_execution_id={started['id']}").json()
        return [item for item in listed["executions"] if item["id"] != started["id"]]

    wait_for(lambda: len(children()) == 1, what="the sub-workflow execution")
    assert children()[0]["description"] == "sub-workflow execution"


PARENT = """version: '2.0'
c2ns_parent:
  tasks:
    call:
      workflow: c2ns_child
      publish:
        got: <% task().result %>
  output:
    got: <% $.got %>
c2ns_child:
  output:
    where: default
  tasks:
    t:
      action: std.noop
"""
CHILD = """version: '2.0'
c2ns_child:
  output:
    where: ns
  tasks:
    t:
      action: std.noop
"""


def test_a_subworkflow_is_looked_up_in_the_executions_namespace(client: TestClient) -> None:
    # Mistral 23: the parent (default namespace) started with params {"namespace": "c2ns"}
    # ran the child of namespace c2ns: output {"got": {"where": "ns"}}; the child's
    # workflow_namespace "c2ns" and params namespace "c2ns".
    text = {"content-type": "text/plain"}
    assert client.post("/v2/workflows", content=PARENT, headers=text).status_code == 201
    created = client.post("/v2/workflows?namespace=c2ns", content=CHILD, headers=text)
    assert created.status_code == 201, created.text
    started = client.post(
        "/v2/executions", json={"workflow_name": "c2ns_parent", "params": {"namespace": "c2ns"}}
    )
    assert started.status_code == 201, started.text
    execution_id = started.json()["id"]
    wait_for(
        lambda: client.get(f"/v2/executions/{execution_id}").json()["state"] != "RUNNING",
        what="the parent execution to end",
    )
    done = client.get(f"/v2/executions/{execution_id}").json()
    assert (done["state"], done["output"]) == ("SUCCESS", '{"got": {"where": "ns"}}')
    listed = client.get(f"/v2/executions?root_execution_id={execution_id}").json()
    child = next(item for item in listed["executions"] if item["id"] != execution_id)
    assert child["workflow_namespace"] == "c2ns"


def _leaf(name: str, where: str) -> str:
    return f"""version: '2.0'
{name}:
  output:
    where: {where}
  tasks:
    t:
      action: std.noop
"""


def _caller(name: str, child: str) -> str:
    return f"""version: '2.0'
{name}:
  tasks:
    call:
      workflow: {child}
      publish:
        got: <% task().result %>
  output:
    got: <% $.got %>
"""


def _ended(client: TestClient, name: str, namespace: str) -> dict[str, object]:
    started = client.post(
        "/v2/executions", json={"workflow_name": name, "workflow_namespace": namespace}
    )
    assert started.status_code == 201, started.text
    path = f"/v2/executions/{started.json()['id']}"
    wait_for(lambda: client.get(path).json()["state"] != "RUNNING", what=f"{name} to end")
    found: dict[str, object] = client.get(path).json()
    listed = client.get(f"/v2/executions?root_execution_id={found['id']}").json()["executions"]
    found["children"] = [
        (item["workflow_name"], item["workflow_namespace"])
        for item in listed
        if item["id"] != found["id"]
    ]
    tasks = client.get(f"{path}/tasks").json()["tasks"]
    found["task"] = (tasks[0]["state"], tasks[0]["state_info"])
    return found


def test_subworkflows_between_a_namespace_and_the_default_one(client: TestClient) -> None:
    # Mistral 23 on the oracle, with these very definitions (no unit test of Mistral's
    # asserts this lookup; test_subworkflows.py checks only the child's params):
    # A. caller in ns_a, child only in '':  SUCCESS, {"got": {"where": "default"}},
    #    the child's workflow_namespace '' (found in the default namespace).
    # B. caller in '', child only in ns_b: ERROR, the task's state_info
    #    "Failed to find workflow [name=c3_only_ns] [namespace=]".
    # C. the child in both: the caller in ns_a runs ns_a's ({"where": "ns_a"}), the
    #    child's workflow_namespace "ns_a"; D. a caller in '' runs the default one.
    text = {"content-type": "text/plain"}
    for path, definition in (
        ("/v2/workflows", _leaf("c3_child", "default")),
        ("/v2/workflows?namespace=ns_b", _leaf("c3_only_ns", "ns_b")),
        ("/v2/workflows?namespace=ns_a", _caller("c3_caller", "c3_child")),
        ("/v2/workflows", _caller("c3_top", "c3_only_ns")),
        ("/v2/workflows", _caller("c3_caller", "c3_child")),
    ):
        made = client.post(path, content=definition, headers=text)
        assert made.status_code == 201, made.text

    found = _ended(client, "c3_caller", "ns_a")
    assert (found["state"], found["output"]) == ("SUCCESS", '{"got": {"where": "default"}}')
    assert found["children"] == [("c3_child", "")]

    missing = _ended(client, "c3_top", "")
    assert missing["state"] == "ERROR"
    assert missing["task"] == ("ERROR", "Failed to find workflow [name=c3_only_ns] [namespace=]")
    assert missing["children"] == []

    made = client.post(
        "/v2/workflows?namespace=ns_a", content=_leaf("c3_child", "ns_a"), headers=text
    )
    assert made.status_code == 201, made.text
    own = _ended(client, "c3_caller", "ns_a")
    assert (own["state"], own["output"]) == ("SUCCESS", '{"got": {"where": "ns_a"}}')
    assert own["children"] == [("c3_child", "ns_a")]
    default = _ended(client, "c3_caller", "")
    assert (default["state"], default["output"]) == ("SUCCESS", '{"got": {"where": "default"}}')
    assert default["children"] == [("c3_child", "")]

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

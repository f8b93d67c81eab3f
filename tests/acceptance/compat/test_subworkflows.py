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

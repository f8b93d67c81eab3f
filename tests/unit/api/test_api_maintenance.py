"""``/maintenance`` and the 423 check, answered as Mistral 23 answers (read from the oracle).

The engine is faked here (``api_fakes.FakeService`` records pause and resume); what
really happens to executions is in ``tests/acceptance/compat/test_maintenance.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_fakes import FakeService
from fastapi.testclient import TestClient

from sirocco.api import authentication
from sirocco.api.app import create_app
from sirocco.settings import Settings
from sirocco.store import maintenance, tokens
from sirocco.store.database import Database

WORKFLOW = """version: '2.0'
wf:
  tasks:
    t1:
      action: std.noop
"""
TEXT = {"content-type": "text/plain"}
LOCKED = "Current Mistral state is {}. Method is not allowed"


def _start(client: TestClient) -> str:
    assert client.post("/v2/workflows", content=WORKFLOW, headers=TEXT).status_code == 201
    answer = client.post("/v2/executions", json={"workflow_name": "wf"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _locked(answer: object, status: str) -> None:
    assert answer.status_code == 423, answer.text  # type: ignore[attr-defined]
    message = LOCKED.format(status)
    assert answer.json()["faultstring"] == message  # type: ignore[attr-defined]
    assert answer.headers["Server-Error-Message"] == message  # type: ignore[attr-defined]


def test_running_by_default_as_in_mistral(client: TestClient) -> None:
    # Mistral 23: GET /maintenance -> 200 {"status": "RUNNING"}; /v2/maintenance is a 404.
    assert client.get("/maintenance").json() == {"status": "RUNNING"}
    assert client.get("/v2/maintenance").status_code == 404
    # Mistral 23 ignores query arguments here.
    assert client.get("/maintenance?x=1").status_code == 200


@pytest.mark.parametrize(
    ("body", "message"),
    [
        # Mistral 23 answers these three with 500 and the same sentence; Sirocco with 400.
        (
            {"status": "FOO"},
            "Not found FOO maintenance state. List of states: ['PAUSING', 'PAUSED', 'RUNNING']",
        ),
        (
            {"status": "PAUSING"},
            "PAUSING is intermediate state. Consider PAUSED, RUNNING as new state",
        ),
        (
            {},
            "Not found Unset maintenance state. List of states: ['PAUSING', 'PAUSED', 'RUNNING']",
        ),
        # Mistral 23: 400, these words.
        (
            {"status": "RUNNING", "foo": 1},
            "Unknown attribute for argument new_maintenance_status: foo",
        ),
    ],
)
def test_refused_requests_say_why(client: TestClient, body: object, message: str) -> None:
    answer = client.put("/maintenance", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["faultstring"] == message
    assert client.get("/maintenance").json() == {"status": "RUNNING"}


def test_malformed_bodies(client: TestClient) -> None:
    # Mistral 23: 400 "Request is not in valid JSON format"; no body: 400 Missing argument.
    answer = client.put(
        "/maintenance", content="{bad", headers={"content-type": "application/json"}
    )
    assert (answer.status_code, answer.json()["faultstring"]) == (
        400,
        "Request is not in valid JSON format",
    )
    answer = client.put("/maintenance", content="", headers={"content-type": "application/json"})
    assert answer.json()["faultstring"] == 'Missing argument: "new_maintenance_status"'


def test_pausing_pauses_what_runs_and_refuses_changes(
    client: TestClient, service: FakeService, database: Database
) -> None:
    execution_id = _start(client)
    # Mistral 23: PUT {"status": "PAUSED"} -> 200 {"status": "PAUSING"}
    assert client.put("/maintenance", json={"status": "PAUSED"}).json() == {"status": "PAUSING"}
    assert ("pause_workflow", execution_id) in service.calls
    # Nothing runs any more: the next look finds the mode PAUSED; asking again says so.
    assert client.get("/maintenance").json() == {"status": "PAUSED"}
    assert client.put("/maintenance", json={"status": "PAUSED"}).json() == {"status": "PAUSED"}
    # Mistral 23: 423 for every changing request, reads pass.
    _locked(client.post("/v2/executions", json={"workflow_name": "wf"}), "PAUSED")
    _locked(client.post("/v2/workflows", content=WORKFLOW, headers=TEXT), "PAUSED")
    _locked(client.delete(f"/v2/executions/{execution_id}"), "PAUSED")
    _locked(client.put(f"/v2/executions/{execution_id}", json={"state": "RUNNING"}), "PAUSED")
    _locked(client.post("/v2/action_executions", json={"name": "std.noop"}), "PAUSED")
    _locked(client.put("/v2/action_executions/x", json={"state": "SUCCESS"}), "PAUSED")
    assert client.get(f"/v2/executions/{execution_id}").json()["state"] == "PAUSED"
    # ... but cancelling an execution is allowed (Mistral 23: 200).
    answer = client.put(f"/v2/executions/{execution_id}", json={"state": "CANCELLED"})
    assert answer.status_code == 200, answer.text
    # Ending maintenance resumes what it paused (Mistral 23: {"status": "RUNNING"}).
    assert client.put("/maintenance", json={"status": "RUNNING"}).json() == {"status": "RUNNING"}
    assert client.post("/v2/executions", json={"workflow_name": "wf"}).status_code == 201
    with database.read() as connection:
        assert maintenance.paused_by_maintenance(connection) == []


def test_an_execution_a_user_paused_before_stays_paused(
    client: TestClient, service: FakeService
) -> None:
    mine = _start(client)
    assert client.put(f"/v2/executions/{mine}", json={"state": "PAUSED"}).status_code == 200
    other = client.post("/v2/executions", json={"workflow_name": "wf"}).json()["id"]
    client.put("/maintenance", json={"status": "PAUSED"})
    client.put("/maintenance", json={"status": "RUNNING"})
    resumed = [call[1][0] for call in service.calls if call[0] == "resume_workflow"]
    assert resumed == [other]
    assert client.get(f"/v2/executions/{mine}").json()["state"] == "PAUSED"


def test_the_mode_is_the_databases(client: TestClient, service: FakeService) -> None:
    # Another process (another app over the same database) sees the mode and refuses too.
    client.put("/maintenance", json={"status": "PAUSED"})
    with TestClient(create_app(FakeService(service.database))) as other:
        assert other.get("/maintenance").json() == {"status": "PAUSED"}
        _locked(other.post("/v2/executions", json={"workflow_name": "wf"}), "PAUSED")
        assert other.put("/maintenance", json={"status": "RUNNING"}).status_code == 200
    assert client.get("/maintenance").json() == {"status": "RUNNING"}


@pytest.fixture
def secured(service: FakeService) -> Iterator[TestClient]:
    gate = authentication.gate_for("tokens", Settings(), service.database)
    with TestClient(create_app(service, gate=gate)) as client:
        yield client


def _token(database: Database, project: str, role: str) -> dict[str, str]:
    from datetime import datetime

    with database.transaction() as connection:
        _made, secret = tokens.create(
            connection, project_id=project, role=role, now=datetime(2026, 1, 1)
        )
    return {"X-Auth-Token": secret}


def test_a_token_is_needed_and_only_administrators_switch(
    secured: TestClient, database: Database
) -> None:
    # Mistral 23 asks for a token here (its auth hook does not skip /maintenance) ...
    assert secured.get("/maintenance").status_code == 401
    assert secured.put("/maintenance", json={"status": "PAUSED"}).status_code == 401
    member = _token(database, "alpha", "member")
    assert secured.get("/maintenance", headers=member).json() == {"status": "RUNNING"}
    # ... but lets any caller switch the cluster; Sirocco asks maintenance:update (admins).
    answer = secured.put("/maintenance", json={"status": "PAUSED"}, headers=member)
    assert answer.status_code == 403
    assert (
        answer.json()["faultstring"] == "Policy doesn't allow maintenance:update to be performed."
    )
    admin = _token(database, "alpha", "admin")
    answer = secured.put("/maintenance", json={"status": "PAUSED"}, headers=admin)
    assert answer.json() == {"status": "PAUSING"}
    # A changing request without a token is still a 401 first (Mistral's hook order).
    assert secured.post("/v2/executions", json={"workflow_name": "wf"}).status_code == 401
    _locked(secured.post("/v2/executions", json={"workflow_name": "wf"}, headers=member), "PAUSED")

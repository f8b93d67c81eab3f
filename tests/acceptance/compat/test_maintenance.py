"""Maintenance mode with a real engine: running executions pause, new ones are refused,
actions in flight finish, ending it resumes them to SUCCESS; nothing is lost across a
restart in the middle.

Mistral 23 (``shared/oracle``) answered the same sequence with ``PAUSING`` to the
``PUT``, ``PAUSED`` executions, ``423 Current Mistral state is PAUSING. Method is not
allowed`` to a new execution, ``200`` to completing an asynchronous action while
``PAUSING`` and ``RUNNING`` at the end.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient

from sirocco.api.app import create_app
from sirocco.cli.embedded import open_embedded
from tests.waiting import wait_for

# The sleep and the wait must outlast the time from their start to the PUT that pauses
# them (1 s did not, on a loaded machine: the execution was SUCCESS before the PUT).
WORKFLOWS = """version: '2.0'
m_async:
  tasks:
    hold:
      action: std.async_noop
      on-success: after
    after:
      action: std.echo
      input:
        output: after
m_sleep:
  tasks:
    nap:
      action: std.sleep
      input:
        seconds: 5
      on-success: after
    after:
      action: std.echo
      input:
        output: slept
m_wait:
  tasks:
    later:
      wait-before: 5
      action: std.echo
      input:
        output: waited
"""


@contextmanager
def _server(path: pathlib.Path) -> Iterator[TestClient]:
    embedded = open_embedded(f"sqlite:///{path}")
    try:
        app = create_app(embedded.service, readiness=embedded.parts.runtime.health.report)
        with TestClient(app, base_url="http://sirocco.test") as client:
            yield client
    finally:
        embedded.close()


def _state(client: TestClient, execution_id: str) -> str:
    return str(client.get(f"/v2/executions/{execution_id}").json()["state"])


def _wait_state(client: TestClient, execution_id: str, state: str) -> None:
    wait_for(
        lambda: _state(client, execution_id) == state,
        what=f"{execution_id} to be {state}",
        seen=lambda: _state(client, execution_id),
    )


def _held_action(client: TestClient, execution_id: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        tasks = client.get(f"/v2/executions/{execution_id}/tasks").json()["tasks"]
        for task in tasks:
            actions = client.get(f"/v2/tasks/{task['id']}/action_executions").json()
            running = [item for item in actions["action_executions"] if item["state"] == "RUNNING"]
            if running:
                return dict(running[0])
        return None

    return wait_for(found, what="the asynchronous action to run")


def _tasks(client: TestClient, execution_id: str) -> dict[str, str]:
    tasks = client.get(f"/v2/executions/{execution_id}/tasks").json()["tasks"]
    return {task["name"]: task["state"] for task in tasks}


def _start(client: TestClient, name: str) -> str:
    answer = client.post("/v2/executions", json={"workflow_name": name})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_maintenance_pauses_refuses_and_resumes(tmp_path: pathlib.Path) -> None:
    with _server(tmp_path / "maintenance.sqlite") as client:
        created = client.post(
            "/v2/workflows", content=WORKFLOWS, headers={"content-type": "text/plain"}
        )
        assert created.status_code == 201, created.text
        ids = {name: _start(client, name) for name in ("m_async", "m_sleep", "m_wait")}
        held = _held_action(client, ids["m_async"])

        assert client.put("/maintenance", json={"status": "PAUSED"}).json() == {"status": "PAUSING"}
        for execution_id in ids.values():
            _wait_state(client, execution_id, "PAUSED")
        # The asynchronous action still runs: the mode stays PAUSING, and refuses new work.
        assert client.get("/maintenance").json() == {"status": "PAUSING"}
        refused = client.post("/v2/executions", json={"workflow_name": "m_sleep"})
        assert refused.status_code == 423
        assert refused.json()["faultstring"] == (
            "Current Mistral state is PAUSING. Method is not allowed"
        )
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert any(
            reason.startswith("in maintenance (PAUSING)") for reason in ready.json()["reasons"]
        )
        # Maintenance is a condition, not a fault: /health and /live stay 200.
        assert client.get("/health").status_code == 200
        assert client.get("/live").status_code == 200
        # Completing it is allowed while PAUSING; its task ends, the next one waits.
        done = client.put(
            f"/v2/action_executions/{held['id']}", json={"state": "SUCCESS", "output": '"x"'}
        )
        assert done.status_code == 200, done.text
        wait_for(
            lambda: client.get("/maintenance").json() == {"status": "PAUSED"},
            what="maintenance to be PAUSED",
            seen=lambda: client.get("/maintenance").json(),
        )
        assert _tasks(client, ids["m_async"]) == {"hold": "SUCCESS"}
        assert _state(client, ids["m_async"]) == "PAUSED"

        assert client.put("/maintenance", json={"status": "RUNNING"}).json() == {
            "status": "RUNNING"
        }
        for execution_id in ids.values():
            _wait_state(client, execution_id, "SUCCESS")
        assert _tasks(client, ids["m_async"]) == {"hold": "SUCCESS", "after": "SUCCESS"}
        assert client.get("/ready").status_code == 200
        assert _start(client, "m_sleep")


def test_nothing_is_lost_across_a_restart_in_maintenance(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "restart.sqlite"
    with _server(path) as client:
        client.post("/v2/workflows", content=WORKFLOWS, headers={"content-type": "text/plain"})
        waiting = _start(client, "m_async")
        held = _held_action(client, waiting)
        sleeping = _start(client, "m_sleep")
        assert client.put("/maintenance", json={"status": "PAUSED"}).json() == {"status": "PAUSING"}
        _wait_state(client, waiting, "PAUSED")
        _wait_state(client, sleeping, "PAUSED")
        # The sleep finishes while PAUSING (an action cut by the stop would fail on
        # restart, as any action without safe-rerun does); the async one stays held.
        wait_for(
            lambda: _tasks(client, sleeping) == {"nap": "SUCCESS"},
            what="the sleep to finish",
            seen=lambda: _tasks(client, sleeping),
        )
    with _server(path) as client:  # the process stopped while PAUSING
        assert client.get("/maintenance").json() == {"status": "PAUSING"}
        assert _state(client, waiting) == "PAUSED"
        answer = client.put(
            f"/v2/action_executions/{held['id']}", json={"state": "SUCCESS", "output": '"x"'}
        )
        assert answer.status_code == 200, answer.text
        wait_for(
            lambda: client.get("/maintenance").json() == {"status": "PAUSED"},
            what="maintenance to be PAUSED",
            seen=lambda: client.get("/maintenance").json(),
        )
    with _server(path) as client:  # and again while PAUSED
        assert client.get("/maintenance").json() == {"status": "PAUSED"}
        assert client.post("/v2/executions", json={"workflow_name": "m_sleep"}).status_code == 423
        assert (_state(client, waiting), _state(client, sleeping)) == ("PAUSED", "PAUSED")
        assert client.put("/maintenance", json={"status": "RUNNING"}).json() == {
            "status": "RUNNING"
        }
        _wait_state(client, waiting, "SUCCESS")
        _wait_state(client, sleeping, "SUCCESS")
        output = client.get(f"/v2/executions/{sleeping}").json()["output"]
        assert output == "{}"

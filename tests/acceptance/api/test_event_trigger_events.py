"""Sirocco's extension: POST /v2/event_triggers/{id}/events fires the trigger with the
event in the body, once per message_id, in the trigger's project, policy-checked."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sirocco.api import authentication
from sirocco.api.app import create_app
from sirocco.api.policy import DEFAULTS, Policy
from sirocco.cli.embedded import Embedded, open_embedded
from sirocco.settings import Settings
from sirocco.store import tokens
from tests.waiting import wait_for

WORKFLOW = """version: '2.0'
on_event:
  input: [x]
  output:
    x: <% $.x %>
    service: <% execution().params.event_params.service %>
  tasks:
    t:
      action: std.noop
"""


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Embedded]:
    app = open_embedded(f"sqlite:///{tmp_path / 'events.sqlite'}")
    try:
        yield app
    finally:
        app.close()


def _trigger(client: TestClient, headers: dict[str, str] | None = None) -> dict[str, Any]:
    made = client.post("/v2/workflows", content=WORKFLOW, headers=headers)
    assert made.status_code == 201, made.text
    workflow_id = made.json()["workflows"][0]["id"]
    created = client.post(
        "/v2/event_triggers",
        json={
            "name": "on-create",
            "workflow_id": workflow_id,
            "workflow_input": {"x": 7},
            "exchange": "nova",
            "topic": "notifications",
            "event": "compute.instance.create.end",
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_an_event_posted_to_a_trigger_starts_its_workflow_once_per_message_id(
    embedded: Embedded,
) -> None:
    client = TestClient(create_app(embedded.service))
    trigger = _trigger(client)
    url = f"/v2/event_triggers/{trigger['id']}/events"
    event = {
        "event_type": "compute.instance.create.end",
        "payload": {"instance_id": "i-1"},
        "publisher_id": "compute.host1",
        "message_id": "m-1",
        "context": {"project_id": "tenant-a", "user_id": "u-1"},
        "timestamp": "2026-12-07 10:00:00",
    }
    fired = client.post(url, json=event)
    assert fired.status_code == 201, fired.text
    execution = fired.json()
    assert json.loads(execution["input"]) == {"x": 7}
    assert json.loads(execution["params"])["event_params"] == {
        "service": "compute.host1",
        "project_id": "tenant-a",
        "user_id": "u-1",
        "timestamp": "2026-12-07 10:00:00",
    }
    assert json.loads(execution["description"])["triggered_by"] == {
        "type": "event_trigger",
        "id": trigger["id"],
        "name": "on-create",
    }
    again = client.post(url, json=event)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == execution["id"]
    done = wait_for(
        lambda: (lambda shown: shown if shown["state"] == "SUCCESS" else None)(
            client.get(f"/v2/executions/{execution['id']}").json()
        ),
        what="the execution to succeed",
    )
    assert json.loads(done["output"]) == {"x": 7, "service": "compute.host1"}
    # Without a message_id every POST is a new event.
    assert client.post(url, json={}).status_code == 201
    assert client.post(url, json={}).status_code == 201
    assert len(client.get("/v2/executions").json()["executions"]) == 3


def test_wrong_events_are_refused_with_the_field_named(embedded: Embedded) -> None:
    client = TestClient(create_app(embedded.service))
    trigger = _trigger(client)
    url = f"/v2/event_triggers/{trigger['id']}/events"
    other = client.post(url, json={"event_type": "compute.instance.delete.end"})
    assert other.status_code == 400
    assert other.json()["faultstring"] == (
        "'event_type' of the event is 'compute.instance.delete.end', but event trigger "
        f"{trigger['id']} fires on 'compute.instance.create.end'."
    )
    unknown = client.post(url, json={"payload": {}, "colour": "red"})
    assert unknown.status_code == 400
    assert "colour" in unknown.json()["faultstring"]
    long_id = client.post(url, json={"message_id": "m" * 256})
    assert long_id.status_code == 400
    assert "'message_id' of the event" in long_id.json()["faultstring"]
    missing = client.post(f"/v2/event_triggers/{uuid.uuid4()}/events", json={})
    assert missing.status_code == 404
    assert missing.json()["faultstring"].startswith("Event trigger not found [id=")
    not_an_id = client.post("/v2/event_triggers/nope/events", json={})
    assert not_an_id.status_code == 400
    assert "Value: 'nope'" in not_an_id.json()["faultstring"]
    assert client.get("/v2/executions").json()["executions"] == []


def test_events_run_in_the_triggers_project_and_follow_the_policy(
    embedded: Embedded, tmp_path: Path
) -> None:
    database = embedded.parts.database
    now = datetime.now(UTC).replace(tzinfo=None)
    with database.transaction() as connection:
        _made, alpha = tokens.create(connection, project_id="alpha", role="member", now=now)
        _made, beta = tokens.create(connection, project_id="beta", role="member", now=now)
    gate = authentication.gate_for("tokens", Settings(), database)
    as_alpha, as_beta = {"X-Auth-Token": alpha}, {"X-Auth-Token": beta}
    client = TestClient(create_app(embedded.service, gate=gate))
    trigger = _trigger(client, as_alpha)
    url = f"/v2/event_triggers/{trigger['id']}/events"
    hidden = client.post(url, json={}, headers=as_beta)
    assert hidden.status_code == 404
    fired = client.post(url, json={"context": {"project_id": "beta"}}, headers=as_alpha)
    assert fired.status_code == 201, fired.text
    assert fired.json()["project_id"] == "alpha"
    # The caller speaks for its own project, whatever the context says.
    assert json.loads(fired.json()["params"])["event_params"]["project_id"] == "alpha"
    assert client.get("/v2/executions", headers=as_beta).json()["executions"] == []

    closed = Policy({**DEFAULTS, "event_triggers:fire": "rule:admin_only"})
    strict = TestClient(create_app(embedded.service, gate=gate, policy=closed))
    refused = strict.post(url, json={}, headers=as_alpha)
    assert refused.status_code == 403
    assert refused.json()["faultstring"] == (
        "Policy doesn't allow event_triggers:fire to be performed."
    )


def test_an_event_definitions_file_passes_the_payload_to_the_workflow(
    embedded: Embedded, tmp_path: Path
) -> None:
    from sirocco.runtime import notifications

    path = tmp_path / "event_definitions.yml"
    path.write_text(
        "- event_types: compute.instance.*\n"
        "  properties:\n"
        "    instance: <% $.payload.instance_id %>\n"
        "    flavor: <% $.payload.flavor.name %>\n"
    )
    embedded.service.event_definitions = notifications.load_definitions(str(path))
    client = TestClient(create_app(embedded.service))
    trigger = _trigger(client)
    url = f"/v2/event_triggers/{trigger['id']}/events"
    fired = client.post(url, json={"payload": {"instance_id": "i-9", "flavor": {"name": "m1"}}})
    assert fired.status_code == 201, fired.text
    assert json.loads(fired.json()["params"])["event_params"] == {"instance": "i-9", "flavor": "m1"}
    broken = client.post(url, json={"payload": {"instance_id": "i-9", "flavor": "m1"}})
    assert broken.status_code == 400
    assert "$.payload.flavor.name" in broken.json()["faultstring"]
    assert len(client.get("/v2/executions").json()["executions"]) == 1

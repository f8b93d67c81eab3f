"""Back-pressure: past the limit of executions or of actions in flight, ``POST /v2/executions``
answers 429 with Retry-After and Mistral's error body; once work ends, starts are taken again."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from starlette.testclient import TestClient

from sirocco.api.app import create_app
from sirocco.runtime import admission
from sirocco.runtime.admission import Admission, InFlightLimits
from tests.integration import helpers
from tests.waiting import wait_for

WORKFLOW = """
version: '2.0'
held:
  tasks:
    later:
      wait-before: 3600
      action: std.noop
held_actions:
  tasks:
    hold:
      with-items: i in <% range(3) %>
      action: test.hold
"""


def test_starts_past_the_limit_are_refused_with_429(tmp_path: Path) -> None:
    with helpers.embedded(f"sqlite:///{tmp_path}/pressure.sqlite") as app:
        helpers.deploy(app, WORKFLOW)
        now = [0.0]
        app.service.admission = Admission(
            app.parts.database, InFlightLimits(executions=2), monotonic=lambda: now[0]
        )
        client = TestClient(create_app(app.service), base_url="http://sirocco.test")
        body = {"workflow_name": "held"}
        first, second = (client.post("/v2/executions", json=body) for _ in range(2))
        assert (first.status_code, second.status_code) == (201, 201)
        now[0] += admission.REFRESH  # the counts are read again
        refused = client.post("/v2/executions", json=body)
        assert refused.status_code == 429, refused.text
        assert refused.headers["Retry-After"] == "1"
        assert refused.json() == {
            "faultcode": "Client",
            "faultstring": "Too many executions in flight (2, the limit is 2); try again later.",
            "debuginfo": None,
        }
        cancelled = client.put(f"/v2/executions/{first.json()['id']}", json={"state": "CANCELLED"})
        assert cancelled.status_code == 200, cancelled.text
        deadline = time.monotonic() + 10
        while (answer := client.post("/v2/executions", json=body)).status_code == 429:
            assert time.monotonic() < deadline, answer.text
            now[0] += admission.REFRESH
            time.sleep(0.02)
        assert answer.status_code == 201, answer.text


def test_starts_past_the_limit_of_actions_are_refused_until_actions_end(
    tmp_path: Path, gate: threading.Event
) -> None:
    with helpers.embedded(f"sqlite:///{tmp_path}/pressure.sqlite") as app:
        helpers.deploy(app, WORKFLOW)
        now = [0.0]
        app.service.admission = Admission(
            app.parts.database, InFlightLimits(actions=3), monotonic=lambda: now[0]
        )
        client = TestClient(create_app(app.service), base_url="http://sirocco.test")
        first = client.post("/v2/executions", json={"workflow_name": "held_actions"})
        assert first.status_code == 201, first.text
        body = {"workflow_name": "held"}  # its own action waits an hour: not in flight yet

        def refused() -> object:
            now[0] += admission.REFRESH  # the counts are read again
            answer = client.post("/v2/executions", json=body)
            return answer if answer.status_code == 429 else None

        answer = wait_for(refused, what="the three held actions to count as in flight")
        assert answer.headers["Retry-After"] == "1"
        assert answer.json()["faultstring"] == (
            "Too many actions in flight (3, the limit is 3); try again later."
        )
        gate.set()  # the actions end: their rows leave the outbox

        def taken() -> object:
            now[0] += admission.REFRESH
            answer = client.post("/v2/executions", json=body)
            return answer if answer.status_code == 201 else None

        wait_for(taken, what="a start to be taken once the actions ended")

"""Back-pressure: past the limit of executions in flight, ``POST /v2/executions`` answers 429
with Retry-After and Mistral's error body; once an execution ends, starts are taken again."""

from __future__ import annotations

import time
from pathlib import Path

from starlette.testclient import TestClient

from sirocco.api.app import create_app
from sirocco.runtime import admission
from sirocco.runtime.admission import Admission, InFlightLimits
from tests.integration import helpers

WORKFLOW = """
version: '2.0'
held:
  tasks:
    later:
      wait-before: 3600
      action: std.noop
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

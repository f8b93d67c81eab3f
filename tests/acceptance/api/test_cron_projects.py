"""A cron trigger's executions belong to the trigger's project (authentication on)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from sirocco.api import authentication
from sirocco.api.app import create_app
from sirocco.cli.embedded import open_embedded
from sirocco.runtime import cron as runtime_cron
from sirocco.settings import Settings
from sirocco.store import tokens
from tests.waiting import wait_for

WORKFLOW = """version: '2.0'
ticked:
  tasks:
    t:
      action: std.noop
"""


def test_cron_executions_belong_to_the_triggers_project(tmp_path: Path) -> None:
    embedded = open_embedded(f"sqlite:///{tmp_path / 'cron.sqlite'}", start=False)
    embedded.parts.runtime.start(cron=False)
    try:
        database = embedded.parts.database
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        with database.transaction() as connection:
            _made, alpha = tokens.create(connection, project_id="alpha", role="member", now=now)
            _made, beta = tokens.create(connection, project_id="beta", role="member", now=now)
        gate = authentication.gate_for("tokens", Settings(), database)
        client = TestClient(create_app(embedded.service, gate=gate))
        as_alpha, as_beta = {"X-Auth-Token": alpha}, {"X-Auth-Token": beta}
        made = client.post("/v2/workflows", content=WORKFLOW, headers=as_alpha)
        assert made.status_code == 201, made.text
        # The scheduler below runs on a clock of the test's own: the first run can be far
        # enough ahead that no setup on a busy machine brings it within the API's minute.
        first = (datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1)).replace(
            second=0, microsecond=0
        )
        created = client.post(
            "/v2/cron_triggers",
            json={
                "name": "tick",
                "workflow_name": "ticked",
                "first_execution_time": first.strftime("%Y-%m-%d %H:%M"),
            },
            headers=as_alpha,
        )
        assert created.status_code == 201, created.text
        runtime = embedded.parts.runtime
        scheduler = runtime_cron.CronThread(
            database, runtime.intake.start_from_outbox, lambda: first
        )
        assert scheduler.fire_due() == 1

        def started() -> list[dict[str, object]] | None:
            found = client.get("/v2/executions", headers=as_alpha).json()["executions"]
            return found or None

        executions = wait_for(started, what="the cron trigger's execution")
        assert [item["project_id"] for item in executions] == ["alpha"]
        assert client.get("/v2/executions", headers=as_beta).json()["executions"] == []
        assert "ticked" in json.dumps(executions)
    finally:
        embedded.close()

"""A start is answered once its row is committed; also when the engine stops first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from sirocco import errors
from sirocco.api import executions
from sirocco.api.app import create_app
from sirocco.runtime.work import Started
from tests.integration import helpers
from tests.waiting import BOUND

ONE_TASK = """
version: '2.0'
one_task:
  tasks:
    only:
      action: std.async_noop
"""


def test_a_start_the_stopped_engine_never_applied_is_refused(tmp_path: Path) -> None:
    app = helpers.build(f"sqlite:///{tmp_path}/stopped.sqlite")
    try:
        helpers.deploy(app, ONE_TASK)
        # The engine thread never runs: the start stays queued until the runtime stops.
        waiting = app.service.request_start(workflow="one_task")
        app.parts.runtime.stop()
        with pytest.raises(errors.UnavailableError, match="engine stopped before the start"):
            waiting.result(BOUND)
    finally:
        app.close()


def test_the_start_answers_with_the_committed_execution(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, ONE_TASK)
        started = app.service.request_start(workflow="one_task").result(BOUND)
        execution_id = started.execution_id
        row = helpers.execution(app, execution_id)
        assert row.state == "RUNNING"  # committed; its async action waits for a result


WAITING = """
version: '2.0'
waiting:
  input:
    - name
    - nested: {a: [1, 2.5, null]}
    - big: ''
  tasks:
    only:
      action: std.async_noop
"""


def test_the_post_answers_from_the_start_as_a_read_of_its_row_would(database_url: str) -> None:
    """The answer to ``POST /v2/executions`` is made from the record the start wrote (no
    read of the row): field for field what the row read back shows, also with an input
    stored by reference (above the claim check's threshold) and an environment."""
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, WAITING)
        client = TestClient(create_app(app.service), base_url="http://sirocco.test")
        given = {"name": "ü x", "big": "v" * 100_000}
        params = {"env": {"k": [1, {"b": None}], "t": "2026-01-01 00:00:00"}, "x": 1}
        answer = client.post(
            "/v2/executions",
            json={
                "workflow_name": "waiting",
                "input": json.dumps(given),
                "params": json.dumps(params),
                "description": "why",
            },
        )
        assert answer.status_code == 201, answer.text
        created = answer.json()
        database = app.parts.database
        read_back = executions.read(database, created["id"], executions.LIST_FIELDS)
        assert read_back["state"] == "RUNNING"  # the async action waits: nothing changed it
        assert created == executions.show(executions.as_created(read_back))
        assert json.loads(created["input"])["big"] == given["big"]
        # The service's answer carries the record only for an execution it created.
        again = app.service.request_start(workflow="waiting", execution_id=created["id"])
        assert again.result(BOUND) == Started(created["id"])
        fresh = app.service.request_start(workflow="waiting", input={"name": "y"})
        started = fresh.result(BOUND)
        assert started.record is not None and started.record.id == started.execution_id

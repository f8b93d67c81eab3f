"""``GET /v2/executions/{id}/explain`` and ``sirocco explain``: the right cause for a join, a
timer, a queued action, a dead executor, a paused child, and an ERROR in a sub-workflow."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from starlette.testclient import TestClient

from sirocco import testing
from sirocco.api.app import create_app
from sirocco.cli.main import main
from sirocco.runtime import timers
from sirocco.store import leases, tables
from tests.integration import helpers

JOIN = """
version: '2.0'
joiner:
  tasks:
    quick:
      action: std.noop
      on-success: [together]
    slow:
      action: test.hold
      on-success: [together]
    together:
      join: all
      action: std.noop
"""

DELAYED = """
version: '2.0'
later:
  tasks:
    first:
      action: std.noop
      wait-before: 600
"""

PAUSING = """
version: '2.0'
parent:
  tasks:
    call:
      workflow: careful
careful:
  tasks:
    deploy:
      action: std.noop
      pause-before: true
"""

FAILING = """
version: '2.0'
outer:
  tasks:
    prepare:
      action: std.noop
      on-success: [call]
    call:
      workflow: inner
inner:
  tasks:
    broken:
      action: std.fail error_data="disk full"
"""

SINGLE = """
version: '2.0'
single:
  tasks:
    work:
      action: std.echo output=1
"""


def _explain(app: Any, execution_id: str) -> dict[str, Any]:
    client = TestClient(create_app(app.service), base_url="http://sirocco.test")
    response = client.get(f"/v2/executions/{execution_id}/explain")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _item(body: dict[str, Any], kind: str) -> dict[str, Any]:
    found = [item for item in body["waiting_on"] if item["kind"] == kind]
    assert found, body
    return found[0]


def test_a_join_names_the_inbound_task_it_waits_on(tmp_path: Path, gate: Any) -> None:
    url = f"sqlite:///{tmp_path}/join.sqlite"
    with helpers.embedded(url) as app:
        helpers.deploy(app, JOIN)
        execution_id = helpers.start(app, "joiner")
        helpers.wait_task(app, execution_id, "together", {"WAITING"})
        body = _explain(app, execution_id)
        join = _item(body, "join")
        assert join["task"] == "together"
        assert join["detail"] == "join waits on slow"
        action = _item(body, "action")
        assert action["task"] == "slow"
        assert "test.hold" in action["detail"]
        assert body["summary"].startswith(f"Execution {execution_id} (joiner) is RUNNING")
        assert "join of together" in body["summary"]
        # the web view asks the route and shows the text
        page = TestClient(create_app(app.service)).get(f"/ui/executions/{execution_id}")
        assert f'data-explain="/v2/executions/{execution_id}/explain"' in page.text
        # the command line, over the database, prints the same explanation
        result = CliRunner().invoke(main, ["explain", execution_id, "--db", url])
        assert result.exit_code == 0, result.output
        assert "together [join]: join waits on slow" in result.output
        gate.set()
        assert helpers.wait_for(app, execution_id).state == "SUCCESS"
        done = _explain(app, execution_id)
        assert done["waiting_on"] == []
        assert "waits on nothing" in done["summary"]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[testing.FakeClock]:
    monkeypatch.setattr(timers, "IDLE_POLL", 0.02)
    yield testing.FakeClock(datetime.now(UTC).replace(tzinfo=None, microsecond=0))


def test_a_timer_shows_its_due_time(tmp_path: Path, clock: testing.FakeClock) -> None:
    with helpers.embedded(f"sqlite:///{tmp_path}/timer.sqlite", clock=clock) as app:
        helpers.deploy(app, DELAYED)
        execution_id = helpers.start(app, "later")
        task = helpers.wait_task(app, execution_id, "first", {"DELAYED"})
        body = _explain(app, execution_id)
        timer = _item(body, "timer")
        assert timer["task"] == "first"
        assert timer["task_execution_id"] == task.id
        due = datetime.fromisoformat(timer["due"])
        assert due - task.created_at >= timedelta(seconds=600)
        assert timer["detail"].startswith("wait-before timer due at ")


def test_a_paused_child_and_its_pause_before(tmp_path: Path) -> None:
    with helpers.embedded(f"sqlite:///{tmp_path}/pause.sqlite") as app:
        helpers.deploy(app, PAUSING)
        execution_id = helpers.start(app, "parent")
        helpers.wait_for(app, execution_id, {"PAUSED"})
        body = _explain(app, execution_id)
        child = _item(body, "paused-child")
        assert child["task"] == "call"
        assert "sub-workflow careful" in child["detail"] and "PAUSED" in child["detail"]
        before = _item(body, "pause-before")
        assert before["task"] == "deploy" and before["depth"] == 1
        child_id = helpers.children(app, helpers.task(app, execution_id, "call").id)[0].id
        from_child = _explain(app, child_id)
        assert _item(from_child, "paused-parent")["task"] == "call"


def test_an_error_through_a_sub_workflow_names_the_root_cause(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/error.sqlite"
    with helpers.embedded(url) as app:
        helpers.deploy(app, FAILING)
        execution_id = helpers.start(app, "outer")
        assert helpers.wait_for(app, execution_id).state == "ERROR"
        body = _explain(app, execution_id)
    cause = body["root_cause"]
    assert cause["workflow"] == "inner" and cause["task"] == "broken"
    assert cause["action"] == "std.fail"
    assert "disk full" in cause["error"]
    assert "task 'broken' of inner in task 'call' of outer" in body["summary"]
    result = CliRunner().invoke(main, ["explain", execution_id, "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    assert '"action": "std.fail"' in result.output


HOLDING = """
version: '2.0'
holding:
  tasks:
    work:
      action: test.hold
"""


def _run_action_row(app: Any, execution_id: str) -> Any:
    def found() -> Any:
        with app.parts.database.read() as connection:
            return connection.execute(
                sa.select(tables.outbox).where(
                    tables.outbox.c.kind == "RunAction",
                    tables.outbox.c.workflow_execution_id == execution_id,
                )
            ).first()

    return helpers.waiting.wait_for(found, what="the RunAction row", interval=0.01)


def _lease(app: Any, row_id: str, until: datetime | None) -> None:
    with app.parts.database.transaction() as connection:
        connection.execute(
            sa.update(tables.outbox).where(tables.outbox.c.id == row_id).values(claimed_until=until)
        )


def test_queued_actions_and_a_dead_executor(database_url: str, gate: Any) -> None:
    """The rows as an executor-less queue and a dead executor leave them: no lease yet,
    then a lease that ran out (set on the rows of two held actions)."""
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, HOLDING)
        first = helpers.start(app, "holding")
        first_row = _run_action_row(app, first)
        second = helpers.start(app, "holding")
        second_row = _run_action_row(app, second)
        held = _item(_explain(app, second), "action")
        assert held["executor"] == app.parts.runtime.name  # this server runs it itself
        assert f"held by {app.parts.runtime.name} since " in held["detail"]
        _lease(app, first_row.id, None)
        _lease(app, second_row.id, None)
        queued = _item(_explain(app, second), "queued")
        assert queued["task"] == "work" and queued["ahead"] == 1
        assert "action test.hold queued, 1 ahead of it" in queued["detail"]
        expired = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=5)
        _lease(app, first_row.id, expired)
        dead = _item(_explain(app, first), "dead-executor")
        assert dead["task"] == "work"
        assert "lease ran out" in dead["detail"]
        assert _item(_explain(app, second), "queued")["ahead"] == 0
        _lease(app, first_row.id, leases.FOREVER)
        _lease(app, second_row.id, leases.FOREVER)
        gate.set()
        assert helpers.wait_for(app, first).state == "SUCCESS"
        assert helpers.wait_for(app, second).state == "SUCCESS"


def test_an_executor_process_is_named_with_its_lease_and_named_again_once_dead(
    database_url: str, gate: Any
) -> None:
    """An engine without an executor, and an executor worker (as ``sirocco executor``
    runs it) that takes the action and then stops sending heartbeats."""
    from sirocco.clock import utcnow
    from sirocco.executor.worker import ExecutorWorker
    from sirocco.runtime.heartbeats import Timing

    app = helpers.build(database_url)
    app.parts.runtime.attach_executor(None, app.pool.run_inline)
    app.parts.service.attach_executor(None)
    app.parts.runtime.start()
    # The first lease is long enough to be seen alive, and no heartbeat renews it.
    worker = ExecutorWorker(
        app.parts.database,
        app.parts.registry,
        clock=utcnow,
        timing=Timing(interval=600, max_missed=1, first_timeout=600),
    )
    try:
        helpers.deploy(app, HOLDING)
        execution_id = helpers.start(app, "holding")
        row = _run_action_row(app, execution_id)
        assert _item(_explain(app, execution_id), "queued")["ahead"] == 0
        assert worker.take() == 1
        running = _item(_explain(app, execution_id), "action")
        assert running["executor"] == worker.name
        assert worker.name.startswith("executor@") and worker.name.endswith(f":{os.getpid()}")
        assert running["detail"].startswith(f"action test.hold runs on {worker.name} since ")
        assert "lease until" in running["detail"]
        since = datetime.fromisoformat(running["since"])
        assert abs((since - utcnow()).total_seconds()) < 600
        # Its heartbeats stop (the process died): the lease runs out.
        _lease(app, row.id, utcnow() - timedelta(seconds=1))
        dead = _item(_explain(app, execution_id), "dead-executor")
        assert dead["executor"] == worker.name
        assert dead["detail"].startswith(
            f"action test.hold: {worker.name} stopped sending heartbeats; its lease ran out at "
        )
        assert dead["since"] == running["since"]
        assert "dead-executor of work" in _explain(app, execution_id)["summary"]
    finally:
        gate.set()
        worker.stop(timeout=2)
        app.close()

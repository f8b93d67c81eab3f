"""Operations on running executions through the Service: pause, resume, stop, rerun, skip, cron."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from sirocco import errors
from sirocco.cli.embedded import Embedded
from sirocco.store import cron, tables, triggers
from tests.integration import helpers
from tests.waiting import BOUND

HELD = """
version: '2.0'
held:
  tasks:
    wait:
      action: test.hold value="released"
      publish:
        first: <% task().result %>
      on-success: [next]
    next:
      action: std.echo output="<% $.first %> then next"
      publish:
        second: <% task().result %>
  output:
    second: <% $.second %>

held_plain:
  vars:
    kept: yes
  tasks:
    wait:
      action: test.hold value="released"
      on-success: [next]
    next:
      action: std.noop
"""


def test_pause_and_resume(database_url: str, gate: threading.Event) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, HELD)
        execution_id = helpers.start(app, "held")
        helpers.wait_task(app, execution_id, "wait", {"RUNNING"})
        app.service.pause_workflow(execution_id)
        assert helpers.execution(app, execution_id).state == "PAUSED"
        gate.set()
        # the running action finishes and its task completes, but nothing new starts
        helpers.wait_task(app, execution_id, "wait", {"SUCCESS"})
        app.parts.runtime.intake.barrier().result(BOUND)
        assert helpers.execution(app, execution_id).state == "PAUSED"
        assert helpers.task_states(app, execution_id) == {"wait": "SUCCESS"}
        app.service.resume_workflow(execution_id)
        row = helpers.wait_for(app, execution_id)
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"second": "released then next"}
        with pytest.raises(errors.InvalidStateError):
            app.service.pause_workflow(execution_id)


@pytest.mark.parametrize("target", ["ERROR", "SUCCESS", "CANCELLED"])
def test_stop_ignores_the_late_result(
    database_url: str, gate: threading.Event, target: str
) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, HELD)
        execution_id = helpers.start(app, "held_plain")
        wait = helpers.wait_task(app, execution_id, "wait", {"RUNNING"})
        app.service.stop_workflow(execution_id, target, "stopped by the test")
        stopped = helpers.execution(app, execution_id)
        assert stopped.state == target, stopped.state_info
        if target != "CANCELLED":
            assert stopped.state_info == "stopped by the test"
        if target == "SUCCESS":
            # no output clause: the final context, which no completed task fed (Mistral)
            assert stopped.output == {}
        gate.set()
        helpers.wait_for_actions(app, wait.id, {"SUCCESS", "CANCELLED", "ERROR"})
        app.parts.runtime.intake.barrier().result(BOUND)
        assert helpers.execution(app, execution_id).state == target
        assert "next" not in helpers.task_states(app, execution_id)
        with pytest.raises(errors.InvalidStateError):
            app.service.resume_workflow(execution_id)


def test_two_engines_on_one_database_share_an_execution(
    database_url: str, gate: threading.Event
) -> None:
    """Engine A runs the action; engine B pauses and resumes: A's cached snapshot must not
    hide B's changes."""
    with helpers.embedded(database_url) as first, helpers.embedded(database_url) as second:
        helpers.deploy(first, HELD)
        execution_id = helpers.start(first, "held")
        helpers.wait_task(first, execution_id, "wait", {"RUNNING"})
        second.service.pause_workflow(execution_id)
        assert helpers.execution(first, execution_id).state == "PAUSED"
        gate.set()  # the result goes to the first engine, which cached a RUNNING snapshot
        helpers.wait_task(first, execution_id, "wait", {"SUCCESS"})
        first.parts.runtime.intake.barrier().result(BOUND)
        assert helpers.execution(first, execution_id).state == "PAUSED"
        assert helpers.task_states(first, execution_id) == {"wait": "SUCCESS"}
        second.service.resume_workflow(execution_id)
        row = helpers.wait_for(first, execution_id)
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"second": "released then next"}


def test_cancel_cascades_to_sub_workflows(database_url: str, gate: threading.Event) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, HELD)
        helpers.deploy(app, NESTED_HELD)
        execution_id = helpers.start(app, "outer")
        call = helpers.wait_task(app, execution_id, "call", {"RUNNING"})
        helpers.wait_until(lambda: bool(helpers.children(app, call.id)))
        (child,) = helpers.children(app, call.id)
        app.service.stop_workflow(execution_id, "CANCELLED", "no longer needed")
        assert helpers.execution(app, execution_id).state == "CANCELLED"
        assert helpers.wait_for(app, child.id).state == "CANCELLED"
        # the child tells its parent task, after the parent ended (as Mistral does)
        helpers.wait_task(app, execution_id, "call", {"CANCELLED"})
        gate.set()
        app.parts.runtime.intake.barrier().result(BOUND)
        assert "next" not in helpers.task_states(app, child.id)
        assert helpers.execution(app, execution_id).state == "CANCELLED"


NESTED_HELD = """
version: '2.0'
outer:
  tasks:
    call:
      workflow: held
      publish:
        second: <% task().result.second %>
  output:
    second: <% $.second %>
"""


def test_pause_and_resume_cascade_to_sub_workflows(
    database_url: str, gate: threading.Event
) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, HELD)
        helpers.deploy(app, NESTED_HELD)
        execution_id = helpers.start(app, "outer")
        call = helpers.wait_task(app, execution_id, "call", {"RUNNING"})
        helpers.wait_until(lambda: bool(helpers.children(app, call.id)))
        (child,) = helpers.children(app, call.id)
        helpers.wait_task(app, child.id, "wait", {"RUNNING"})
        app.service.pause_workflow(execution_id)
        helpers.wait_for(app, child.id, {"PAUSED"})
        assert helpers.execution(app, execution_id).state == "PAUSED"
        gate.set()
        helpers.wait_task(app, child.id, "wait", {"SUCCESS"})
        app.parts.runtime.intake.barrier().result(BOUND)
        assert helpers.execution(app, child.id).state == "PAUSED"
        assert "next" not in helpers.task_states(app, child.id)
        app.service.resume_workflow(execution_id)
        row = helpers.wait_for(app, execution_id)
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"second": "released then next"}
        assert helpers.execution(app, child.id).state == "SUCCESS"


FLAKY = """
version: '2.0'
flaky_once:
  input: [key]
  tasks:
    call:
      action: test.flaky key=<% $.key %> failures=1
      publish:
        calls: <% task().result %>
  output:
    calls: <% $.calls %>

flaky_items:
  input: [key]
  tasks:
    each:
      with-items: x in [1, 2, 3]
      action: test.flaky key="<% $.key %>-<% $.x %>" failures=<% switch($.x = 2 => 1, true => 0) %>
      publish:
        calls: <% task().result %>
  output:
    calls: <% $.calls %>
"""


def test_rerun_failed_task_with_reset(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, FLAKY)
        failed = helpers.run(app, "flaky_once", {"key": uuid.uuid4().hex})
        assert failed.state == "ERROR"
        call = helpers.task(app, failed.id, "call")
        assert call.state == "ERROR"
        app.service.rerun_task(call.id, reset=True)
        row = helpers.wait_for(app, failed.id)
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"calls": 2}
        call = helpers.task(app, failed.id, "call")
        assert call.state == "SUCCESS"
        assert [(action.state, action.accepted) for action in helpers.actions(app, call.id)] == [
            ("ERROR", False),
            ("SUCCESS", True),
        ]
        with pytest.raises(errors.InvalidStateError):
            app.service.rerun_task(call.id)


def test_rerun_with_items_without_reset_runs_only_failed_items(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, FLAKY)
        failed = helpers.run(app, "flaky_items", {"key": uuid.uuid4().hex})
        assert failed.state == "ERROR"
        each = helpers.task(app, failed.id, "each")
        assert each.state_info == "One or more actions had failed."
        app.service.rerun_task(each.id, reset=False)
        row = helpers.wait_for(app, failed.id)
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"calls": [1, 2, 1]}
        per_item = [(action.index, action.state) for action in helpers.actions(app, each.id)]
        assert sorted(per_item) == [(0, "SUCCESS"), (1, "ERROR"), (1, "SUCCESS"), (2, "SUCCESS")]


SKIP = """
version: '2.0'
skippable:
  tasks:
    broken:
      action: std.fail
      publish-on-skip:
        how: skipped
      on-success: [after]
    after:
      action: std.echo output="after <% $.how %>"
      publish:
        result: <% task().result %>
  output:
    result: <% $.result %>
"""


def test_skip_failed_task(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, SKIP)
        failed = helpers.run(app, "skippable")
        assert failed.state == "ERROR"
        broken = helpers.task(app, failed.id, "broken")
        app.service.skip_task(broken.id)
        row = helpers.wait_for(app, failed.id)
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"result": "after skipped"}
        broken = helpers.task(app, failed.id, "broken")
        assert broken.state == "SKIPPED"
        assert broken.published == {"how": "skipped"}
        with pytest.raises(errors.InvalidStateError):
            app.service.skip_task(broken.id)


CRONNED = """
version: '2.0'
ticked:
  input: [label]
  tasks:
    say:
      action: std.echo output="tick <% $.label %>"
      publish:
        said: <% task().result %>
  output:
    said: <% $.said %>
"""


def _due_trigger(app: Embedded, *, count: int | None, pattern: str = "* * * * *") -> str:
    now = app.parts.runtime.clock()
    with app.parts.database.transaction() as connection:
        created = triggers.create_cron_trigger(
            connection,
            name="every-minute",
            workflow="ticked",
            workflow_input={"label": "a"},
            workflow_params=None,
            pattern=pattern,
            first_execution_time=None,
            remaining_executions=count,
            now=now,
        )
        table = tables.cron_triggers
        connection.execute(
            sa.update(table)
            .where(table.c.id == created["id"])
            .values(next_execution_time=now - timedelta(seconds=1))
        )
    return str(created["id"])


def test_cron_trigger_is_claimed_once_and_starts_the_workflow(database_url: str) -> None:
    with helpers.embedded(database_url) as app, helpers.embedded(database_url) as other:
        for item in (app, other):
            item.parts.runtime.cron.stop()  # this test makes the passes itself
        helpers.create_workflows(app, CRONNED)
        # Its next tick a year away: an every-minute tick could come due between the two
        # passes (a minute boundary passed under load, and both rightly fired once).
        trigger_id = _due_trigger(app, count=2, pattern="0 0 1 1 *")
        started: list[int] = []
        barrier = threading.Barrier(2)

        def fire(runtime: object) -> None:
            barrier.wait()
            started.append(runtime.cron.fire_due())  # type: ignore[attr-defined]

        threads = [
            threading.Thread(target=fire, args=(item.parts.runtime,)) for item in (app, other)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(BOUND)
        assert sorted(started) == [0, 1]
        for item in (app, other):  # the starts were queued; let both engines apply them
            item.parts.runtime.intake.barrier().result(BOUND)
        table = tables.workflow_executions
        with app.parts.database.read() as connection:
            rows = list(connection.execute(sa.select(table.c.id)))
        assert len(rows) == 1
        row = helpers.wait_for(app, rows[0].id)
        assert row.state == "SUCCESS", row.state_info
        assert row.output == {"said": "tick a"}
        description = json.loads(row.description)
        assert description == {
            "description": f"Workflow execution created by cron trigger '({trigger_id})'.",
            "triggered_by": {"type": "cron_trigger", "id": trigger_id},
        }
        with app.parts.database.read() as connection:
            trigger = connection.execute(
                sa.select(tables.cron_triggers).where(tables.cron_triggers.c.id == trigger_id)
            ).one()
        assert trigger.remaining_executions == 1
        assert trigger.next_execution_time > app.parts.runtime.clock()
        assert helpers.count_rows(app, tables.outbox) == 0


def test_cron_last_execution_deletes_the_trigger(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        app.parts.runtime.cron.stop()  # this test makes the pass itself
        helpers.create_workflows(app, CRONNED)
        _due_trigger(app, count=1)
        claimed = cron.claim_due(app.parts.database, app.parts.runtime.clock())
        assert len(claimed) == 1
        assert cron.claim_due(app.parts.database, app.parts.runtime.clock()) == []
        assert helpers.count_rows(app, tables.cron_triggers) == 0
        # the claim left a durable start request; the runtime starts it
        app.parts.runtime.intake.start_from_outbox(*claimed[0])
        app.parts.runtime.intake.barrier().result(BOUND)
        execution_id = claimed[0][1]["execution_id"]
        row = helpers.wait_for(app, execution_id)
        assert row.state == "SUCCESS", row.state_info
        assert helpers.count_rows(app, tables.outbox) == 0


def test_cron_trigger_for_a_workflow_stored_by_sirocco_run(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, CRONNED)
        _due_trigger(app, count=1)
        assert helpers.count_rows(app, tables.cron_triggers) == 1

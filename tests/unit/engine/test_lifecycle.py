"""Pause, resume, stop, cancel, rerun, skip; idempotent results; start validation."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest

from sirocco import errors, testing
from sirocco.engine import Snapshot, commands, decide, events, start_workflow
from sirocco.engine.states import State

from . import parsing

NOW = datetime(2026, 1, 1, 12, 0, 0)


def _ids() -> itertools.count[int]:
    return itertools.count(100)


def test_pause_command_parks_the_rest_and_resume_replays_it() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t1:
      action: std.noop
      on-success:
        - pause(msg="check first")
        - t2
      on-complete: t3
    t2:
      action: std.noop
    t3:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.PAUSED
    assert run.workflow.state_info == "check first"
    assert run.task_names() == ["t1"]
    backlog = run.workflow.runtime["backlog_commands"]
    assert [item["name"] for item in backlog] == ["t2", "t3"]

    driver = run.driver
    assert driver is not None
    driver.send(events.ResumeWorkflow(workflow_execution_id=run.workflow.id))

    assert run.workflow.state == State.SUCCESS
    assert run.task_names() == ["t1", "t2", "t3"]
    assert "backlog_commands" not in run.workflow.runtime


def test_task_completing_while_paused_is_processed_on_resume() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t1:
      action: std.async_noop
      on-success: t2
    t2:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)
    driver = run.driver
    assert driver is not None
    driver.send(events.PauseWorkflow(workflow_execution_id=run.workflow.id))
    driver.complete_action(run.actions_of(run.task("t1"))[0].id, "late")

    t1 = run.task("t1")
    assert run.workflow.state == State.PAUSED
    assert t1.state == State.SUCCESS
    assert t1.processed is False
    assert t1.next_tasks == (("t2", "on-success"),)
    assert run.task_names() == ["t1"]

    driver.send(events.ResumeWorkflow(workflow_execution_id=run.workflow.id, env={"k": 1}))
    assert run.task("t1").processed is True
    assert run.task_names() == ["t1", "t2"]
    assert run.workflow.state == State.SUCCESS
    assert run.workflow.params["env"] == {"k": 1}


def test_stop_with_success_and_error() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  output:
    fine: yes
  output-on-error:
    extra: 1
  tasks:
    t1:
      action: std.async_noop
"""
    )
    run = testing.run_until_idle(spec)
    driver = run.driver
    assert driver is not None
    driver.send(
        events.StopWorkflow(workflow_execution_id=run.workflow.id, state=State.ERROR, message="no")
    )
    assert run.workflow.state == State.ERROR
    assert run.workflow.state_info == "no"
    assert run.workflow.output == {"result": "no", "extra": 1}
    # A late result is recorded, the workflow stays ended.
    driver.complete_action(run.actions_of(run.task("t1"))[0].id, "late")
    assert run.task("t1").state == State.SUCCESS
    assert run.workflow.state == State.ERROR

    other = testing.run_until_idle(spec)
    assert other.driver is not None
    other.driver.send(
        events.StopWorkflow(workflow_execution_id=other.workflow.id, state=State.SUCCESS)
    )
    assert other.workflow.state == State.SUCCESS
    assert other.workflow.output == {"fine": True}


def test_cancel_leaves_running_tasks_and_outputs_message() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    long:
      action: std.async_noop
      on-success: after
    after:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)
    driver = run.driver
    assert driver is not None
    driver.send(events.StopWorkflow(workflow_execution_id=run.workflow.id, state=State.CANCELLED))

    assert run.workflow.state == State.CANCELLED
    assert run.workflow.output == {"result": None}
    assert run.task("long").state == State.RUNNING
    assert run.task_names() == ["long"]


def test_rerun_with_env_fix() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  output:
    mode: <% $.mode %>
  tasks:
    check_env:
      action: std.echo output=<% env().mode %>
      fail-on: <% env().mode = 'broken' %>
      retry:
        count: 1
        delay: 0
      publish:
        mode: <% task().result %>
      on-success: after
    after:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec, env={"mode": "broken"})
    assert run.workflow.state == State.ERROR
    task = run.task("check_env")
    assert len(run.actions_of(task)) == 2
    assert task.runtime.retry_task_policy is not None
    driver = run.driver
    assert driver is not None

    driver.send(
        events.RerunTask(
            workflow_execution_id=run.workflow.id,
            task_execution_id=task.id,
            reset=True,
            env={"mode": "fixed"},
        )
    )

    assert run.workflow.state == State.SUCCESS
    assert run.workflow.output == {"mode": "fixed"}
    task = run.task("check_env")
    assert run.task_names() == ["check_env", "after"]
    assert len(run.actions_of(task)) == 3
    assert [a.accepted for a in run.actions_of(task)] == [False, False, True]
    assert run.workflow.params["env"] == {"mode": "fixed"}


def test_rerun_of_a_successful_task_is_refused() -> None:
    spec = parsing.workflow("version: '2.0'\nwf:\n  tasks:\n    t:\n      action: std.async_noop\n")
    run = testing.run_until_idle(spec)
    assert run.driver is not None
    run.driver.complete_action(run.actions_of(run.task("t"))[0].id, 1)
    run.driver.send(
        events.RerunTask(workflow_execution_id=run.workflow.id, task_execution_id=run.task("t").id)
    )
    assert run.task("t").state == State.SUCCESS
    assert any("Can't rerun" in problem for problem in run.problems)


def test_skip_publishes_on_skip_and_follows_on_success_without_on_skip() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  output:
    s: <% $.s %>
  tasks:
    t1:
      action: std.fail
      publish-on-skip:
        s: skipped
      on-success: t2
    t2:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)
    assert run.workflow.state == State.ERROR
    assert run.driver is not None

    run.driver.send(
        events.SkipTask(workflow_execution_id=run.workflow.id, task_execution_id=run.task("t1").id)
    )

    t1 = run.task("t1")
    assert t1.state == State.SKIPPED
    assert t1.state_info == "Task was skipped."
    assert t1.published == {"s": "skipped"}
    assert t1.next_tasks == (("t2", "on-success"),)
    assert run.workflow.state == State.SUCCESS
    assert run.workflow.output == {"s": "skipped"}


def test_skip_follows_on_skip_when_present() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t1:
      action: std.fail
      on-success: t2
      on-skip: t3
    t2:
      action: std.noop
    t3:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)
    assert run.driver is not None
    run.driver.send(
        events.SkipTask(workflow_execution_id=run.workflow.id, task_execution_id=run.task("t1").id)
    )

    assert run.task_names() == ["t1", "t3"]
    assert run.workflow.state == State.SUCCESS


def test_duplicate_action_result_is_ignored_and_terminal_events_are_ignored() -> None:
    spec = parsing.workflow(
        "version: '2.0'\nwf:\n  tasks:\n    t:\n      action: std.async_noop\n"
        "      on-success: u\n    u:\n      action: std.noop\n"
    )
    ids = _ids()
    lookup = testing.FakeLookup(testing.Run())
    started = start_workflow(
        spec=spec,
        execution_id="wf-1",
        input={},
        params={},
        now=NOW,
        new_id=lambda: f"id-{next(ids)}",
        lookup=lookup,
    )
    (workflow,) = started.workflows
    snapshot = Snapshot(workflow, started.tasks, started.actions, lookup)
    (action,) = started.actions
    done = events.ActionCompleted(
        workflow_execution_id="wf-1", action_execution_id=action.id, state=State.SUCCESS, result=1
    )

    first = decide(snapshot, [done, done], now=NOW, new_id=lambda: f"id-{next(ids)}")
    assert first.problems == ()
    assert [task.name for task in first.tasks] == ["t", "u"]
    snapshot.apply(first)
    snapshot.add_actions(first.actions)

    again = decide(snapshot, [done], now=NOW, new_id=lambda: f"id-{next(ids)}")
    assert again.tasks == () and again.commands == () and again.problems == ()

    paused = decide(
        snapshot,
        [events.StopWorkflow(workflow_execution_id="wf-1", state=State.SUCCESS)],
        now=NOW,
        new_id=lambda: f"id-{next(ids)}",
    )
    snapshot.apply(paused)
    assert snapshot.workflow.state == State.SUCCESS
    ignored = decide(
        snapshot,
        [events.PauseWorkflow(workflow_execution_id="wf-1")],
        now=NOW,
        new_id=lambda: f"id-{next(ids)}",
    )
    assert ignored.workflows == () and ignored.commands == ()


def test_decide_does_not_change_the_snapshot_until_applied() -> None:
    spec = parsing.workflow("version: '2.0'\nwf:\n  tasks:\n    t:\n      action: std.noop\n")
    ids = _ids()
    lookup = testing.FakeLookup(testing.Run())
    started = start_workflow(
        spec=spec,
        execution_id="wf-1",
        input={},
        params={},
        now=NOW,
        new_id=lambda: f"id-{next(ids)}",
        lookup=lookup,
    )
    (workflow,) = started.workflows
    snapshot = Snapshot(workflow, started.tasks, started.actions, lookup)
    (action,) = started.actions
    done = events.ActionCompleted(
        workflow_execution_id="wf-1", action_execution_id=action.id, state=State.SUCCESS
    )

    decision = decide(snapshot, [done], now=NOW, new_id=lambda: f"id-{next(ids)}")

    assert decision.workflows[0].state == State.SUCCESS
    assert snapshot.workflow.state == State.RUNNING
    assert snapshot.tasks.latest_of("t").state == State.RUNNING  # type: ignore[union-attr]
    assert any(isinstance(c, commands.WorkflowEnded) for c in decision.commands)
    snapshot.apply(decision)
    assert snapshot.tasks.latest_of("t").state == State.SUCCESS  # type: ignore[union-attr]
    assert snapshot.tasks.incomplete == 0


def test_start_validates_input_before_creating_anything() -> None:
    spec = parsing.workflow(
        "version: '2.0'\nwf:\n  input:\n    - a\n    - b: 2\n"
        "  tasks:\n    t:\n      action: std.noop\n"
    )
    with pytest.raises(errors.InputError) as raised:
        testing.run_until_idle(spec, input={"c": 1})
    assert str(raised.value) == (
        "Invalid input [name=wf, class=DirectWorkflowSpec, missing=['a'], unexpected=['c']]"
    )
    run = testing.run_until_idle(spec, input={"a": 1})
    assert run.workflow.input == {"a": 1, "b": 2}

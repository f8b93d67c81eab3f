"""Behaviours of Mistral 23 found on the oracle while writing the conformance cases.

Each test names the case under ``tests/conformance/cases`` that recorded
the behaviour; these pin the engine pieces directly, with the fake driver.
"""

from __future__ import annotations

import dataclasses

from sirocco import testing
from sirocco.engine import Snapshot, commands, events, records
from sirocco.engine.draft import Draft
from sirocco.engine.states import State

from . import parsing


def test_with_items_action_name_error_is_an_ordinary_task_error() -> None:
    # Case 108: the action name is evaluated without the item variables.
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    each:
      with-items: x in <% [1, 2] %>
      action: <% $.x %>
      on-error: handled
    handled:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)

    each = run.task("each")
    assert each.state == State.ERROR
    assert each.state_info is not None
    assert each.state_info.startswith("Can not evaluate YAQL expression [expression=$.x")
    assert each.result == []
    assert run.actions_of(each) == []
    assert run.workflow.state == State.SUCCESS


def test_a_task_without_accepted_results_reads_as_an_empty_list() -> None:
    # Cases 119 and 169: Mistral lists the accepted results, none is [].
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    slow:
      action: std.sleep seconds=5
      timeout: 1
      on-error: noop
"""
    )
    run = testing.run_until_idle(spec)

    slow = run.task("slow")
    assert slow.state == State.ERROR
    assert slow.state_info == "Task timed out [timeout(s)=1]."
    assert slow.result == []


def test_an_executor_timeout_arriving_first_still_reads_as_the_policy_timeout() -> None:
    # Case 119: Mistral's executor reports only when the action ends, so its
    # timeout policy always wins; ours may report at the same moment.
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    slow:
      action: std.async_noop
      timeout: 2
"""
    )
    clock = testing.FakeClock()
    run = testing.run_until_idle(spec, clock=clock, until=lambda run: bool(run.actions))
    assert run.driver is not None
    (action,) = run.actions.values()
    clock.advance(2)
    run.driver.send(
        events.ActionCompleted(
            workflow_execution_id=run.workflow.id,
            action_execution_id=action.id,
            state=State.ERROR,
            message="Timeout after 2 seconds",
        )
    )

    slow = run.task("slow")
    assert slow.state_info == "Task timed out [timeout(s)=2]."
    assert slow.result == []
    assert run.actions[action.id].accepted is False


def test_a_failed_workflow_output_holds_the_final_context() -> None:
    # Case 103: without output-on-error the failure output merges the context.
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    bad:
      action: std.fail
      on-complete: cleanup
    cleanup:
      action: std.noop
      publish:
        cleaned: yes
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.ERROR
    assert run.workflow.output["cleaned"] is True
    assert run.workflow.output["result"].startswith("Failure caused by error in tasks: bad")


def test_a_subworkflow_that_cannot_start_is_an_ordinary_task_error() -> None:
    # Case 164: a missing workflow; on-error handles it.
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    call:
      workflow: nowhere
      on-error: noop
"""
    )
    run = testing.run_until_idle(spec)

    assert run.task("call").state == State.ERROR
    assert run.task("call").state_info == "Failed to find workflow [name=nowhere] [namespace=]"
    assert run.workflow.state == State.SUCCESS


def test_keep_result_false_leaves_one_null_per_item() -> None:
    # Case 154.
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    each:
      with-items: x in <% [1, 2] %>
      action: std.echo output=<% $.x %>
      keep-result: false
      publish:
        seen: <% task().result %>
"""
    )
    run = testing.run_until_idle(spec)

    assert run.task("each").result == [None, None]
    assert run.task("each").published == {"seen": [1, 2]}


def test_a_join_is_checked_in_a_later_step() -> None:
    # Case 104: Mistral checks a join in a scheduler job.
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    a:
      action: std.noop
      on-success: meet
    b:
      action: std.async_noop
      on-success: meet
    meet:
      join: one
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)

    joins = [
        command.event
        for command in run.commands
        if isinstance(command, commands.ScheduleTimer) and command.event.purpose == "join"
    ]
    assert len(joins) == 1
    assert run.task("meet").state == State.SUCCESS


def test_a_subworkflow_has_an_empty_env_of_its_own_and_reads_the_roots() -> None:
    # Case 218 (execution().params) and 035 (env() in the child).
    found = parsing.workflows(
        """
version: '2.0'
parent:
  tasks:
    call:
      workflow: child
child:
  output:
    seen: <% env().k %>
    own: <% execution().params.env %>
  tasks:
    t:
      action: std.noop
"""
    )
    run = testing.run_until_idle(found["parent"], workflows=found.values(), env={"k": "v"})

    (child,) = run.children_of(run.task("call"))
    assert child.output == {"seen": "v", "own": {}}
    assert set(child.params) == {
        "env",
        "index",
        "namespace",
        "root_execution_id",
        "task_execution_id",
    }


def test_jinja_task_needs_a_current_task_where_yaql_does_not() -> None:
    # Cases 173 and 174.
    jinja = parsing.workflow(
        """
version: '2.0'
wf:
  output:
    r: "{{ task('t').result }}"
  tasks:
    t:
      action: std.echo output="x"
"""
    )
    yaql = parsing.workflow(
        """
version: '2.0'
wf:
  output:
    r: <% task(t).result %>
  tasks:
    t:
      action: std.echo output="x"
"""
    )
    failed = testing.run_until_idle(jinja).workflow
    assert failed.state == State.ERROR
    assert "error='__task_execution'" in (failed.state_info or "")
    assert testing.run_until_idle(yaql).workflow.output == {"r": "x"}


def test_a_wrong_policy_value_quotes_the_schema_error() -> None:
    # Case 202.
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t:
      action: std.noop
      wait-before: <% -1 %>
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state_info == (
        "Failed to run task [error=Invalid data type in WaitBeforePolicy: -1 is less than the "
        "minimum of 0\n\nFailed validating 'minimum' in schema['properties']['delay']:\n"
        "    {'type': 'integer', 'minimum': 0}\n\nOn instance['delay']:\n    -1. Value(s) can "
        "be shown after YAQL evaluating. If you use YAQL here, please correct it., wf=wf, task=t]"
    )


def test_an_adhoc_action_that_cannot_be_built_names_its_definition() -> None:
    # Case 207: the cause is not quoted (it may hold secrets).
    text = "version: '2.0'\nbroken:\n  base: std.echo\n  base-input:\n    output: <% $.a.b.c %>\n"
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t:
      action: broken
      on-error: noop
"""
    )
    run = testing.run_until_idle(spec, adhoc_actions=parsing.actions(text))

    assert run.task("t").state_info == (
        f"Failed to instantiate an action [action_desc=AdHoc action [name=broken, "
        f"definition={text}]]"
    )
    assert run.workflow.state == State.SUCCESS


def test_a_forced_success_whose_output_fails_changes_nothing() -> None:
    # Case 212: Mistral answers 400 and the execution goes on.
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  output:
    v: <% $.v %>
  tasks:
    t:
      action: std.async_noop
      publish:
        v: 1
"""
    )
    run = testing.run_until_idle(spec)
    assert run.driver is not None
    run.driver.send(events.StopWorkflow(workflow_execution_id=run.workflow.id, state=State.SUCCESS))

    assert run.workflow.state == State.RUNNING
    assert len(run.problems) == 1
    assert "Can not evaluate YAQL expression [expression=$.v" in run.problems[0]


def test_what_a_step_reads_of_actions_prefers_the_snapshot_to_the_store() -> None:
    # Case 103: a failed action may be in the snapshot but not yet written;
    # the store still has it RUNNING.
    spec = parsing.workflow("version: '2.0'\nwf:\n  tasks:\n    t:\n      action: std.fail\n")
    run = testing.run_until_idle(spec)
    (action,) = run.actions.values()
    assert f"[action_ex_id={action.id}, idx=0]" in (run.workflow.state_info or "")
    task = run.task("t")
    stale = dataclasses.replace(action, state=State.RUNNING)

    class StaleLookup(testing.FakeLookup):
        def task_action_executions(self, task_execution_id: str) -> list[records.ActionExecution]:
            return [stale]

    snapshot = Snapshot(run.workflow, [task], [action], StaleLookup(run))
    draft = Draft(snapshot, now=action.created_at, new_id=str)

    assert [found.state for found in draft.task_actions(task.id)] == [State.ERROR]

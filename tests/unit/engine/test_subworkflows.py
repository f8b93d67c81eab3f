"""Sub-workflows: input and params, results, errors, and pause/resume/cancel cascades."""

from __future__ import annotations

from sirocco import testing
from sirocco.engine import commands, events
from sirocco.engine.states import State

from . import parsing

NESTED = """
version: '2.0'
parent:
  input: [a, b]
  output:
    sum: <% $.sum %>
    said: <% $.said %>
  tasks:
    call_child:
      workflow: child
      input:
        x: <% $.a %>
        y: <% $.b %>
        extra_param: 7
      publish:
        sum: <% task().result.total %>
        said: <% task().result.msg %>
child:
  input: [x, y]
  output:
    total: <% $.x + $.y %>
    msg: <% $.msg %>
    tag: <% env().tag %>
  tasks:
    talk:
      action: std.echo output="child got <% $.x %> and <% $.y %>"
      publish:
        msg: <% task().result %>
"""


def test_subworkflow_result_env_and_params() -> None:
    found = parsing.workflows(NESTED)
    run = testing.run_until_idle(
        found["parent"], workflows=found.values(), input={"a": 2, "b": 40}, env={"tag": "E"}
    )

    assert run.workflow.state == State.SUCCESS
    assert run.workflow.output == {"sum": 42, "said": "child got 2 and 40"}
    task = run.task("call_child")
    assert task.result == {"total": 42, "msg": "child got 2 and 40", "tag": "E"}
    (child,) = run.children_of(task)
    assert child.input == {"x": 2, "y": 40}
    assert child.params["extra_param"] == 7
    assert child.params["task_execution_id"] == task.id
    assert child.root_execution_id == run.workflow.id
    assert child.task_execution_id == task.id


def test_subworkflow_error_fails_parent_task_with_child_message() -> None:
    found = parsing.workflows(
        """
version: '2.0'
parent:
  tasks:
    call:
      workflow: child
      on-error: handle
    handle:
      action: std.echo output=<% task(call).result.result %>
child:
  tasks:
    boom:
      action: std.fail error_data="bad"
"""
    )
    run = testing.run_until_idle(found["parent"], workflows=found.values())

    call = run.task("call")
    (child,) = run.children_of(call)
    assert child.state == State.ERROR
    assert call.state == State.ERROR
    assert call.state_info == child.state_info
    assert call.result == child.output
    assert run.task("handle").result == child.state_info
    assert run.workflow.state == State.SUCCESS


def test_unhandled_subworkflow_error_names_the_child_in_the_message() -> None:
    found = parsing.workflows(
        """
version: '2.0'
parent:
  tasks:
    call:
      workflow: child
child:
  tasks:
    boom:
      action: std.fail error_data="bad"
"""
    )
    run = testing.run_until_idle(found["parent"], workflows=found.values())

    (child,) = run.children_of(run.task("call"))
    assert f"    [wf_ex_id={child.id}, idx=0]: Failure caused by error in tasks: boom" in (
        run.workflow.state_info or ""
    )


def test_missing_subworkflow_input_is_an_ordinary_task_error() -> None:
    # Mistral 23 (conformance case 149): on-error handles it.
    found = parsing.workflows(
        """
version: '2.0'
parent:
  tasks:
    call:
      workflow: child
      on-error: noop
child:
  input: [needed]
  tasks:
    t:
      action: std.noop
"""
    )
    run = testing.run_until_idle(found["parent"], workflows=found.values())

    assert run.task("call").state == State.ERROR
    assert run.task("call").state_info == (
        "Invalid input [name=child, class=DirectWorkflowSpec, missing=['needed']]"
    )
    assert run.task("call").result == []
    assert run.workflow.state == State.SUCCESS


def test_pause_and_resume_cascade_into_subworkflows() -> None:
    found = parsing.workflows(
        """
version: '2.0'
parent:
  tasks:
    call:
      workflow: child
child:
  tasks:
    slow:
      action: std.async_noop
"""
    )
    run = testing.run_until_idle(found["parent"], workflows=found.values())
    driver = run.driver
    assert driver is not None
    (child,) = run.children_of(run.task("call"))

    driver.send(events.PauseWorkflow(workflow_execution_id=run.workflow.id))
    assert run.workflow.state == State.PAUSED
    assert run.workflows[child.id].state == State.PAUSED
    assert run.task("call").state == State.PAUSED

    driver.send(events.ResumeWorkflow(workflow_execution_id=run.workflow.id))
    assert run.workflow.state == State.RUNNING
    assert run.workflows[child.id].state == State.RUNNING
    assert run.task("call").state == State.RUNNING

    slow = run.task("slow", child.id)
    driver.complete_action(run.actions_of(slow)[0].id, "done")
    assert run.workflows[child.id].state == State.SUCCESS
    assert run.workflow.state == State.SUCCESS


def test_pausing_the_child_pauses_the_parent() -> None:
    found = parsing.workflows(
        """
version: '2.0'
parent:
  tasks:
    call:
      workflow: child
child:
  tasks:
    slow:
      action: std.async_noop
"""
    )
    run = testing.run_until_idle(found["parent"], workflows=found.values())
    driver = run.driver
    assert driver is not None
    (child,) = run.children_of(run.task("call"))

    driver.send(events.PauseWorkflow(workflow_execution_id=child.id))
    assert run.workflow.state == State.PAUSED
    assert run.task("call").state == State.PAUSED

    driver.send(events.ResumeWorkflow(workflow_execution_id=child.id))
    assert run.task("call").state == State.RUNNING
    assert run.workflow.state == State.RUNNING


def test_cancel_cascades_into_subworkflows() -> None:
    found = parsing.workflows(
        """
version: '2.0'
parent:
  tasks:
    call:
      workflow: child
child:
  tasks:
    slow:
      action: std.async_noop
"""
    )
    run = testing.run_until_idle(found["parent"], workflows=found.values())
    driver = run.driver
    assert driver is not None
    (child,) = run.children_of(run.task("call"))

    driver.send(
        events.StopWorkflow(
            workflow_execution_id=run.workflow.id, state=State.CANCELLED, message="stop"
        )
    )

    assert run.workflow.state == State.CANCELLED
    assert run.workflow.output == {"result": "stop"}
    assert run.workflows[child.id].state == State.CANCELLED
    assert run.task("call").state == State.CANCELLED
    ended = [c for c in run.commands if isinstance(c, commands.WorkflowEnded)]
    assert {c.workflow_execution_id for c in ended} == {run.workflow.id, child.id}


def test_rerun_inside_a_subworkflow_revives_the_parent() -> None:
    found = parsing.workflows(
        """
version: '2.0'
parent:
  output:
    r: <% $.r %>
  tasks:
    call:
      workflow: child
      publish:
        r: <% task().result.v %>
child:
  output:
    v: <% $.v %>
  tasks:
    flaky:
      action: std.echo output="ok"
      publish:
        v: <% task().result %>
"""
    )
    run = testing.run_until_idle(
        found["parent"], workflows=found.values(), script={"flaky": [testing.Fail("once")]}
    )
    assert run.workflow.state == State.ERROR
    driver = run.driver
    assert driver is not None
    (child,) = run.children_of(run.task("call"))
    flaky = run.task("flaky", child.id)

    driver.send(
        events.RerunTask(workflow_execution_id=child.id, task_execution_id=flaky.id, reset=True)
    )

    assert run.workflows[child.id].state == State.SUCCESS
    assert run.task("call").state == State.SUCCESS
    assert run.workflow.state == State.SUCCESS
    assert run.workflow.output == {"r": "ok"}

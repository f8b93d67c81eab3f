"""Task policies: wait-before/after, retry, timeout, pause-before, fail-on, concurrency."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from sirocco import testing
from sirocco.engine import commands, events
from sirocco.engine.states import State

from . import parsing


def _one_task(body: str) -> str:
    return "version: '2.0'\nwf:\n  tasks:\n    t:\n" + body


def _timers(run: testing.Run) -> list[commands.ScheduleTimer]:
    return [c for c in run.commands if isinstance(c, commands.ScheduleTimer)]


def test_wait_before_and_wait_after_delay_the_task() -> None:
    spec = parsing.workflow(
        _one_task(
            """
      action: std.echo output="waited"
      wait-before: 1
      wait-after: 2
      publish:
        v: <% task().result %>
"""
        )
    )
    clock = testing.FakeClock()
    start = clock.now
    run = testing.run_until_idle(spec, clock=clock)

    assert run.workflow.state == State.SUCCESS
    assert run.workflow.output == {"v": "waited"}
    assert clock.now - start == timedelta(seconds=3)
    purposes = [timer.event.purpose for timer in _timers(run)]
    assert purposes == ["wait_before", "wait_after"]


def test_wait_before_state_and_message_while_delayed() -> None:
    spec = parsing.workflow(_one_task("      action: std.noop\n      wait-before: 5\n"))
    run = testing.run_until_idle(spec, until=lambda run: bool(run.tasks))

    task = run.task("t")
    assert task.state == State.DELAYED
    assert task.state_info == "Delayed by 'wait-before' policy [delay=5]"
    assert run.actions == {}


def test_wait_after_message() -> None:
    spec = parsing.workflow(_one_task("      action: std.noop\n      wait-after: 4\n"))
    run = testing.run_until_idle(
        spec, until=lambda run: bool(run.tasks) and run.task("t").state == State.DELAYED
    )

    assert run.task("t").state_info == "Delayed by 'wait-after' policy [delay=4]"


def test_retry_count_and_delay() -> None:
    spec = parsing.workflow(
        _one_task(
            """
      action: std.fail
      retry:
        count: 2
        delay: 1
"""
        )
    )
    clock = testing.FakeClock()
    start = clock.now
    run = testing.run_until_idle(spec, clock=clock)

    task = run.task("t")
    assert run.workflow.state == State.ERROR
    assert task.state == State.ERROR
    assert len(run.actions_of(task)) == 3
    assert [a.accepted for a in run.actions_of(task)] == [False, False, True]
    assert [a.attempt for a in run.actions_of(task)] == [1, 2, 3]
    assert clock.now - start == timedelta(seconds=2)
    assert len(run.task_names()) == 1


def test_retry_message_while_delayed() -> None:
    spec = parsing.workflow(_one_task("      action: std.fail\n      retry: count=1 delay=7\n"))
    run = testing.run_until_idle(
        spec, until=lambda run: bool(run.tasks) and run.task("t").state == State.DELAYED
    )

    assert run.task("t").state_info == "Delayed by 'retry' policy [delay=7]"
    assert run.task("t").runtime.retry_task_policy == {"retry_no": 1}


def test_retry_succeeds_on_second_attempt_and_keeps_last_result() -> None:
    spec = parsing.workflow(
        _one_task(
            """
      action: std.echo output="x"
      retry:
        count: 3
        delay: 0
      publish:
        r: <% task().result %>
"""
        )
    )
    run = testing.run_until_idle(spec, script={"t": [testing.Fail("e1"), "second"]})

    task = run.task("t")
    assert task.state == State.SUCCESS
    assert task.result == "second"
    assert task.published == {"r": "second"}
    assert len(run.actions_of(task)) == 2


def test_retry_break_on() -> None:
    spec = parsing.workflow(
        _one_task(
            """
      action: std.echo output="x"
      retry:
        count: 5
        delay: 0
        break-on: <% task().result = 'fatal' %>
"""
        )
    )
    run = testing.run_until_idle(
        spec, script={"t": [testing.Fail("soft"), testing.Fail("fatal"), "never"]}
    )

    assert run.task("t").state == State.ERROR
    assert len(run.actions_of(run.task("t"))) == 2


def test_retry_continue_on_success() -> None:
    spec = parsing.workflow(
        _one_task(
            """
      action: std.echo output="x"
      retry:
        count: 5
        delay: 0
        continue-on: <% task().result < 3 %>
"""
        )
    )
    run = testing.run_until_idle(spec, script={"t": [1, 2, 3, 4]})

    assert run.task("t").state == State.SUCCESS
    assert run.task("t").result == 3
    assert len(run.actions_of(run.task("t"))) == 3


def test_retry_count_expression() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  input:
    - n: 2
  tasks:
    t:
      action: std.fail
      retry:
        count: <% $.n %>
        delay: 0
"""
    )
    run = testing.run_until_idle(spec)

    assert len(run.actions_of(run.task("t"))) == 3


def test_wrong_policy_type_is_a_structural_failure() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  input: [wait_before]
  tasks:
    t:
      action: std.echo output="Hi!"
      wait-before: <% $.wait_before %>
      on-error: noop
"""
    )
    run = testing.run_until_idle(spec, input={"wait_before": "1"})

    assert run.workflow.state == State.ERROR
    assert "Invalid data type in WaitBeforePolicy" in (run.workflow.state_info or "")
    assert run.task("t").state == State.ERROR


def test_wrong_concurrency_type() -> None:
    spec = parsing.workflow(
        _one_task(
            """
      with-items: x in [1]
      concurrency: <% 'two' %>
      action: std.noop
"""
        )
    )
    run = testing.run_until_idle(spec)

    assert "Invalid data type in ConcurrencyPolicy" in (run.workflow.state_info or "")


def test_timeout_fails_a_running_task() -> None:
    spec = parsing.workflow(
        _one_task(
            """
      action: std.async_noop
      timeout: 3
      on-error: handler
    handler:
      action: std.noop
"""
        )
    )
    clock = testing.FakeClock()
    start = clock.now
    run = testing.run_until_idle(spec, clock=clock)

    task = run.task("t")
    assert task.state == State.ERROR
    assert task.state_info == "Task timed out [timeout(s)=3]."
    assert clock.now - start == timedelta(seconds=3)
    assert run.workflow.state == State.SUCCESS  # on-error handled the timeout
    run_action = next(c for c in run.commands if isinstance(c, commands.RunAction))
    assert run_action.timeout == 3.0

    # The late result of the timed-out action is recorded but ignored.
    driver = run.driver
    assert driver is not None
    driver.complete_action(run.actions_of(task)[0].id, "late")
    assert run.task("t").state == State.ERROR
    assert run.actions_of(task)[0].accepted is False


def test_stale_timeout_timer_is_ignored() -> None:
    spec = parsing.workflow(_one_task("      action: std.noop\n      timeout: 10\n"))
    run = testing.run_until_idle(spec)

    # The task finished long before its timeout: the timer fired and did nothing.
    assert run.task("t").state == State.SUCCESS
    assert run.workflow.state == State.SUCCESS


def test_pause_before_then_resume() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  output:
    a: <% $.a %>
    b: <% $.b %>
  tasks:
    first:
      action: std.echo output="A"
      publish:
        a: <% task().result %>
      on-success: second
    second:
      pause-before: true
      action: std.echo output="B"
      publish:
        b: <% task().result %>
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.PAUSED
    second = run.task("second")
    assert second.state == State.IDLE
    assert second.state_info == "Set by 'pause-before' policy"
    assert run.actions_of(second) == []

    driver = run.driver
    assert driver is not None
    driver.send(events.ResumeWorkflow(workflow_execution_id=run.workflow.id))

    assert run.workflow.state == State.SUCCESS
    assert run.workflow.output == {"a": "A", "b": "B"}


def test_fail_on_turns_success_into_error_after_publish() -> None:
    spec = parsing.workflow(
        _one_task(
            """
      action: std.echo output=5
      fail-on: <% task().result > 3 %>
      publish:
        v: <% task().result %>
      on-error: handler
    handler:
      action: std.noop
"""
        )
    )
    run = testing.run_until_idle(spec)

    task = run.task("t")
    assert task.state == State.ERROR
    assert task.state_info == "Failed by 'fail-on' policy"
    assert task.published == {"v": 5}
    assert task.error_handled is True
    assert run.workflow.state == State.SUCCESS


def test_fail_on_then_retry() -> None:
    spec = parsing.workflow(
        _one_task(
            """
      action: std.echo output="x"
      fail-on: <% task().result = 'bad' %>
      retry:
        count: 2
        delay: 0
"""
        )
    )
    run = testing.run_until_idle(spec, script={"t": ["bad", "good"]})

    assert run.task("t").state == State.SUCCESS
    assert run.task("t").result == "good"


def test_safe_rerun_and_target_are_passed_to_the_executor() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t:
      action: std.echo output="x"
      safe-rerun: true
      target: <% $.output %>-host
"""
    )
    run = testing.run_until_idle(spec)

    command = next(c for c in run.commands if isinstance(c, commands.RunAction))
    assert command.safe_rerun is True
    assert command.target == "x-host"
    assert command.execution["task_name"] == "t"
    assert command.execution["workflow_name"] == "wf"


def test_timeout_counts_from_the_start_including_wait_before() -> None:
    spec = parsing.workflow(
        _one_task("      action: std.async_noop\n      wait-before: 2\n      timeout: 5\n")
    )
    clock = testing.FakeClock()
    start = clock.now
    run = testing.run_until_idle(spec, clock=clock)

    assert run.task("t").state_info == "Task timed out [timeout(s)=5]."
    assert clock.now - start == timedelta(seconds=5)


def test_pause_before_skips_wait_before_after_resume() -> None:
    # Mistral resumes a task paused before it started without its before-start
    # policies: the wait-before delay does not apply.
    spec = parsing.workflow(
        _one_task("      action: std.noop\n      pause-before: true\n      wait-before: 10\n")
    )
    clock = testing.FakeClock()
    start = clock.now
    run = testing.run_until_idle(spec, clock=clock)
    assert run.workflow.state == State.PAUSED
    assert run.driver is not None

    run.driver.send(events.ResumeWorkflow(workflow_execution_id=run.workflow.id))

    assert run.workflow.state == State.SUCCESS
    assert clock.now == start


def test_stale_retry_attempt_result_is_ignored() -> None:
    spec = parsing.workflow(
        _one_task(
            """
      action: std.async_noop
      timeout: 1
      retry:
        count: 1
        delay: 0
"""
        )
    )
    run = testing.run_until_idle(spec)
    first, second = run.actions_of(run.task("t"))
    assert run.task("t").state == State.RUNNING
    assert run.driver is not None

    run.driver.complete_action(first.id, "too late")
    assert run.task("t").state == State.RUNNING
    assert run.actions[first.id].accepted is False
    run.driver.complete_action(second.id, "in time")
    assert run.task("t").state == State.SUCCESS
    assert run.task("t").result == "in time"


def test_a_task_makes_its_data_for_its_policies_only_when_one_has_a_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The task's data (the expressions' context) costs ~14 us to make: the policies make
    it when a policy has a value to evaluate, and not at all for a task without."""
    from sirocco.engine import evaluation, policies

    made: list[str] = []

    class Counting:
        def __getattr__(self, name: str) -> Any:
            return getattr(evaluation, name)

        @staticmethod
        def task_data(*args: Any, **kwargs: Any) -> Any:
            made.append("data")
            return evaluation.task_data(*args, **kwargs)

    monkeypatch.setattr(policies, "evaluation", Counting())
    plain = testing.run_until_idle(parsing.workflow(_one_task("      action: std.noop\n")))
    assert plain.workflow.state == State.SUCCESS and made == []
    timed = testing.run_until_idle(
        parsing.workflow(
            _one_task("      action: std.noop\n      wait-before: <% 0 %>\n      timeout: 5\n")
        )
    )
    assert timed.workflow.state == State.SUCCESS and made  # made where a policy needs it

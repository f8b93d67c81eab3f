"""Direct workflows: transitions, publish, output, errors and engine commands."""

from __future__ import annotations

from sirocco import testing
from sirocco.engine.states import State

from . import parsing

SEQUENTIAL = """
version: '2.0'
wf:
  input:
    - name
  output:
    greeting: <% $.greeting %>
    shout: <% $.shout %>
    length: <% $.greeting.len() %>
  tasks:
    make_greeting:
      action: std.echo
      input:
        output: "Hello, <% $.name %>"
      publish:
        greeting: <% task().result %>
      on-success: shout_it
    shout_it:
      action: std.echo output=<% $.greeting.toUpper() %>
      publish:
        shout: <% task().result %>
      on-success: finish
    finish:
      action: std.noop
"""


def test_sequential_tasks_publish_and_output() -> None:
    run = testing.run_until_idle(parsing.workflow(SEQUENTIAL), input={"name": "Ann"})

    assert run.problems == []
    assert run.workflow.state == State.SUCCESS
    assert run.workflow.output == {"greeting": "Hello, Ann", "shout": "HELLO, ANN", "length": 10}
    assert run.task_names() == ["make_greeting", "shout_it", "finish"]
    assert run.task("shout_it").published == {"shout": "HELLO, ANN"}
    assert run.task("finish").result is None
    assert [task.next_tasks for task in run.tasks_of()] == [
        (("shout_it", "on-success"),),
        (("finish", "on-success"),),
        (),
    ]


def test_default_output_is_the_final_branch_context() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  input:
    - x: 1
  vars:
    v: global
  tasks:
    a:
      action: std.echo output="A"
      publish:
        a: <% task().result %>
      on-success: b
    b:
      action: std.noop
      publish:
        b: <% $.a %>-<% $.x %>-<% $.v %>
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.SUCCESS
    assert run.workflow.output == {"a": "A", "b": "A-1-global"}


def test_error_handled_by_on_error_and_on_success_not_followed() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  output:
    handled: <% $.handled %>
  tasks:
    boom:
      action: std.fail
      on-success: not_me
      on-error: handle
    handle:
      action: std.echo output="recovered"
      publish:
        handled: <% task().result %>
    not_me:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.SUCCESS
    assert run.workflow.output == {"handled": "recovered"}
    assert run.task_names() == ["boom", "handle"]
    boom = run.task("boom")
    assert boom.state == State.ERROR
    assert boom.error_handled is True
    assert boom.state_info is not None and "Fail action expected exception" in boom.state_info


def test_unhandled_error_fails_the_workflow_with_mistral_message() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  output-on-error:
    where: <% $.where %>
  tasks:
    t1:
      action: std.echo output=1
      publish:
        where: t1
      on-success: t2
    t2:
      action: std.fail error_data="boom"
      on-complete: t3
    t3:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)

    workflow = run.workflow
    t2 = run.task("t2")
    action = run.actions_of(t2)[0]
    assert workflow.state == State.ERROR
    assert run.task("t3").state == State.SUCCESS  # on-complete ran, but does not handle
    expected = (
        "Failure caused by error in tasks: t2\n"
        f"\n  t2 [task_ex_id={t2.id}] -> boom\n"
        f"    [action_ex_id={action.id}, idx=0]: boom\n"
    )
    assert workflow.state_info == expected
    assert workflow.output == {"result": expected, "where": "t1"}


def test_noop_in_on_error_handles_the_error() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t1:
      action: std.fail
      on-error: noop
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.SUCCESS
    assert run.task("t1").state == State.ERROR
    assert run.task("t1").error_handled is True
    assert run.task("t1").next_tasks == ()


def test_on_error_with_false_guard_does_not_handle() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t1:
      action: std.fail
      on-error:
        - handler: <% false %>
    handler:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.ERROR
    # Mistral leaves tasks with an on-error clause out of the message.
    assert run.workflow.state_info == "Failure caused by error in tasks: \n"


def test_conditions_choose_branches() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  input:
    - n
  output:
    route: <% $.route %>
  tasks:
    check:
      action: std.noop
      on-success:
        - big: <% $.n > 10 %>
        - small: <% $.n <= 10 %>
        - even: <% $.n mod 2 = 0 %>
    big:
      action: std.echo output="big"
      publish:
        route: <% task().result %>
    small:
      action: std.echo output="small"
      publish:
        route: <% task().result %>
    even:
      action: std.noop
"""
    )
    odd = testing.run_until_idle(spec, input={"n": 7})
    even = testing.run_until_idle(spec, input={"n": 12})

    assert odd.task_names() == ["check", "small"]
    assert odd.workflow.output == {"route": "small"}
    assert even.task_names() == ["check", "big", "even"]


def test_order_on_error_then_on_complete() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t1:
      action: std.fail
      on-complete: after
      on-error: handler
    handler:
      action: std.noop
    after:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)

    assert run.task("t1").next_tasks == (("handler", "on-error"), ("after", "on-complete"))
    assert run.task_names() == ["t1", "handler", "after"]
    assert run.workflow.state == State.SUCCESS


def test_fail_command_with_message() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  input:
    - amount
  tasks:
    validate:
      action: std.echo output=<% $.amount %>
      on-success:
        - fail(msg="amount too large"): <% $.amount > 100 %>
        - charge: <% $.amount <= 100 %>
    charge:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec, input={"amount": 500})

    assert run.workflow.state == State.ERROR
    assert run.workflow.state_info == "amount too large"
    assert run.workflow.output == {"result": "amount too large"}
    assert run.task_names() == ["validate"]


def test_succeed_command_with_expression_message_and_output() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  output:
    done: true
  tasks:
    t1:
      action: std.noop
      publish:
        x: 2
      on-complete:
        - succeed(msg="x is <% $.x %>")
        - never
    never:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.SUCCESS
    assert run.workflow.state_info == "x is 2"
    assert run.workflow.output == {"done": True}
    assert run.task_names() == ["t1"]


def test_succeed_command_whose_output_fails_force_fails() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  output:
    x: <% $.x %>
  tasks:
    t1:
      action: std.noop
      publish:
        x: 2
      on-complete:
        - succeed
        - never
    never:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)

    # t1 triggered 'never' (not run): the final context is empty, $.x fails.
    assert run.workflow.state == State.ERROR
    assert (run.workflow.state_info or "").startswith(
        "Failed to handle action completion [error=Can not evaluate YAQL expression "
        "[expression=$.x, error='x'], wf=wf, task=t1, action=std.noop]"
    )


def test_tasks_before_fail_in_the_same_clause_still_run() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t1:
      action: std.noop
      on-success:
        - t2
        - fail
    t2:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.ERROR
    assert run.workflow.state_info is None
    assert run.task_names() == ["t1", "t2"]
    # The workflow ended first; the result of t2 is still recorded.
    assert run.task("t2").state == State.SUCCESS


def test_task_named_like_an_engine_command_acts_as_the_command() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t1:
      action: std.noop
      on-success: fail
    fail:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.ERROR
    assert run.task_names() == ["t1"]


def test_global_publish_and_vars() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  vars:
    counter: 0
  output:
    g: <% $.g %>
    from_function: <% global(g) %>
    branch_b: <% $.get(b) %>
  tasks:
    start:
      action: std.noop
      on-success: [left, right]
    left:
      action: std.noop
      on-success:
        publish:
          branch:
            b: left-branch
          global:
            g: from-left
        next: left_end
    left_end:
      action: std.noop
    right:
      action: std.noop
      on-success: right_end
    right_end:
      action: std.echo output=<% $.get(b) %>
      publish:
        seen_b: <% task().result %>
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.SUCCESS
    assert run.workflow.context["g"] == "from-left"
    assert run.workflow.context["counter"] == 0
    assert run.task("right_end").published == {"seen_b": None}
    assert run.workflow.output == {
        "g": "from-left",
        "from_function": "from-left",
        "branch_b": "left-branch",
    }


def test_publish_precedence_task_level_over_on_success() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t1:
      action: std.noop
      publish:
        a: task-level
      on-success:
        publish:
          branch:
            a: on-success
            b: on-success
      on-complete:
        publish:
          branch:
            c: on-complete
"""
    )
    run = testing.run_until_idle(spec)

    assert run.task("t1").published == {"a": "task-level", "b": "on-success", "c": "on-complete"}


def test_publish_on_error_and_result_of_error() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t1:
      action: std.fail
      input:
        error_data:
          code: 42
      publish:
        ok: yes
      publish-on-error:
        code: <% task().result.code %>
      on-error:
        - handler: <% task().result.code = 42 %>
    handler:
      action: std.echo output=<% $.code %>
"""
    )
    run = testing.run_until_idle(spec)

    assert run.task("t1").published == {"code": 42}
    assert run.task("t1").result == {"code": 42}
    assert run.task("handler").result == 42
    assert run.workflow.state == State.SUCCESS


def test_cycle_runs_a_task_several_times_and_task_function_sees_latest() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  vars:
    limit: 3
  output:
    count: <% $.count %>
    last: <% $.last %>
  tasks:
    init:
      action: std.noop
      publish:
        count: 0
      on-success: loop
    loop:
      action: std.echo output=<% $.count + 1 %>
      publish:
        count: <% task().result %>
      on-success:
        - loop: <% $.count < $.limit %>
        - done: <% $.count >= $.limit %>
    done:
      action: std.noop
      publish:
        last: <% task(loop).result %>
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.SUCCESS
    assert run.task_names() == ["init", "loop", "loop", "loop", "done"]
    assert run.workflow.output == {"count": 3, "last": 3}


def test_task_result_and_yaql_functions() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  output:
    me: <% $.me %>
    other_result: <% $.other_result %>
    other_published: <% $.other_published %>
    names: <% $.names %>
    states: <% $.states %>
    exec_name: <% execution().name %>
  tasks:
    first:
      action: std.echo output=11
      publish:
        p1: published-by-first
      on-success: second
    second:
      action: std.echo output=22
      publish:
        me: <% task().name %>
        other_result: <% task(first).result %>
        other_published: <% task(first).published %>
        names: <% tasks(execution().id).select($.name).orderBy($) %>
        states: <% tasks(execution().id, false, SUCCESS).select($.name).orderBy($) %>
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.output == {
        "me": "second",
        "other_result": 11,
        "other_published": {"p1": "published-by-first"},
        "names": ["first", "second"],
        "states": ["first", "second"],
        "exec_name": "wf",
    }


def test_env_and_execution_in_expressions() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  output:
    mode: <% env().mode %>
    derived: <% env().derived %>
    own_id: <% $.own_id %>
  tasks:
    t1:
      action: std.noop
      publish:
        own_id: <% $.get("__execution").id = execution().id %>
"""
    )
    run = testing.run_until_idle(spec, env={"mode": "fast", "derived": "<% env().mode %>-x"})

    assert run.workflow.output == {"mode": "fast", "derived": "fast-x", "own_id": True}
    assert run.workflow.params["env"] == {"mode": "fast", "derived": "fast-x"}


def test_bad_expression_in_publish_force_fails_task_and_workflow() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t1:
      action: std.noop
      publish:
        x: <% $.missing.toUpper() %>
      on-error: handler
    handler:
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.ERROR
    info = run.workflow.state_info or ""
    assert info.startswith("Failed to handle action completion [error=Can not evaluate YAQL")
    assert "wf=wf, task=t1, action=std.noop]" in info
    assert run.task("t1").state == State.ERROR
    assert run.task_names() == ["t1"]
    assert run.workflow.output == {"result": info}


def test_bad_input_expression_fails_run_task() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t1:
      action: std.echo output=<% $.missing.toUpper() %>
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.ERROR
    assert (run.workflow.state_info or "").startswith("Failed to run task [error=Can not evaluate")
    assert run.actions == {}


def test_fail_message_that_is_a_dict_becomes_json_text() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    main_task:
      action: std.test_dict
      input:
        size: 1
        key_prefix: "abc"
        val: "pqr"
      on-success:
        - fail msg="<% task().result %>"
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.ERROR
    assert run.workflow.state_info == '{"abc0": "pqr"}'

"""Action resolution: ad-hoc chains, input checks, unknown actions, env defaults."""

from __future__ import annotations

from sirocco import testing
from sirocco.engine import commands
from sirocco.engine.states import State

from . import parsing

ADHOC = """
version: '2.0'
make_pair:
  base: std.echo
  base-input:
    output:
      left: <% $.left %>
      right: <% $.right %>
  input:
    - left
    - right: R
  output:
    joined: "<% $.left %>/<% $.right %>"
    size: <% $.len() %>
shout:
  base: make_pair
  base-input:
    left: <% $.text.toUpper() %>
  input:
    - text
  output: <% $.joined %>!
"""


def test_adhoc_action_with_defaults_and_output_transform() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    with_default:
      action: make_pair left="L"
      on-success: explicit
    explicit:
      action: make_pair
      input:
        left: x
        right: y
"""
    )
    run = testing.run_until_idle(spec, adhoc_actions=parsing.actions(ADHOC))

    assert run.workflow.state == State.SUCCESS
    assert run.task("with_default").result == {"joined": "L/R", "size": 2}
    assert run.task("explicit").result == {"joined": "x/y", "size": 2}
    action = run.actions_of(run.task("with_default"))[0]
    assert action.name == "make_pair"
    assert action.input == {"left": "L", "right": "R"}
    assert action.output == {"joined": "L/R", "size": 2}
    run_action = next(c for c in run.commands if isinstance(c, commands.RunAction))
    assert run_action.action_name == "std.echo"
    assert run_action.input == {"output": {"left": "L", "right": "R"}}


def test_adhoc_chain_applies_outputs_innermost_first() -> None:
    spec = parsing.workflow(
        "version: '2.0'\nwf:\n  tasks:\n    t:\n      action: shout text=\"hi\"\n"
    )
    run = testing.run_until_idle(spec, adhoc_actions=parsing.actions(ADHOC))

    assert run.task("t").result == "HI/R!"


def test_adhoc_missing_input_is_structural() -> None:
    spec = parsing.workflow(
        "version: '2.0'\nwf:\n  tasks:\n    t:\n      action: make_pair\n      on-error: noop\n"
    )
    run = testing.run_until_idle(spec, adhoc_actions=parsing.actions(ADHOC))

    assert run.workflow.state == State.ERROR
    assert run.workflow.state_info == (
        "Failed to run task [error=Invalid input [name=make_pair, "
        "class=mistral.actions.adhoc.AdHocAction, missing=['left']], wf=wf, task=t]"
    )


def test_unknown_action_fails_task_and_workflow() -> None:
    spec = parsing.workflow(
        "version: '2.0'\nwf:\n  tasks:\n    t:\n      action: nope.nothing\n      on-error: noop\n"
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.ERROR
    assert run.task("t").state == State.ERROR
    assert run.workflow.state_info == (
        "Failed to run task [error=Failed to find action [action_name=nope.nothing, "
        "namespace=], wf=wf, task=t]"
    )


def test_unexpected_action_input_is_structural() -> None:
    spec = parsing.workflow(
        "version: '2.0'\nwf:\n  tasks:\n    t:\n      action: std.noop wrong=1\n"
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state_info == (
        "Failed to run task [error=Invalid input [name=std.noop, "
        "class=mistral.actions.std_actions.NoOpAction, unexpected=['wrong']], wf=wf, task=t]"
    )


def test_action_name_from_expression_and_env_action_defaults() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  input:
    - which: std.echo
  tasks:
    t:
      action: <% $.which %>
    u:
      action: std.echo
"""
    )
    env = {"__actions": {"std.echo": {"output": "from-env"}}}
    run = testing.run_until_idle(spec, env=env)

    # Defaults are looked up by the name as written: only 'u' gets them.
    assert run.task("t").state == State.ERROR
    assert run.task("u").result == "from-env"


def test_dynamic_input_must_be_a_dict() -> None:
    spec = parsing.workflow(
        "version: '2.0'\nwf:\n  tasks:\n    t:\n      action: std.echo\n      input: <% [1] %>\n"
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.ERROR
    assert "Wrong dynamic input for task: t. Dict type is expected." in (
        run.workflow.state_info or ""
    )


def test_async_action_stays_running_until_completed() -> None:
    spec = parsing.workflow("version: '2.0'\nwf:\n  tasks:\n    t:\n      action: std.async_noop\n")
    run = testing.run_until_idle(spec)

    (action,) = run.actions_of(run.task("t"))
    assert action.is_sync is False
    assert action.state == State.RUNNING
    assert run.workflow.state == State.RUNNING
    assert run.driver is not None
    run.driver.complete_action(action.id, {"answer": 42})
    assert run.task("t").result == {"answer": 42}
    assert run.workflow.state == State.SUCCESS

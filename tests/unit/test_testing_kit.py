"""The testing kit as someone who tests their own workflows uses it.

Of Sirocco, this file imports only ``sirocco.testing`` (docs/testing.md points here):
if it needs more, the kit's public surface is missing something.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from sirocco import testing

ORDER = """
version: '2.0'
order:
  input: [item]
  tasks:
    reserve:
      action: std.echo output=<% $.item %>
      publish:
        reserved: <% task().result %>
      on-success: charge
    charge:
      action: std.noop
      retry:
        count: 2
        delay: 30
      on-success: ship
      on-error: refund
    ship:
      action: std.async_noop
      publish:
        tracking: <% task().result %>
    refund:
      action: std.echo output="refunded"
  output:
    reserved: <% $.reserved %>
    tracking: <% $.tracking %>
"""


def _order() -> testing.Run:
    return testing.run_until_idle(
        testing.load_workflows(ORDER)["order"],
        input={"item": "kettle"},
        script={"charge": [testing.Fail("card declined")]},
        clock=testing.FakeClock(),
    )


def test_a_scripted_failure_is_retried_after_its_delay_on_the_fake_clock() -> None:
    clock = testing.FakeClock()
    started = clock.now
    run = testing.run_until_idle(
        testing.load_workflows(ORDER)["order"],
        input={"item": "kettle"},
        script={"charge": [testing.Fail("card declined")]},
        clock=clock,
    )

    assert run.task_names() == ["reserve", "charge", "ship"]
    assert [action.state for action in run.actions_of(run.task("charge"))] == ["ERROR", "SUCCESS"]
    assert clock.now - started == timedelta(seconds=30)
    assert run.task("ship").state == "RUNNING"  # std.async_noop holds its action


def test_a_held_action_completes_when_the_test_says_so() -> None:
    run = _order()
    (held,) = run.actions_of(run.task("ship"))

    run = run.driver.complete_action(held.id, "TRACK-1") if run.driver else run

    assert run.workflow.state == "SUCCESS"
    assert run.workflow.output == {"reserved": "kettle", "tracking": "TRACK-1"}
    assert run.problems == []


def test_failures_beyond_the_retries_take_the_error_path() -> None:
    run = testing.run_until_idle(
        testing.load_workflows(ORDER)["order"],
        input={"item": "kettle"},
        script={"charge": [testing.Fail("declined")] * 3},
    )

    assert run.task_names() == ["reserve", "charge", "refund"]
    assert run.task("refund").result == "refunded"
    # the output reads a variable that the error path never published
    assert run.workflow.state == "ERROR"
    assert "expression=$.tracking" in (run.workflow.state_info or "")


def test_a_definition_with_problems_names_them() -> None:
    with pytest.raises(testing.DefinitionError) as raised:
        testing.load_workflows("version: '2.0'\nbroken:\n  tasks:\n    t:\n      acton: std.noop\n")
    assert raised.value.problems
    assert "acton" in str(raised.value)


def test_the_example_in_docs_testing_runs_as_written() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "testing.md").read_text()
    (block,) = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    assert "from sirocco import testing" in block
    exec(compile(block, "docs/testing.md", "exec"), {})  # its asserts are the test

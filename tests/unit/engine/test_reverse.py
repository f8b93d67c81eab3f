"""Reverse workflows: the target's transitive requirements, in dependency order."""

from __future__ import annotations

import pytest

from sirocco import errors, testing
from sirocco.engine.states import State

from . import parsing

REVERSE = """
version: '2.0'
wf:
  type: reverse
  output:
    report: <% $.report %>
  tasks:
    fetch:
      action: std.echo output="raw"
      publish:
        data: <% task().result %>
    clean:
      requires: fetch
      action: std.echo output="clean-<% $.data %>"
      publish:
        cleaned: <% task().result %>
    index:
      requires: [fetch]
      action: std.echo output="indexed"
      publish:
        idx: <% task().result %>
    report:
      requires: [clean, index]
      action: std.echo output="<% $.cleaned %>+<% $.idx %>"
      publish:
        report: <% task().result %>
    unrelated:
      action: std.noop
    after_report:
      requires: report
      action: std.noop
"""


def test_reverse_runs_only_what_the_target_needs() -> None:
    run = testing.run_until_idle(parsing.workflow(REVERSE), params={"task_name": "report"})

    assert run.workflow.state == State.SUCCESS
    assert run.workflow.output == {"report": "clean-raw+indexed"}
    assert run.task_names() == ["fetch", "clean", "index", "report"]
    assert len(run.task("report").triggered_by) == 2


def test_reverse_independent_tasks_run_in_parallel() -> None:
    run = testing.run_until_idle(
        parsing.workflow(REVERSE),
        params={"task_name": "report"},
        script={"clean": [testing.Hold()]},
    )

    assert run.task("clean").state == State.RUNNING
    assert run.task("index").state == State.SUCCESS
    assert "report" not in run.task_names()


def test_reverse_error_fails_the_workflow() -> None:
    run = testing.run_until_idle(
        parsing.workflow(REVERSE),
        params={"task_name": "report"},
        script={"index": [testing.Fail("no index")]},
    )

    assert run.workflow.state == State.ERROR
    assert run.task("index").state == State.ERROR
    assert "report" not in run.task_names()
    assert (run.workflow.state_info or "").startswith("Failure caused by error in tasks: index\n")


def test_reverse_needs_a_known_task_name() -> None:
    spec = parsing.workflow(REVERSE)
    with pytest.raises(errors.InputError, match="Invalid task name"):
        testing.run_until_idle(spec, params={"task_name": "nope"})
    with pytest.raises(errors.InputError, match="Invalid task name"):
        testing.run_until_idle(spec)

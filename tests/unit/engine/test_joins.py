"""Joins: all, N and one; failures when an inbound task can no longer trigger; contexts."""

from __future__ import annotations

from sirocco import testing
from sirocco.engine import index, states
from sirocco.engine.states import State

from . import parsing

FAN_OUT = """
version: '2.0'
wf:
  output:
    collected: <% $.collected %>
  tasks:
    fork:
      action: std.noop
      on-success: [left, middle, right]
    left:
      action: std.echo output="L"
      publish:
        l: <% task().result %>
      on-success: merge
    middle:
      action: std.noop
      publish:
        m: M
      on-success: merge
    right:
      action: std.echo output="R"
      publish:
        r: <% task().result %>
      on-success: merge
    merge:
      join: all
      action: std.echo
      input:
        output: <% [$.l, $.m, $.r] %>
      publish:
        collected: <% task().result %>
"""


def test_join_all_waits_for_every_branch_and_merges_contexts() -> None:
    spec = parsing.workflow(FAN_OUT)
    run = testing.run_until_idle(spec, script={"left": [testing.Hold()]})
    merge = run.task("merge")
    assert merge.state == State.WAITING
    assert merge.state_info == "Task is waiting."
    driver = run.driver
    assert driver is not None
    driver.complete_action(run.actions_of(run.task("left"))[0].id, "L")

    assert run.workflow.state == State.SUCCESS
    assert run.workflow.output == {"collected": ["L", "M", "R"]}
    assert run.task_names().count("merge") == 1
    merge = run.task("merge")
    assert len(merge.triggered_by) == 3
    assert {t["event"] for t in merge.runtime.triggered_by or ()} == {"on-success"}


def test_join_all_fails_when_an_inbound_task_does_not_trigger_it() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    fork:
      action: std.noop
      on-success: [a, b]
    a:
      action: std.noop
      on-success: j
    b:
      action: std.fail
      on-success: j
      on-error: noop
    j:
      join: all
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)

    join = run.task("j")
    assert join.state == State.ERROR
    assert join.state_info == "Failed by tasks: ['b']"
    assert run.workflow.state == State.ERROR
    assert "j [task_ex_id=" in (run.workflow.state_info or "")


def test_join_fails_on_impossible_route() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    start:
      action: std.noop
      on-success:
        - a
        - b: <% false %>
    a:
      action: std.noop
      on-success: j
    b:
      action: std.noop
      on-success: c
    c:
      action: std.noop
      on-success: j
    j:
      join: all
      action: std.noop
      on-error: noop
"""
    )
    run = testing.run_until_idle(spec)

    assert run.task("j").state == State.ERROR
    assert run.task("j").state_info == "Failed by tasks: ['c']"
    assert run.workflow.state == State.SUCCESS


def test_partial_join_runs_once_with_enough_inbound_tasks() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t1:
      action: std.noop
      publish:
        r1: 1
      on-complete: t4
    t2:
      action: std.noop
      publish:
        r2: 2
      on-complete: t4
    t3:
      action: std.noop
      publish:
        r3: 3
      on-complete: t4
    t4:
      join: 2
      action: std.echo
      input:
        output: <% [$.get(r1), $.get(r2), $.get(r3)] %>
"""
    )
    run = testing.run_until_idle(spec, batch=False)

    assert run.workflow.state == State.SUCCESS
    assert run.task_names().count("t4") == 1
    result = run.task("t4").result
    assert sum(1 for value in result if value is not None) >= 2


def test_discriminator_runs_once_when_inbound_tasks_finish_together() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t1:
      action: std.noop
      on-complete: t4
    t2:
      action: std.noop
      on-complete: t4
    t3:
      action: std.noop
      on-complete: t4
    t4:
      join: one
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec, batch=False)

    assert run.task_names().count("t4") == 1
    assert len(run.actions_of(run.task("t4"))) == 1
    assert run.workflow.state == State.SUCCESS


def test_completed_join_runs_again_in_the_same_execution() -> None:
    # Mistral 23 (oracle): one execution of t4, one action per inbound task.
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    t1:
      action: std.noop
      on-complete: t4
    t2:
      action: std.sleep seconds=1
      on-complete: t4
    t3:
      action: std.sleep seconds=2
      on-complete: t4
    t4:
      join: one
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.SUCCESS
    assert run.task_names().count("t4") == 1
    t4 = run.task("t4")
    assert len(run.actions_of(t4)) == 3
    assert t4.result == [None, None, None]


def test_join_context_versioning_later_publish_wins() -> None:
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  output:
    x: <% $.x %>
  tasks:
    start:
      action: std.noop
      publish:
        x: start
      on-success: [a, b]
    a:
      action: std.noop
      on-success: j
    b:
      action: std.noop
      publish:
        x: from-b
      on-success: j
    j:
      join: all
      action: std.noop
"""
    )
    run = testing.run_until_idle(spec)

    # b published x after start did: its version is higher, whatever the order.
    assert run.workflow.output == {"x": "from-b"}


def test_join_in_a_cycle_accumulates_in_one_execution() -> None:
    # Mistral 23 (oracle): one execution of j, two actions, result [0, 1].
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    init:
      action: std.noop
      publish:
        i: 0
      on-success: [a, b]
    a:
      action: std.noop
      on-success: j
    b:
      action: std.noop
      on-success: j
    j:
      join: all
      action: std.echo output=<% $.i %>
      publish:
        i: <% $.i + 1 %>
      on-success:
        - again: <% $.i < 2 %>
    again:
      action: std.noop
      on-success: [a, b]
"""
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.SUCCESS
    assert run.task_names().count("j") == 1
    j = run.task("j")
    assert len(run.actions_of(j)) == 2
    assert j.result == [0, 1]
    assert j.published == {"i": 2}
    assert run.workflow.output == {"i": 2}


def _recounted(run: testing.Run, join: str) -> index.Inbound:
    """The join's inbound counts, found by looking at each inbound task."""
    snapshot = run.snapshots[run.workflow.id]
    started = triggered = refused = 0
    for name in snapshot.workflow.spec.inbound[join]:
        latest = snapshot.tasks.latest_of(name)
        if latest is None:
            continue
        started += 1
        if states.is_completed(latest.state):
            if join in dict(latest.next_tasks):
                triggered += 1
            else:
                refused += 1
    return index.Inbound(started, triggered, refused)


def test_the_index_counts_what_inbound_tasks_say_about_their_join_step_by_step() -> None:
    """The join's check reads counts kept task by task (so that N inbound tasks completing
    one at a time cost N, not N²): after every step they equal a count from scratch, with
    branches that trigger the join, fail without choosing it, run again in a cycle."""
    spec = parsing.workflow(
        """
version: '2.0'
wf:
  tasks:
    init:
      action: std.noop
      publish:
        i: 0
      on-success: [a, b, c]
    a:
      action: std.noop
      on-success: j
    b:
      action: std.noop
      on-success: j
    c:
      action: std.noop
      on-success: j
      on-error: handled
    handled:
      action: std.noop
    j:
      join: 2
      action: std.echo output=<% $.i %>
      publish:
        i: <% $.i + 1 %>
      on-success:
        - again: <% $.i < 2 %>
    again:
      action: std.noop
      on-success: [a, b]
"""
    )
    held = testing.Hold()
    run = testing.run_until_idle(
        spec, script={"a": [held, held], "b": [held, held], "c": [testing.Fail("no")]}
    )
    driver = run.driver
    assert driver is not None
    seen = [run.snapshots[run.workflow.id].tasks.join_inbound("j")]
    assert seen[0] == _recounted(run, "j") == index.Inbound(started=3, triggered=0, refused=1)
    for _ in range(2):
        for name in ("a", "b"):
            [action] = run.actions_of(run.task(name))[-1:]
            driver.complete_action(action.id)
            counted = run.snapshots[run.workflow.id].tasks.join_inbound("j")
            assert counted == _recounted(run, "j")
            seen.append(counted)
    assert run.workflow.state == State.SUCCESS
    assert run.task("j").result == [0, 1]
    assert seen[-1] == index.Inbound(started=3, triggered=2, refused=1)

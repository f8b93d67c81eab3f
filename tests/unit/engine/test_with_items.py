"""with-items: zipped lists, order, concurrency, errors, empty lists, retries and reruns."""

from __future__ import annotations

import pytest

from sirocco import testing
from sirocco.engine import commands, events, with_items
from sirocco.engine.states import State

from . import parsing


def _spec(body: str) -> str:
    return "version: '2.0'\nwf:\n" + body


def test_zipped_lists_and_index_order() -> None:
    spec = parsing.workflow(
        _spec(
            """
  input: [names, ages]
  tasks:
    t:
      with-items:
        - name in <% $.names %>
        - age in <% $.ages %>
      action: std.echo output="<% $.name %>:<% $.age %>"
      publish:
        pairs: <% task().result %>
"""
        )
    )
    run = testing.run_until_idle(spec, input={"names": ["a", "b", "c"], "ages": [1, 2, 3]})

    assert run.workflow.state == State.SUCCESS
    assert run.task("t").published == {"pairs": ["a:1", "b:2", "c:3"]}
    run_actions = [c for c in run.commands if isinstance(c, commands.RunAction)]
    assert [c.execution["with_items_index"] for c in run_actions] == [0, 1, 2]
    assert [a.index for a in run.actions_of(run.task("t"))] == [0, 1, 2]


def test_results_are_in_index_order_when_items_finish_out_of_order() -> None:
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    t:
      with-items: x in [1, 2, 3]
      action: std.echo output=<% $.x * 10 %>
"""
        )
    )
    run = testing.run_until_idle(spec, script={"t": [testing.Hold()] * 3})
    driver = run.driver
    assert driver is not None
    first, second, third = run.actions_of(run.task("t"))
    driver.complete_action(third.id, 30)
    driver.complete_action(first.id, 10)
    assert run.task("t").state == State.RUNNING
    driver.complete_action(second.id, 20)

    assert run.task("t").state == State.SUCCESS
    assert run.task("t").result == [10, 20, 30]


def test_unequal_lists_fail_the_task_and_workflow() -> None:
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    t:
      with-items:
        - x in [1, 2]
        - y in [1]
      action: std.noop
      on-error: handler
    handler:
      action: std.noop
"""
        )
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.ERROR
    assert "All arrays must have the same length." in (run.workflow.state_info or "")
    assert (run.workflow.state_info or "").startswith(
        "Failed to run task [error=Wrong input format"
    )
    assert run.task_names() == ["t"]


def test_empty_list_succeeds_with_empty_result() -> None:
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    t:
      with-items: x in <% [] %>
      action: std.echo output=<% $.x %>
      publish:
        r: <% task().result %>
      on-success: after
    after:
      action: std.noop
"""
        )
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.SUCCESS
    assert run.task("t").result == []
    assert run.task("t").published == {"r": []}
    assert run.actions_of(run.task("t")) == []
    assert run.task_names() == ["t", "after"]


def test_concurrency_limits_running_items() -> None:
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    t:
      with-items: x in [1, 2, 3, 4, 5]
      concurrency: 2
      action: std.echo output=<% $.x %>
"""
        )
    )
    run = testing.run_until_idle(spec, script={"t": [testing.Hold()] * 5})
    driver = run.driver
    assert driver is not None

    seen_running = []
    while run.running_actions():
        running = run.running_actions()
        seen_running.append(len(running))
        driver.complete_action(running[0].id, "ok")

    assert max(seen_running) == 2
    assert len(run.actions_of(run.task("t"))) == 5
    assert run.task("t").state == State.SUCCESS
    assert run.task("t").runtime.concurrency == 2


def test_error_in_one_item_fails_only_after_all_items_finish() -> None:
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    t:
      with-items: x in [1, 2, 3]
      action: std.echo output=<% $.x %>
"""
        )
    )
    run = testing.run_until_idle(spec, script={"t": [testing.Hold()] * 3})
    driver = run.driver
    assert driver is not None
    first, second, third = run.actions_of(run.task("t"))
    driver.complete_action(first.id, "bad", state=State.ERROR)
    assert run.task("t").state == State.RUNNING
    driver.complete_action(second.id, 2)
    driver.complete_action(third.id, 3)

    task = run.task("t")
    assert task.state == State.ERROR
    assert task.state_info == "One or more actions had failed."
    assert task.result == ["bad", 2, 3]
    assert run.workflow.state == State.ERROR


def test_cancelled_item_cancels_task_and_workflow() -> None:
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    t:
      with-items: x in [1, 2]
      action: std.noop
"""
        )
    )
    run = testing.run_until_idle(spec, script={"t": [testing.Cancel(), testing.Hold()]})

    assert run.task("t").state == State.CANCELLED
    assert run.task("t").state_info == "One or more actions was cancelled."
    assert run.workflow.state == State.CANCELLED
    assert run.workflow.state_info == "Cancelled tasks: t"
    assert run.workflow.output == {"result": "Cancelled tasks: t"}


def test_item_variable_is_hidden_by_branch_variable_of_same_name() -> None:
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    first:
      action: std.noop
      publish:
        x: from-branch
      on-success: t
    t:
      with-items: x in [1, 2]
      action: std.echo output=<% $.x %>
"""
        )
    )
    run = testing.run_until_idle(spec)

    assert run.task("t").result == ["from-branch", "from-branch"]


def test_with_items_retry_reruns_all_items() -> None:
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    t:
      with-items: x in [1, 2]
      action: std.echo output=<% $.x %>
      retry:
        count: 1
        delay: 2
"""
        )
    )
    run = testing.run_until_idle(spec, script={"t": [1, testing.Fail("boom"), 1, 2]})

    task = run.task("t")
    assert task.state == State.SUCCESS
    assert task.result == [1, 2]
    actions = run.actions_of(task)
    assert len(actions) == 4
    assert [a.accepted for a in actions] == [False, False, True, True]


def test_rerun_without_reset_runs_only_failed_items() -> None:
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    t:
      with-items: x in [1, 2, 3]
      action: std.echo output=<% $.x %>
"""
        )
    )
    run = testing.run_until_idle(spec, script={"t": [1, testing.Fail("bad"), 3]})
    assert run.workflow.state == State.ERROR
    driver = run.driver
    assert driver is not None

    driver.send(
        events.RerunTask(
            workflow_execution_id=run.workflow.id,
            task_execution_id=run.task("t").id,
            reset=False,
        )
    )

    task = run.task("t")
    assert run.workflow.state == State.SUCCESS
    assert task.state == State.SUCCESS
    assert task.result == [1, 2, 3]
    actions = run.actions_of(task)
    assert len(actions) == 4
    assert [(a.index, a.accepted) for a in actions] == [(0, True), (1, False), (2, True), (1, True)]


def test_with_items_over_a_subworkflow() -> None:
    found = parsing.workflows(
        """
version: '2.0'
parent:
  tasks:
    t:
      with-items: x in [1, 2, 3]
      workflow: child
      input:
        value: <% $.x %>
      publish:
        outs: <% task().result.select($.doubled) %>
child:
  input: [value]
  output:
    doubled: <% $.value * 2 %>
  tasks:
    noop:
      action: std.noop
"""
    )
    run = testing.run_until_idle(found["parent"], workflows=found.values())

    assert run.workflow.state == State.SUCCESS
    task = run.task("t")
    assert task.type == "WORKFLOW"
    assert task.published == {"outs": [2, 4, 6]}
    children = run.children_of(task)
    assert sorted(child.params["index"] for child in children) == [0, 1, 2]
    assert all(child.root_execution_id == run.workflow.id for child in children)


def test_keep_result_false_hides_result_after_publish() -> None:
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    big:
      action: std.test_dict size=2 key_prefix="k_" val="v"
      keep-result: false
      publish:
        from_publish: <% task().result %>
      on-success: look
    look:
      action: std.echo output=<% task(big).result %>
"""
        )
    )
    run = testing.run_until_idle(spec)

    assert run.task("big").published == {"from_publish": {"k_0": "v", "k_1": "v"}}
    assert run.task("big").result is None
    assert run.task("look").result is None
    assert run.actions_of(run.task("big"))[0].output is None


def _chunks_started(run: testing.Run) -> list[int]:
    """How many items each step started: RunActions between two ``more`` timers."""
    chunks = [0]
    for command in run.commands:
        if isinstance(command, commands.RunAction):
            chunks[-1] += 1
        elif isinstance(command, commands.ScheduleTimer) and command.event.purpose == "more":
            chunks.append(0)
    return chunks


def test_items_start_a_chunk_per_step_and_end_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(with_items, "ITEMS_PER_STEP", 3)
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    t:
      with-items: x in <% range(7) %>
      action: std.echo output=<% $.x * 10 %>
      publish:
        r: <% task().result %>
"""
        )
    )
    run = testing.run_until_idle(spec)

    assert _chunks_started(run) == [3, 3, 1]
    assert run.workflow.state == State.SUCCESS
    assert run.task("t").published == {"r": [0, 10, 20, 30, 40, 50, 60]}
    assert [action.index for action in run.actions_of(run.task("t"))] == list(range(7))


def test_a_chunk_never_passes_the_concurrency(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(with_items, "ITEMS_PER_STEP", 3)
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    t:
      with-items: x in <% range(10) %>
      concurrency: 4
      action: std.echo output=<% $.x %>
"""
        )
    )
    run = testing.run_until_idle(spec, script={"t": [testing.Hold()] * 10})
    driver = run.driver
    assert driver is not None
    assert len(run.running_actions()) == 4  # 3 in the first step, 1 by the timer
    seen_running = []
    while run.running_actions():
        running = run.running_actions()
        seen_running.append(len(running))
        driver.complete_action(running[0].id, "ok")

    assert max(seen_running) == 4
    assert run.task("t").state == State.SUCCESS
    assert len(run.actions_of(run.task("t"))) == 10


def test_cancelling_between_chunks_starts_no_more_items(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(with_items, "ITEMS_PER_STEP", 2)
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    t:
      with-items: x in <% range(6) %>
      action: std.echo output=<% $.x %>
"""
        )
    )
    run = testing.run_until_idle(
        spec, script={"t": [testing.Hold()] * 6}, until=lambda run: len(run.actions) == 2
    )
    driver = run.driver
    assert driver is not None
    driver.send(
        events.StopWorkflow(workflow_execution_id=run.root_id, state=State.CANCELLED, message="no")
    )

    assert run.workflow.state == State.CANCELLED
    assert len(run.actions_of(run.task("t"))) == 2  # the 'more' timer started nothing


def test_a_rerun_of_failed_items_streams_them_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(with_items, "ITEMS_PER_STEP", 2)
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    t:
      with-items: x in <% range(5) %>
      action: std.echo output=<% $.x %>
"""
        )
    )
    failures = [testing.Fail("bad"), 1, testing.Fail("bad"), 3, testing.Fail("bad")]
    run = testing.run_until_idle(spec, script={"t": failures})
    assert run.task("t").state == State.ERROR
    driver = run.driver
    assert driver is not None
    driver.send(
        events.RerunTask(
            workflow_execution_id=run.root_id, task_execution_id=run.task("t").id, reset=False
        )
    )

    task = run.task("t")
    assert task.state == State.SUCCESS
    assert task.result == [0, 1, 2, 3, 4]
    assert sorted(a.index for a in run.actions_of(task) if a.accepted) == [0, 1, 2, 3, 4]


def _gather_steps(run: testing.Run) -> int:
    """How many ``continue`` timers the run scheduled (one per step of the gather)."""
    return sum(
        1
        for command in run.commands
        if isinstance(command, commands.ScheduleTimer) and command.event.purpose == "continue"
    )


def test_results_are_gathered_a_chunk_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(with_items, "GATHER_PER_STEP", 3)
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    t:
      with-items:
        - x in <% range(8) %>
        - y in <% range(8).select($ * 2) %>
      action: std.echo output=<% [$.x, $.y] %>
      publish:
        r: <% task().result %>
"""
        )
    )
    run = testing.run_until_idle(spec)

    assert run.workflow.state == State.SUCCESS
    assert run.task("t").published == {"r": [[x, 2 * x] for x in range(8)]}
    # Indexes 0-2, 3-5, 6-7 (joined), then the step that completes the task.
    assert _gather_steps(run) == 4


def test_a_gather_in_chunks_takes_the_newest_result_of_an_item_run_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(with_items, "GATHER_PER_STEP", 2)
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    t:
      with-items: x in <% range(5) %>
      action: std.echo output=<% $.x %>
"""
        )
    )
    run = testing.run_until_idle(spec, script={"t": [0, testing.Fail("bad"), 2, 3, 4]})
    assert run.task("t").state == State.ERROR
    assert len(run.task("t").result) == 5
    driver = run.driver
    assert driver is not None
    before = _gather_steps(run)
    driver.send(
        events.RerunTask(
            workflow_execution_id=run.root_id, task_execution_id=run.task("t").id, reset=False
        )
    )

    assert run.task("t").state == State.SUCCESS
    assert run.task("t").result == [0, 1, 2, 3, 4]
    assert _gather_steps(run) - before == 4  # 0-1, 2-3, 4 (joined), the completion


def test_a_gather_whose_read_part_was_lost_reads_everything_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Another engine, a restart or a rolled-back batch: the results read so
    # far are not in this snapshot; the next step reads them all, so the
    # gather always ends.
    monkeypatch.setattr(with_items, "GATHER_PER_STEP", 2)
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    t:
      with-items: x in <% range(7) %>
      action: std.echo output=<% $.x %>
"""
        )
    )
    run = testing.run_until_idle(spec, until=lambda run: _gather_steps(run) == 2)
    snapshot = run.snapshots[run.root_id]
    assert snapshot.gathered  # one chunk read, kept for the next step
    snapshot.gathered.clear()
    driver = run.driver
    assert driver is not None
    driver.loop()

    assert run.task("t").state == State.SUCCESS
    assert run.task("t").result == list(range(7))
    assert _gather_steps(run) == 2
    assert not snapshot.gathered


def test_a_timeout_during_the_gather_ends_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(with_items, "GATHER_PER_STEP", 2)
    spec = parsing.workflow(
        _spec(
            """
  tasks:
    t:
      with-items: x in <% range(7) %>
      action: std.echo output=<% $.x %>
      timeout: 100
"""
        )
    )
    run = testing.run_until_idle(spec, until=lambda run: _gather_steps(run) == 2)
    task = run.task("t")
    assert task.state == State.RUNNING
    driver = run.driver
    assert driver is not None
    driver.send(
        events.TimerFired(
            workflow_execution_id=run.root_id,
            task_execution_id=task.id,
            purpose="timeout",
            token=(task.runtime.timers or {})["timeout"],
        )
    )

    task = run.task("t")
    assert task.state == State.ERROR
    assert task.state_info == "Task timed out [timeout(s)=100]."
    assert task.result == list(range(7))
    assert _gather_steps(run) == 2  # the pending 'continue' changed nothing
    assert not run.snapshots[run.root_id].gathered


@pytest.mark.parametrize("concurrency", [0, 1])
def test_pausing_between_chunks_keeps_starting_items_as_mistral_does(
    monkeypatch: pytest.MonkeyPatch, concurrency: int
) -> None:
    # Mistral 23 (the oracle, concurrency 1 and none): a paused workflow's
    # with-items task goes on starting its items, and ends SUCCESS while the
    # workflow is PAUSED; only the task after it waits for the resume.
    monkeypatch.setattr(with_items, "ITEMS_PER_STEP", 2)
    limit = f"\n      concurrency: {concurrency}" if concurrency else ""
    spec = parsing.workflow(
        _spec(
            f"""
  tasks:
    each:
      with-items: x in <% range(6) %>{limit}
      action: std.echo output=<% $.x %>
      on-success: after
    after:
      action: std.noop
"""
        )
    )
    run = testing.run_until_idle(
        spec, script={"each": [testing.Hold()] * 6}, until=lambda run: len(run.actions) >= 1
    )
    assert len(run.actions) == (concurrency or with_items.ITEMS_PER_STEP)  # the first chunk
    driver = run.driver
    assert driver is not None
    driver.send(events.PauseWorkflow(workflow_execution_id=run.root_id))
    assert run.workflow.state == State.PAUSED

    while run.running_actions():
        first = min(run.running_actions(), key=lambda action: action.index)
        driver.complete_action(first.id, first.index * 10)
        assert run.workflow.state == State.PAUSED

    each = run.task("each")
    assert len(run.actions_of(each)) == 6
    assert each.state == State.SUCCESS
    assert each.result == [0, 10, 20, 30, 40, 50]
    assert run.task_names() == ["each"]

    driver.send(events.ResumeWorkflow(workflow_execution_id=run.root_id))
    assert run.workflow.state == State.SUCCESS
    assert run.task_names() == ["each", "after"]

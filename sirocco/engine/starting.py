"""Starting a task under its policies: RUNNING, before-start policies, then its work.

A new task goes RUNNING and its before-start policies run (they may pause,
delay or time it); if it is still RUNNING its work is scheduled: the
items of a with-items task, a sub-workflow, or one action. An existing
task runs again the same way after a delay, a retry, a resume or a rerun.
"""

from __future__ import annotations

from typing import Any

from sirocco.engine import (
    action_resolution,
    dataflow,
    evaluation,
    policies,
    records,
    running,
    task_completion,
    tasks,
    with_items,
)
from sirocco.engine.draft import Draft
from sirocco.engine.states import State


def start_new(draft: Draft, task: records.TaskExecution) -> None:
    """Start a freshly created task: RUNNING, before-start policies, schedule."""
    task = draft.current(task)
    if task.state != State.IDLE:
        return

    task_spec = draft.spec.tasks[task.name]

    def work() -> None:
        plain = not task_spec.is_with_items and not task_spec.workflow
        if plain and policies.evaluates_nothing(task_spec.policies):
            # No before-start policy can change or fail it: going RUNNING and counting
            # the first attempt are one copy of the record.
            _schedule_action(draft, task, state=State.RUNNING, started_at=draft.now)
            return
        started = draft.change_task(task, state=State.RUNNING, started_at=draft.now)
        policies.before_start(draft, started)
        if draft.current(started).state == State.RUNNING:
            schedule(draft, draft.current(started))

    tasks.guarded(draft, task, tasks.RUN_FAILED, work)


def run_existing(
    draft: Draft, task: records.TaskExecution, *, rerun: bool = False, reset: bool = True
) -> None:
    """Run an existing task again: after a delay, a retry, a resume or a rerun."""
    task = draft.current(task)
    if task.state == State.SUCCESS and not rerun:
        return

    def work() -> None:
        changes: dict[str, Any] = {"state": State.RUNNING, "state_info": None, "processed": False}
        if task.state in (State.IDLE, State.WAITING) or rerun:
            changes["started_at"] = draft.now
        if rerun:
            changes["finished_at"] = None
        started = draft.change_task(task, **changes)
        if rerun:
            policies.before_start(draft, started)
            started = draft.current(started)
            if started.state != State.RUNNING:
                return
            _reset_actions(draft, started, reset=reset)
        schedule(draft, draft.current(started))

    tasks.guarded(draft, task, tasks.RUN_FAILED, work)


def _reset_actions(draft: Draft, task: records.TaskExecution, *, reset: bool) -> None:
    for action in draft.task_actions(task.id):
        if not action.accepted:
            continue
        if reset or action.state in (State.ERROR, State.CANCELLED):
            draft.change_action(action, accepted=False)


def schedule(draft: Draft, task: records.TaskExecution) -> None:
    """Schedule the task's action(s) or sub-workflow(s). Raises on structural errors."""
    task_spec = draft.spec.tasks[task.name]
    if task_spec.is_with_items:
        with_items.schedule(draft, task)
    elif task_spec.workflow:
        task, _ = tasks.next_attempt(draft, task)
        data = evaluation.task_data(draft, task)
        running.start_subworkflow(draft, task, data, index=0)
    else:
        _schedule_action(draft, task)


#: The data of a task whose action's name, input and safe-rerun hold no expression.
_NO_DATA: evaluation.DataLayers = dataflow.chain({})


def _schedule_action(draft: Draft, task: records.TaskExecution, **starting: Any) -> None:
    """Run the task's one action: its next attempt (with ``starting``, the changes of a
    task that starts now, in the same copy), its input, the action execution."""
    task, attempt = tasks.next_attempt(draft, task, **starting)
    task_spec = draft.spec.tasks[task.name]
    # The data is read only by the expressions of the action's name, input and safe-rerun
    # (``plan_action``, ``action_input``): none, none to build.
    evaluated = (task_spec.action, task_spec.input, task_spec.safe_rerun)
    data = (
        evaluation.task_data(draft, task)
        if evaluation.may_hold_expression(evaluated)
        else _NO_DATA
    )
    try:
        plan = running.plan_action(draft, task, data)
    except action_resolution.ExpansionError as error:
        task_completion.complete(draft, task, State.ERROR, error.message)
        return
    running.run_action(
        draft, task, plan, running.action_input(draft, task, data), index=0, attempt=attempt
    )

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
    evaluation,
    policies,
    records,
    running,
    task_completion,
    tasks,
    with_items,
)
from sirocco.engine.states import State
from sirocco.engine.step import Step


def start_new(step: Step, task: records.TaskExecution) -> None:
    """Start a freshly created task: RUNNING, before-start policies, schedule."""
    task = step.current(task)
    if task.state != State.IDLE:
        return

    def work() -> None:
        started = step.change_task(task, state=State.RUNNING, started_at=step.now)
        policies.before_start(step, started)
        if step.current(started).state == State.RUNNING:
            schedule(step, step.current(started))

    tasks.guarded(step, task, tasks.RUN_FAILED, work)


def run_existing(
    step: Step, task: records.TaskExecution, *, rerun: bool = False, reset: bool = True
) -> None:
    """Run an existing task again: after a delay, a retry, a resume or a rerun."""
    task = step.current(task)
    if task.state == State.SUCCESS and not rerun:
        return

    def work() -> None:
        changes: dict[str, Any] = {"state": State.RUNNING, "state_info": None, "processed": False}
        if task.state in (State.IDLE, State.WAITING) or rerun:
            changes["started_at"] = step.now
        if rerun:
            changes["finished_at"] = None
        started = step.change_task(task, **changes)
        if rerun:
            policies.before_start(step, started)
            started = step.current(started)
            if started.state != State.RUNNING:
                return
            _reset_actions(step, started, reset=reset)
        schedule(step, step.current(started))

    tasks.guarded(step, task, tasks.RUN_FAILED, work)


def _reset_actions(step: Step, task: records.TaskExecution, *, reset: bool) -> None:
    for action in step.task_actions(task.id):
        if not action.accepted:
            continue
        if reset or action.state in (State.ERROR, State.CANCELLED):
            step.change_action(action, accepted=False)


def schedule(step: Step, task: records.TaskExecution) -> None:
    """Schedule the task's action(s) or sub-workflow(s). Raises on structural errors."""
    task_spec = step.spec.tasks[task.name]
    if task_spec.is_with_items:
        with_items.schedule(step, task)
    elif task_spec.workflow:
        task, attempt = tasks.next_attempt(step, task)
        data = evaluation.task_data(step, task)
        running.start_subworkflow(step, task, data, index=0)
    else:
        task, attempt = tasks.next_attempt(step, task)
        data = evaluation.task_data(step, task)
        try:
            plan = running.plan_action(step, task, data)
        except action_resolution.ExpansionError as error:
            task_completion.complete(step, task, State.ERROR, error.message)
            return
        running.run_action(
            step, task, plan, running.action_input(step, task, data), index=0, attempt=attempt
        )

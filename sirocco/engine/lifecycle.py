"""Operator actions on a running workflow: pause, resume, rerun a task, skip a task.

Pausing cascades into running sub-workflows (through events) and parks
the commands that would run next in the workflow's backlog; resuming
replays them, runs tasks left IDLE by ``pause-before`` and the transitions
of tasks that completed meanwhile. A rerun or a skip brings a failed (or
cancelled) workflow back to RUNNING, and its parents with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sirocco import errors
from sirocco.engine import (
    commands,
    completion,
    dispatch,
    events,
    joins,
    publishing,
    records,
    tasks,
    with_items,
)
from sirocco.engine.states import State
from sirocco.engine.step import Step, message_of


def pause_workflow(step: Step, message: str | None) -> None:
    """Pause the workflow (and, through events, its running sub-workflows)."""
    workflow = step.workflow
    if workflow.state == State.PAUSED:
        return
    if workflow.state != State.RUNNING:
        step.problem(f"Can't pause a workflow execution in state {workflow.state}.")
        return
    for child_id in completion.children(step):
        step.emit(commands.SendEvent(event=events.PauseWorkflow(workflow_execution_id=child_id)))
    step.change_workflow(state=State.PAUSED, state_info=message)
    _notify_paused(step, paused=True)


def resume_workflow(step: Step, env: Mapping[str, Any] | None) -> None:
    """Resume a paused workflow: run what the pause held back."""
    workflow = step.workflow
    if workflow.state not in (State.PAUSED, State.IDLE):
        return
    update_env(step, env)
    for child_id in completion.children(step):
        step.emit(commands.SendEvent(event=events.ResumeWorkflow(workflow_execution_id=child_id)))
    step.change_workflow(state=State.RUNNING, state_info=None)
    held: list[dispatch.Command] = [
        dispatch.Command(name=task.name, existing=task.id)
        for task in _tasks_in(step, step.tasks.idle)
    ]
    completed = _tasks_in(step, step.tasks.unprocessed)
    for task in completed:
        try:
            found = dispatch.next_commands(step, task)
        except errors.SiroccoError as error:
            tasks.force_fail_task(
                step,
                task,
                tasks.COMPLETE_FAILED.format(
                    error=message_of(error), wf=workflow.workflow_name, task=task.name
                ),
            )
            return
        held.extend(command for command in found if command.name != "pause")
        step.change_task(task, processed=True)
    if held or step.workflow.runtime.get(dispatch.BACKLOG_KEY):
        dispatch.dispatch(step, held)
    for task in completed:
        dispatch.refresh_joins(step, task)
    _notify_paused(step, paused=False)


def _tasks_in(step: Step, members: Mapping[str, None]) -> list[records.TaskExecution]:
    found = [step.task(task_id) for task_id in list(members)]
    return sorted((task for task in found if task is not None), key=lambda task: task.seq)


def _notify_paused(step: Step, *, paused: bool) -> None:
    workflow = step.workflow
    if workflow.task_execution_id:
        step.emit(
            commands.NotifyParent(
                event=events.SubworkflowPaused(
                    workflow_execution_id=str(workflow.runtime.get(completion.PARENT_KEY) or ""),
                    task_execution_id=workflow.task_execution_id,
                    subworkflow_execution_id=workflow.id,
                    paused=paused,
                )
            )
        )


def update_env(step: Step, env: Mapping[str, Any] | None) -> None:
    """Deep-merge a new ``env`` into ``params.env`` (IDLE, PAUSED or ERROR only)."""
    if not env:
        return
    workflow = step.workflow
    if workflow.state not in (State.IDLE, State.PAUSED, State.ERROR):
        step.problem(
            "Updating env to workflow execution is only permitted if it is in IDLE, "
            "PAUSED, or ERROR state."
        )
        return
    if records.ROOT_ENV in workflow.runtime:
        runtime = dict(workflow.runtime)
        runtime[records.ROOT_ENV] = publishing.merge_dicts(dict(workflow.env), env)
        step.change_workflow(runtime=runtime)
        return
    params = dict(workflow.params)
    params["env"] = publishing.merge_dicts(dict(workflow.env), env)
    step.change_workflow(params=params)


# Rerun and skip.


def rerun_task(step: Step, event: events.RerunTask) -> None:
    """Run a failed (or cancelled) task again; the workflow runs again too."""
    task = step.task(event.task_execution_id)
    if task is None or step.workflow.state == State.PAUSED:
        step.problem(f"Can't rerun task execution {event.task_execution_id}.")
        return
    if task.state not in (State.ERROR, State.CANCELLED):
        step.problem(f"Can't rerun task execution {task.id} in state {task.state}.")
        return
    update_env(step, event.env)
    run_again(step)
    task_spec = step.spec.tasks[task.name]
    queue = None
    if task_spec.is_with_items and not event.reset:
        queue = with_items.partial_rerun_queue(step, task)
    task = tasks.clear_runtime(step, task)
    if queue is not None:
        runtime = dict(task.runtime)
        runtime[with_items.RERUN_KEY] = queue
        task = step.change_task(task, runtime=runtime)
    if task_spec.is_join:
        task = step.change_task(task, state=State.WAITING, state_info=joins.WAITING_INFO)
        step.enqueue("join", task.id)
        return
    tasks.run_existing(step, step.current(task), rerun=True, reset=event.reset)


def skip_task(step: Step, event: events.SkipTask) -> None:
    """Skip a failed task: SKIPPED, ``publish-on-skip``, then ``on-skip`` or ``on-success``."""
    task = step.task(event.task_execution_id)
    if task is None or step.workflow.state == State.PAUSED or task.state != State.ERROR:
        step.problem(f"Can't skip task execution {event.task_execution_id}.")
        return
    run_again(step)
    task = tasks.clear_runtime(step, task)
    tasks.guarded(
        step,
        task,
        tasks.COMPLETE_FAILED,
        lambda: tasks.complete(step, task, State.SKIPPED, "Task was skipped.", skip=True),
    )


def run_again(step: Step) -> None:
    workflow = step.workflow
    if workflow.state != State.RUNNING:
        step.change_workflow(state=State.RUNNING, state_info=None)
    if workflow.task_execution_id:
        step.emit(
            commands.NotifyParent(
                event=events.SubworkflowRerun(
                    workflow_execution_id=str(workflow.runtime.get(completion.PARENT_KEY) or ""),
                    task_execution_id=workflow.task_execution_id,
                    subworkflow_execution_id=workflow.id,
                )
            )
        )

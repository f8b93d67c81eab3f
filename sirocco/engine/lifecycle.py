"""Operator actions on a workflow: resume, rerun a task, skip a task, update its env.

Pausing is ``workflow_state.pause_workflow`` (policies and transitions pause
too). Resuming replays the commands a pause parked in the workflow's
backlog, runs tasks left IDLE by ``pause-before`` and the transitions of
tasks that completed meanwhile. A rerun or a skip brings a failed (or
cancelled) workflow back to RUNNING, and its parents with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sirocco import errors
from sirocco.engine import (
    commands,
    events,
    joins,
    publishing,
    records,
    starting,
    task_completion,
    tasks,
    transitions,
    with_items,
    workflow_state,
)
from sirocco.engine.draft import Draft, message_of
from sirocco.engine.states import State


def resume_workflow(draft: Draft, env: Mapping[str, Any] | None) -> None:
    """Resume a paused workflow: run what the pause held back."""
    workflow = draft.workflow
    if workflow.state not in (State.PAUSED, State.IDLE):
        return
    update_env(draft, env)
    for child_id in workflow_state.children(draft):
        draft.emit(commands.SendEvent(event=events.ResumeWorkflow(workflow_execution_id=child_id)))
    draft.change_workflow(state=State.RUNNING, state_info=None)
    held: list[transitions.WorkflowCommand] = [
        transitions.WorkflowCommand(name=task.name, existing=task.id)
        for task in _tasks_in(draft, draft.tasks.idle)
    ]
    completed = _tasks_in(draft, draft.tasks.unprocessed)
    for task in completed:
        try:
            found = transitions.next_commands(draft, task)
        except errors.SiroccoError as error:
            tasks.force_fail_task(
                draft,
                task,
                tasks.COMPLETE_FAILED.format(
                    error=message_of(error), wf=workflow.workflow_name, task=task.name
                ),
            )
            return
        held.extend(command for command in found if command.name != "pause")
        draft.change_task(task, processed=True)
    if held or draft.workflow.runtime.get(transitions.BACKLOG_KEY):
        transitions.run_commands(draft, held)
    for task in completed:
        transitions.refresh_joins(draft, task)
    workflow_state.notify_paused(draft, paused=False)


def _tasks_in(draft: Draft, members: Mapping[str, None]) -> list[records.TaskExecution]:
    found = [draft.task(task_id) for task_id in list(members)]
    return sorted((task for task in found if task is not None), key=lambda task: task.seq)


def update_env(draft: Draft, env: Mapping[str, Any] | None) -> None:
    """Deep-merge a new ``env`` into ``params.env`` (IDLE, PAUSED or ERROR only)."""
    if not env:
        return
    workflow = draft.workflow
    if workflow.state not in (State.IDLE, State.PAUSED, State.ERROR):
        draft.problem(
            "Updating env to workflow execution is only permitted if it is in IDLE, "
            "PAUSED, or ERROR state."
        )
        return
    if records.ROOT_ENV in workflow.runtime:
        runtime = dict(workflow.runtime)
        runtime[records.ROOT_ENV] = publishing.merge_dicts(dict(workflow.env), env)
        draft.change_workflow(runtime=runtime)
        return
    params = dict(workflow.params)
    params["env"] = publishing.merge_dicts(dict(workflow.env), env)
    draft.change_workflow(params=params)


# Rerun and skip.


def rerun_task(draft: Draft, event: events.RerunTask) -> None:
    """Run a failed (or cancelled) task again; the workflow runs again too."""
    task = draft.task(event.task_execution_id)
    if task is None or draft.workflow.state == State.PAUSED:
        draft.problem(f"Can't rerun task execution {event.task_execution_id}.")
        return
    if task.state not in (State.ERROR, State.CANCELLED):
        draft.problem(f"Can't rerun task execution {task.id} in state {task.state}.")
        return
    update_env(draft, event.env)
    run_again(draft)
    task_spec = draft.spec.tasks[task.name]
    queue = None
    if task_spec.is_with_items and not event.reset:
        queue = with_items.partial_rerun_queue(draft, task)
    task = tasks.clear_runtime(draft, task)
    if queue is not None:
        task = draft.change_task(task, runtime=task.runtime.but(with_items_rerun=queue))
    if task_spec.is_join:
        task = draft.change_task(task, state=State.WAITING, state_info=joins.WAITING_INFO)
        draft.enqueue("join", task.id)
        return
    starting.run_existing(draft, draft.current(task), rerun=True, reset=event.reset)


def skip_task(draft: Draft, event: events.SkipTask) -> None:
    """Skip a failed task: SKIPPED, ``publish-on-skip``, then ``on-skip`` or ``on-success``."""
    task = draft.task(event.task_execution_id)
    if task is None or draft.workflow.state == State.PAUSED or task.state != State.ERROR:
        draft.problem(f"Can't skip task execution {event.task_execution_id}.")
        return
    run_again(draft)
    task = tasks.clear_runtime(draft, task)
    tasks.guarded(
        draft,
        task,
        tasks.COMPLETE_FAILED,
        lambda: task_completion.complete(
            draft, task, State.SKIPPED, "Task was skipped.", skip=True
        ),
    )


def run_again(draft: Draft) -> None:
    workflow = draft.workflow
    if workflow.state != State.RUNNING:
        draft.change_workflow(state=State.RUNNING, state_info=None)
    if workflow.task_execution_id:
        draft.emit(
            commands.NotifyParent(
                event=events.SubworkflowRerun(
                    workflow_execution_id=str(
                        workflow.runtime.get(workflow_state.PARENT_KEY) or ""
                    ),
                    task_execution_id=workflow.task_execution_id,
                    subworkflow_execution_id=workflow.id,
                )
            )
        )

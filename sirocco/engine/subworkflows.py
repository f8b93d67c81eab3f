"""A parent's side of its sub-workflows: their results, pauses and reruns.

A sub-workflow reports to the task that started it (``NotifyParent``):
completion completes the task with the child's output (or its error, as
Mistral's ``{"result": message}``), a pause pauses the task and the
parent workflow, a resume resumes them when no other child is paused, and
a rerun of a failed child runs the parent task and workflow again.
"""

from __future__ import annotations

from collections.abc import Mapping

from sirocco.engine import (
    events,
    lifecycle,
    records,
    states,
    task_completion,
    tasks,
    with_items,
    workflow_state,
)
from sirocco.engine.draft import Draft
from sirocco.engine.states import State


def on_subworkflow_completed(draft: Draft, event: events.SubworkflowCompleted) -> None:
    task = draft.task(event.task_execution_id)
    if task is None:
        draft.problem(f"Unknown task execution {event.task_execution_id}.")
        return
    children = task.runtime.subworkflows or {}
    known = children.get(event.subworkflow_execution_id)
    if known is None or states.is_completed(task.state):
        return
    if int(known[1]) != int(task.runtime.attempt or 0):
        return  # a sub-workflow of an earlier attempt
    if event.start_failed:
        # As in Mistral 23, a sub-workflow that cannot start (not found, bad
        # input) is an ordinary task error: ``on-error`` may handle it.
        _start_failed(draft, task, event)
        return
    output = event.output
    if event.state != State.SUCCESS:
        if output is None:
            output = {"result": event.message}
        if event.state == State.ERROR:
            failed = list(task.runtime.failed_subworkflows or [])
            result = output.get("result") if isinstance(output, Mapping) else output
            failed.append([event.subworkflow_execution_id, str(result)])
            task = draft.change_task(task, runtime=task.runtime.but(failed_subworkflows=failed))
    if draft.spec.tasks[task.name].is_with_items:
        with_items.on_item_completed(draft, task, event.state)
        return
    task_completion.on_result(
        draft, task, event.state, output, str(draft.spec.tasks[task.name].workflow)
    )


def _start_failed(
    draft: Draft, task: records.TaskExecution, event: events.SubworkflowCompleted
) -> None:
    children = dict(task.runtime.subworkflows or {})
    children.pop(event.subworkflow_execution_id, None)
    task = draft.change_task(task, runtime=task.runtime.but(subworkflows=children))
    message = event.message or "Failed to start a sub-workflow."
    if draft.spec.tasks[task.name].is_with_items:
        with_items.fail_scheduling(draft, task, message)
        return
    tasks.guarded(
        draft,
        task,
        tasks.completion_failed(str(draft.spec.tasks[task.name].workflow)),
        lambda: task_completion.complete(draft, task, State.ERROR, message),
    )


def on_subworkflow_paused(draft: Draft, event: events.SubworkflowPaused) -> None:
    task = draft.task(event.task_execution_id)
    if task is None or states.is_completed(task.state):
        return
    paused_children = set(task.runtime.paused_subworkflows or ())
    if event.paused:
        paused_children.add(event.subworkflow_execution_id)
    else:
        paused_children.discard(event.subworkflow_execution_id)
    runtime = task.runtime.but(paused_subworkflows=sorted(paused_children))
    task = draft.change_task(task, runtime=runtime)
    if event.paused:
        if task.state == State.RUNNING:
            draft.change_task(task, state=State.PAUSED)
        if draft.workflow.state == State.RUNNING:
            workflow_state.pause_workflow(draft, None)
        return
    if task.state == State.PAUSED and not paused_children:
        draft.change_task(task, state=State.RUNNING)
    if draft.tasks.count(State.PAUSED) == 0 and draft.workflow.state == State.PAUSED:
        lifecycle.resume_workflow(draft, None)


def on_subworkflow_rerun(draft: Draft, event: events.SubworkflowRerun) -> None:
    task = draft.task(event.task_execution_id)
    if task is None:
        return
    if draft.workflow.state == State.SUCCESS:
        draft.problem(
            f"Can't rerun sub-workflow {event.subworkflow_execution_id}: "
            f"its parent workflow execution {draft.workflow.id} has succeeded."
        )
        return
    lifecycle.run_again(draft)
    if task.state in (State.ERROR, State.CANCELLED):
        runtime = task.runtime
        if draft.spec.tasks[task.name].is_with_items:
            runtime = with_items.child_rerun(task)
        failed = runtime.failed_subworkflows
        if failed:
            runtime = runtime.but(
                failed_subworkflows=[
                    entry for entry in failed if entry[0] != event.subworkflow_execution_id
                ]
            )
        draft.change_task(
            task,
            state=State.RUNNING,
            state_info=None,
            processed=False,
            finished_at=None,
            runtime=runtime,
        )

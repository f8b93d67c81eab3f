"""Action results: record the action execution, then let its task go on.

A result that no longer counts (its task completed, or a later attempt
started) is recorded but not accepted. Ad-hoc output transforms and the
output size limit apply before the task sees the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sirocco import errors
from sirocco.engine import (
    action_resolution,
    events,
    policies,
    sizes,
    states,
    task_completion,
    tasks,
    with_items,
)
from sirocco.engine.draft import Draft, message_of
from sirocco.engine.states import State


def on_action_completed(draft: Draft, event: events.ActionCompleted) -> None:
    """An action execution finished: record it, then let its task go on."""
    action = draft.action(event.action_execution_id)
    if action is None:
        draft.problem(f"Unknown action execution {event.action_execution_id}.")
        return
    if states.is_completed(action.state):
        return  # a duplicate result
    if event.state == State.SUCCESS:
        output = event.result
    else:
        output = event.result if event.result is not None else event.message
    task = draft.task(action.task_execution_id) if action.task_execution_id else None
    if task is not None and event.state != State.SUCCESS and policies.is_timed_out(draft, task):
        task_completion.time_out(draft, task)
        task = draft.current(task)
    stale = (
        task is None
        or states.is_completed(task.state)
        or int(task.runtime.attempt or 0) != action.attempt
        or _stopped_by_cancel(draft, event)
    )
    transforms = None if task is None else task.runtime.output_transforms
    failure: str | None = None
    if transforms and not stale:
        try:
            output = _transform(draft, transforms, output, event.state)
        except errors.SiroccoError as error:
            failure = (
                f"Failed to complete action [error={message_of(error)}, action={action.name}, "
                f"task={task.name if task else None}]"
            )
    if failure is None and not stale:
        try:
            sizes.check(draft.limits, "ActionExecution", "output", output)
        except errors.SizeLimitError as error:  # Mistral words it as a failed completion
            failure = (
                f"Failed to complete action [error={error.message}, action={action.name}, "
                f"task={task.name if task else None}]"
            )
    state = event.state if failure is None else State.ERROR
    action = draft.change_action(
        action,
        state=state,
        output=output if failure is None else failure,
        # Mistral 23 leaves an action whose result it failed to complete unaccepted.
        accepted=not stale and failure is None,
        state_info=event.message if state != State.SUCCESS else None,
    )
    if stale or task is None:
        return
    if failure is not None:
        tasks.force_fail_task(draft, task, failure)
        return
    if draft.spec.tasks[task.name].is_with_items:
        with_items.on_item_completed(draft, task, state)
        return
    task_completion.on_result(draft, task, state, output, action.name)


def _stopped_by_cancel(draft: Draft, event: events.ActionCompleted) -> bool:
    """An action that ended CANCELLED after its workflow execution was cancelled.

    Sirocco tells running actions when their execution is cancelled, so a waiting
    action (``std.sleep``) stops early. Mistral never stops them: there, the task
    stays RUNNING after the cancel. The stopped action is recorded, and its task is
    left as Mistral shows it.
    """
    return event.state == State.CANCELLED and draft.workflow.state == State.CANCELLED


def _transform(draft: Draft, transforms: Sequence[Any], output: Any, state: State) -> Any:
    if state == State.SUCCESS:
        return action_resolution.transform_output(draft, transforms, output)
    try:
        return action_resolution.transform_output(draft, transforms, output)
    except errors.SiroccoError:
        return output  # an error result keeps its data when the transform cannot apply

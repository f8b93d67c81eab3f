"""How a workflow execution changes state: completion check, final context, stop, pause.

Completion follows Mistral's ``check_and_complete``: once no task is IDLE,
WAITING, RUNNING, DELAYED or PAUSED, a cancelled task cancels the workflow,
otherwise it succeeds if every error was handled and fails if not, with
Mistral's "Failure caused by error in tasks: ..." text. Counts come from
the task index, so the check costs nothing per event. Pausing cascades into
running sub-workflows (through events) and parks the commands that would
run next in the workflow's backlog (``transitions``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sirocco import errors
from sirocco.engine import (
    commands,
    dataflow,
    evaluation,
    events,
    publishing,
    records,
    sizes,
    states,
)
from sirocco.engine.draft import Draft, message_of
from sirocco.engine.states import State

PARENT_KEY = "parent_execution_id"


def check_completion(draft: Draft) -> None:
    """Complete the workflow if no task is left unfinished."""
    workflow = draft.workflow
    if workflow.state != State.RUNNING or draft.tasks.incomplete > 0:
        return
    try:
        if draft.tasks.count(State.CANCELLED) > 0:
            names = sorted(
                task.name for task in draft.tasks.tasks.values() if task.state == State.CANCELLED
            )
            _cancel(draft, "Cancelled tasks: " + ", ".join(names))
        elif draft.tasks.unhandled_errors == 0:
            _succeed(draft, None)
        else:
            _fail(draft, failure_message(draft))
    except errors.SiroccoError as error:
        text = (
            f"Failed to check and complete [wf_ex_id={workflow.id}, "
            f"wf_name={workflow.workflow_name}]: {message_of(error)}"
        )
        _fail(draft, text)


def final_context(draft: Draft) -> dataflow.Context:
    """The merged outbound contexts of the tasks that ended their branch."""
    if draft.spec.workflow_type == "reverse":
        target = draft.tasks.latest_of(str(draft.workflow.params.get("task_name")))
        return dataflow.EMPTY_CONTEXT if target is None else draft.outbound(target)
    ends = [draft.task(task_id) for task_id in draft.tasks.end_tasks]
    found = sorted((task for task in ends if task is not None), key=lambda task: task.seq)
    # Mistral merges each batch onto its last member: the latest task wins ties.
    return dataflow.merge([draft.outbound(task) for task in found])


def failure_message(draft: Draft) -> str:
    """Mistral's "Failure caused by error in tasks: ..." text."""
    failed = sorted(
        (
            task
            for task in draft.tasks.tasks.values()
            if task.state == State.ERROR and not _has_on_error(draft, task)
        ),
        key=lambda task: task.name,
    )
    text = "Failure caused by error in tasks: " + ", ".join(task.name for task in failed) + "\n"
    for task in failed:
        text += f"\n  {task.name} [task_ex_id={task.id}] -> {task.state_info}\n"
        if task.type == "ACTION":
            for number, action in enumerate(draft.task_actions(task.id)):
                if action.state == State.ERROR:
                    text += f"    [action_ex_id={action.id}, idx={number}]: {action.output}\n"
        # ``idx`` counts every sub-workflow of the task, in creation order.
        positions = {child: number for number, child in enumerate(task.runtime.subworkflows or {})}
        for child_id, result in task.runtime.failed_subworkflows or ():
            text += f"    [wf_ex_id={child_id}, idx={positions.get(child_id, 0)}]: {result}\n"
    return text


def _has_on_error(draft: Draft, task: records.TaskExecution) -> bool:
    task_spec = draft.spec.tasks.get(task.name)
    return bool(task_spec and task_spec.on_error and task_spec.on_error.transitions)


# Ending.


def stop_workflow(draft: Draft, state: State, message: str | None) -> None:
    """End the workflow now (API stop, ``fail``/``succeed`` commands, force fail).

    Raises:
        errors.SiroccoError: the output of a succeeding workflow cannot be
            evaluated (the caller decides whom that fails).
    """
    if state == State.SUCCESS:
        _succeed(draft, message)
    elif state == State.ERROR:
        _fail(draft, message)
    elif state == State.CANCELLED:
        _cancel(draft, message)
        for child_id in children(draft):
            draft.emit(
                commands.SendEvent(
                    event=events.StopWorkflow(
                        workflow_execution_id=child_id, state=State.CANCELLED, message=message
                    )
                )
            )


def _succeed(draft: Draft, message: str | None) -> None:
    workflow = draft.workflow
    if states.is_terminal(workflow.state):
        return
    final = final_context(draft)
    output: Any = None
    if workflow.spec.output is not None:
        output = evaluation.evaluate(
            draft,
            workflow.spec.output,
            evaluation.workflow_data(draft, dataflow.visible(final)),
            None,
        )
    if not output:
        output = dataflow.as_dict(final.values)
    sizes.check(draft.limits, "WorkflowExecution", "output", output)
    if not states.is_valid_transition(workflow.state, State.SUCCESS):
        draft.problem(f"Can't change workflow execution state from {workflow.state} to SUCCESS.")
        return
    draft.change_workflow(state=State.SUCCESS, state_info=message, output=output)
    _ended(draft, output=output, message=message)


def _fail(draft: Draft, message: str | None) -> None:
    workflow = draft.workflow
    if workflow.state == State.PAUSED or states.is_terminal(workflow.state):
        return
    try:
        final = final_context(draft)
    except errors.SiroccoError:
        final = dataflow.EMPTY_CONTEXT
    # Like the output, output-on-error falls back to the final context when
    # it is unset or empty; a failure to evaluate it leaves nothing.
    on_error: Any = dataflow.as_dict(final.values)
    if workflow.spec.output_on_error is not None:
        try:
            on_error = evaluation.evaluate(
                draft,
                workflow.spec.output_on_error,
                evaluation.workflow_data(draft, dataflow.visible(final)),
                None,
            ) or dataflow.as_dict(final.values)
        except errors.SiroccoError as error:
            message = (
                "Failed to evaluate expression in output-on-error! "
                f"(output-on-error: '{workflow.spec.output_on_error}', "
                f"exception: '{message_of(error)}' Cause: '{message}'"
            )
            on_error = {}
    output: dict[str, Any] = {"result": message}
    if isinstance(on_error, Mapping):
        output = publishing.merge_dicts(output, on_error)
    draft.change_workflow(state=State.ERROR, state_info=message, output=output)
    _ended(
        draft, output=output, message=message or f"Failed subworkflow [execution_id={workflow.id}]"
    )


def _cancel(draft: Draft, message: str | None) -> None:
    workflow = draft.workflow
    if states.is_terminal(workflow.state):
        return
    output = {"result": message}
    draft.change_workflow(state=State.CANCELLED, state_info=message, output=output)
    _ended(
        draft,
        output=output,
        message=message or f"Cancelled subworkflow [execution_id={workflow.id}]",
    )


def _ended(draft: Draft, *, output: Any, message: str | None) -> None:
    workflow = draft.workflow
    if workflow.task_execution_id:
        draft.emit(
            commands.NotifyParent(
                event=events.SubworkflowCompleted(
                    workflow_execution_id=str(workflow.runtime.get(PARENT_KEY) or ""),
                    task_execution_id=workflow.task_execution_id,
                    subworkflow_execution_id=workflow.id,
                    state=workflow.state,
                    output=output,
                    message=None if workflow.state == State.SUCCESS else message,
                    index=int(workflow.params.get("index") or 0),
                )
            )
        )
    draft.emit(commands.WorkflowEnded(workflow_execution_id=workflow.id, state=workflow.state))


def children(draft: Draft) -> list[str]:
    found: list[str] = []
    for task_id in draft.tasks.subworkflow_tasks:
        task = draft.task(task_id)
        if task is not None:
            found.extend(str(child) for child in (task.runtime.subworkflows or {}))
    return found


# Pausing.


def pause_workflow(draft: Draft, message: str | None) -> None:
    """Pause the workflow (and, through events, its running sub-workflows)."""
    workflow = draft.workflow
    if workflow.state == State.PAUSED:
        return
    if workflow.state != State.RUNNING:
        draft.problem(f"Can't pause a workflow execution in state {workflow.state}.")
        return
    for child_id in children(draft):
        draft.emit(commands.SendEvent(event=events.PauseWorkflow(workflow_execution_id=child_id)))
    draft.change_workflow(state=State.PAUSED, state_info=message)
    notify_paused(draft, paused=True)


def notify_paused(draft: Draft, *, paused: bool) -> None:
    workflow = draft.workflow
    if workflow.task_execution_id:
        draft.emit(
            commands.NotifyParent(
                event=events.SubworkflowPaused(
                    workflow_execution_id=str(workflow.runtime.get(PARENT_KEY) or ""),
                    task_execution_id=workflow.task_execution_id,
                    subworkflow_execution_id=workflow.id,
                    paused=paused,
                )
            )
        )

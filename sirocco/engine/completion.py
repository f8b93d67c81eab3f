"""How a workflow execution ends: completion check, final context, stop, messages.

Completion follows Mistral's ``check_and_complete``: once no task is IDLE,
WAITING, RUNNING, DELAYED or PAUSED, a cancelled task cancels the workflow,
otherwise it succeeds if every error was handled and fails if not, with
Mistral's "Failure caused by error in tasks: ..." text. Counts come from
the task index, so the check costs nothing per event.
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
from sirocco.engine.states import State
from sirocco.engine.step import Step, message_of

PARENT_KEY = "parent_execution_id"


def check_completion(step: Step) -> None:
    """Complete the workflow if no task is left unfinished."""
    workflow = step.workflow
    if workflow.state != State.RUNNING or step.tasks.incomplete > 0:
        return
    try:
        if step.tasks.count(State.CANCELLED) > 0:
            names = sorted(
                task.name for task in step.tasks.tasks.values() if task.state == State.CANCELLED
            )
            _cancel(step, "Cancelled tasks: " + ", ".join(names))
        elif step.tasks.unhandled_errors == 0:
            _succeed(step, None)
        else:
            _fail(step, failure_message(step))
    except errors.SiroccoError as error:
        text = (
            f"Failed to check and complete [wf_ex_id={workflow.id}, "
            f"wf_name={workflow.workflow_name}]: {message_of(error)}"
        )
        _fail(step, text)


def final_context(step: Step) -> dataflow.Context:
    """The merged outbound contexts of the tasks that ended their branch."""
    if step.spec.workflow_type == "reverse":
        target = step.tasks.latest_of(str(step.workflow.params.get("task_name")))
        return dataflow.EMPTY_CONTEXT if target is None else step.outbound(target)
    ends = [step.task(task_id) for task_id in step.tasks.end_tasks]
    found = sorted((task for task in ends if task is not None), key=lambda task: task.seq)
    # Mistral merges each batch onto its last member: the latest task wins ties.
    return dataflow.merge([step.outbound(task) for task in found])


def failure_message(step: Step) -> str:
    """Mistral's "Failure caused by error in tasks: ..." text."""
    failed = sorted(
        (
            task
            for task in step.tasks.tasks.values()
            if task.state == State.ERROR and not _has_on_error(step, task)
        ),
        key=lambda task: task.name,
    )
    text = "Failure caused by error in tasks: " + ", ".join(task.name for task in failed) + "\n"
    for task in failed:
        text += f"\n  {task.name} [task_ex_id={task.id}] -> {task.state_info}\n"
        if task.type == "ACTION":
            for number, action in enumerate(step.task_actions(task.id)):
                if action.state == State.ERROR:
                    text += f"    [action_ex_id={action.id}, idx={number}]: {action.output}\n"
        # ``idx`` counts every sub-workflow of the task, in creation order.
        positions = {
            child: number for number, child in enumerate(task.runtime.get("subworkflows") or {})
        }
        for child_id, result in task.runtime.get("failed_subworkflows") or ():
            text += f"    [wf_ex_id={child_id}, idx={positions.get(child_id, 0)}]: {result}\n"
    return text


def _has_on_error(step: Step, task: records.TaskExecution) -> bool:
    task_spec = step.spec.tasks.get(task.name)
    return bool(task_spec and task_spec.on_error and task_spec.on_error.transitions)


# Ending.


def stop_workflow(step: Step, state: State, message: str | None) -> None:
    """End the workflow now (API stop, ``fail``/``succeed`` commands, force fail).

    Raises:
        errors.SiroccoError: the output of a succeeding workflow cannot be
            evaluated (the caller decides whom that fails).
    """
    if state == State.SUCCESS:
        _succeed(step, message)
    elif state == State.ERROR:
        _fail(step, message)
    elif state == State.CANCELLED:
        _cancel(step, message)
        for child_id in children(step):
            step.emit(
                commands.SendEvent(
                    event=events.StopWorkflow(
                        workflow_execution_id=child_id, state=State.CANCELLED, message=message
                    )
                )
            )


def _succeed(step: Step, message: str | None) -> None:
    workflow = step.workflow
    if states.is_terminal(workflow.state):
        return
    final = final_context(step)
    output: Any = None
    if workflow.spec.output is not None:
        output = evaluation.evaluate(
            step,
            workflow.spec.output,
            evaluation.workflow_data(step, dataflow.visible(final)),
            None,
        )
    if not output:
        output = dataflow.as_dict(final.values)
    sizes.check(step.limits, "WorkflowExecution", "output", output)
    if not states.is_valid_transition(workflow.state, State.SUCCESS):
        step.problem(f"Can't change workflow execution state from {workflow.state} to SUCCESS.")
        return
    step.change_workflow(state=State.SUCCESS, state_info=message, output=output)
    _ended(step, output=output, message=message)


def _fail(step: Step, message: str | None) -> None:
    workflow = step.workflow
    if workflow.state == State.PAUSED or states.is_terminal(workflow.state):
        return
    try:
        final = final_context(step)
    except errors.SiroccoError:
        final = dataflow.EMPTY_CONTEXT
    # Like the output, output-on-error falls back to the final context when
    # it is unset or empty; a failure to evaluate it leaves nothing.
    on_error: Any = dataflow.as_dict(final.values)
    if workflow.spec.output_on_error is not None:
        try:
            on_error = evaluation.evaluate(
                step,
                workflow.spec.output_on_error,
                evaluation.workflow_data(step, dataflow.visible(final)),
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
    step.change_workflow(state=State.ERROR, state_info=message, output=output)
    _ended(
        step, output=output, message=message or f"Failed subworkflow [execution_id={workflow.id}]"
    )


def _cancel(step: Step, message: str | None) -> None:
    workflow = step.workflow
    if states.is_terminal(workflow.state):
        return
    output = {"result": message}
    step.change_workflow(state=State.CANCELLED, state_info=message, output=output)
    _ended(
        step,
        output=output,
        message=message or f"Cancelled subworkflow [execution_id={workflow.id}]",
    )


def _ended(step: Step, *, output: Any, message: str | None) -> None:
    workflow = step.workflow
    if workflow.task_execution_id:
        step.emit(
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
    step.emit(commands.WorkflowEnded(workflow_execution_id=workflow.id, state=workflow.state))


def children(step: Step) -> list[str]:
    found: list[str] = []
    for task_id in step.tasks.subworkflow_tasks:
        task = step.task(task_id)
        if task is not None:
            found.extend(str(child) for child in (task.runtime.get("subworkflows") or {}))
    return found

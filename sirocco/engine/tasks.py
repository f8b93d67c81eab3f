"""The life of one task execution: create, start, run its action, complete, publish.

This follows Mistral's ``Task``/``RegularTask``: a new task goes RUNNING,
its before-start policies run, then its action (or sub-workflow) is
scheduled; when the result comes back the task completes: it publishes,
its after-completion policies run, its transitions are computed and
dispatched. Structural errors (bad expressions, bad input, unknown action)
force-fail the task and the workflow with Mistral's message texts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sirocco import errors
from sirocco.engine import (
    completion,
    dispatch,
    policies,
    publishing,
    records,
    running,
    states,
)
from sirocco.engine.states import State
from sirocco.engine.step import Step, message_of
from sirocco.lang import specs

#: Keys of a task's runtime that survive a rerun (they keep stale results and
#: timers recognisable).
_DURABLE_RUNTIME_KEYS = ("attempt", "token")


def create_task(
    step: Step,
    task_spec: specs.TaskSpec,
    *,
    triggered_by: tuple[str, ...] = (),
    events: tuple[str | None, ...] = (),
    state: State = State.IDLE,
    state_info: str | None = None,
) -> records.TaskExecution:
    """Create a task execution (IDLE, or WAITING for a join)."""
    runtime: dict[str, Any] = {}
    if triggered_by:
        runtime["triggered_by"] = [
            {"task_id": source, "event": event}
            for source, event in zip(
                triggered_by, events or (None,) * len(triggered_by), strict=False
            )
        ]
    task = records.TaskExecution(
        id=step.new_id(),
        workflow_execution_id=step.workflow.id,
        name=task_spec.name,
        seq=step.tasks.next_seq,
        type="WORKFLOW" if task_spec.workflow else "ACTION",
        state=state,
        state_info=state_info,
        triggered_by=triggered_by,
        # Mistral's task result lists the accepted results: none yet reads as [].
        result=[],
        runtime=runtime,
        tags=task_spec.tags,
        created_at=step.now,
    )
    return step.put_task(task)


def guarded(
    step: Step,
    task: records.TaskExecution,
    template: str,
    work: Callable[[], None],
) -> None:
    """Run ``work``; a Sirocco error in it force-fails the task and the workflow.

    ``template`` is Mistral's message, with ``{error}``, ``{wf}`` and ``{task}``.
    """
    try:
        work()
    except errors.SiroccoError as error:
        text = template.format(
            error=message_of(error), wf=step.workflow.workflow_name, task=task.name
        )
        force_fail_task(step, task, text)


RUN_FAILED = "Failed to run task [error={error}, wf={wf}, task={task}]"
COMPLETE_FAILED = "Failed to complete task [error={error}, wf={wf}, task={task}]"


def completion_failed(action_name: str) -> str:
    return (
        "Failed to handle action completion [error={error}, wf={wf}, task={task}, action="
        + action_name.replace("{", "{{").replace("}", "}}")
        + "]"
    )


def force_fail_task(step: Step, task: records.TaskExecution, message: str) -> None:
    """Fail the task and the whole workflow, bypassing ``on-error`` (Mistral's force fail)."""
    task = step.current(task)
    changes: dict[str, Any] = {"state": State.ERROR, "state_info": message}
    if not task.has_result and task.result is None:
        changes["result"] = []
    step.change_task(task, **changes)
    completion.stop_workflow(step, State.ERROR, message)


# Starting.


def start_new(step: Step, task: records.TaskExecution) -> None:
    """Start a freshly created task: RUNNING, before-start policies, schedule."""
    task = step.current(task)
    if task.state != State.IDLE:
        return

    def work() -> None:
        started = step.change_task(task, state=State.RUNNING, started_at=step.now)
        policies.before_start(step, started)
        if step.current(started).state == State.RUNNING:
            running.schedule(step, step.current(started))

    guarded(step, task, RUN_FAILED, work)


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
        running.schedule(step, step.current(started))

    guarded(step, task, RUN_FAILED, work)


def clear_runtime(step: Step, task: records.TaskExecution) -> records.TaskExecution:
    """Forget policy and with-items bookkeeping (a rerun), keeping durable counters."""
    kept = {key: task.runtime[key] for key in _DURABLE_RUNTIME_KEYS if key in task.runtime}
    if "triggered_by" in task.runtime:
        kept["triggered_by"] = task.runtime["triggered_by"]
    return step.change_task(task, runtime=kept)


def _reset_actions(step: Step, task: records.TaskExecution, *, reset: bool) -> None:
    for action in step.task_actions(task.id):
        if not action.accepted:
            continue
        if reset or action.state in (State.ERROR, State.CANCELLED):
            step.change_action(action, accepted=False)


def next_attempt(step: Step, task: records.TaskExecution) -> tuple[records.TaskExecution, int]:
    """Count one more attempt; results of older attempts are then ignored."""
    attempt = int(task.runtime.get("attempt", 0)) + 1
    runtime = dict(task.runtime)
    runtime["attempt"] = attempt
    return step.change_task(task, runtime=runtime, result=[], has_result=False), attempt


# Completing.


def on_result(
    step: Step,
    task: records.TaskExecution,
    state: State,
    result: Any,
    action_name: str,
) -> None:
    """A regular task's action (or sub-workflow) finished with ``result``."""
    if state == State.SUCCESS:
        state_info = None
    elif isinstance(result, Mapping) and task.type == "WORKFLOW":
        inner = result.get("result")
        state_info = str(inner) if inner else None
    else:
        state_info = str(result) if result else None
    earlier = task.runtime.get("join_results")
    if earlier:
        # A join that ran again: every accepted result counts, as a list.
        result = [*earlier, result]
    task = step.change_task(task, result=result, has_result=True)
    guarded(
        step,
        task,
        completion_failed(action_name),
        lambda: complete(step, task, state, state_info),
    )


def complete(
    step: Step,
    task: records.TaskExecution,
    state: State,
    state_info: str | None = None,
    *,
    skip: bool = False,
) -> None:
    """Complete the task: publish, after-completion policies, transitions.

    Raises on structural errors; callers wrap it with ``guarded``.
    """
    task = step.current(task)
    if states.is_completed(task.state) and state != State.SKIPPED:
        return
    changes: dict[str, Any] = {"state": state, "state_info": state_info}
    if not task.has_result and task.result is None:
        # Mistral's task result lists the accepted results: none reads as [].
        changes["result"] = []
    if "timeout_due" in task.runtime:
        changes["runtime"] = {
            key: value for key, value in task.runtime.items() if key != "timeout_due"
        }
    task = step.change_task(task, **changes)
    publishing.publish(step, task)
    task = step.current(task)
    if not step.spec.tasks[task.name].keep_result:
        task = _drop_result(step, task)
    if step.is_terminal():
        return
    if not skip:
        policies.after_complete(step, task)
        task = step.current(task)
    if task.state in (State.DELAYED, State.WAITING):
        return
    next_commands = dispatch.next_commands(step, task)
    changes = {
        "next_tasks": tuple(
            (command.name, command.event or "")
            for command in next_commands
            if command.name not in specs.ENGINE_COMMANDS
        )
    }
    if task.state == State.ERROR:
        changes["error_handled"] = any(command.handles_error for command in next_commands)
    task = step.change_task(task, **changes)
    if step.is_paused():
        return
    task = step.change_task(task, processed=True)
    dispatch.dispatch(step, next_commands)
    dispatch.refresh_joins(step, task)


def _drop_result(step: Step, task: records.TaskExecution) -> records.TaskExecution:
    """keep-result: false — forget the result once it was published."""
    task_spec = step.spec.tasks[task.name]
    if task_spec.is_with_items:
        # Each item's output is dropped; the list keeps one null per result.
        result = task.result
        dropped = [None] * len(result) if isinstance(result, list) else None
        return step.change_task(task, result=dropped)
    if task.type == "WORKFLOW":
        return task  # Mistral drops action outputs only: a sub-workflow's stays
    action_id = task.runtime.get("action_id")
    found = step.action(str(action_id)) if action_id else None
    if found is not None and found.accepted:
        step.change_action(found, output=None)
    return step.change_task(task, result=None)

"""Task execution records: create one, count its attempts, reset it, force-fail it.

The stages above (``starting``, ``task_completion``) change tasks through
these helpers. Structural errors (bad expressions, bad input, unknown
action) force-fail the task and the workflow with Mistral's message texts
(``guarded``, ``force_fail_task``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sirocco import errors
from sirocco.engine import records, workflow_state
from sirocco.engine.draft import Draft, message_of
from sirocco.engine.states import State
from sirocco.lang import specs


def create_task(
    draft: Draft,
    task_spec: specs.TaskSpec,
    *,
    triggered_by: tuple[str, ...] = (),
    events: tuple[str | None, ...] = (),
    state: State = State.IDLE,
    state_info: str | None = None,
) -> records.TaskExecution:
    """Create a task execution (IDLE, or WAITING for a join)."""
    runtime = records.EMPTY_RUNTIME
    if triggered_by:
        runtime = records.TaskRuntime(
            triggered_by=[
                {"task_id": source, "event": event}
                for source, event in zip(
                    triggered_by, events or (None,) * len(triggered_by), strict=False
                )
            ]
        )
    task = records.TaskExecution(
        id=draft.new_id(),
        workflow_execution_id=draft.workflow.id,
        name=task_spec.name,
        seq=draft.tasks.next_seq,
        type="WORKFLOW" if task_spec.workflow else "ACTION",
        state=state,
        state_info=state_info,
        triggered_by=triggered_by,
        # Mistral's task result lists the accepted results: none yet reads as [].
        result=[],
        runtime=runtime,
        tags=task_spec.tags,
        created_at=draft.now,
    )
    return draft.put_task(task)


def guarded(
    draft: Draft,
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
            error=message_of(error), wf=draft.workflow.workflow_name, task=task.name
        )
        force_fail_task(draft, task, text)


RUN_FAILED = "Failed to run task [error={error}, wf={wf}, task={task}]"
COMPLETE_FAILED = "Failed to complete task [error={error}, wf={wf}, task={task}]"


def completion_failed(action_name: str) -> str:
    return (
        "Failed to handle action completion [error={error}, wf={wf}, task={task}, action="
        + action_name.replace("{", "{{").replace("}", "}}")
        + "]"
    )


def force_fail_task(draft: Draft, task: records.TaskExecution, message: str) -> None:
    """Fail the task and the whole workflow, bypassing ``on-error`` (Mistral's force fail)."""
    task = draft.current(task)
    changes: dict[str, Any] = {"state": State.ERROR, "state_info": message}
    if not task.has_result and task.result is None:
        changes["result"] = []
    draft.change_task(task, **changes)
    workflow_state.stop_workflow(draft, State.ERROR, message)


def clear_runtime(draft: Draft, task: records.TaskExecution) -> records.TaskExecution:
    """Forget policy and with-items bookkeeping (a rerun), keeping how the task was
    triggered and the counters that keep stale results and timers recognisable."""
    kept = records.TaskRuntime(
        triggered_by=task.runtime.triggered_by,
        attempt=task.runtime.attempt,
        token=task.runtime.token,
    )
    return draft.change_task(task, runtime=kept)


def next_attempt(
    draft: Draft, task: records.TaskExecution, **changes: Any
) -> tuple[records.TaskExecution, int]:
    """Count one more attempt (with ``changes`` in the same copy); results of older
    attempts are then ignored."""
    attempt = int(task.runtime.attempt or 0) + 1
    runtime = task.runtime.but(attempt=attempt)
    task = draft.change_task(task, runtime=runtime, result=[], has_result=False, **changes)
    return task, attempt

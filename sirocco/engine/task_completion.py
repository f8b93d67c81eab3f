"""Completing a task: its result, publishing, after-completion policies, then its transitions.

This follows Mistral's ``Task.complete``: the task takes its final state,
publishes, runs its after-completion policies (which may delay or retry
it), then its transitions are computed and run (``transitions``). A
task whose timeout fired completes here too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sirocco import references
from sirocco.engine import policies, publishing, records, states, tasks, transitions
from sirocco.engine.draft import Draft
from sirocco.engine.states import State
from sirocco.lang import specs

_NO_RESULT: Any = object()


def on_result(
    draft: Draft,
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
    earlier = task.runtime.join_results
    if earlier:
        # A join that ran again: every accepted result counts, as a list.
        result = [*earlier, result]
    current = draft.current(task)
    if states.is_completed(current.state) or not states.is_task_transition(current.state, state):
        task = draft.change_task(task, result=result, has_result=True)
        tasks.guarded(
            draft,
            task,
            tasks.completion_failed(action_name),
            lambda: complete(draft, task, state, state_info),
        )
        return
    # ``complete`` takes the result in its first copy of the record: nothing before that
    # copy reads the task or can fail.
    tasks.guarded(
        draft,
        current,
        tasks.completion_failed(action_name),
        lambda: complete(draft, current, state, state_info, result=result),
    )


def complete(
    draft: Draft,
    task: records.TaskExecution,
    state: State,
    state_info: str | None = None,
    *,
    skip: bool = False,
    result: Any = _NO_RESULT,
) -> None:
    """Complete the task: publish, after-completion policies, transitions.

    ``result``: the action's result, taken in the same copy as the state (``on_result``).
    Raises on structural errors; callers wrap it with ``guarded``.
    """
    task = draft.current(task)
    if states.is_completed(task.state) and state != State.SKIPPED:
        return
    changes: dict[str, Any] = {"state": state, "state_info": state_info}
    if result is not _NO_RESULT:
        changes["result"] = result
        changes["has_result"] = True
    elif not task.has_result and task.result is None:
        # Mistral's task result lists the accepted results: none reads as [].
        changes["result"] = []
    if task.runtime.timeout_due is not None:
        changes["runtime"] = task.runtime.but(timeout_due=None)
    task = draft.change_task(task, **changes)
    publishing.publish(draft, task)
    task = draft.current(task)
    if not draft.spec.tasks[task.name].keep_result:
        task = _drop_result(draft, task)
    if draft.is_terminal():
        return
    if not skip:
        policies.after_complete(draft, task)
        task = draft.current(task)
    if task.state in (State.DELAYED, State.WAITING):
        return
    next_commands = transitions.next_commands(draft, task)
    changes = {
        "next_tasks": tuple(
            (command.name, command.event or "")
            for command in next_commands
            if command.name not in specs.ENGINE_COMMANDS
        )
    }
    if task.state == State.ERROR:
        changes["error_handled"] = any(command.handles_error for command in next_commands)
    paused = draft.is_paused()
    if not paused:
        # In the same copy: a paused workflow runs the transitions on resume.
        changes["processed"] = True
    task = draft.change_task(task, **changes)
    if paused:
        return
    transitions.run_commands(draft, next_commands)
    transitions.refresh_joins(draft, task)


def _drop_result(draft: Draft, task: records.TaskExecution) -> records.TaskExecution:
    """keep-result: false — forget the result once it was published."""
    task_spec = draft.spec.tasks[task.name]
    if task_spec.is_with_items:
        # Each item's output is dropped; the list keeps one null per result.
        result = references.resolve(task.result)
        dropped = [None] * len(result) if isinstance(result, list) else None
        return draft.change_task(task, result=dropped)
    if task.type == "WORKFLOW":
        return task  # Mistral drops action outputs only: a sub-workflow's stays
    action_id = task.runtime.action_id
    found = draft.action(str(action_id)) if action_id else None
    if found is not None and found.accepted:
        draft.change_action(found, output=None)
    return draft.change_task(task, result=None)


def time_out(draft: Draft, task: records.TaskExecution) -> None:
    """The timeout policy fired: the task fails (``on-error`` may handle it)."""
    if states.is_completed(task.state):
        return
    if draft.spec.tasks[task.name].is_with_items:
        # The items that finished count; those still running do not.
        results = list(draft.lookup.item_results(task.id))
        task = draft.change_task(task, result=results, has_result=True)
    timeout = task.runtime.timeout
    tasks.guarded(
        draft,
        task,
        tasks.COMPLETE_FAILED,
        lambda: complete(draft, task, State.ERROR, f"Task timed out [timeout(s)={timeout}]."),
    )

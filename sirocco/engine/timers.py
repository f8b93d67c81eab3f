"""Timers the engine asked for, when they are due: delays, retries, timeouts, join checks.

Each timer carries the token the task's runtime kept when it was asked for;
a timer whose token no longer matches (after a rerun, say) is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sirocco.engine import (
    events,
    joins,
    records,
    starting,
    task_completion,
    tasks,
    with_items,
)
from sirocco.engine.draft import Draft
from sirocco.engine.states import State


def on_timer(draft: Draft, event: events.TimerFired) -> None:
    """A timer the engine asked for is due."""
    task = draft.task(event.task_execution_id)
    if task is None:
        return
    timers: Mapping[str, Any] = task.runtime.timers or {}
    if timers.get(event.purpose) != event.token:
        return  # a timer that no longer applies
    purpose = event.purpose
    if purpose in ("wait_before", "retry"):
        if task.state == State.DELAYED:
            starting.run_existing(draft, task)
        elif task.state == State.WAITING and draft.spec.tasks[task.name].is_join:
            check_join(draft, task)
    elif purpose == "join":
        if task.runtime.join_check:
            task = draft.change_task(task, runtime=task.runtime.but(join_check=None))
        if task.state == State.WAITING:
            check_join(draft, task)
    elif purpose == "wait_after":
        if task.state == State.DELAYED:
            original = task.runtime.wait_after_policy or {}
            state = State(original.get("state", State.SUCCESS))
            info = original.get("state_info")
            tasks.guarded(
                draft,
                task,
                tasks.COMPLETE_FAILED,
                lambda: task_completion.complete(draft, task, state, info),
            )
    elif purpose == "timeout":
        task_completion.time_out(draft, task)
    elif purpose == "continue":
        with_items.finish(draft, task)
    elif purpose == "more":
        with_items.start_next(draft, task)


def check_join(draft: Draft, task: records.TaskExecution) -> None:
    """Run or fail a WAITING join whose inbound tasks decided."""
    task = draft.current(task)
    if task.state != State.WAITING or draft.is_terminal():
        return
    task_spec = draft.spec.tasks[task.name]
    state, state_info, sources = joins.logical_state(draft, task_spec)
    if state == State.WAITING:
        return
    runtime = task.runtime.but(
        triggered_by=[{"task_id": source.id, "event": event} for source, event in sources]
    )
    task = draft.change_task(
        task, triggered_by=tuple(source.id for source, _ in sources), runtime=runtime
    )
    if state == State.RUNNING:
        # Mistral starts a join through "run existing task": no before-start policies.
        starting.run_existing(draft, task)
        return
    tasks.guarded(
        draft,
        task,
        tasks.COMPLETE_FAILED,
        lambda: task_completion.complete(draft, task, State.ERROR, state_info),
    )

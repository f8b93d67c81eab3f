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
    policies,
    records,
    starting,
    task_completion,
    tasks,
    with_items,
)
from sirocco.engine.states import State
from sirocco.engine.step import Step


def on_timer(step: Step, event: events.TimerFired) -> None:
    """A timer the engine asked for is due."""
    task = step.task(event.task_execution_id)
    if task is None:
        return
    timers: Mapping[str, Any] = task.runtime.get("timers") or {}
    if timers.get(event.purpose) != event.token:
        return  # a timer that no longer applies
    purpose = event.purpose
    if purpose in ("wait_before", "retry"):
        if task.state == State.DELAYED:
            starting.run_existing(step, task)
        elif task.state == State.WAITING and step.spec.tasks[task.name].is_join:
            check_join(step, task)
    elif purpose == "join":
        if task.runtime.get(policies.JOIN_CHECK):
            runtime = {
                key: value for key, value in task.runtime.items() if key != policies.JOIN_CHECK
            }
            task = step.change_task(task, runtime=runtime)
        if task.state == State.WAITING:
            check_join(step, task)
    elif purpose == "wait_after":
        if task.state == State.DELAYED:
            original = task.runtime.get("wait_after_policy") or {}
            state = State(original.get("state", State.SUCCESS))
            info = original.get("state_info")
            tasks.guarded(
                step,
                task,
                tasks.COMPLETE_FAILED,
                lambda: task_completion.complete(step, task, state, info),
            )
    elif purpose == "timeout":
        task_completion.time_out(step, task)
    elif purpose == "continue":
        with_items.finish(step, task)


def check_join(step: Step, task: records.TaskExecution) -> None:
    """Run or fail a WAITING join whose inbound tasks decided."""
    task = step.current(task)
    if task.state != State.WAITING or step.is_terminal():
        return
    task_spec = step.spec.tasks[task.name]
    state, state_info, sources = joins.logical_state(step, task_spec)
    if state == State.WAITING:
        return
    runtime = dict(task.runtime)
    runtime["triggered_by"] = [{"task_id": source.id, "event": event} for source, event in sources]
    task = step.change_task(
        task, triggered_by=tuple(source.id for source, _ in sources), runtime=runtime
    )
    if state == State.RUNNING:
        # Mistral starts a join through "run existing task": no before-start policies.
        starting.run_existing(step, task)
        return
    tasks.guarded(
        step,
        task,
        tasks.COMPLETE_FAILED,
        lambda: task_completion.complete(step, task, State.ERROR, state_info),
    )

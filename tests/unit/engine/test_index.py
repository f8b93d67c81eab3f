"""TaskIndex: after any sequence of puts, every index is what the current records make."""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from sirocco.engine import index, records
from sirocco.engine.states import State

NOW = datetime(2026, 1, 2)


def _task(task_id: str, name: str, seq: int, **fields: Any) -> records.TaskExecution:
    return records.TaskExecution(
        id=task_id, workflow_execution_id="w", name=name, seq=seq, created_at=NOW, **fields
    )


def _shape(tasks: index.TaskIndex) -> dict[str, Any]:
    return {
        "tasks": dict(tasks.tasks.items()),
        "latest": dict(tasks.latest.items()),
        "waiting_joins": dict(tasks.waiting_joins.items()),
        "end_tasks": set(tasks.end_tasks),
        "unprocessed": set(tasks.unprocessed),
        "idle": set(tasks.idle),
        "subworkflow_tasks": set(tasks.subworkflow_tasks),
        "counts": {state: count for state, count in tasks.counts.items() if count},
        "unhandled_errors": tasks.unhandled_errors,
        "next_seq": tasks.next_seq,
    }


def _rebuilt(current: dict[str, records.TaskExecution]) -> index.TaskIndex:
    fresh = index.TaskIndex.empty()
    for task in sorted(current.values(), key=lambda task: task.seq):
        fresh.put(task)
    return fresh


# Each task id goes through these values in turn (what a task's steps make of it).
LIVES = {
    "a": [
        {"state": State.IDLE},
        {"state": State.RUNNING},
        {"state": State.SUCCESS},
        {"state": State.SUCCESS, "next_tasks": (("b", "on-success"),)},
        {"state": State.SUCCESS, "next_tasks": (("b", "on-success"),), "processed": True},
    ],
    "j": [
        {"state": State.WAITING},
        {"state": State.RUNNING},
        {"state": State.ERROR},
        {"state": State.ERROR, "error_handled": True, "processed": True},
        {"state": State.RUNNING, "error_handled": True},
    ],
    "s": [
        {"state": State.IDLE, "type": "WORKFLOW"},
        {"state": State.RUNNING, "type": "WORKFLOW"},
        {"state": State.PAUSED, "type": "WORKFLOW"},
        {"state": State.CANCELLED, "type": "WORKFLOW", "processed": True},
    ],
}


def test_every_index_follows_the_records_through_their_changes() -> None:
    base = index.TaskIndex.empty()
    overlay = base.overlay()
    current: dict[str, records.TaskExecution] = {}
    steps = itertools.zip_longest(*LIVES.values())
    for step in steps:
        for (task_id, _), fields in zip(LIVES.items(), step, strict=True):
            if fields is None:
                continue
            seq = list(LIVES).index(task_id)
            task = _task(task_id, f"name-{task_id}", seq, **fields)
            current[task_id] = task
            overlay.put(task)
            assert _shape(overlay) == _shape(_rebuilt(current))
    # The base did not see the overlay's changes; the same puts on it agree too.
    assert _shape(base) == _shape(index.TaskIndex.empty())
    for task in current.values():
        base.put(task)
    assert _shape(base) == _shape(_rebuilt(current))


def test_a_later_execution_of_a_name_is_its_latest_and_an_earlier_one_does_not_take_over() -> None:
    tasks = index.TaskIndex.empty()
    first, second = _task("1", "t", 1), _task("2", "t", 2)
    tasks.put(first)
    tasks.put(second)
    tasks.put(_task("1", "t", 1, state=State.RUNNING))
    assert tasks.latest_of("t") == second
    assert tasks.next_seq == 3

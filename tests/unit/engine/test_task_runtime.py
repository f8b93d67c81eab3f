"""The task's runtime is a typed record; stored, it is the same JSON object as before."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest

from sirocco.engine import records
from sirocco.store import executions

#: A runtime as the engine stored it before it was typed (every key it writes).
STORED: dict[str, Any] = {
    "triggered_by": [{"task_id": "t-1", "event": "on-success"}],
    "attempt": 2,
    "token": 3,
    "timers": {"retry": 3, "timeout": 1},
    "action_id": "a-1",
    "output_transforms": ["<% $.x %>"],
    "subworkflows": {"w-2": [0, 2]},
    "failed_subworkflows": [["w-2", "boom"]],
    "paused_subworkflows": ["w-2"],
    "with_items": {"count": 3, "next": 3, "running": 0, "succeeded": 2, "failed": 1},
    "with_items_rerun": [2],
    "concurrency": 2,
    "timeout": 10,
    "timeout_due": "2026-12-07T10:00:10",
    "wait_before_policy": {"skip": True},
    "wait_after_policy": {"skip": True, "state": "SUCCESS", "state_info": None},
    "retry_task_policy": {"retry_no": 1},
    "join_results": [1, 2],
    "join_check": True,
}


def test_every_key_the_engine_stores_is_a_field_and_round_trips() -> None:
    runtime = records.TaskRuntime.from_dict(STORED)
    assert runtime.extra == {}
    assert runtime.to_dict() == STORED
    assert runtime.retry_task_policy == {"retry_no": 1}


def test_unknown_keys_are_kept_as_they_were() -> None:
    stored = {"attempt": 1, "from_a_newer_version": {"x": 1}}
    runtime = records.TaskRuntime.from_dict(stored)
    assert runtime.attempt == 1
    assert runtime.extra == {"from_a_newer_version": {"x": 1}}
    assert runtime.to_dict() == stored


def test_an_empty_runtime_is_an_empty_object() -> None:
    assert records.TaskRuntime.from_dict({}) is records.EMPTY_RUNTIME
    assert records.EMPTY_RUNTIME.to_dict() == {}


def test_but_changes_and_none_removes() -> None:
    runtime = records.TaskRuntime(attempt=1, timeout_due="2026-12-07T10:00:00")
    changed = runtime.but(attempt=2, timeout_due=None)
    assert changed.to_dict() == {"attempt": 2}
    assert runtime.to_dict() == {"attempt": 1, "timeout_due": "2026-12-07T10:00:00"}
    with pytest.raises(TypeError, match="no field"):
        runtime.but(atempt=3)


def test_the_record_is_frozen() -> None:
    with pytest.raises(AttributeError, match="frozen"):
        records.EMPTY_RUNTIME.attempt = 1  # type: ignore[misc]
    with pytest.raises(TypeError, match="no field"):
        records.TaskRuntime(atempt=1)


def test_the_stored_order_of_keys_is_kept() -> None:
    stored = {"timers": {"retry": 1}, "attempt": 1, "token": 1}
    changed = records.TaskRuntime.from_dict(stored).but(attempt=2, concurrency=3)
    assert list(changed.to_dict()) == ["timers", "attempt", "token", "concurrency"]


def test_the_store_writes_the_same_object_it_read() -> None:
    row = executions.task_row(
        records.TaskExecution(
            id="t-2",
            workflow_execution_id="w-1",
            name="t",
            seq=1,
            runtime=records.TaskRuntime.from_dict(STORED),
            created_at=datetime(2026, 12, 7, 10, 0),
        )
    )
    assert row["runtime"] == STORED
    again = executions.task_record(SimpleNamespace(**row))
    assert again.runtime == records.TaskRuntime.from_dict(STORED)
    assert executions.task_row(again)["runtime"] == STORED


def test_with_items_counters_are_typed_and_stored_as_the_same_object() -> None:
    runtime = records.TaskRuntime.from_dict(STORED)
    counters = runtime.with_items
    assert isinstance(counters, records.WithItemsCounters)
    assert (counters.count, counters.next, counters.running) == (3, 3, 0)
    assert (counters.succeeded, counters.failed, counters.cancelled) == (2, 1, 0)
    assert not counters.pending and not counters.waking and counters.queue == []

    changed = runtime.but(with_items=counters.but(running=1, finishing=True))
    stored = changed.to_dict()["with_items"]
    assert type(stored) is dict  # the store writes JSON, never the record
    assert list(stored) == ["count", "next", "running", "succeeded", "failed", "finishing"]
    assert stored["running"] == 1 and changed.with_items == counters.but(running=1, finishing=True)
    assert STORED["with_items"]["running"] == 0  # the stored object read is not changed


def test_with_items_counters_start_and_queue() -> None:
    fresh = records.WithItemsCounters.start(4)
    assert fresh.to_dict() == {
        "count": 4, "next": 0, "running": 0, "succeeded": 0, "failed": 0, "cancelled": 0,
    }  # fmt: skip
    assert fresh.pending
    rerun = records.WithItemsCounters.start(4, [1, 3])
    assert (rerun.next, rerun.succeeded, rerun.queue, rerun.pending) == (4, 2, [1, 3], True)
    assert rerun.but(queue=[]).pending is False
    assert "waking" not in rerun.but(waking=True).but(waking=None).to_dict()
    with pytest.raises(AttributeError):
        rerun.count = 5  # type: ignore[misc]

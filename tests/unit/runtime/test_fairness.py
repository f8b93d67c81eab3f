"""Round-robin batches: one busy execution does not hold the others back, each execution's
events keep their order, starts always go, barriers wait for what was queued before them."""

from __future__ import annotations

from concurrent.futures import Future

from sirocco.engine import events
from sirocco.runtime.fairness import RoundRobin
from sirocco.runtime.work import Envelope


def _event(execution_id: str, number: int) -> Envelope:
    return Envelope(
        event=events.PauseWorkflow(workflow_execution_id=execution_id, message=str(number))
    )


def _names(batch: list[object]) -> list[str]:
    return [
        f"{item.event.workflow_execution_id}{item.event.message}"
        for item in batch
        if isinstance(item, Envelope)
    ]


def test_a_busy_execution_shares_the_batch() -> None:
    waiting = RoundRobin(4)
    for number in range(100):
        waiting.add(_event("busy", number))
    waiting.add(_event("quiet", 0))
    waiting.add(_event("other", 0))
    first = waiting.take()
    assert _names(first) == ["busy0", "quiet0", "other0", "busy1"]
    assert _names(waiting.take()) == ["busy2", "busy3", "busy4", "busy5"]
    assert len(waiting) == 100 - 6


def test_a_lane_served_last_goes_behind_the_others() -> None:
    waiting = RoundRobin(3)
    for execution_id in ("a", "b", "c", "d"):
        waiting.add(_event(execution_id, 0))
        waiting.add(_event(execution_id, 1))
    assert _names(waiting.take()) == ["a0", "b0", "c0"]
    assert _names(waiting.take()) == ["d0", "a1", "b1"]
    assert _names(waiting.take()) == ["c1", "d1"]


def test_barriers_wait_for_what_was_queued_before_them() -> None:
    waiting = RoundRobin(2)
    for number in range(3):
        waiting.add(_event("busy", number))
    barrier: Future[None] = Future()
    waiting.add(barrier)
    waiting.add(_event("busy", 3))
    assert barrier not in waiting.take()  # busy2 is still waiting
    second = waiting.take()
    assert _names(second) == ["busy2", "busy3"]
    assert barrier in second
    assert len(waiting) == 0

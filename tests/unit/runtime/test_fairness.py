"""Round-robin batches: one busy execution does not hold the others back, each execution's
events keep their order, starts always go, barriers wait for what was queued before them."""

from __future__ import annotations

from concurrent.futures import Future

from sirocco.engine import events
from sirocco.runtime import fairness
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


def _chunk(execution_id: str, purpose: events.TimerPurpose = "more") -> Envelope:
    return Envelope(
        event=events.TimerFired(
            workflow_execution_id=execution_id, task_execution_id="task", purpose=purpose
        )
    )


def _kinds(batch: list[object]) -> list[str]:
    return [
        f"{item.event.workflow_execution_id}:{type(item.event).__name__}"
        for item in batch
        if isinstance(item, Envelope)
    ] + [str(item) for item in batch if not isinstance(item, Envelope)]


def test_a_chunk_of_items_waits_while_other_work_goes_first() -> None:
    waiting = RoundRobin(8)
    waiting.add(_chunk("big"))
    waiting.add(_event("big", 1))  # after the chunk, in its lane's order
    waiting.add("start small")
    assert _kinds(waiting.take()) == ["start small"]
    waiting.add(_event("small", 0))
    assert _kinds(waiting.take()) == ["small:PauseWorkflow"]
    assert _kinds(waiting.take()) == ["big:TimerFired", "big:PauseWorkflow"]
    assert len(waiting) == 0


def test_a_chunk_waits_for_a_few_batches_at_most() -> None:
    waiting = RoundRobin(8)
    waiting.add(_chunk("big", "continue"))
    taken = []
    for number in range(fairness.CHUNK_PASSED_OVER + 1):
        waiting.add(_event(f"small{number}", 0))
        taken.append(_kinds(waiting.take()))
    assert taken[: fairness.CHUNK_PASSED_OVER] == [
        [f"small{number}:PauseWorkflow"] for number in range(fairness.CHUNK_PASSED_OVER)
    ]
    assert taken[-1] == ["big:TimerFired", f"small{fairness.CHUNK_PASSED_OVER}:PauseWorkflow"]


def test_chunks_alone_go_together() -> None:
    waiting = RoundRobin(8)
    waiting.add(_chunk("one"))
    waiting.add(_chunk("two"))
    assert _kinds(waiting.take()) == ["one:TimerFired", "two:TimerFired"]

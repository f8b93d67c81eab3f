"""What comes in to the engine thread becomes items on its queue, with no database:
parcels from the broker, outbox rows, due timers, barriers, and what a stopped
engine answers to the callers still waiting."""

from __future__ import annotations

import queue
from concurrent.futures import Future
from typing import Any, cast

import pytest

from sirocco import errors
from sirocco.engine import events
from sirocco.engine.states import State
from sirocco.runtime import codec, delivery
from sirocco.runtime.intake import Intake
from sirocco.runtime.work import Envelope, StartItem, StartRequest
from sirocco.store import outbox
from sirocco.store.database import Database

RESULT = events.ActionCompleted(
    workflow_execution_id="wf-1", action_execution_id="act-1", state=State.SUCCESS, result=[1]
)
FIRED = events.TimerFired(
    workflow_execution_id="wf-1", task_execution_id="task-1", purpose="wait_after"
)


@pytest.fixture
def intake() -> Intake:
    # None: none of the ways in below reads the database (only trigger and
    # sub-workflow starts look their workflow up).
    return Intake(cast(Database, None))


def _drain(intake: Intake) -> list[Any]:
    items = []
    while True:
        try:
            items.append(intake.get_nowait())
        except queue.Empty:
            return items


def test_a_parcel_from_the_broker_becomes_an_envelope_acknowledged_once_applied(
    intake: Intake,
) -> None:
    acknowledged: list[bool] = []
    parcel = delivery.Parcel(
        kind=outbox.Kind.ACTION_RESULT,
        outbox_id="row-1",
        payload=codec.encode(RESULT),
        acknowledge=lambda: acknowledged.append(True),
    )
    intake.receive(parcel)
    (envelope,) = _drain(intake)
    assert isinstance(envelope, Envelope)
    assert (envelope.event, envelope.outbox_id, envelope.timer_id) == (RESULT, "row-1", None)
    assert acknowledged == []
    assert envelope.acknowledge is not None
    envelope.acknowledge()
    assert acknowledged == [True]


def test_a_due_timer_and_a_timer_row_carry_their_timer(intake: Intake) -> None:
    intake.timer_event("timer-1", FIRED)
    intake.deliver(
        outbox.Kind.TIMER_EVENT, "row-2", {"event": codec.encode(FIRED), "timer_id": "timer-2"}
    )
    first, second = _drain(intake)
    assert (first.event, first.timer_id, first.outbox_id) == (FIRED, "timer-1", None)
    assert (second.event, second.timer_id, second.outbox_id) == (FIRED, "timer-2", "row-2")


def test_a_barrier_is_queued_in_order_and_answered_when_the_engine_stops(intake: Intake) -> None:
    intake.event(RESULT)
    barrier = intake.barrier()
    start: Future[Any] = Future()
    intake.put(StartRequest(cast(StartItem, None), start))
    assert intake.get_nowait() == Envelope(event=RESULT)
    assert intake.get_nowait() is barrier
    intake.put(barrier)  # as if the engine stopped before applying it
    intake.refuse_waiting()
    for waiting in (start, barrier):
        with pytest.raises(errors.UnavailableError):
            waiting.result(timeout=0)
    assert _drain(intake) == []

"""Batches that take events round-robin across executions, so that one busy execution
(a with-items task of thousands of items, say) cannot hold the events of the others back.

Items wait in one lane per execution. A batch takes every queued start, then one event
from each lane in turn until it is full; a lane served moves behind the others, so the
next batch begins with the executions this one served last. Events of one execution
keep their order. A barrier (a future that resolves once everything queued before it
has been applied) leaves with the first batch that takes everything queued before it.

A lane whose next event is a chunk of a with-items task (``with_items.CHUNK_TIMERS``: a
step of ~10-30 ms of CPU, most others take well under one) waits while other work is
queued, for at most ``CHUNK_PASSED_OVER`` batches in a row: a small execution beside a
task of a million items then shares no transaction with its chunks (its start and its
completion commit without waiting for 100 items to start), and the task still goes on.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future
from typing import Any

from sirocco.engine import events, with_items
from sirocco.runtime.work import Envelope

#: Batches of other work that may go in a row while a chunk of a with-items task waits.
CHUNK_PASSED_OVER = 4


class RoundRobin:
    """Queued engine work, handed out in fair batches of at most ``size`` items."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._seq = 0
        self._lanes: dict[str, deque[tuple[int, Envelope]]] = {}
        self._others: list[tuple[int, Any]] = []
        self._count = 0
        #: Batches in a row that left a chunk waiting.
        self._passed_over = 0

    def add(self, item: Any) -> None:
        self._seq += 1
        self._count += 1
        if isinstance(item, Envelope):
            lane = self._lanes.get(item.event.workflow_execution_id)
            if lane is None:
                lane = self._lanes[item.event.workflow_execution_id] = deque()
            lane.append((self._seq, item))
        else:
            self._others.append((self._seq, item))

    def __len__(self) -> int:
        return self._count

    def take(self) -> list[Any]:
        """The next batch: every start, events round-robin, then the barriers it releases."""
        batch: list[Any] = [item for _, item in self._others if not isinstance(item, Future)]
        barriers = [(seq, item) for seq, item in self._others if isinstance(item, Future)]
        taken = len(batch)
        held = self._chunks_held(starts=taken > 0)
        if len(self._lanes) == 1:  # nobody to be fair to: take the lane's events in bulk
            execution_id, lane = next(iter(self._lanes.items()))
            while taken < self._size and lane:
                batch.append(lane.popleft()[1])
                taken += 1
            if not lane:
                del self._lanes[execution_id]
        while taken < self._size and self._lanes:
            execution_id = next(iter(self._lanes))
            lane = self._lanes.pop(execution_id)
            batch.append(lane.popleft()[1])
            taken += 1
            if lane:
                self._lanes[execution_id] = lane  # behind the others
        if held:
            self._lanes = {**held, **self._lanes}  # not served: still first in turn
        oldest_left = min((lane[0][0] for lane in self._lanes.values()), default=None)
        self._others = []
        for seq, barrier in barriers:
            if oldest_left is None or seq < oldest_left:
                batch.append(barrier)
            else:
                self._others.append((seq, barrier))
        self._count -= len(batch)
        return batch

    def _chunks_held(self, *, starts: bool) -> dict[str, deque[tuple[int, Envelope]]]:
        """Take the lanes whose next event is a with-items chunk out of this batch's
        turn while other work waits (at most ``CHUNK_PASSED_OVER`` batches in a row)."""
        chunks = [
            execution_id for execution_id, lane in self._lanes.items() if _is_chunk(lane[0][1])
        ]
        if not chunks or self._passed_over >= CHUNK_PASSED_OVER or (
            not starts and len(chunks) == len(self._lanes)
        ):
            self._passed_over = 0
            return {}
        self._passed_over += 1
        return {execution_id: self._lanes.pop(execution_id) for execution_id in chunks}


def _is_chunk(envelope: Envelope) -> bool:
    event = envelope.event
    return type(event) is events.TimerFired and event.purpose in with_items.CHUNK_TIMERS

"""Batches that take events round-robin across executions, so that one busy execution
(a with-items task of thousands of items, say) cannot hold the events of the others back.

Items wait in one lane per execution. A batch takes every queued start, then one event
from each lane in turn until it is full; a lane served moves behind the others, so the
next batch begins with the executions this one served last. Events of one execution
keep their order. A barrier (a future that resolves once everything queued before it
has been applied) leaves with the first batch that takes everything queued before it.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future
from typing import Any

from sirocco.runtime.work import Envelope


class RoundRobin:
    """Queued engine work, handed out in fair batches of at most ``size`` items."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._seq = 0
        self._lanes: dict[str, deque[tuple[int, Envelope]]] = {}
        self._others: list[tuple[int, Any]] = []
        self._count = 0

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
        oldest_left = min((lane[0][0] for lane in self._lanes.values()), default=None)
        self._others = []
        for seq, barrier in barriers:
            if oldest_left is None or seq < oldest_left:
                batch.append(barrier)
            else:
                self._others.append((seq, barrier))
        self._count -= len(batch)
        return batch

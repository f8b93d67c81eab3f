"""Without a broker, a worker that finishes gets its next action in the transaction that
hands its result back: one commit for both, and the worker does not wait for the
engine's next NOTIFY (which comes only after the result went through a step).

The executor's taker is kept asleep here, so only the hand-back can lease the second
row; both rows' timestamps show it happened in one transaction. Nothing is timed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from mistral_lib import actions

from sirocco.actions.registry import ActionRegistry
from sirocco.clock import utcnow
from sirocco.executor.worker import ExecutorWorker
from sirocco.runtime.heartbeats import Timing
from sirocco.store import migrate, outbox, tables
from sirocco.store.database import Database
from tests.integration.executor_rows import Asleep, insert_run_actions
from tests.waiting import BOUND, wait_for


class Gated(actions.Action):  # type: ignore[misc]
    """Waits at its own gate (the test opens it), then returns its number."""

    gates: ClassVar[dict[int, threading.Event]] = {}
    started: ClassVar[list[int]] = []

    def __init__(self, number: int) -> None:
        super().__init__()
        self.number = number

    def run(self, context: Any) -> Any:
        Gated.started.append(self.number)
        Gated.gates[self.number].wait(BOUND)
        return self.number


@pytest.fixture
def database(postgres_url: str) -> Iterator[Database]:
    database = Database(postgres_url)
    migrate.prepare(database)
    try:
        yield database
    finally:
        database.dispose()


def _row(connection: Any, row_id: str) -> Any:
    return connection.execute(sa.select(tables.outbox).where(tables.outbox.c.id == row_id)).one()


def test_the_hand_back_leases_the_freed_workers_next_action(database: Database) -> None:
    registry = ActionRegistry()
    registry.register("test.gated", Gated)
    Gated.gates.update({1: threading.Event(), 2: threading.Event()})
    Gated.started.clear()
    insert_run_actions(
        database, [1, 2], action_name="test.gated", input_of=lambda number: {"number": number}
    )
    parcels = Asleep(database)
    worker = ExecutorWorker(
        database, registry, clock=utcnow, workers=1, timing=Timing(interval=30.0), parcels=parcels
    )
    worker.start()
    try:
        assert worker.take() == 1  # the only worker runs the first action
        wait_for(lambda: Gated.started == [1], what="the first action to start")
        with database.read() as connection:
            assert _row(connection, "row-2").claimed_until is None  # no worker for it yet
        Gated.gates[1].set()
        wait_for(lambda: Gated.started == [1, 2], what="the second action to start")
        with database.read() as connection:
            result = connection.execute(
                sa.select(tables.outbox).where(tables.outbox.c.kind == outbox.Kind.ACTION_RESULT)
            ).all()
            second = _row(connection, "row-2")
        # The result of the first replaced its row, and the second was leased, at one moment.
        assert [row.workflow_execution_id for row in result] == ["workflow-1"]
        assert second.holder == worker.name
        assert second.held_since == result[0].created_at
    finally:
        for gate in Gated.gates.values():
            gate.set()
        worker.stop()
        parcels.close()

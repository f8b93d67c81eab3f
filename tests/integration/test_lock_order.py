"""Two engines whose batches name the same executions in opposite orders do not deadlock
on PostgreSQL: every batch locks execution rows in one fixed order. Nor do an executor's
heartbeat and its hand-back of results, which lock the same outbox rows."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from sirocco.clock import utcnow
from sirocco.engine import events
from sirocco.runtime.steps import Stepper
from sirocco.runtime.work import Envelope
from sirocco.store import executions, leases, tables
from sirocco.store.database import Database
from tests.integration import executor_rows, helpers
from tests.waiting import BOUND

WORKFLOW = """
version: '2.0'
waiting:
  tasks:
    later:
      wait-before: 3600
      action: std.noop
"""


def test_batches_in_opposite_orders_do_not_deadlock(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: no row locks to order")
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, WORKFLOW)
        first, second = (helpers.start(app, "waiting") for _ in range(2))
        runtime = app.parts.runtime
        # Each engine holds its first lock until the other holds one too (or a second went
        # by: with a fixed order the other engine waits for this one instead).
        both_locked = threading.Barrier(2, timeout=1.0)
        original = executions.lock_workflow
        locked_once = threading.local()

        def lock_then_meet(connection: Any, execution_id: str) -> Any:
            row = original(connection, execution_id)
            if not getattr(locked_once, "done", False):
                locked_once.done = True
                try:
                    both_locked.wait()
                except threading.BrokenBarrierError:
                    pass
            return row

        monkeypatch.setattr(executions, "lock_workflow", lock_then_meet)
        failures: list[BaseException] = []

        def engine(order: list[str]) -> None:
            groups = {
                execution_id: [
                    Envelope(event=events.PauseWorkflow(workflow_execution_id=execution_id))
                ]
                for execution_id in order
            }
            try:
                stepper = Stepper(app.parts.database, runtime.lookup, runtime.specs, runtime.clock)
                stepper.run_batch([], groups)
            except BaseException as exc:
                failures.append(exc)

        threads = [
            threading.Thread(target=engine, args=(order,))
            for order in ([first, second], [second, first])
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert not failures, failures
        assert {helpers.execution(app, item).state for item in (first, second)} == {"PAUSED"}


def test_a_heartbeat_neither_waits_for_nor_deadlocks_with_a_hand_back(database_url: str) -> None:
    """An executor's heartbeat renews the leases of every row it holds while its writer
    hands results back, row after row, in one transaction. The renewal skips the rows the
    writer holds locked (their leases end with the hand-back) instead of waiting for them:
    it never waits behind a hand-back, so the two cannot deadlock (they did when the
    renewal took rows in its scan's order, stalling the writer for ``deadlock_timeout``),
    and the writer then locks the rest in id order, which the renewal no longer holds."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: no row locks to order")
    database = Database(database_url)
    try:
        # Written and leased in the reverse of id order: the table, and its index on the
        # lease's end, hold them that way round (a scan in either order meets row-99 first).
        numbers = range(99, 9, -1)
        executor_rows.insert_run_actions(database, numbers)
        now = utcnow()
        held = {f"row-{number}": now for number in numbers}
        with database.transaction() as connection:
            for rank, row_id in enumerate(held):
                connection.execute(
                    sa.update(tables.outbox)
                    .where(tables.outbox.c.id == row_id)
                    .values(
                        claimed_until=now + timedelta(minutes=1, seconds=rank),
                        holder="executor-1",
                        held_since=now,
                    )
                )
        renewed: list[set[str]] = []
        failures: list[BaseException] = []

        def heartbeat() -> None:
            try:
                with database.transaction() as connection:
                    renewed.append(
                        leases.renew(
                            connection, held, holder="executor-1", until=now + timedelta(minutes=2)
                        )
                    )
            except BaseException as exc:
                failures.append(exc)

        beat = threading.Thread(target=heartbeat)
        with database.transaction() as connection:
            _hand_back(connection, "row-10", now)  # the writer holds the first row
            beat.start()
            beat.join(BOUND)
            waited = beat.is_alive()
            _hand_back(connection, "row-99", now)  # and wants the last one
        beat.join(BOUND)
        assert not waited, "the heartbeat waited for the writer's lock"
        assert not failures, failures
        assert renewed == [set(held) - {"row-10"}]
    finally:
        database.dispose()


def _hand_back(connection: Any, row_id: str, now: datetime) -> None:
    leases.hand_back(
        connection,
        run_action_id=row_id,
        result_id=f"result-{row_id}",
        workflow_execution_id="workflow-1",
        payload={},
        now=now,
    )

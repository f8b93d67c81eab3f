"""Two engines whose batches name the same executions in opposite orders do not deadlock
on PostgreSQL: every batch locks execution rows in one fixed order."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from sirocco.engine import events
from sirocco.runtime.steps import Stepper
from sirocco.runtime.work import Envelope
from sirocco.store import executions
from tests.integration import helpers

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

"""The integrity check: a crash leaves a RUNNING execution waiting on nothing; the check
finds it (twice at the same version) and sets it going again, or fails it saying why."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from sirocco.cli.embedded import Embedded
from sirocco.engine import commands
from sirocco.runtime import integrity, metrics
from sirocco.runtime.work import Outgoing
from sirocco.store import outbox, tables
from tests.integration import helpers

HOLDING = """
version: '2.0'
holding:
  tasks:
    work:
      action: test.hold
      on-error: [recover]
    recover:
      action: std.echo output="recovered"
      publish:
        recovered: <% task().result %>
"""

NESTED = """
version: '2.0'
parent:
  tasks:
    call:
      workflow: child
      publish:
        got: <% task().result.answer %>
child:
  output:
    answer: 42
  tasks:
    one:
      action: std.noop
"""


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> metrics.Metrics:
    fresh = metrics.Metrics(max_label_values=100)
    monkeypatch.setattr(metrics, "METRICS", fresh)
    return fresh


def _checker(app: Embedded) -> integrity.IntegrityChecker:
    runtime = app.parts.runtime
    return integrity.IntegrityChecker(
        app.parts.database, runtime.clock, runtime.intake.deliver, interval=0
    )


def _outbox_rows(app: Embedded, execution_id: str | None = None) -> list[Any]:
    box = tables.outbox
    query = sa.select(box)
    if execution_id is not None:
        query = query.where(box.c.workflow_execution_id == execution_id)
    with app.parts.database.read() as connection:
        return list(connection.execute(query))


@contextmanager
def _crash_before_dispatch(app: Embedded, lost: Callable[[Any], bool]) -> Iterator[list[str]]:
    """Commands for which ``lost(command)`` holds are committed, then lost before they are
    dispatched: their outbox rows are deleted, as if the process died at that point and
    the row had gone with it."""
    runtime = app.parts.runtime
    dispatch = runtime.dispatcher.dispatch
    dropped: list[str] = []

    def crashing(outgoing: Outgoing) -> None:
        kept = []
        for outbox_id, command in outgoing.items:
            if outbox_id is not None and lost(command):
                dropped.append(outbox_id)
            else:
                kept.append((outbox_id, command))
        if dropped:
            outbox.remove(app.parts.database, list(dropped))
        outgoing.items = kept
        dispatch(outgoing)

    runtime.dispatcher.dispatch = crashing  # type: ignore[method-assign]
    try:
        yield dropped
    finally:
        runtime.dispatcher.dispatch = dispatch  # type: ignore[method-assign]


def _repair(app: Embedded, execution_id: str) -> list[Any]:
    """Check until the execution is repaired (the first sighting only marks a suspect)."""
    checker = _checker(app)
    assert checker.check() == []  # first seen: a suspect, not yet repaired
    return helpers.waiting.wait_for(
        checker.check, what=f"a repair of {execution_id}", interval=0.05
    )


def test_a_lost_run_action_fails_the_action_and_on_error_runs(
    database_url: str, counted: metrics.Metrics
) -> None:
    """An engine without executors (roles apart): the RunAction row waits for one; the
    crash loses it. The action can't be sent again (its command was in the row): it fails
    with a message that says why, and the task's on-error runs."""
    app = helpers.build(database_url)
    app.parts.runtime.attach_executor(None, app.pool.run_inline)
    app.parts.service.attach_executor(None)
    app.parts.runtime.start()
    try:
        helpers.deploy(app, HOLDING)
        execution_id = helpers.start(app, "holding")
        rows = helpers.waiting.wait_for(
            lambda: _outbox_rows(app, execution_id), what="the RunAction row", interval=0.01
        )
        checker = _checker(app)
        assert checker.check() == [] and checker.check() == []  # it waits on its row
        outbox.remove(app.parts.database, [row.id for row in rows])  # the crash
        repairs = _repair(app, execution_id)
        assert [(item.kind, item.task) for item in repairs] == [("lost-action", "work")]
        assert helpers.wait_for(app, execution_id).state == "SUCCESS"
        work = helpers.task(app, execution_id, "work")
        assert work.state == "ERROR"
        assert "integrity check found action test.hold (task work) RUNNING" in work.state_info
        assert helpers.task(app, execution_id, "recover").state == "SUCCESS"
        assert checker.check() == []
    finally:
        app.close()
    text = counted.exposition().decode()
    assert 'sirocco_integrity_repairs_total{kind="lost-action"} 1.0' in text


def test_a_lost_notification_of_the_parent_is_made_again(
    database_url: str, counted: metrics.Metrics, caplog: pytest.LogCaptureFixture
) -> None:
    """The sub-workflow ends; the process dies before its parent is told, and the row of
    the notification is lost: the check tells the parent again, from the child's row."""
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, NESTED)
        with _crash_before_dispatch(app, lambda c: isinstance(c, commands.NotifyParent)) as lost:
            execution_id = helpers.start(app, "parent")
            call = helpers.wait_task(app, execution_id, "call", {"RUNNING"})
            helpers.wait_until(lambda: bool(lost), what="the lost notification")
        [child] = helpers.children(app, call.id)
        assert helpers.execution(app, child.id).state == "SUCCESS"
        assert helpers.execution(app, execution_id).state == "RUNNING"
        with caplog.at_level("WARNING", logger="sirocco.integrity"):
            repairs = _repair(app, execution_id)
        assert [(item.kind, item.task) for item in repairs] == [("lost-notify", "call")]
        done = helpers.wait_for(app, execution_id)
        assert done.state == "SUCCESS"
        assert helpers.task(app, execution_id, "call").published == {"got": 42}
    assert any(
        record.getMessage().startswith(f"integrity check repaired execution {execution_id}")
        for record in caplog.records
    )
    assert 'sirocco_integrity_repairs_total{kind="lost-notify"} 1.0' in (
        counted.exposition().decode()
    )


def test_a_lost_sub_workflow_start_fails_the_execution_saying_why(
    database_url: str, counted: metrics.Metrics
) -> None:
    """The row that was to start the sub-workflow is lost: nothing can be sent again
    (the task waits on a child that never was), so the execution fails with a message."""
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, NESTED)
        started = lambda c: isinstance(c, commands.StartSubworkflow)  # noqa: E731
        with _crash_before_dispatch(app, started) as lost:
            execution_id = helpers.start(app, "parent")
            helpers.wait_until(lambda: bool(lost), what="the lost start")
        assert helpers.wait_task(app, execution_id, "call", {"RUNNING"})
        repairs = _repair(app, execution_id)
        assert [item.kind for item in repairs] == ["nothing-pending"]
        failed = helpers.wait_for(app, execution_id)
        assert failed.state == "ERROR"
        assert "integrity check found workflow execution" in failed.state_info
        assert "waits on nothing" in failed.state_info and "call (RUNNING)" in failed.state_info
    assert 'sirocco_integrity_repairs_total{kind="nothing-pending"} 1.0' in (
        counted.exposition().decode()
    )


def test_executions_that_wait_on_something_are_never_repaired(database_url: str, gate: Any) -> None:
    """A held action, a running sub-workflow, a timer: checked again and again, nothing."""
    waits = """
version: '2.0'
waits:
  tasks:
    held:
      action: test.hold
    nested:
      workflow: inner
    later:
      action: std.noop
      wait-before: 600
inner:
  tasks:
    held:
      action: test.hold
"""
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, waits)
        execution_id = helpers.start(app, "waits")
        helpers.wait_task(app, execution_id, "later", {"DELAYED"})
        helpers.wait_task(app, execution_id, "nested", {"RUNNING"})
        checker = _checker(app)
        for _ in range(3):
            assert checker.check() == []
        gate.set()
        helpers.wait_until(
            lambda: helpers.task(app, execution_id, "held").state == "SUCCESS",
            what="the held action's end",
        )
        for _ in range(3):
            assert checker.check() == []
        assert helpers.execution(app, execution_id).state == "RUNNING"  # the timer

"""The statements of the engine's steps: none whose answer is already known.

Each test records the statements the engine thread sends while it applies one start or
one event, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from sirocco import ids
from sirocco.engine import commands, events
from sirocco.engine.states import State
from sirocco.runtime import codec
from sirocco.runtime.work import Envelope, StartItem
from sirocco.store import leases, notify, outbox
from sirocco.store.database import Database
from tests.integration import helpers

WORKFLOW = """
version: '2.0'
one_echo:
  tasks:
    t1:
      action: std.echo output=1
"""


@contextmanager
def statements(database: Database, thread: str = "sirocco-engine") -> Iterator[list[str]]:
    """The SQL sent on ``thread`` meanwhile (whitespace squeezed)."""
    seen: list[str] = []

    def record(_c: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.current_thread().name == thread:
            seen.append(" ".join(statement.split()))

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


def _reads_of(table: str, sent: list[str]) -> list[str]:
    return [item for item in sent if item.startswith("SELECT") and f"FROM {table}" in item]


def test_a_start_with_a_new_id_does_not_look_for_its_row(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, WORKFLOW)
        with statements(app.parts.database) as sent:
            execution_id = helpers.start(app, "one_echo")
        inserts = ["INSERT INTO workflow_executions" in item for item in sent]
        assert any(inserts), sent
        # The start's statements (the step that follows reads the row, to lock it).
        assert _reads_of("workflow_executions", sent[: inserts.index(True)]) == []
        assert helpers.wait_for(app, execution_id).state == "SUCCESS"


def test_a_start_with_a_chosen_id_looks_and_starts_once(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, WORKFLOW)
        chosen = "11111111-2222-3333-4444-555555555555"
        with statements(app.parts.database) as sent:
            first = app.service.start_workflow(workflow="one_echo", execution_id=chosen)
        assert first == chosen
        inserts = ["INSERT INTO workflow_executions" in item for item in sent]
        assert len(_reads_of("workflow_executions", sent[: inserts.index(True)])) == 1
        assert app.service.start_workflow(workflow="one_echo", execution_id=chosen) == chosen
        helpers.wait_for(app, chosen)
        with app.parts.database.read() as connection:
            rows = connection.execute(sa.text("SELECT count(*) FROM workflow_executions"))
            assert rows.scalar() == 1


def test_a_fresh_start_tried_again_after_its_commit_is_not_started_twice(
    database_url: str,
) -> None:
    """A commit whose answer was lost (the connection dropped while committing) is retried
    with ``again``: the start finds its row instead of failing on the duplicate id."""
    with helpers.embedded(database_url, start=False) as app:
        helpers.deploy(app, WORKFLOW)
        stepper = app.parts.runtime.stepper
        with app.parts.database.read() as connection:
            definition = connection.execute(
                sa.text("SELECT definition FROM workflow_definitions WHERE name = 'one_echo'")
            ).scalar()
        item = StartItem(
            spec_name="one_echo",
            definition=str(definition),
            workbook=None,
            workflow_id=None,
            execution_id="fresh-0000-0000-0000-000000000000",
            input={},
            params={},
            fresh=True,
        )
        assert stepper.run_batch([item], {}).started == [item]
        with pytest.raises(sa.exc.IntegrityError):
            stepper.run_batch([item], {})  # without ``again`` a fresh id is not looked for
        again = stepper.run_batch([item], {}, again=True)
        assert again.started == [item] and again.failed_starts == []
        assert again.outgoing.items == []  # nothing written, nothing to send
        with app.parts.database.read() as connection:
            rows = connection.execute(sa.text("SELECT count(*) FROM workflow_executions"))
            assert rows.scalar() == 1


def _stepper_without_inline(app: Any) -> Any:
    stepper = app.parts.runtime.stepper
    stepper.run_inline = None  # every action goes out as a RunAction row
    return stepper


def _start_item(app: Any, name: str) -> StartItem:
    with app.parts.database.read() as connection:
        definition = connection.execute(
            sa.text("SELECT definition FROM workflow_definitions WHERE name = :name"),
            {"name": name},
        ).scalar()
    return StartItem(
        spec_name=name,
        definition=str(definition),
        workbook=None,
        workflow_id=None,
        execution_id=ids.new_id(),
        input={},
        params={},
        fresh=True,
    )


def _outbox_ids(app: Any) -> set[str]:
    with app.parts.database.read() as connection:
        return set(connection.execute(sa.text("SELECT id FROM outbox")).scalars())


def test_a_result_is_applied_once_and_its_row_deleted_with_the_lock(database_url: str) -> None:
    """The step that applies an executor's result locks the execution row and deletes the
    result's row: one statement on PostgreSQL (the lock taken first), two on SQLite. The
    same result delivered again finds its row gone and changes nothing."""
    with helpers.embedded(database_url, start=False) as app:
        helpers.deploy(app, WORKFLOW)
        stepper = _stepper_without_inline(app)
        item = _start_item(app, "one_echo")
        ((action_id, command),) = stepper.start(item).items
        assert isinstance(command, commands.RunAction)
        result_id = ids.new_id()
        completed = command.completed(State.SUCCESS, 1, None)
        with app.parts.database.transaction() as connection:  # as an executor hands it back
            leases.hand_back(
                connection,
                run_action_id=str(action_id),
                result_id=result_id,
                workflow_execution_id=item.execution_id,
                payload=codec.encode(completed),
                now=app.parts.runtime.clock(),
            )
        envelope = Envelope(event=completed, outbox_id=result_id)
        with statements(app.parts.database, threading.current_thread().name) as sent:
            outgoing = stepper.step(item.execution_id, [envelope])
        assert outgoing.ended == [(item.execution_id, "SUCCESS")]
        deletes = [statement for statement in sent if "DELETE FROM outbox" in statement]
        locks = _reads_of("workflow_executions", sent)
        if database_url.startswith("postgresql"):
            assert len(deletes) == 1 and deletes[0].startswith("WITH locked AS"), sent
            assert locks == [], sent  # the lock is the same statement
        else:
            assert len(deletes) == 1 and len(locks) == 1, sent
            # The snapshot is cached: the lock reads the id, version and project, not the
            # whole row (its definition, context, params).
            assert "definition" not in locks[0] and "context" not in locks[0], locks
        assert result_id not in _outbox_ids(app)
        version = helpers.execution(app, item.execution_id).version
        again = stepper.step(item.execution_id, [envelope])
        assert again.ended == [] and again.items == []
        assert helpers.execution(app, item.execution_id).version == version


def test_a_start_and_a_result_write_their_rows_in_one_statement(database_url: str) -> None:
    """On PostgreSQL the start's rows (workflow, task, action, the RunAction row) and the
    executor's wake go as one statement, and so do the step's updates on the result (the
    action, the task, the workflow); SQLite writes table by table. The rows are all there."""
    with helpers.embedded(database_url, start=False) as app:
        helpers.deploy(app, WORKFLOW)
        stepper = _stepper_without_inline(app)
        stepper.wake = notify.EXECUTOR  # as in a split engine: actions wake the executors
        item = _start_item(app, "one_echo")
        with statements(app.parts.database, threading.current_thread().name) as sent:
            ((action_id, command),) = stepper.start(item).items
        assert isinstance(command, commands.RunAction)
        assert str(action_id) in _outbox_ids(app)
        assert [task.state for task in helpers.tasks(app, item.execution_id)] == ["RUNNING"]
        if database_url.startswith("postgresql"):
            assert len(sent) == 1, sent
            for table in ("workflow_executions", "task_executions", "action_executions", "outbox"):
                assert f"INSERT INTO {table}" in sent[0], sent
            assert "pg_notify" in sent[0], sent
        else:
            assert len(sent) >= 4, sent
        version = helpers.execution(app, item.execution_id).version
        envelope = _hand_back(app, command, 1)
        with statements(app.parts.database, threading.current_thread().name) as sent:
            assert stepper.step(item.execution_id, [envelope]).ended == [
                (item.execution_id, "SUCCESS")
            ]
        writes = [
            statement
            for statement in sent
            if not statement.startswith(("SELECT", "WITH locked", "DELETE FROM outbox"))
        ]
        if database_url.startswith("postgresql"):
            assert len(writes) == 1, sent
            for table in ("workflow_executions", "task_executions", "action_executions"):
                assert f"UPDATE {table}" in writes[0], sent
            assert writes[0].endswith("; COMMIT"), sent  # the commit in the same round trip
        else:
            assert len(writes) == 3, sent
        row = helpers.execution(app, item.execution_id)
        assert row.state == "SUCCESS" and row.version == version + 1
        assert [task.state for task in helpers.tasks(app, item.execution_id)] == ["SUCCESS"]


def test_an_event_for_an_execution_that_is_gone_has_its_row_deleted(database_url: str) -> None:
    with helpers.embedded(database_url, start=False) as app:
        stepper = app.parts.runtime.stepper
        missing = ids.new_id()
        event = events.ActionCompleted(
            workflow_execution_id=missing,
            action_execution_id=ids.new_id(),
            state=State.SUCCESS,
            result=None,
            message=None,
        )
        row_id = outbox.put(
            app.parts.database,
            outbox.Kind.ACTION_RESULT,
            codec.encode(event),
            now=app.parts.runtime.clock(),
            workflow_execution_id=missing,
        )
        outgoing = stepper.step(missing, [Envelope(event=event, outbox_id=row_id)])
        assert outgoing.items == [] and outgoing.ended == []
        assert row_id not in _outbox_ids(app)


CHAIN = """
version: '2.0'
two_echoes:
  output:
    first: <% $.first %>
    second: <% $.second %>
  tasks:
    t1:
      action: std.echo
      input:
        output: {"value": 1, "list": [1, 2]}
      publish:
        first: <% task().result %>
      on-success: [t2]
    t2:
      action: std.echo
      input:
        output: two
      publish:
        second: <% task().result %>
"""


def _hand_back(app: Any, command: commands.RunAction, result: Any) -> Envelope:
    """Replace the RunAction row of ``command`` by its result's row, as an executor does."""
    completed = command.completed(State.SUCCESS, result, None)
    result_id = ids.new_id()
    with app.parts.database.transaction() as connection:
        leases.hand_back(
            connection,
            run_action_id=command.action_execution_id,
            result_id=result_id,
            workflow_execution_id=command.workflow_execution_id,
            payload=codec.encode(completed),
            now=app.parts.runtime.clock(),
        )
    return Envelope(event=completed, outbox_id=result_id)


def test_an_engine_without_the_snapshot_reads_tasks_and_actions_in_one_statement(
    database_url: str,
) -> None:
    """An execution another process started or stepped (the API, another engine): its
    tasks and the actions the events name come back in one round trip on PostgreSQL, and
    the step decides on them exactly as with a snapshot of its own."""
    with helpers.embedded(database_url, start=False) as app:
        helpers.deploy(app, CHAIN)
        stepper = _stepper_without_inline(app)
        item = _start_item(app, "two_echoes")
        ((_, first),) = stepper.start(item).items
        for result, expected in (({"value": 1, "list": [1, 2]}, "t2"), ("two", None)):
            assert isinstance(first, commands.RunAction)
            envelope = _hand_back(app, first, result)
            stepper.snapshots.drop(item.execution_id)  # as if another process stepped it
            with statements(app.parts.database, threading.current_thread().name) as sent:
                outgoing = stepper.step(item.execution_id, [envelope])
            reads = [
                statement
                for statement in sent
                if (statement.startswith("SELECT") and "task_executions" in statement)
                or "FROM action_executions" in statement
            ]
            if database_url.startswith("postgresql"):
                assert len(reads) == 1 and "UNION ALL" in reads[0], sent
            else:
                assert len(reads) == 2, sent
            if expected is None:
                assert outgoing.ended == [(item.execution_id, "SUCCESS")]
            else:
                ((_, first),) = outgoing.items
                assert isinstance(first, commands.RunAction)
                assert first.execution.get("task_name") == expected
        row = helpers.execution(app, item.execution_id)
        assert row.output == {"first": {"value": 1, "list": [1, 2]}, "second": "two"}
        tasks = helpers.tasks(app, item.execution_id)
        assert [(task.name, task.state) for task in tasks] == [("t1", "SUCCESS"), ("t2", "SUCCESS")]

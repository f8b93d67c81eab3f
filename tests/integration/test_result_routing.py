"""Where an action's outcome goes (``runtime/result_routing.py``), the one place every
executor path reports through: a task's action becomes an ActionResult row (or an event
queued for the engine of this process); a standalone action's outcome is stored on its
action execution."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from sirocco.engine import commands, events
from sirocco.engine.records import ActionExecution
from sirocco.engine.states import State
from sirocco.runtime import codec, result_routing
from sirocco.store import executions, migrate, notify, outbox, tables
from sirocco.store.database import Database

NOW = datetime(2026, 1, 1, 12, 0, 0)


def _database(url: str) -> Database:
    database = Database(url)
    migrate.prepare(database)
    return database


def _command(workflow_execution_id: str | None) -> commands.RunAction:
    return commands.RunAction(
        action_execution_id="action-1",
        workflow_execution_id=workflow_execution_id,
        task_execution_id=None if workflow_execution_id is None else "task-1",
        action_name="std.echo",
        input={"output": 1},
        execution={},
    )


def _queue(database: Database, command: commands.RunAction, *, standalone: bool) -> None:
    """The RunAction row of ``command`` (with the action execution a standalone one has)."""
    with database.transaction() as connection:
        if standalone:
            record = ActionExecution(id="action-1", name="std.echo", created_at=NOW)
            executions.insert_rows(
                connection, tables.action_executions, [executions.action_row(record)]
            )
        outbox.insert(
            connection,
            [
                outbox.row(
                    id="row-1",
                    kind=outbox.Kind.RUN_ACTION,
                    payload=codec.encode(command),
                    created_at=NOW,
                )
            ],
        )


def _outbox_rows(database: Database) -> list[Any]:
    with database.read() as connection:
        return list(connection.execute(sa.select(tables.outbox)))


def _action_row(database: Database) -> Any:
    with database.read() as connection:
        return connection.execute(
            sa.select(tables.action_executions).where(tables.action_executions.c.id == "action-1")
        ).one()


def test_a_task_action_is_handed_back_as_an_action_result_row(database_url: str) -> None:
    database = _database(database_url)
    try:
        command = _command("workflow-1")
        _queue(database, command, standalone=False)
        with database.transaction() as connection:
            handed = result_routing.hand_back(
                connection,
                "row-1",
                command,
                State.SUCCESS,
                {"answer": 42},
                None,
                now=NOW,
                new_id=lambda: "result-1",
            )
        assert handed is not None
        assert handed.result_id == "result-1"
        assert handed.event == events.ActionCompleted(
            workflow_execution_id="workflow-1",
            action_execution_id="action-1",
            state=State.SUCCESS,
            result={"answer": 42},
            message=None,
        )
        parcel = handed.parcel()
        assert (parcel.kind, parcel.outbox_id) == (outbox.Kind.ACTION_RESULT, "result-1")
        assert codec.decode(parcel.payload) == handed.event
        # The RunAction row is replaced by the ActionResult row, in one transaction.
        rows = _outbox_rows(database)
        assert [(row.id, row.kind, row.workflow_execution_id) for row in rows] == [
            ("result-1", outbox.Kind.ACTION_RESULT, "workflow-1")
        ]
        assert codec.decode(rows[0].payload) == handed.event
    finally:
        database.dispose()


def test_a_standalone_action_is_stored_on_its_action_execution(database_url: str) -> None:
    database = _database(database_url)
    try:
        command = _command(None)
        _queue(database, command, standalone=True)
        with database.transaction() as connection:
            handed = result_routing.hand_back(
                connection, "row-1", command, State.ERROR, None, "it broke", now=NOW
            )
        assert handed is None  # no engine is involved
        assert _outbox_rows(database) == []
        row = _action_row(database)
        assert (row.state, row.state_info, row.accepted) == ("ERROR", "it broke", True)
    finally:
        database.dispose()


def test_in_the_engines_process_a_task_action_is_queued_and_a_standalone_one_stored(
    database_url: str,
) -> None:
    database = _database(database_url)
    try:
        queued: list[tuple[events.ActionCompleted, str]] = []

        def queue_event(event: events.ActionCompleted, outbox_id: str) -> None:
            queued.append((event, outbox_id))

        task_action = _command("workflow-1")
        result_routing.report_here(
            database, queue_event, task_action, State.SUCCESS, 7, None, now=lambda: NOW
        )
        # The RunAction row of an action run in this process has the action's id.
        assert queued == [(task_action.completed(State.SUCCESS, 7, None), "action-1")]

        standalone = _command(None)
        _queue(database, standalone, standalone=True)
        result_routing.report_here(
            database, queue_event, standalone, State.SUCCESS, {"x": 1}, None, now=lambda: NOW
        )
        assert len(queued) == 1
        row = _action_row(database)
        assert (row.state, row.output, row.accepted) == ("SUCCESS", {"x": 1}, True)
    finally:
        database.dispose()


@pytest.mark.parametrize("announce", [None, notify.ENGINE])
def test_a_second_outcome_of_one_action_adds_no_result_row(
    database_url: str, announce: str | None
) -> None:
    """A live executor starved of CPU misses its heartbeats: the heartbeat check hands the
    action back failed, then the executor's own outcome comes. Only the first one stands:
    a second ActionResult row would reach an engine after the execution may have ended
    (the chaos test's empty outbox)."""
    database = _database(database_url)
    try:
        command = _command("workflow-1")
        _queue(database, command, standalone=False)
        outcomes = [(State.ERROR, None, "Heartbeat wasn't received."), (State.SUCCESS, 7, None)]
        handed = []
        for number, (state, result, message) in enumerate(outcomes, 1):
            with database.transaction() as connection:
                handed.append(
                    result_routing.hand_back(
                        connection,
                        "row-1",
                        command,
                        state,
                        result,
                        message,
                        now=NOW,
                        announce=announce,
                        new_id=lambda number=number: f"result-{number}",
                    )
                )
        assert handed[0] is not None and handed[1] is None
        rows = _outbox_rows(database)
        assert [(row.id, row.kind) for row in rows] == [("result-1", outbox.Kind.ACTION_RESULT)]
        assert codec.decode(rows[0].payload).state == State.ERROR
    finally:
        database.dispose()


def test_a_second_outcome_of_a_standalone_action_changes_nothing(database_url: str) -> None:
    database = _database(database_url)
    try:
        command = _command(None)
        _queue(database, command, standalone=True)
        for state, message in ((State.ERROR, "Heartbeat wasn't received."), (State.SUCCESS, None)):
            with database.transaction() as connection:
                result_routing.hand_back(
                    connection, "row-1", command, state, None, message, now=NOW
                )
        row = _action_row(database)
        assert (row.state, row.state_info) == ("ERROR", "Heartbeat wasn't received.")
        assert _outbox_rows(database) == []
    finally:
        database.dispose()

"""The engine's writes on SQLite and PostgreSQL: rows written a chunk at a time."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import sqlalchemy as sa

from sirocco.engine import records
from sirocco.engine.states import State
from sirocco.store import executions, migrate, tables
from sirocco.store.database import Database

NOW = datetime(2024, 1, 2, 3, 4, 5)


def test_rows_beyond_one_chunk_are_all_inserted_then_updated(database_url: str) -> None:
    database = Database(database_url)
    migrate.upgrade(database)
    task = records.TaskExecution(
        id="task", workflow_execution_id="workflow", name="each", seq=0, created_at=NOW
    )
    actions = [
        records.ActionExecution(
            id=f"action-{index:05d}",
            name="std.echo",
            task_execution_id=task.id,
            workflow_execution_id=task.workflow_execution_id,
            input={"output": index},
            index=index,
            created_at=NOW,
        )
        for index in range(2 * executions.CHUNK_ROWS + 1)
    ]
    try:
        with database.transaction() as connection:
            connection.execute(
                sa.insert(tables.workflow_executions),
                {
                    "id": task.workflow_execution_id,
                    "workflow_name": "wf",
                    "definition": "",
                    "state": "RUNNING",
                    "created_at": NOW,
                },
            )
            executions.insert_rows(connection, tables.task_executions, [executions.task_row(task)])
            # Generators, as a step passes them: consumed a chunk at a time.
            executions.insert_rows(
                connection,
                tables.action_executions,
                (executions.action_row(action) for action in actions),
            )
            executions.update_rows(
                connection,
                tables.action_executions,
                (
                    executions.action_row(
                        dataclasses.replace(
                            action, state=State.SUCCESS, output=action.index * 2, accepted=True
                        )
                    )
                    for action in actions
                ),
            )
        with database.read() as connection:
            rows = connection.execute(
                sa.select(tables.action_executions).order_by(tables.action_executions.c.index)
            ).all()
    finally:
        database.dispose()
    assert [
        (row.id, row._mapping["index"], row.input, row.state, row.output, row.accepted)
        for row in rows
    ] == [
        (action.id, action.index, {"output": action.index}, "SUCCESS", action.index * 2, True)
        for action in actions
    ]

"""``store.driver_writes``: the step's many-row writes on SQLite straight through the
driver store exactly the text SQLAlchemy stores, in the caller's transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from sirocco.engine import records
from sirocco.engine.states import State
from sirocco.store import driver_writes, executions, migrate, tables
from sirocco.store.database import Database


@pytest.fixture
def database(tmp_path: Any) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/writes.sqlite")
    migrate.upgrade(database)
    try:
        yield database
    finally:
        database.dispose()


def _workflow(execution_id: str, **changes: Any) -> dict[str, Any]:
    row = {
        "id": execution_id,
        "workflow_name": "wf",
        "definition": "",
        "state": "RUNNING",
        "created_at": datetime(2026, 1, 2, 3, 4, 5),
    }
    return {**row, **changes}


def _task(task_id: str, execution_id: str, **changes: Any) -> dict[str, Any]:
    record = records.TaskExecution(
        id=task_id,
        workflow_execution_id=execution_id,
        name="t1 é",
        seq=3,
        state=State.SUCCESS,
        state_info="a 'quoted' \"text\" ✓",
        triggered_by=("other",),
        published={"x": [1, 2.5, None, True], "ü": {"nested": "ß"}},
        result={"big": "y" * 2000, "n": 1},
        has_result=True,
        next_tasks=(("t2", "on-success"),),
        processed=True,
        error_handled=False,
        runtime=records.TaskRuntime(attempt=2, action_id="a1"),
        tags=("one", "two"),
        # Microseconds of 0 are written too ("...05.000000"), as SQLAlchemy writes them.
        created_at=datetime(2026, 1, 2, 3, 4, 5),
        updated_at=datetime(2026, 1, 2, 3, 4, 5, 123),
        started_at=datetime(999, 12, 31, 23, 59, 59, 999999),
        finished_at=None,
    )
    return {**executions.task_row(record), **changes}


def _stored(database: Database, table: sa.Table) -> list[tuple[Any, ...]]:
    """The rows as SQLite holds them (the driver's values, no SQLAlchemy type)."""
    with database.read() as connection:
        driver: Any = connection.connection.driver_connection
        return list(driver.execute(f"SELECT * FROM {table.name} ORDER BY id").fetchall())


def _write_both_ways(database: Database, statement: Any, rows: list[dict[str, Any]]) -> None:
    with database.transaction() as connection:
        connection.execute(statement, [row for row in rows if row["id"].startswith("sa-")])
        driver_writes.execute_many(
            connection, statement, [row for row in rows if row["id"].startswith("driver-")]
        )


def _without_ids(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return [row[1:] for row in rows]


def test_inserted_rows_hold_what_sqlalchemy_writes(database: Database) -> None:
    _write_both_ways(
        database,
        sa.insert(tables.workflow_executions),
        [_workflow("sa-w"), _workflow("driver-w")],
    )
    rows = [
        _task(f"{way}-{number}", f"{way}-w", **changes)
        for way in ("driver", "sa")
        for number, changes in enumerate(
            [
                {},
                {"published": None, "result": None, "has_result": False, "tags": []},
                {"state_info": None, "updated_at": None, "processed": False},
            ]
        )
    ]
    _write_both_ways(database, sa.insert(tables.task_executions), rows)
    stored = _stored(database, tables.task_executions)
    by_way = {way: [row for row in stored if row[0].startswith(way)] for way in ("driver", "sa")}
    assert len(by_way["sa"]) == 3
    # The other columns hold ids of the way they were written by (sa-w, driver-w).
    assert [row[2:] for row in by_way["driver"]] == [row[2:] for row in by_way["sa"]]
    first = by_way["driver"][0]
    assert "2026-01-02 03:04:05.000000" in first and "0999-12-31 23:59:59.999999" in first
    # And they read back through SQLAlchemy's types as the same values.
    with database.read() as connection:
        read = {
            row.id: row._asdict() for row in connection.execute(sa.select(tables.task_executions))
        }
    for number in range(3):
        driver = dict(read[f"driver-{number}"], id=None, workflow_execution_id=None)
        assert driver == dict(read[f"sa-{number}"], id=None, workflow_execution_id=None)
    assert read["driver-0"]["updated_at"] == datetime(2026, 1, 2, 3, 4, 5, 123)


def test_an_aware_datetime_and_values_of_other_types_are_left_to_sqlalchemy(
    database: Database,
) -> None:
    aware = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    rows = [_workflow(f"{way}-w", created_at=aware, updated_at=aware) for way in ("sa", "driver")]
    _write_both_ways(database, sa.insert(tables.workflow_executions), rows)
    stored = _stored(database, tables.workflow_executions)
    assert _without_ids(stored[:1]) == _without_ids(stored[1:])
    with database.transaction() as connection, pytest.raises(TypeError):
        driver_writes.execute_many(
            connection,
            sa.insert(tables.task_executions),
            [_task("driver-x", "driver-w", processed="yes")],  # SQLAlchemy refuses it too
        )


def test_an_update_with_a_value_of_its_own_and_a_key_param(database: Database) -> None:
    with database.transaction() as connection:
        connection.execute(
            sa.insert(tables.workflow_executions), [_workflow("w1"), _workflow("w2")]
        )
    bump = (
        sa.update(tables.workflow_executions)
        .where(tables.workflow_executions.c.id == sa.bindparam("_id"))
        .values(
            state=sa.bindparam("state"),
            version=tables.workflow_executions.c.version + 5,
        )
    )
    with database.transaction() as connection:
        driver_writes.execute_many(
            connection, bump, [{"_id": "w1", "state": "SUCCESS"}, {"_id": "w2", "state": "ERROR"}]
        )
    with database.read() as connection:
        rows = connection.execute(
            sa.select(
                tables.workflow_executions.c.id,
                tables.workflow_executions.c.state,
                tables.workflow_executions.c.version,
            ).order_by(tables.workflow_executions.c.id)
        ).all()
    assert [tuple(row) for row in rows] == [("w1", "SUCCESS", 5), ("w2", "ERROR", 5)]


def test_writes_are_part_of_the_transaction(database: Database) -> None:
    with pytest.raises(RuntimeError), database.transaction() as connection:
        driver_writes.execute_many(
            connection, sa.insert(tables.workflow_executions), [_workflow("gone")]
        )
        raise RuntimeError("rolled back")
    assert _stored(database, tables.workflow_executions) == []


def test_a_driver_error_is_raised_as_sqlalchemys(database: Database) -> None:
    with database.transaction() as connection:
        driver_writes.execute_many(
            connection, sa.insert(tables.workflow_executions), [_workflow("twice")]
        )
    with pytest.raises(sa.exc.IntegrityError) as raised, database.transaction() as connection:
        driver_writes.execute_many(
            connection, sa.insert(tables.workflow_executions), [_workflow("twice")]
        )
    assert isinstance(raised.value.orig, sqlite3.IntegrityError)


def test_cursor_listeners_see_the_statement(database: Database) -> None:
    seen: list[tuple[str, int, bool]] = []

    def record(_c: Any, _cursor: Any, statement: str, parameters: Any, _x: Any, many: bool) -> None:
        seen.append((statement.split("(")[0].strip(), len(parameters), many))

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        with database.transaction() as connection:
            executions.insert_rows(
                connection, tables.workflow_executions, [_workflow("a"), _workflow("b")]
            )
    finally:
        event.remove(database.engine, "before_cursor_execute", record)
    assert ("INSERT INTO workflow_executions", 2, True) in seen

"""``store.one_statement`` on PostgreSQL: a step's few writes in one statement, and with
``commit`` the transaction's commit in the same round trip (alone in autocommit when the
transaction has sent nothing yet, else followed by COMMIT in one simple query)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from sirocco.engine import records
from sirocco.engine.states import State
from sirocco.store import executions, one_statement, tables
from sirocco.store.database import Database


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    if not database_url.startswith("postgresql"):
        pytest.skip("one statement of CTEs is PostgreSQL's (SQLite writes table by table)")
    database = Database(database_url)
    try:
        yield database
    finally:
        database.dispose()


def _workflow(execution_id: str) -> dict[str, Any]:
    return {
        "id": execution_id,
        "workflow_name": "wf",
        "definition": "",
        "state": "RUNNING",
        "created_at": datetime(2026, 1, 2, 3, 4, 5),
    }


def _task(task_id: str, execution_id: str) -> dict[str, Any]:
    """A task row whose texts need quoting (client-side parameters must keep them)."""
    record = records.TaskExecution(
        id=task_id,
        workflow_execution_id=execution_id,
        name="t1 é; COMMIT",
        seq=3,
        state=State.SUCCESS,
        state_info="a 'quoted' \"text\" \\ %s %(x)s $1 ✓",
        published={"x": [1, 2.5, None, True], "ü": {"nested": "'ß'"}},
        result={"big": "y" * 2000, "n": 1},
        has_result=True,
        runtime=records.TaskRuntime(attempt=2, action_id="a1"),
        tags=("one", "two"),
        created_at=datetime(2026, 1, 2, 3, 4, 5),
        updated_at=datetime(2026, 1, 2, 3, 4, 5, 123),
    )
    return executions.task_row(record)


def _count(database: Database, execution_id: str) -> int:
    """Rows of ``execution_id`` that other connections see (committed ones)."""
    with database.read() as connection:
        statement = sa.select(sa.func.count()).where(
            tables.task_executions.c.workflow_execution_id == execution_id
        )
        return int(connection.execute(statement).scalar_one())


def _writes(execution_id: str) -> list[one_statement.Write]:
    return [
        one_statement.Write(tables.workflow_executions, _workflow(execution_id)),
        one_statement.Write(tables.task_executions, _task(f"{execution_id}-t", execution_id)),
    ]


@pytest.mark.parametrize("read_first", [False, True])
def test_the_commit_rides_with_the_statement(database: Database, read_first: bool) -> None:
    """The rows are committed when the statement returns, before the caller's commit;
    what they hold is what the statements of SQLAlchemy write."""
    with database.transaction() as connection:
        executions.insert_rows(connection, tables.workflow_executions, [_workflow("sa")])
        executions.insert_rows(connection, tables.task_executions, [_task("sa-t", "sa")])
    with database.transaction() as connection:
        if read_first:  # BEGIN sent: the statement is followed by COMMIT
            executions.lock_workflow(connection, "sa")
        one_statement.execute(connection, _writes("one"), ["handoff_test"], commit=True)
        assert _count(database, "one") == 1  # seen from another connection already
    with database.read() as connection:
        rows = {
            row.id: row._asdict() for row in connection.execute(sa.select(tables.task_executions))
        }
    assert dict(rows["one-t"], id=None, workflow_execution_id=None) == dict(
        rows["sa-t"], id=None, workflow_execution_id=None
    )


@pytest.mark.parametrize("read_first", [False, True])
def test_a_failing_statement_commits_nothing(database: Database, read_first: bool) -> None:
    """A row written twice fails the statement: SQLAlchemy's error is raised, nothing of
    it is committed, and the database goes on serving the next transaction."""
    with database.transaction() as connection:
        one_statement.execute(connection, _writes("first"), [], commit=True)
    clash = [
        one_statement.Write(tables.workflow_executions, _workflow("second")),
        one_statement.Write(tables.task_executions, _task("first-t", "second")),
    ]
    with pytest.raises(sa.exc.IntegrityError), database.transaction() as connection:
        if read_first:
            executions.lock_workflow(connection, "first")
        one_statement.execute(connection, clash, [], commit=True)
    with database.read() as connection:
        statement = sa.select(tables.workflow_executions.c.id).order_by("id")
        assert list(connection.execute(statement).scalars()) == ["first"]
    with database.transaction() as connection:
        one_statement.execute(connection, _writes("third"), [], commit=True)
    assert _count(database, "third") == 1


def test_without_commit_the_caller_commits(database: Database) -> None:
    with pytest.raises(RuntimeError), database.transaction() as connection:
        executions.lock_workflow(connection, "none")
        one_statement.execute(connection, _writes("kept"), [])
        raise RuntimeError("rolled back")
    assert _count(database, "kept") == 0


#: A statement of one row that wakes a channel and returns what it wrote.
_PROBE = sa.text(
    "WITH added AS (INSERT INTO workflow_executions (id, workflow_name, definition, state,"
    " created_at) VALUES (:id, 'wf', '', 'RUNNING', :now) RETURNING id)"
    " SELECT added.id, pg_notify('handoff_test', '') FROM added"
).bindparams(sa.bindparam("now", type_=sa.DateTime))


@pytest.mark.parametrize("read_first", [False, True])
def test_an_early_commit_returns_its_rows_committed(database: Database, read_first: bool) -> None:
    """``early``: the statement's rows come back, the commit is done when the call returns
    (seen from another connection), and the connection serves the next transaction, in
    or out of a transaction begun before."""
    with database.transaction() as connection:
        if read_first:
            executions.lock_workflow(connection, "none")
        rows = one_statement.execute_and_commit(
            connection, _PROBE, {"id": "early", "now": datetime(2026, 1, 2)}, early=True
        )
        assert [row[0] for row in rows] == ["early"]
        with database.read() as other:
            seen = other.execute(sa.select(tables.workflow_executions.c.id)).scalars().all()
        assert seen == ["early"]
        driver: Any = connection.connection.driver_connection
        assert not driver.autocommit
    with database.transaction() as connection:
        one_statement.execute(
            connection, _writes("next"), ["handoff_test"], commit=True, early=True
        )
    assert _count(database, "next") == 1


def test_an_early_statement_that_fails_commits_nothing(database: Database) -> None:
    with database.transaction() as connection:
        one_statement.execute(connection, _writes("first"), [], commit=True)
    clash = [
        one_statement.Write(tables.workflow_executions, _workflow("second")),
        one_statement.Write(tables.task_executions, _task("first-t", "second")),
    ]
    with pytest.raises(sa.exc.IntegrityError), database.transaction() as connection:
        one_statement.execute(connection, clash, ["handoff_test"], commit=True, early=True)
    with database.read() as connection:
        statement = sa.select(tables.workflow_executions.c.id).order_by("id")
        assert list(connection.execute(statement).scalars()) == ["first"]


def test_an_interrupt_midway_leaves_no_connection_in_autocommit(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A KeyboardInterrupt while the statement runs (sent, its answer not read) reaches the
    caller, and the pool gives no connection back in autocommit: the one interrupted is
    dropped (it may still run the statement), the next transaction runs as one."""
    import psycopg

    def interrupted(cursor: Any, query: Any, params: Any = None, **_: Any) -> Any:
        cursor.connection.pgconn.send_query(b"SELECT pg_sleep(0.01)")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), database.transaction() as connection:
        interrupted_driver = connection.connection.driver_connection
        monkeypatch.setattr(psycopg.Cursor, "execute", interrupted)
        one_statement.execute(connection, _writes("cut"), [], commit=True)
    monkeypatch.undo()
    assert interrupted_driver.closed
    with pytest.raises(RuntimeError), database.transaction() as connection:
        assert not connection.connection.driver_connection.autocommit
        executions.insert_rows(connection, tables.workflow_executions, [_workflow("undone")])
        raise RuntimeError("rolled back")
    with database.read() as connection:
        assert connection.execute(sa.select(tables.workflow_executions.c.id)).all() == []

"""A step's few writes as one statement on PostgreSQL: each insert or update a
data-modifying CTE of one ``SELECT``, which also sends the step's notifications.

psycopg sends every statement as a round trip of its own. The step of one execution
writes a handful of rows: the API's start writes the workflow, task, action and outbox
rows and a NOTIFY (five round trips), the engine's step on an action's result updates
the action, the task and the workflow (three). Here each set is one round trip.

PostgreSQL runs every data-modifying CTE of a statement, read or not, all on the same
snapshot and in an unspecified order: so no part may read what another writes, and no
row may be written by two parts (only one of the two writes would take effect). The
caller checks the second (:func:`distinct`); inserts and updates by id read nothing.
Foreign keys are checked at the end of the statement, when every part has run.

When nothing else follows in the transaction (``commit=True``), the statement also ends
it, in the same round trip: alone in autocommit when the transaction has sent nothing
yet (the API's start: one round trip where BEGIN, the statement and COMMIT took three),
else followed by ``COMMIT`` in one simple query (the engine's step: its COMMIT rides with
its writes). The commit is as durable as the caller's transaction would have made it;
the caller's own commit then finds nothing left to do (psycopg sends nothing for it).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from sirocco.store import driver_writes, tables

#: Rows written together at most; a larger flush goes table by table (``executemany``),
#: and each shape of statement (tables, columns, number of rows) is compiled once.
MOST_ROWS = 16


@dataclass(frozen=True, slots=True)
class Write:
    """One row to insert, or to update by its ``id`` (every other column given)."""

    table: sa.Table
    row: dict[str, Any]
    update: bool = False
    #: Also ``version = version + 1`` (an update of a workflow execution).
    bump: bool = False


def distinct(keys: Iterable[tuple[str, str]]) -> bool:
    """Whether no (table, id) comes twice: the rows one statement may write."""
    seen: set[tuple[str, str]] = set()
    for key in keys:
        if key in seen:
            return False
        seen.add(key)
    return True


def execute(
    connection: sa.Connection,
    writes: Sequence[Write],
    channels: Sequence[str],
    *,
    commit: bool = False,
) -> None:
    """Write every row of ``writes`` and notify ``channels`` (at commit), in one statement;
    ``commit``: and commit the caller's transaction with it (nothing may follow in it)."""
    if not writes and not channels:
        return
    shapes = tuple((item.table.name, tuple(item.row), item.update, item.bump) for item in writes)
    values: dict[str, Any] = {}
    for index, item in enumerate(writes):
        for key, value in item.row.items():
            values[f"w{index}_{key}"] = value
    for index, channel in enumerate(channels):
        values[f"n{index}"] = channel
    statement = _statement(shapes, len(channels))
    if commit:
        execute_and_commit(connection, statement, values)
    else:
        connection.execute(statement, values).close()


def execute_and_commit(
    connection: sa.Connection, statement: Any, values: Mapping[str, Any]
) -> list[Any]:
    """Run ``statement`` and commit the caller's transaction, in one round trip
    (PostgreSQL; nothing may follow in the transaction); return the statement's rows (as
    the driver gives them). ``statement`` is built once (a module constant or cached): its
    compiled form is kept by its identity."""
    import psycopg

    text, converters = _compiled(statement, connection.dialect)
    parameters = {
        key: value if converters.get(key) is None else converters[key](value)
        for key, value in _parameters(statement, connection.dialect, values).items()
    }
    driver: Any = connection.connection.driver_connection
    fresh = driver.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    sent = text if fresh else f"{text}; COMMIT"
    before = connection.dispatch.before_cursor_execute
    after = connection.dispatch.after_cursor_execute
    cursor = driver.cursor() if fresh else psycopg.ClientCursor(driver)
    try:
        # Nothing sent in this transaction yet (no BEGIN): the statement alone, in
        # autocommit; else one simple query, the statement then COMMIT (parameters bound
        # client-side). Inside ``try``: an interrupt right after it still leaves autocommit.
        if fresh:
            driver.autocommit = True
        if before:
            before(connection, cursor, sent, parameters, None, False)
        cursor.execute(sent, parameters)
        rows = list(cursor.fetchall()) if cursor.description else []
        if after:
            after(connection, cursor, sent, parameters, None, False)
        return rows
    except psycopg.Error as exc:
        if driver.broken:
            connection.invalidate(exc)
        raise sa.exc.DBAPIError.instance(sent, parameters, exc, psycopg.Error) from exc
    finally:
        cursor.close()
        if fresh:
            _leave_autocommit(connection, driver)


def _leave_autocommit(connection: sa.Connection, driver: Any) -> None:
    """Give the pool back a connection out of autocommit, or none at all: when something
    other than the database's error (a KeyboardInterrupt) stopped the statement midway,
    the connection may still run it, and can neither leave autocommit nor be trusted by
    the next transaction."""
    import psycopg

    if driver.broken or connection.invalidated:
        return
    if driver.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        driver.autocommit = False
    else:
        connection.invalidate()


def _parameters(statement: Any, dialect: Dialect, values: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter of ``statement`` by name: ``values``, and those it holds itself."""
    return dict(_compiled_statement(statement, dialect).construct_params(dict(values)))


@functools.lru_cache(maxsize=256)
def _compiled_statement(statement: Any, dialect: Dialect) -> Any:
    return statement.compile(dialect=dialect)


@functools.lru_cache(maxsize=256)
def _compiled(statement: Any, dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """The SQL text of ``statement`` and each parameter's conversion for the driver."""
    compiled = _compiled_statement(statement, dialect)
    converters = {
        name: driver_writes.converter(bind.type, dialect) for name, bind in compiled.binds.items()
    }
    return str(compiled), converters


@functools.lru_cache(maxsize=256)
def _statement(shapes: tuple[tuple[str, tuple[str, ...], bool, bool], ...], channels: int) -> Any:
    """The statement of one shape (each part's table, columns, kind), built once."""
    parts = []
    for index, (name, keys, update, bump) in enumerate(shapes):
        table = tables.metadata.tables[name]
        assigned: dict[str, Any] = {
            key: sa.bindparam(f"w{index}_{key}", type_=table.c[key].type)
            for key in keys
            if not (update and key == "id")
        }
        if bump:
            assigned["version"] = table.c.version + 1
        if update:
            chosen = table.c.id == sa.bindparam(f"w{index}_id", type_=table.c.id.type)
            parts.append(sa.update(table).where(chosen).values(assigned).cte(f"w{index}"))
        else:
            parts.append(sa.insert(table).values(assigned).cte(f"w{index}"))
    selected: list[Any] = [
        sa.func.pg_notify(sa.bindparam(f"n{index}", type_=sa.String), sa.literal_column("''"))
        for index in range(channels)
    ] or [sa.literal_column("1")]
    return sa.select(*selected).add_cte(*parts)

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

from sirocco.store import driver_writes, notify, tables

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
    early: bool = False,
    flushed: bool = True,
) -> None:
    """Write every row of ``writes`` and notify ``channels`` (at commit), in one statement;
    ``commit``: and commit the caller's transaction with it (nothing may follow in it);
    ``early``: the commit is seen and ``channels`` told before its flush, if any are told,
    or if ``flushed`` is False: the call then returns before the flush (see
    :func:`execute_and_commit`)."""
    if not writes and not channels:
        return
    shapes = tuple((item.table.name, tuple(item.row), item.update, item.bump) for item in writes)
    values: dict[str, Any] = {}
    for index, item in enumerate(writes):
        for key, value in item.row.items():
            values[f"w{index}_{key}"] = value
    for index, channel in enumerate(channels):
        if channel != notify.ONE_EXECUTOR:
            values[f"n{index}"] = channel
    statement = _statement(shapes, tuple(channel == notify.ONE_EXECUTOR for channel in channels))
    if commit:
        execute_and_commit(
            connection,
            statement,
            values,
            early=early and (bool(channels) or not flushed),
            flushed=flushed,
        )
    else:
        connection.execute(statement, values).close()


def execute_and_commit(
    connection: sa.Connection,
    statement: Any,
    values: Mapping[str, Any],
    *,
    early: bool = False,
    flushed: bool = True,
) -> list[Any]:
    """Run ``statement`` and commit the caller's transaction, in one round trip
    (PostgreSQL; nothing may follow in the transaction); return the statement's rows (as
    the driver gives them). ``statement`` is built once (a module constant or cached): its
    compiled form is kept by its identity.

    ``early``: the commit is seen, and its NOTIFYs sent, before its WAL reaches the disk;
    the call still returns only once it has (see :data:`EARLY`). For a write that wakes
    another role whose own acts on it are durable commits (an executor's lease, an
    engine's step): the role woken need not wait for this commit's flush, as its own
    flush carries this commit's WAL too. ``flushed=False`` (with ``early``): the call
    returns before the flush, and the caller must wait for it on the same connection
    (:func:`wait_for_disk`) before it acts on the commit itself (it may tell a
    broker first: whoever the broker wakes acts through durable commits)."""
    import psycopg

    text, converters = _compiled(statement, connection.dialect)
    parameters = {
        key: value if converters.get(key) is None else converters[key](value)
        for key, value in _parameters(statement, connection.dialect, values).items()
    }
    driver: Any = connection.connection.driver_connection
    fresh = driver.pgconn.transaction_status == psycopg.pq.TransactionStatus.IDLE
    if early:
        sent = (EARLY if flushed else UNFLUSHED).format(statement=text)
    else:
        sent = text if fresh else f"{text}; COMMIT"
    before = connection.dispatch.before_cursor_execute
    after = connection.dispatch.after_cursor_execute
    alone = fresh and not early
    cursor = driver.cursor() if alone else psycopg.ClientCursor(driver)
    try:
        # Nothing sent in this transaction yet (no BEGIN): the statement alone, in
        # autocommit; else one simple query, the statement then COMMIT (parameters bound
        # client-side). Inside ``try``: an interrupt right after it still leaves autocommit.
        if fresh:
            driver.autocommit = True
        if before:
            before(connection, cursor, sent, parameters, None, False)
        cursor.execute(sent, parameters)
        if early:
            cursor.nextset()  # past SET LOCAL's result, to the statement's
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


#: The form of an ``early`` statement, one simple query: its transaction commits without
#: waiting for the disk (its rows seen and its NOTIFYs sent at once), then a transaction
#: that writes a little WAL (a logical decoding message of no consequence, under the
#: prefix ``sirocco.durable``) commits as every other does, waiting for its flush. The
#: WAL is one sequence, flushed in order: once the second commit is on disk, so is the
#: first. A database crash between the two may forget the first (the call then fails,
#: as a commit whose connection is lost does); nothing this process does after the call
#: can rest on a commit a crash forgets. Another role may act on the first commit before
#: the flush: only through a durable commit of its own, which carries the first's WAL.
UNFLUSHED = "SET LOCAL synchronous_commit TO off; {statement}; COMMIT"
#: A transaction that writes a little WAL and commits waiting for its flush (and thus for
#: that of every commit before it).
DURABLE = "SELECT pg_logical_emit_message(true, 'sirocco.durable', '')"
EARLY = f"{UNFLUSHED}; {DURABLE}"


def wait_for_disk(connection: sa.Connection) -> None:
    """Return once every commit made on ``connection`` (and before) is on disk: a commit
    made with ``flushed=False``. On the same connection, so that a database crash since
    that commit fails the call (a new connection would find the database up again and
    wait for nothing the crash did not already forget). Nothing may be open on it."""
    import psycopg

    driver: Any = connection.connection.driver_connection
    try:
        driver.autocommit = True
        driver.execute(DURABLE)
    except psycopg.Error as exc:
        if driver.broken:
            connection.invalidate(exc)
        raise sa.exc.DBAPIError.instance(DURABLE, None, exc, psycopg.Error) from exc
    finally:
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
def _statement(
    shapes: tuple[tuple[str, tuple[str, ...], bool, bool], ...], channels: tuple[bool, ...]
) -> Any:
    """The statement of one shape (each part's table, columns, kind; each channel told,
    True where it is ``notify.ONE_EXECUTOR``, chosen by the statement), built once."""
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
        sa.func.pg_notify(
            sa.literal_column(notify.ONE_EXECUTOR_SQL)
            if chosen
            else sa.bindparam(f"n{index}", type_=sa.String),
            sa.literal_column("''"),
        )
        for index, chosen in enumerate(channels)
    ] or [sa.literal_column("1")]
    return sa.select(*selected).add_cte(*parts)

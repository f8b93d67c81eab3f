"""Many-row writes of a prebuilt statement straight through SQLite's driver, in the
caller's transaction.

SQLAlchemy's executemany spends more on each row than SQLite takes to write it: the
parameters of every row are built again from the compiled statement and run through
each column type's processor inside an execution context. Here a statement is
compiled once per set of keys, as SQLAlchemy compiles it for an executemany, and each
column's conversion is chosen once: our own for the types the engine's rows hold
(``DateTime`` as the text SQLAlchemy's SQLite dialect writes, ``Boolean`` as 0 or 1, a
``TypeDecorator`` over a type without a processor by its ``process_bind_param``), the
type's own processor for anything else. The rows then go to the driver's executemany
on the connection of the transaction. Listeners of ``before_cursor_execute`` and
``after_cursor_execute`` still see each statement; driver errors are raised as
SQLAlchemy's.
"""

from __future__ import annotations

import datetime
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

_datetime = datetime.datetime
Convert = Callable[[Any], Any]


class Prepared:
    """A statement compiled for one set of keys: its SQL text and the function that makes
    a row's parameters (in the placeholders' order: each a key of the row, converted, or
    a value the statement holds itself)."""

    __slots__ = ("parameters", "statement", "text")

    def __init__(
        self, statement: sa.Executable, text: str, sources: Sequence[tuple[str | None, Any]]
    ) -> None:
        self.statement = statement  # kept so that the id of a cached statement stays its own
        self.text = text
        #: ``parameters(row)``: one row's values as the driver takes them.
        self.parameters: Callable[[Mapping[str, Any]], tuple[Any, ...]] = _row_function(sources)


def _row_function(
    sources: Sequence[tuple[str | None, Any]],
) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """``lambda row: (convert_0(row[key_0]), value_1, row[key_2], ...)``, made once per
    statement and keys: a loop over the placeholders per row costs twice as much."""
    namespace: dict[str, Any] = {}
    parts = []
    for position, (key, source) in enumerate(sources):
        if key is None:
            namespace[f"value_{position}"] = source
            parts.append(f"value_{position}")
        elif source is _identity:
            parts.append(f"row[{key!r}]")
        else:
            namespace[f"convert_{position}"] = source
            parts.append(f"convert_{position}(row[{key!r}])")
    function: Callable[[Mapping[str, Any]], tuple[Any, ...]] = eval(
        f"lambda row: ({', '.join(parts)},)", namespace
    )
    return function


_compiled: dict[tuple[int, tuple[str, ...], str, bool], Prepared] = {}
_compiled_lock = threading.Lock()


def prepared(
    statement: sa.Executable, keys: Sequence[str], dialect: Dialect, *, many: bool = True
) -> Prepared:
    """``statement`` compiled for rows with ``keys`` (cached by the statement's identity:
    statements are module constants or cached themselves); ``many``: for an executemany."""
    cache_key = (id(statement), tuple(keys), dialect.name, many)
    found = _compiled.get(cache_key)
    if found is not None and found.statement is statement:
        return found
    compiled = statement.compile(  # type: ignore[attr-defined]
        dialect=dialect, column_keys=sorted(keys), for_executemany=many
    )
    if not compiled.positional:
        raise ValueError(f"{dialect.name} does not take positional parameters")
    sources: list[tuple[str | None, Any]] = []
    given = set(keys)
    for name in compiled.positiontup or ():
        convert = converter(compiled.binds[name].type, dialect) or _identity
        if name in given:
            sources.append((name, convert))
        else:
            sources.append((None, convert(compiled.params[name])))
    found = Prepared(statement, str(compiled), sources)
    with _compiled_lock:
        _compiled[cache_key] = found
    return found


def converter(type_: sa.types.TypeEngine[Any], dialect: Dialect) -> Convert | None:
    """How a value of ``type_`` is made into what the driver takes (None: as it is)."""
    if isinstance(type_, sa.types.TypeDecorator):
        inner = type_.impl_instance.dialect_impl(dialect).bind_processor(dialect)
        own = type(type_).process_bind_param is not sa.types.TypeDecorator.process_bind_param
        if inner is None and own:
            process = type_.process_bind_param
            return lambda value: process(value, dialect)
    if isinstance(type_, sa.types.DateTime) and dialect.name == "sqlite":
        fallback = type_.dialect_impl(dialect).bind_processor(dialect)
        return lambda value: _sqlite_datetime(value, fallback)
    if isinstance(type_, sa.types.Boolean) and not dialect.supports_native_boolean:
        fallback = type_.dialect_impl(dialect).bind_processor(dialect)
        return lambda value: _boolean(value, fallback)
    processor: Convert | None = type_.dialect_impl(dialect).bind_processor(dialect)
    return processor


def _identity(value: Any) -> Any:
    return value


def _sqlite_datetime(value: Any, fallback: Convert | None) -> Any:
    # SQLAlchemy's SQLite DATETIME text: "YYYY-MM-DD HH:MM:SS.ffffff", no offset. The
    # records of a step share its one ``now``: the last text made is kept by identity.
    global _last_datetime
    if value is None:
        return None
    last = _last_datetime
    if value is last[0]:
        return last[1]
    if type(value) is _datetime and value.tzinfo is None:
        text = value.isoformat(" ", "microseconds")
        _last_datetime = (value, text)
        return text
    return value if fallback is None else fallback(value)


#: The last datetime converted and its text (one tuple: read and replaced whole, so a
#: thread never sees the text of another thread's value).
_last_datetime: tuple[Any, str | None] = (object(), None)


def _boolean(value: Any, fallback: Convert | None) -> Any:
    if value is True:
        return 1
    if value is False:
        return 0
    return value if fallback is None else fallback(value)


def execute_many(
    connection: sa.Connection, statement: sa.Executable, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Execute ``statement`` once per row (every row with the first row's keys) through
    the driver of ``connection`` (SQLite), in its transaction."""
    if not rows:
        return
    plan = prepared(statement, tuple(rows[0]), connection.dialect)
    _run(connection, plan.text, list(map(plan.parameters, rows)), many=True)


def execute(
    connection: sa.Connection, statement: sa.Executable, values: Mapping[str, Any]
) -> list[tuple[Any, ...]]:
    """Execute ``statement`` once with ``values`` through the driver of ``connection``
    (SQLite), in its transaction: its rows as the driver returns them (no conversion).

    For the statements a step runs once per execution (lock, consume): through
    SQLAlchemy such a statement costs several times what SQLite takes to run it.
    """
    plan = prepared(statement, tuple(values), connection.dialect, many=False)
    rows: list[tuple[Any, ...]] = _run(connection, plan.text, plan.parameters(values), many=False)
    return rows


def execute_text(
    connection: sa.Connection, text: str, parameters: Sequence[Any]
) -> list[tuple[Any, ...]]:
    """Execute the SQL ``text`` (SQLite's, ``?`` placeholders) once with ``parameters``
    through the driver of ``connection``, in its transaction: its rows as the driver
    returns them. For a statement too simple to be worth compiling (``store.blobs``:
    its first compile cost more than a run's blobs)."""
    rows: list[tuple[Any, ...]] = _run(connection, text, tuple(parameters), many=False)
    return rows


def _run(connection: sa.Connection, text: str, parameters: Any, *, many: bool) -> Any:
    """Run ``text`` on the driver connection of ``connection``'s transaction, seen by its
    cursor listeners, driver errors raised as SQLAlchemy's; the rows it returns."""
    driver: Any = connection.connection.driver_connection
    before = connection.dispatch.before_cursor_execute
    after = connection.dispatch.after_cursor_execute
    cursor = driver.cursor()
    try:
        if before:
            before(connection, cursor, text, parameters, None, many)
        if many:
            cursor.executemany(text, parameters)
            found = None
        else:
            found = cursor.execute(text, parameters).fetchall()
        if after:
            after(connection, cursor, text, parameters, None, many)
        return found
    except sqlite3.Error as exc:
        raise sa.exc.DBAPIError.instance(text, parameters, exc, sqlite3.Error) from exc
    finally:
        cursor.close()

"""Reads of a prebuilt statement straight through SQLite's driver, for the busiest reads.

A read by key through SQLAlchemy (a pooled connection checked out, ``BEGIN``, the
statement's execution context, ``ROLLBACK``, the connection checked in) costs several
times what SQLite takes to answer it (~15 µs). Here a statement built once is compiled
once to its SQL text, and runs on a connection of the calling thread that stays open,
in autocommit mode: one statement is its own read transaction, which ends when its
rows are fetched. ``rows`` is for statements whose columns the driver returns as they
are (text, numbers); ``mapped_rows`` converts each column as SQLAlchemy would (the
column type's own result processor for this dialect: dates, JSON text).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

#: Statements compiled so far, by identity: (statement, SQL text, parameter names in
#: order, values of the parameters the statement holds itself). Statements are module
#: constants; the statement is kept so that its id stays its own.
_Compiled = tuple[sa.Select[Any], str, tuple[str, ...], dict[str, Any]]
#: How a converted read makes its rows: (column key, its result processor or None), in order.
_Converters = tuple[tuple[str, Any], ...]


class DriverReads:
    """Single-statement reads of one SQLite file, one open connection per thread."""

    def __init__(self, engine: sa.Engine, path: str) -> None:
        self._dialect = engine.dialect
        self._path = path
        self._local = threading.local()
        self._lock = threading.Lock()
        #: Every open connection, with the thread it belongs to.
        self._opened: list[tuple[threading.Thread, sqlite3.Connection]] = []
        #: Bumped by ``close``: a thread's connection of an earlier generation is reopened.
        self._generation = 0
        self._compiled: dict[int, _Compiled] = {}
        self._converters: dict[int, _Converters] = {}

    def rows(
        self, statement: sa.Select[Any], values: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows of ``statement`` with its parameters set from ``values``.

        Driver errors are raised as SQLAlchemy's (``database.is_outage`` reads them).
        """
        _, text, names, defaults = self._compile(statement)
        given = values or {}
        parameters = [given[name] if name in given else defaults[name] for name in names]
        try:
            return self._connection().execute(text, parameters).fetchall()
        except sqlite3.Error as exc:
            raise sa.exc.DBAPIError.instance(text, parameters, exc, sqlite3.Error) from exc

    def mapped_rows(
        self, statement: sa.Select[Any], values: Mapping[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The rows of ``statement`` as dicts by column key, as a read through SQLAlchemy
        gives them: each value converted by its column type's result processor."""
        found = self.rows(statement, values)
        converters = self._converters.get(id(statement))
        if converters is None:
            converters = tuple(
                (str(column.key), column.type.dialect_impl(self._dialect).result_processor(
                    self._dialect, None
                ))
                for column in statement.selected_columns
            )  # fmt: skip
            self._converters[id(statement)] = converters
        return [
            {
                key: value if convert is None or value is None else convert(value)
                for (key, convert), value in zip(converters, row, strict=True)
            }
            for row in found
        ]

    def close(self) -> None:
        """Close every thread's connection (a thread reopens its own at its next read)."""
        with self._lock:
            self._generation += 1
            opened, self._opened = self._opened, []
        for _, connection in opened:
            connection.close()

    def open_connections(self) -> int:
        """How many connections are open (one per thread that read and still runs)."""
        with self._lock:
            return len(self._opened)

    def _compile(self, statement: sa.Select[Any]) -> _Compiled:
        found = self._compiled.get(id(statement))
        if found is None:
            compiled = statement.compile(dialect=self._dialect)
            names = tuple(compiled.positiontup or ())
            defaults = {name: compiled.params[name] for name in names}
            found = (statement, str(compiled), names, defaults)
            self._compiled[id(statement)] = found
        return found

    def _connection(self) -> sqlite3.Connection:
        held = getattr(self._local, "held", None)
        if held is not None and held[0] == self._generation:
            connection: sqlite3.Connection = held[1]
            return connection
        connection = sqlite3.connect(
            self._path, timeout=60, isolation_level=None, check_same_thread=False
        )
        connection.execute("PRAGMA busy_timeout=60000")
        connection.execute("PRAGMA query_only=ON")
        with self._lock:
            # Threads come and go (a thread pool's idle workers end): the connections
            # of those that ended are closed here, so none stays open for good.
            ended = [pair for pair in self._opened if not pair[0].is_alive()]
            self._opened = [pair for pair in self._opened if pair[0].is_alive()]
            self._opened.append((threading.current_thread(), connection))
            self._local.held = (self._generation, connection)
        for _, old in ended:
            old.close()
        return connection

"""WAL checkpoints of a SQLite file on a thread of their own: a commit never copies the
WAL into the file, the thread does, and the WAL starts over, whatever the writers do."""

from __future__ import annotations

import os
import sqlite3
import struct
from pathlib import Path
from typing import Any

import pytest

from sirocco.store import checkpoints
from sirocco.store.database import Database

#: Bytes of one row written (a few SQLite pages each).
ROW = 10_000


def _open(path: Path) -> Database:
    database = Database(f"sqlite:///{path}")
    with database.transaction() as connection:
        connection.exec_driver_sql("CREATE TABLE filler (id INTEGER PRIMARY KEY, data TEXT)")
    return database


def _write(database: Database, rows: int) -> None:
    with database.transaction() as connection:
        connection.exec_driver_sql(
            "INSERT INTO filler (data) VALUES (?)", [("x" * ROW,) for _ in range(rows)]
        )


def _restarts(path: Path) -> int:
    """The WAL header's checkpoint sequence number: SQLite adds one each time the WAL
    starts over from its beginning."""
    with open(f"{path}-wal", "rb") as wal:
        header = wal.read(16)
    return int(struct.unpack(">I", header[12:16])[0])


def _write_until_the_wal_starts_over_twice(database: Database, path: Path) -> int:
    """Commits one after the other, as the engine's steps, until the WAL has started over
    twice (the thread's pass under the write lock lets it between two of them); the rows
    written. Bounded by the pages written (50 times what starts it over), not by time."""
    first = _restarts(path)
    rows = 0
    while _restarts(path) < first + 2:
        assert rows * ROW < 50 * checkpoints.RESTART_FRAMES * 4096, "no new start"
        _write(database, 4)
        rows += 4
    return rows


def _count(database: Database) -> int:
    with database.read() as connection:
        return int(connection.exec_driver_sql("SELECT count(*) FROM filler").scalar_one())


def test_a_commit_never_copies_the_wal_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "quiet.sqlite"
    database = _open(path)
    try:
        assert database.checkpoints is not None
        database.checkpoints.stop()  # no thread: only the commits could checkpoint
        size = os.path.getsize(path)
        rows = 0
        while rows * ROW < 3 * checkpoints.RESTART_FRAMES * 4096:  # past SQLite's 1,000 pages
            _write(database, 20)
            rows += 20
        assert os.path.getsize(path) == size
        assert os.path.getsize(f"{path}-wal") > rows * ROW
    finally:
        database.dispose()
    reopened = Database(f"sqlite:///{path}")
    try:
        assert _count(reopened) == rows
    finally:
        reopened.dispose()


def test_the_thread_copies_the_wal_and_it_starts_over_while_commits_go_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "busy.sqlite"
    database = _open(path)
    try:
        rows = _write_until_the_wal_starts_over_twice(database, path)
        assert os.path.getsize(path) > checkpoints.RESTART_FRAMES * 4096  # copied to the file
        assert _count(database) == rows
    finally:
        database.dispose()


def test_a_thread_that_could_not_open_the_file_is_started_again_by_a_later_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The thread's own connection fails to open (no file descriptor left, say): it logs,
    and a later commit starts a thread again, so the WAL still starts over."""
    path = tmp_path / "refused.sqlite"
    opened = sqlite3.connect
    refused: list[str] = []

    def connect_once_refused(file: str, *args: Any, **kwargs: Any) -> sqlite3.Connection:
        if not refused:
            refused.append(file)
            raise sqlite3.OperationalError("unable to open database file")
        return opened(file, *args, **kwargs)

    monkeypatch.setattr(checkpoints.sqlite3, "connect", connect_once_refused)
    database = _open(path)  # its first commit starts the thread, which is refused
    try:
        _write_until_the_wal_starts_over_twice(database, path)
        assert refused == [str(path)]
        assert "WAL checkpoint failed" in caplog.text
    finally:
        database.dispose()

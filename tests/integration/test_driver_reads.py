"""``Database.fetch``: a prebuilt read, on SQLite straight through the driver, answers as
a read through SQLAlchemy does, sees every commit, and holds no snapshot afterwards."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from sirocco import errors
from sirocco.store import definitions, migrate, sources
from sirocco.store.database import Database

NOW = datetime(2026, 1, 2, 3, 4, 5)
FLOW = """
version: '2.0'
{name}:
  tasks:
    only:
      action: std.noop
"""


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    migrate.upgrade(database)
    try:
        yield database
    finally:
        database.dispose()


def _create(database: Database, name: str, **where: str) -> str:
    with database.transaction() as connection:
        [row] = definitions.create_workflows(connection, FLOW.format(name=name), now=NOW, **where)
    return str(row["id"])


def test_a_workflow_is_found_by_id_name_namespace_and_project(database: Database) -> None:
    first = _create(database, "flow")
    spaced = _create(database, "flow", namespace="space")
    other = _create(database, "owned", project_id="other", scope="public")
    assert sources.find_workflow(database, first).name == "flow"
    assert sources.find_workflow(database, "flow").id == first
    assert sources.find_workflow(database, "flow", namespace="space").id == spaced
    found = sources.find_workflow(database, "owned", project_id="mine")  # public: seen
    assert (found.id, found.project_id, found.scope) == (other, "other", "public")
    assert "only" in found.definition and found.workbook is None
    with pytest.raises(errors.NotFoundError, match="workflow_identifier=nothing"):
        sources.find_workflow(database, "nothing")


def test_fetch_answers_as_a_read_through_sqlalchemy(database: Database) -> None:
    _create(database, "flow")
    _create(database, "owned", project_id="other")  # private: another project's
    statement = sources._WORKFLOW_BY_NAME_FOR_PROJECT  # a literal and a parameter used twice
    for values in (
        {"name": "flow", "namespace": "", "project": "<default-project>"},
        {"name": "owned", "namespace": "", "project": "mine"},
        {"name": "owned", "namespace": "", "project": "other"},
    ):
        with database.read() as connection:
            expected = [tuple(row) for row in connection.execute(statement, values)]
        assert [tuple(row) for row in database.fetch(statement, values)] == expected
    assert len(database.fetch(statement, {"name": "owned", "namespace": "", "project": "other"}))


def test_a_sqlite_read_sees_each_commit_and_keeps_no_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "reads.sqlite"
    database = Database(f"sqlite:///{path}")
    migrate.upgrade(database)
    try:
        by_name = {"name": "later", "namespace": ""}
        assert database.fetch(sources._WORKFLOW_BY_NAME, by_name) == []
        _create(database, "later")
        assert len(database.fetch(sources._WORKFLOW_BY_NAME, by_name)) == 1
        # No read transaction is left open: a checkpoint can move the whole log (the
        # database's own checkpoint thread stopped, else it could be the one busy).
        assert database.checkpoints is not None
        database.checkpoints.stop()
        with sqlite3.connect(path) as other:
            busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
        # Each thread reads on a connection of its own; one closed is opened again.
        seen: list[int] = []
        reader = threading.Thread(
            target=lambda: seen.append(len(database.fetch(sources._WORKFLOW_BY_NAME, by_name)))
        )
        reader.start()
        reader.join()
        assert seen == [1]
        reads = database._driver_reads
        assert reads is not None and reads.open_connections() == 2
        # The connection of a thread that ended is closed when another thread opens one.
        other = threading.Thread(target=lambda: database.fetch(sources._WORKFLOW_BY_NAME, by_name))
        other.start()
        other.join()
        assert reads.open_connections() == 2  # this thread's and the last reader's
        database.dispose()
        assert len(database.fetch(sources._WORKFLOW_BY_NAME, by_name)) == 1
    finally:
        database.dispose()


def test_a_sqlite_read_fails_as_sqlalchemy_would(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}/empty.sqlite")  # no tables
    try:
        with pytest.raises(sa.exc.OperationalError, match="no such table"):
            database.fetch(sources._WORKFLOW_BY_NAME, {"name": "x", "namespace": ""})
    finally:
        database.dispose()

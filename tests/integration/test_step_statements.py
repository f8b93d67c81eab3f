"""The statements of the engine's steps: none whose answer is already known.

Each test records the statements the engine thread sends while it applies one start or
one event, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from sirocco.runtime.work import StartItem
from sirocco.store.database import Database
from tests.integration import helpers

WORKFLOW = """
version: '2.0'
one_echo:
  tasks:
    t1:
      action: std.echo output=1
"""


@contextmanager
def statements(database: Database, thread: str = "sirocco-engine") -> Iterator[list[str]]:
    """The SQL sent on ``thread`` meanwhile (whitespace squeezed)."""
    seen: list[str] = []

    def record(_c: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.current_thread().name == thread:
            seen.append(" ".join(statement.split()))

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


def _reads_of(table: str, sent: list[str]) -> list[str]:
    return [item for item in sent if item.startswith("SELECT") and f"FROM {table}" in item]


def test_a_start_with_a_new_id_does_not_look_for_its_row(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, WORKFLOW)
        with statements(app.parts.database) as sent:
            execution_id = helpers.start(app, "one_echo")
        inserts = [item.startswith("INSERT INTO workflow_executions") for item in sent]
        assert any(inserts), sent
        # The start's statements (the step that follows reads the row, to lock it).
        assert _reads_of("workflow_executions", sent[: inserts.index(True)]) == []
        assert helpers.wait_for(app, execution_id).state == "SUCCESS"


def test_a_start_with_a_chosen_id_looks_and_starts_once(database_url: str) -> None:
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, WORKFLOW)
        chosen = "11111111-2222-3333-4444-555555555555"
        with statements(app.parts.database) as sent:
            first = app.service.start_workflow(workflow="one_echo", execution_id=chosen)
        assert first == chosen
        inserts = [item.startswith("INSERT INTO workflow_executions") for item in sent]
        assert len(_reads_of("workflow_executions", sent[: inserts.index(True)])) == 1
        assert app.service.start_workflow(workflow="one_echo", execution_id=chosen) == chosen
        helpers.wait_for(app, chosen)
        with app.parts.database.read() as connection:
            rows = connection.execute(sa.text("SELECT count(*) FROM workflow_executions"))
            assert rows.scalar() == 1


def test_a_fresh_start_tried_again_after_its_commit_is_not_started_twice(
    database_url: str,
) -> None:
    """A commit whose answer was lost (the connection dropped while committing) is retried
    with ``again``: the start finds its row instead of failing on the duplicate id."""
    with helpers.embedded(database_url, start=False) as app:
        helpers.deploy(app, WORKFLOW)
        stepper = app.parts.runtime.stepper
        with app.parts.database.read() as connection:
            definition = connection.execute(
                sa.text("SELECT definition FROM workflow_definitions WHERE name = 'one_echo'")
            ).scalar()
        item = StartItem(
            spec_name="one_echo",
            definition=str(definition),
            workbook=None,
            workflow_id=None,
            execution_id="fresh-0000-0000-0000-000000000000",
            input={},
            params={},
            fresh=True,
        )
        assert stepper.run_batch([item], {}).started == [item]
        with pytest.raises(sa.exc.IntegrityError):
            stepper.run_batch([item], {})  # without ``again`` a fresh id is not looked for
        again = stepper.run_batch([item], {}, again=True)
        assert again.started == [item] and again.failed_starts == []
        assert again.outgoing.items == []  # nothing written, nothing to send
        with app.parts.database.read() as connection:
            rows = connection.execute(sa.text("SELECT count(*) FROM workflow_executions"))
            assert rows.scalar() == 1


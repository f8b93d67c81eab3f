"""``GET /v2/executions/{id}`` reads the row straight through SQLite's driver: the same
fields, of the same types, as a read through SQLAlchemy gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NoReturn

import pytest

from sirocco import errors
from sirocco.store import queries
from tests.integration import helpers

WORKFLOWS = """
version: '2.0'
publishes:
  input:
    - name
  vars:
    hidden: not shown
  tasks:
    say:
      action: std.echo output="hello <% $.name %>"
      publish:
        global:
          said: <% task().result %>
  output:
    said: <% task(say).result %>
waits:
  input:
    - big: ''
  tasks:
    only:
      action: std.async_noop
"""


def _through_sqlalchemy(app: Any, execution_id: str) -> dict[str, Any]:
    with app.parts.database.read() as connection:
        return queries.get_by_id(connection, queries.EXECUTIONS, execution_id)


def _no_read(*_: Any) -> NoReturn:
    raise AssertionError("read through SQLAlchemy")


def test_an_execution_read_through_the_driver_is_the_read_through_sqlalchemy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with helpers.embedded(f"sqlite:///{tmp_path}/read.sqlite") as app:
        helpers.deploy(app, WORKFLOWS)
        done = helpers.start(app, "publishes", {"name": "ü"}, env={"k": [1]})
        assert helpers.wait_for(app, done).state == "SUCCESS"
        waiting = helpers.start(app, "waits", {"big": "small"})
        by_reference = helpers.start(app, "waits", {"big": "v" * 100_000})
        expected = {
            execution_id: _through_sqlalchemy(app, execution_id)
            for execution_id in (done, waiting, by_reference)
        }
        assert expected[done]["output"] == {"said": "hello ü"}
        assert expected[by_reference]["input"]["big"] == "v" * 100_000
        database = app.parts.database
        with monkeypatch.context() as patched:
            patched.setattr(database, "read", _no_read)
            for execution_id in (done, waiting):
                read = queries.execution_by_id(database, execution_id)
                assert read == expected[execution_id]
                assert [type(value) for value in read.values()] == [
                    type(value) for value in expected[execution_id].values()
                ]
                assert list(read) == list(expected[execution_id])
            with pytest.raises(errors.NotFoundError, match=r"WorkflowExecution not found \[id=x\]"):
                queries.execution_by_id(database, "x")
        # A value stored by reference is read with its blob, in one read transaction.
        assert queries.execution_by_id(database, by_reference) == expected[by_reference]
        assert expected[done]["params"]["env"] == {"k": [1]}


def test_the_whole_row_query_is_kept_when_requests_filled_the_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Requests' ``?fields=`` fill the table of built queries; the whole row's query stays
    one object even then, so the driver-level read does not compile a new one per GET."""
    full: dict[Any, Any] = {(0, (str(n),)): None for n in range(queries._BY_ID_SIZE)}
    monkeypatch.setattr(queries, "_BY_ID", full)
    first = queries._by_id_query(queries.EXECUTIONS, ())
    assert queries._by_id_query(queries.EXECUTIONS, ()) is first

"""Upgrading from every shipped revision keeps the rows already there.

For each revision, a fresh database is brought to that revision with Alembic,
every table it has then gets one row (values made from the reflected column
types, foreign keys pointing at the rows already written), and the database
is upgraded to the head. Every row must still be there, under the same id,
with the values it was written with. Runs on SQLite and PostgreSQL (a database
of its own per revision, dropped after).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa

from sirocco.store import migrate
from sirocco.store.database import Database
from tests.conftest import fresh_postgres

_REVISIONS = [item.revision for item in migrate.history()[:-1]]
_WHEN = datetime(2026, 12, 7, 11, 30)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: object) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/sirocco.sqlite"
        return
    yield from fresh_postgres("house")


def _upgrade_to(database: Database, revision: str) -> None:
    from alembic import command

    config = migrate._config()
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def _value(table: sa.Table, column: sa.Column[Any], written: dict[str, dict[str, Any]]) -> Any:
    for key in column.foreign_keys:
        target = key.column
        return written[target.table.name][target.name]
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 1
    if isinstance(kind, sa.Float | sa.Numeric):
        return 1.5
    if isinstance(kind, sa.DateTime):
        return _WHEN
    if isinstance(kind, sa.JSON):
        return {"kept": [1, "two"]}
    if isinstance(kind, sa.LargeBinary):
        return b"kept"
    if isinstance(kind, sa.String | sa.Text):
        length = getattr(kind, "length", None)
        text = f"{table.name}-{column.name}"
        return text[:length] if length else text
    raise AssertionError(f"no sample value for {table.name}.{column.name} ({kind!r})")


def _fill(database: Database) -> dict[str, dict[str, Any]]:
    """One row in every table but Alembic's; the rows as written, by table."""
    metadata = sa.MetaData()
    metadata.reflect(database.engine)
    written: dict[str, dict[str, Any]] = {}
    with database.engine.begin() as connection:
        for table in metadata.sorted_tables:
            if table.name == "alembic_version":
                continue
            seeded = connection.execute(sa.select(table).limit(1)).first()
            if seeded is not None:  # a row the migration wrote itself (maintenance's)
                written[table.name] = dict(seeded._mapping)
                continue
            row = {
                column.name: _value(table, column, written)
                for column in table.columns
                if not (column.autoincrement is True and column.primary_key)
            }
            connection.execute(sa.insert(table).values(row))
            written[table.name] = row
    return written


def _comparable(value: Any) -> Any:
    return value.replace(tzinfo=None) if isinstance(value, datetime) else value


@pytest.mark.parametrize("revision", _REVISIONS)
def test_upgrading_from_a_revision_keeps_its_rows(fresh_url: str, revision: str) -> None:
    database = Database(fresh_url)
    try:
        _upgrade_to(database, revision)
        written = _fill(database)
        assert written, f"revision {revision} has no tables"
        migrate.upgrade(database)
        assert migrate.current(database) == migrate.head()
        metadata = sa.MetaData()
        metadata.reflect(database.engine)
        with database.engine.connect() as connection:
            for name, row in written.items():
                assert name in metadata.tables, f"{name} is gone after upgrading from {revision}"
                found = [
                    dict(item._mapping)
                    for item in connection.execute(sa.select(metadata.tables[name]))
                ]
                assert len(found) == 1, f"{name}: {len(found)} rows after upgrading from {revision}"
                for column, value in row.items():
                    if column in found[0]:
                        assert _comparable(found[0][column]) == value, (name, column)
    finally:
        database.dispose()

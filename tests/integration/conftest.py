"""Integration fixtures: one migrated PostgreSQL database per test session, emptied per test.

Creating, migrating and dropping a PostgreSQL database costs about a second;
the runtime tests need dozens of them. So ``database_url`` here keeps the
root fixture's contract (SQLite file or PostgreSQL, a database with no rows)
but, for PostgreSQL, migrates one database per session (per xdist worker) and
empties its tables before each test.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.conftest import PG_URL, port_open
from tests.integration import custom_actions


@pytest.fixture(scope="session")
def _session_postgres() -> Iterator[tuple[str | None, str | None]]:
    """(url, None) for a migrated database, (url, problem) when migrating it failed, or
    (None, None) when PostgreSQL is not running."""
    if not port_open(5432):
        yield None, None
        return
    from sirocco.store import migrate
    from sirocco.store.database import Database

    name = f"sirocco_it_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = PG_URL.rsplit("/", 1)[0] + f"/{name}"
    failure: str | None = None
    database = Database(url)
    try:
        migrate.upgrade(database)
    except Exception as exc:  # reported by every PostgreSQL test
        failure = f"migrations fail on PostgreSQL: {type(exc).__name__}: {str(exc)[:200]}"
    finally:
        database.dispose()
    try:
        yield url, failure
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def _truncate(url: str) -> None:
    from sirocco.store import tables

    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("SET lock_timeout = '5s'")
            # DELETE, not TRUNCATE: on a few rows it is much faster (no new files to sync)
            for table in reversed(tables.metadata.sorted_tables):
                connection.execute(table.delete())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest,
    tmp_path: object,
    _session_postgres: tuple[str | None, str | None],
) -> str:
    """Each test using this runs on SQLite and on PostgreSQL (an empty, migrated database)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/sirocco.sqlite"
    url, failure = _session_postgres
    if url is None:
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    if failure is not None:
        pytest.fail(failure, pytrace=False)
    _truncate(url)
    return url


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    """The event ``test.hold`` actions wait for; released at the end whatever happens."""
    custom_actions.Hold.gate.clear()
    yield custom_actions.Hold.gate
    custom_actions.Hold.gate.set()

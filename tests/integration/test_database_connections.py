"""Pooled connections: commits that wait for the disk and leases that do not; dropped
connections found at checkout."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from sirocco.store import database as database_module
from sirocco.store import migrate, outbox, tables, timers
from sirocco.store.database import Database, is_outage

NOW = datetime(2024, 1, 2, 3, 4, 5)


def _synchronous_commit(connection: sa.Connection) -> str | None:
    if connection.dialect.name != "postgresql":
        return None
    return str(connection.exec_driver_sql("SHOW synchronous_commit").scalar())


def test_a_lease_commits_without_a_flush_and_the_next_transaction_flushes(
    database_url: str,
) -> None:
    database = Database(database_url)
    migrate.upgrade(database)
    try:
        with database.transaction(durable=False) as connection:
            lease = _synchronous_commit(connection)
            connection.execute(
                sa.insert(tables.outbox),
                [outbox.row(id="r1", kind=outbox.Kind.ACTION_RESULT, payload={}, created_at=NOW)],
            )
        # The setting is the transaction's own: the pooled connection is back to durable.
        for _ in range(3):
            with database.transaction() as connection:
                assert _synchronous_commit(connection) in (None, "on")
        if database.is_sqlite:
            assert lease is None
        else:
            assert lease == "off"
        # What it wrote is committed and visible to every other connection at once.
        with database.read() as connection:
            assert connection.execute(sa.select(tables.outbox.c.id)).scalars().all() == ["r1"]
    finally:
        database.dispose()


def test_outbox_and_timer_leases_still_lease_once(database_url: str) -> None:
    database = Database(database_url)
    migrate.upgrade(database)
    try:
        with database.transaction() as connection:
            connection.execute(
                sa.insert(tables.outbox),
                [outbox.row(id="r1", kind=outbox.Kind.ACTION_RESULT, payload={}, created_at=NOW)],
            )
            connection.execute(
                sa.insert(tables.timers),
                [{"id": "t1", "due": NOW, "payload": {}, "created_at": NOW}],
            )
        assert [row.id for row in outbox.claim(database, outbox.ENGINE_KINDS, now=NOW)] == ["r1"]
        assert outbox.claim(database, outbox.ENGINE_KINDS, now=NOW) == []
        taken, _ = timers.claim_due(database, NOW)
        assert [timer_id for timer_id, _ in taken] == ["t1"]
        assert timers.claim_due(database, NOW)[0] == []
        # Leases run out: another process may take the row and the timer after CLAIM_FOR.
        later = NOW + outbox.CLAIM_FOR + timedelta(seconds=1)
        assert [row.id for row in outbox.claim(database, outbox.ENGINE_KINDS, now=later)] == ["r1"]
        assert [timer_id for timer_id, _ in timers.claim_due(database, later)[0]] == ["t1"]
    finally:
        database.dispose()


def _drop_connections(database: Database) -> None:
    """End the server side of every connection ``database`` pooled (as a restart of the
    database would), from a connection of its own."""
    other = sa.create_engine(database.url, poolclass=sa.pool.NullPool)
    try:
        with other.connect() as connection:
            ended = connection.exec_driver_sql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).scalar()
            connection.commit()
        assert ended
    finally:
        other.dispose()


def _backend(database: Database) -> int:
    with database.transaction() as connection:
        return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() or 0)


def test_an_idle_connection_the_database_dropped_is_replaced_at_checkout(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's pool")
    database = Database(database_url)
    try:
        first = _backend(database)
        monkeypatch.setattr(database_module, "PING_AFTER", 0.0)  # every connection is "idle"
        _drop_connections(database)
        # The one pooled connection is dead; the checkout finds it out and opens another.
        assert _backend(database) != first
    finally:
        database.dispose()


def test_a_busy_connection_the_database_dropped_fails_once_as_an_outage(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's pool")
    database = Database(database_url)
    try:
        first = _backend(database)
        monkeypatch.setattr(database_module, "PING_AFTER", 3600.0)  # never checked
        _drop_connections(database)
        with pytest.raises(Exception) as raised:
            _backend(database)
        assert is_outage(raised.value)  # the threads' guards try again
        assert _backend(database) != first  # and the pool has renewed it
    finally:
        database.dispose()


def test_the_pool_hands_out_the_connection_used_last(database_url: str) -> None:
    """Last in, first out: of two idle connections, the one given back last is taken
    again, so a lone thread keeps one warm connection (one unused for ``PING_AFTER`` is
    checked at checkout: a round trip and a transaction of its own)."""
    if database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's pool")
    database = Database(database_url)
    try:
        first, second = database.engine.connect(), database.engine.connect()
        pids = [_pid(first), _pid(second)]
        first.close()
        second.close()  # given back last
        assert _backend(database) == pids[1]
        assert _backend(database) == pids[1]
    finally:
        database.dispose()


def _pid(connection: sa.Connection) -> int:
    return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() or 0)


def _outbox_ids(database: Database) -> list[str]:
    with database.read() as connection:
        return list(connection.execute(sa.select(tables.outbox.c.id)).scalars().all())


def _put(connection: sa.Connection, row_id: str) -> None:
    connection.execute(
        sa.insert(tables.outbox),
        [outbox.row(id=row_id, kind=outbox.Kind.ACTION_RESULT, payload={}, created_at=NOW)],
    )


def test_a_kept_connection_commits_each_transaction_on_one_connection(
    database_url: str,
) -> None:
    database = Database(database_url)
    migrate.upgrade(database)
    kept = database.kept()
    try:
        drivers = []
        for row_id in ("r1", "r2"):
            with kept.transaction() as connection:
                drivers.append(connection.connection.driver_connection)
                _put(connection, row_id)
            # Committed: every other connection sees it at once.
            assert _outbox_ids(database)[-1] == row_id
        with pytest.raises(RuntimeError), kept.transaction() as connection:
            _put(connection, "r3")
            raise RuntimeError("rolled back")
        with kept.transaction() as connection:
            drivers.append(connection.connection.driver_connection)
            _put(connection, "r4")
        assert sorted(_outbox_ids(database)) == ["r1", "r2", "r4"]
        if database.is_sqlite:
            assert drivers[0] is drivers[1] is drivers[2]  # kept between transactions
            assert database.pool_use()["in_use"] == 1
        else:  # elsewhere, the pool's transactions as they are
            assert database.pool_use()["in_use"] == 0
    finally:
        database.dispose()
    assert database.pool_use()["in_use"] == 0  # ``dispose`` gave the kept one back


def test_a_kept_connection_that_broke_is_replaced_at_the_next_transaction(
    database_url: str,
) -> None:
    database = Database(database_url)
    migrate.upgrade(database)
    kept = database.kept()
    try:
        with pytest.raises(RuntimeError), kept.transaction() as connection:
            broken = connection.connection.driver_connection
            _put(connection, "r1")
            connection.invalidate()  # as SQLAlchemy does when an error breaks it
            raise RuntimeError("the connection broke")
        with kept.transaction() as connection:
            assert connection.connection.driver_connection is not broken
            _put(connection, "r2")
        assert _outbox_ids(database) == ["r2"]
        kept.close()
        assert database.pool_use()["in_use"] == 0
        with kept.transaction() as connection:  # after ``close``, another is taken
            _put(connection, "r3")
        assert sorted(_outbox_ids(database)) == ["r2", "r3"]
    finally:
        database.dispose()


def test_a_null_is_bound_through_the_adapter_for_none(tmp_path: object) -> None:
    database = Database(f"sqlite:///{tmp_path}/null.sqlite")
    migrate.upgrade(database)
    try:
        # Registered once the store is imported: SQLite's driver finds it at once instead
        # of raising and clearing an AttributeError for each NULL it binds.
        assert sqlite3.adapters[(type(None), sqlite3.PrepareProtocol)](None) is None
        with database.transaction() as connection:
            driver = connection.connection.driver_connection
            driver.execute(
                "INSERT INTO outbox (id, kind, payload, created_at, claimed_until, target)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                ("r1", "ActionResult", "{}", "2024-01-02 03:04:05.000000", None, None),
            )
        with database.read() as connection:
            row = connection.execute(
                sa.select(tables.outbox.c.claimed_until, tables.outbox.c.target)
            ).one()
        assert tuple(row) == (None, None)
    finally:
        database.dispose()


def test_a_kept_connection_whose_commit_failed_writes_again(tmp_path: Path) -> None:
    """A COMMIT that fails may leave SQLite's transaction open (a deferred foreign key here;
    SQLITE_BUSY or NOMEM may too): the kept connection is given back (the pool's reset rolls
    it back), so the next transaction begins and other writers are not locked out."""
    database = Database(f"sqlite:///{tmp_path}/kept.sqlite")
    try:
        with database.transaction() as connection:
            connection.exec_driver_sql("CREATE TABLE p(id INTEGER PRIMARY KEY)")
            connection.exec_driver_sql(
                "CREATE TABLE ch(x INTEGER REFERENCES p(id) DEFERRABLE INITIALLY DEFERRED)"
            )
        kept = database.kept()
        with pytest.raises(sa.exc.IntegrityError), kept.transaction() as connection:
            connection.exec_driver_sql("INSERT INTO ch VALUES (1)")
        with kept.transaction() as connection:
            connection.exec_driver_sql("INSERT INTO p VALUES (1)")
        with database.transaction() as connection:  # and the write lock was let go
            connection.exec_driver_sql("INSERT INTO p VALUES (2)")
    finally:
        database.dispose()

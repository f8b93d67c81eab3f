"""Several engines on PostgreSQL: each takes the event rows of its own share of the
executions (so that one engine keeps stepping an execution and keeps its snapshot), rows
of no execution and rows that waited too long go to any engine, and an engine that is
gone gives its share up at once."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from sirocco.store import engine_slots, migrate, outbox, tables
from sirocco.store.database import Database
from tests.waiting import wait_for

NOW = datetime(2024, 1, 2, 3, 4, 5)


@pytest.fixture
def database(postgres_url: str) -> object:
    database = Database(postgres_url)
    migrate.upgrade(database)
    yield database
    database.dispose()


def _insert(database: Database, rows: list[dict[str, object]]) -> None:
    with database.transaction() as connection:
        connection.execute(sa.insert(tables.outbox), rows)


def _result(row_id: str, execution_id: str | None, created_at: datetime = NOW) -> dict[str, object]:
    return outbox.row(
        id=row_id,
        kind=outbox.Kind.ACTION_RESULT,
        payload={},
        created_at=created_at,
        workflow_execution_id=execution_id,
    )


def test_two_engines_hold_two_slots_and_share_the_executions(database: Database) -> None:
    first, second = engine_slots.Membership(database), engine_slots.Membership(database)
    try:
        assert first.share() is None  # alone: it takes every row
        assert second.share() == outbox.Share(index=1, count=2)
        assert first.share() == outbox.Share(index=0, count=2)
        assert {first.slot, second.slot} == {0, 1}
    finally:
        first.close()
        second.close()


def test_each_engine_claims_the_rows_of_its_share_and_rows_of_no_execution(
    database: Database,
) -> None:
    executions = [f"execution-{index}" for index in range(40)]
    _insert(
        database, [_result(f"r{index}", execution) for index, execution in enumerate(executions)]
    )
    _insert(database, [_result("no-execution", None)])
    shares = [outbox.Share(index=0, count=2), outbox.Share(index=1, count=2)]
    claimed = [
        outbox.claim(database, outbox.ENGINE_KINDS, now=NOW, share=share) for share in shares
    ]
    by_share = [{row.workflow_execution_id for row in rows} for rows in claimed]
    # Every row is taken once; both shares got some executions, none got the other's.
    assert not (by_share[0] & by_share[1])
    assert by_share[0] | by_share[1] == {*executions, None}
    assert all(by_share[index] - {None} for index in range(2))
    # The rows of one execution always fall in the same share.
    _insert(
        database,
        [_result(f"again{index}", execution) for index, execution in enumerate(executions)],
    )
    again = outbox.claim(database, outbox.ENGINE_KINDS, now=NOW, share=shares[0])
    assert {row.workflow_execution_id for row in again} == by_share[0] - {None}


def test_rows_left_longer_than_the_grace_go_to_any_engine(database: Database) -> None:
    executions = [f"execution-{index}" for index in range(20)]
    old = NOW - outbox.OWNER_GRACE - timedelta(seconds=1)
    _insert(
        database,
        [_result(f"r{index}", execution, old) for index, execution in enumerate(executions)],
    )
    rows = outbox.claim(database, outbox.ENGINE_KINDS, now=NOW, share=outbox.Share(0, 2))
    assert {row.workflow_execution_id for row in rows} == set(executions)


def test_an_engine_that_is_gone_gives_its_share_up(database: Database) -> None:
    first, second = engine_slots.Membership(database), engine_slots.Membership(database)
    try:
        assert first.share() is None
        assert second.share() == outbox.Share(index=1, count=2)
        assert first.share() == outbox.Share(index=0, count=2)
        second.close()  # its lock goes with its connection, as when its process is killed
        wait_for(
            lambda: first.share() is None,
            what="the only engine left to take every row",
            seen=first.share,
        )
    finally:
        first.close()
        second.close()


def test_without_the_database_an_engine_takes_every_row_and_says_so_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing listens on this port (the test's own range): every look fails to connect.
    database = Database("postgresql://postgres@127.0.0.1:18299/nowhere")
    membership = engine_slots.Membership(database)
    try:
        with caplog.at_level("DEBUG", logger="sirocco.store"):
            assert [membership.share() for _ in range(3)] == [None, None, None]
        assert membership.slot is None
        assert not [record for record in caplog.records if record.levelname == "WARNING"]
    finally:
        membership.close()
        database.dispose()


def test_a_lost_slot_connection_is_said_once_and_the_slot_held_again(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = engine_slots.Membership(database), engine_slots.Membership(database)
    try:
        assert first.share() is None and second.share() == outbox.Share(1, 2)
        with database.transaction() as connection:  # as a restart of the database would
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
                    " AND classid = :slots AND objid = :slot"
                ),
                {"slots": engine_slots.SLOT_CLASS, "slot": second.slot},
            )
        with caplog.at_level("WARNING", logger="sirocco.store"):
            assert second.share() is None  # the look fails: every row, for now
        assert [record.levelname for record in caplog.records] == ["WARNING"]
        # The next look connects again and holds a slot again.
        assert wait_for(second.share, what="the engine to hold a slot again") == outbox.Share(1, 2)
    finally:
        first.close()
        second.close()


def test_a_look_that_fails_while_taking_a_slot_closes_its_connection(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection that failed half-way through the slots is closed at once, with any
    slot it already took, not left open until the garbage collector finds it."""
    import psycopg

    opened: list[psycopg.Connection] = []
    connect = psycopg.connect

    class Failing:
        def __init__(self, connection: psycopg.Connection) -> None:
            self.connection = connection

        def execute(self, *args: object) -> object:
            raise psycopg.OperationalError("the server closed the connection")

        def close(self) -> None:
            self.connection.close()

    def failing_connect(*args: object, **kwargs: object) -> Failing:
        opened.append(connect(*args, **kwargs))  # type: ignore[arg-type]
        return Failing(opened[-1])

    monkeypatch.setattr(psycopg, "connect", failing_connect)
    membership = engine_slots.Membership(database)
    assert membership.share() is None and membership.slot is None
    assert len(opened) == 1 and opened[0].closed

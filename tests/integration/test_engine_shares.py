"""Several engines on PostgreSQL: each takes the event rows of its own share of the
executions (so that one engine keeps stepping an execution and keeps its snapshot), rows
of no execution and rows that waited too long go to any engine, and an engine that is
gone gives its share up at once."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from sirocco.runtime import delivery, threads
from sirocco.runtime.health import Health
from sirocco.store import engine_slots, leases, migrate, notify, outbox, tables
from sirocco.store.database import Database
from tests.integration.heard import Heard
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
                    # This database's engine only: others' tests and runs hold slots too.
                    " AND database = (SELECT oid FROM pg_database WHERE datname ="
                    " current_database())"
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


def _owners_of(database: Database, executions: list[str], count: int) -> list[int]:
    """The share (place among ``count`` live engines) of each execution, as claims compute it."""
    with database.read() as connection:
        return [
            connection.execute(
                sa.text("SELECT mod(hashtext(:id) & 2147483647, :count)"),
                {"id": execution, "count": count},
            ).scalar_one()
            for execution in executions
        ]


def _live(database: Database) -> list[int]:
    """The slots engines hold on the database now (a closed slot's lock goes a moment later,
    when its backend has ended)."""
    with database.read() as connection:
        return [int(slot) for slot in connection.exec_driver_sql(notify.LIVE_ENGINES).scalars()]


def _engine_channels(memberships: list[engine_slots.Membership]) -> list[str]:
    return [notify.ENGINE] + [
        notify.engine_channel(member.slot) for member in memberships if member.slot is not None
    ]


def test_an_event_wakes_only_the_engine_whose_share_it_is_and_follows_a_share_that_moves(
    database: Database,
) -> None:
    first, second = engine_slots.Membership(database), engine_slots.Membership(database)
    executions = [f"execution-{index}" for index in range(12)]
    try:
        first.share(), second.share()
        assert first.slot is not None and second.slot is not None
        heard = Heard(database, _engine_channels([first, second]))
        by_place = sorted([first, second], key=lambda member: member.slot or 0)
        places = _owners_of(database, executions, 2)
        assert set(places) == {0, 1}  # both shares among them
        for execution in executions:
            with database.transaction() as connection:  # one notification each
                notify.send_to_owner(connection, execution)
        assert heard.until_marker(database) == [
            notify.engine_channel(by_place[place].slot or 0) for place in places
        ]
        # The second engine goes (its lock with its connection, as when it is killed):
        # its executions wake the first one from the next event on.
        gone = second.slot
        second.close()
        wait_for(lambda: _live(database) == [first.slot], what="the second engine's slot to go")
        for execution in executions:
            with database.transaction() as connection:
                notify.send_to_owner(connection, execution)
        assert heard.until_marker(database) == [notify.engine_channel(first.slot)] * len(executions)
        assert gone is not None
        # No engine at all (or an event of no execution): every engine's channel.
        first.close()
        wait_for(lambda: _live(database) == [], what="no engine left", seen=lambda: _live(database))
        with database.transaction() as connection:
            notify.send_to_owner(connection, executions[0])
        with database.transaction() as connection:
            notify.send_to_owner(connection, None)
        assert heard.until_marker(database) == [notify.ENGINE, notify.ENGINE]
        heard.close()
    finally:
        first.close()
        second.close()


def test_a_hand_back_wakes_the_engines_whose_shares_its_results_are(database: Database) -> None:
    first, second = engine_slots.Membership(database), engine_slots.Membership(database)
    try:
        first.share(), second.share()
        heard = Heard(database, _engine_channels([first, second]))
        by_place = sorted([first, second], key=lambda member: member.slot or 0)
        executions = [f"execution-{index}" for index in range(12)]
        places = _owners_of(database, executions, 2)
        only_first = [
            execution for execution, place in zip(executions, places, strict=True) if place == 0
        ]
        cases = [(only_first, {by_place[0]}), (executions, {by_place[0], by_place[1]})]
        for batch, owners in cases:
            rows = [
                outbox.row(id=f"run-{execution}-{len(batch)}", kind=outbox.Kind.RUN_ACTION,
                           payload={}, created_at=NOW, workflow_execution_id=execution)
                for execution in batch
            ]  # fmt: skip
            _insert(database, rows)
            handed = [
                leases.HandBack(row["id"], f"result-{row['id']}", row["workflow_execution_id"], {})
                for row in rows
            ]
            with database.transaction() as connection:
                replaced = leases.hand_back_many(
                    connection, handed, now=NOW, announce=notify.ENGINE
                )
            assert replaced == {row["id"] for row in rows}
            # Once per engine however many results (PostgreSQL folds a channel told twice).
            assert sorted(heard.until_marker(database)) == sorted(
                notify.engine_channel(owner.slot or 0) for owner in owners
            )
        heard.close()
    finally:
        first.close()
        second.close()


def _has(intake: _Intake, rows: set[str]) -> bool:
    return set(intake.delivered) >= rows


class _Intake:
    def __init__(self) -> None:
        self.delivered: list[str] = []

    def deliver(self, kind: object, row_id: str, payload: object) -> None:
        self.delivered.append(row_id)


def test_a_poller_is_woken_for_its_share_and_takes_over_a_share_whose_engine_went(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two engines' pollers on the database path, with no safety poll and no look at the
    live engines but the ones a wake makes (and rows never old enough for the grace): an
    event is found only if its NOTIFY woke the poller whose share it is."""
    monkeypatch.setattr(delivery, "SAFETY_POLL", 10_000.0)
    monkeypatch.setattr(threads, "SHARE_REFRESH", 0.0)  # until both know their shares
    parcels = [delivery.DatabaseDelivery(database), delivery.DatabaseDelivery(database)]
    intakes = [_Intake(), _Intake()]
    pollers = [
        threads.OutboxPoller(database, intake, parcel, Health(), lambda: NOW)  # type: ignore[arg-type]
        for intake, parcel in zip(intakes, parcels, strict=True)
    ]
    try:
        pollers[0].start()
        wait_for(lambda: pollers[0].membership.slot is not None, what="the first engine's slot")
        pollers[1].start()

        def shared() -> bool:
            with database.transaction() as connection:  # wakes every engine: each looks
                notify.send(connection, notify.ENGINE)
            return all(poller._share is not None for poller in pollers)

        wait_for(shared, what="both engines to know their shares", interval=0.2)
        monkeypatch.setattr(threads, "SHARE_REFRESH", 10_000.0)
        by_place = sorted(pollers, key=lambda poller: poller.membership.slot or 0)
        executions = [f"execution-{index}" for index in range(12)]
        places = _owners_of(database, executions, 2)

        def put(tag: str) -> list[str]:
            return [
                outbox.put(database, outbox.Kind.ACTION_RESULT, {}, now=NOW,
                           workflow_execution_id=execution, row_id=f"{tag}-{execution}",
                           wake=notify.ENGINE)
                for execution in executions
            ]  # fmt: skip

        put("first")
        for poller, place in zip(by_place, (0, 1), strict=True):
            mine = {
                f"first-{execution}"
                for execution, at in zip(executions, places, strict=True)
                if at == place
            }
            intake = intakes[pollers.index(poller)]
            wait_for(
                functools.partial(_has, intake, mine), what="each share's rows",
                seen=functools.partial(list, intake.delivered),
            )  # fmt: skip
        assert sorted(intakes[0].delivered + intakes[1].delivered) == sorted(
            f"first-{execution}" for execution in executions
        )
        # The engine at place 1 stops (its slot goes, as when it is killed): its share's
        # rows wake the other one, which finds them although it still holds its old share.
        by_place[1].stop(5)
        wait_for(
            lambda: _live(database) == [by_place[0].membership.slot],
            what="the stopped engine's slot to go",
        )
        left = intakes[pollers.index(by_place[0])]
        put("second")
        wait_for(
            lambda: {f"second-{execution}" for execution in executions} <= set(left.delivered),
            what="every row taken by the engine left",
            seen=lambda: left.delivered,
        )
    finally:
        for poller in pollers:
            poller.stop(5)
        for parcel in parcels:
            parcel.close()

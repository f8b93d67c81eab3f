"""Executors on the database path (PostgreSQL): each holds a slot on its listening
connection; a step that leaves actions for any executor wakes one of them
(``notify.ONE_EXECUTOR``), not every one; an executor gone (its connection closed, as when
it is killed) is not chosen; one woken alone that cannot take everything there may be
passes the wake on to every executor.

Notifications are read on a connection of the test's own, up to a marker it sends last:
nothing is timed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from sirocco.actions.registry import ActionRegistry
from sirocco.clock import utcnow
from sirocco.executor.worker import ExecutorWorker
from sirocco.runtime import delivery
from sirocco.runtime.heartbeats import Timing
from sirocco.store import migrate, notify, one_statement
from sirocco.store.database import Database
from tests.integration.executor_rows import Asleep, insert_run_actions
from tests.integration.heard import Heard
from tests.waiting import BOUND, wait_for


@pytest.fixture
def database(postgres_url: str) -> Iterator[Database]:
    database = Database(postgres_url)
    migrate.prepare(database)
    try:
        yield database
    finally:
        database.dispose()


def _live_executors(database: Database) -> list[int]:
    with database.read() as connection:
        return sorted(
            int(slot)
            for slot in connection.execute(
                sa.text(
                    "SELECT objid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND classid = :slots AND objsubid = 2"
                    # Slots held in this database only (others' tests hold theirs elsewhere).
                    " AND database = (SELECT oid FROM pg_database WHERE datname ="
                    " current_database())"
                ),
                {"slots": notify.EXECUTOR_SLOT_CLASS},
            ).scalars()
        )


def _channels() -> list[str]:
    return [notify.EXECUTOR, notify.executor_channel(0), notify.executor_channel(1)]


def test_a_step_wakes_one_executor_and_never_one_that_is_gone(database: Database) -> None:
    parcels = [delivery.DatabaseDelivery(database), delivery.DatabaseDelivery(database)]
    heard = Heard(database, _channels())
    try:
        for parcel in parcels:
            parcel.wait(notify.EXECUTOR, 0.0)  # listening, and holding a slot
        assert _live_executors(database) == [0, 1]
        for _ in range(20):  # as a step's statement tells it, and as a lone NOTIFY does
            with database.transaction() as connection:
                one_statement.execute(connection, [], [notify.ONE_EXECUTOR])
            with database.transaction() as connection:
                notify.send(connection, notify.ONE_EXECUTOR)
        woken = heard.until_marker(database)
        # One executor each time, never every one; both were chosen at some point.
        assert len(woken) == 40 and notify.EXECUTOR not in woken
        assert set(woken) == {notify.executor_channel(0), notify.executor_channel(1)}
        # The first executor goes (its slot with its connection, as when it is killed).
        parcels[0].close()
        wait_for(lambda: _live_executors(database) == [1], what="the first slot to go",
                 seen=lambda: _live_executors(database))  # fmt: skip
        for _ in range(10):
            with database.transaction() as connection:
                notify.send(connection, notify.ONE_EXECUTOR)
        assert heard.until_marker(database) == [notify.executor_channel(1)] * 10
        # No executor holds a slot: every executor's channel.
        parcels[1].close()
        wait_for(lambda: _live_executors(database) == [], what="no slot held")
        with database.transaction() as connection:
            notify.send(connection, notify.ONE_EXECUTOR)
        assert heard.until_marker(database) == [notify.EXECUTOR]
    finally:
        heard.close()
        for parcel in parcels:
            parcel.close()


def test_an_executor_woken_alone_says_which_channel_woke_it(database: Database) -> None:
    parcels = delivery.DatabaseDelivery(database)
    try:
        assert parcels.wait(notify.EXECUTOR, 0.0) is None  # listening, slot 0 held
        with database.transaction() as connection:
            notify.send(connection, notify.ONE_EXECUTOR)
        assert parcels.wait(notify.EXECUTOR, BOUND) == notify.executor_channel(0)
        with database.transaction() as connection:
            notify.send(connection, notify.EXECUTOR)
        assert parcels.wait(notify.EXECUTOR, BOUND) == notify.EXECUTOR
    finally:
        parcels.close()


def _worker(database: Database, parcels: Asleep) -> ExecutorWorker:
    """An executor of two workers on ``parcels``, heartbeats far apart."""
    return ExecutorWorker(
        database, ActionRegistry(), clock=utcnow, workers=2, timing=Timing(interval=30.0),
        parcels=parcels,
    )  # fmt: skip


@pytest.mark.parametrize(("rows", "chosen", "passed_on"), [
    (3, True, True),  # two workers filled, a third row waits: every executor is woken
    (1, True, False),  # it took every row there was
    (3, False, False),  # woken with every executor: the others were woken too
])  # fmt: skip
def test_an_executor_woken_alone_wakes_every_executor_when_rows_may_be_left(
    database: Database, rows: int, chosen: bool, passed_on: bool
) -> None:
    insert_run_actions(database, range(1, rows + 1))
    parcels = Asleep(database)
    worker = _worker(database, parcels)
    heard = Heard(database, [notify.EXECUTOR])
    worker.start()
    try:
        assert worker.take(chosen=chosen) == min(rows, 2)
        assert heard.until_marker(database) == ([notify.EXECUTOR] if passed_on else [])
    finally:
        worker.stop()
        parcels.close()
        heard.close()

"""An executor declared dead that comes back (stopped with SIGSTOP and continued, a long
GC pause, a network cut) holds leases that are over: its row was offered again and
taken anew, by another executor or by itself. Its heartbeat must not renew the new
lease (the new holder's death would go unnoticed while the stale one lives), and its
result must not replace the row (the action's current run hands back its own).

The take-over is done here as the heartbeat check does it (``leases.offer_again``);
the executor in its own process is covered by ``tests/acceptance/test_stale_executor``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from mistral_lib import actions

from sirocco.actions.registry import ActionRegistry
from sirocco.clock import utcnow
from sirocco.executor.worker import ExecutorWorker
from sirocco.runtime.heartbeats import Timing
from sirocco.store import leases, migrate, outbox, tables
from sirocco.store.database import Database
from tests.integration.executor_rows import Asleep, insert_run_actions
from tests.waiting import BOUND, wait_for

START = datetime(2026, 1, 1, 12, 0, 0)
LEASE = timedelta(seconds=3)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    migrate.prepare(database)
    try:
        yield database
    finally:
        database.dispose()


def _row(database: Database, row_id: str) -> Any:
    with database.read() as connection:
        query = sa.select(tables.outbox).where(tables.outbox.c.id == row_id)
        return connection.execute(query).one_or_none()


def _results(database: Database) -> list[Any]:
    with database.read() as connection:
        query = sa.select(tables.outbox).where(tables.outbox.c.kind == outbox.Kind.ACTION_RESULT)
        return list(connection.execute(query))


def _take(database: Database, holder: str, now: datetime) -> list[str]:
    with database.transaction() as connection:
        taken = leases.take(
            connection, limit=10, targets=[None], until=now + LEASE, holder=holder, now=now
        )
    return [row.id for row in taken]


def _taken_over(database: Database, row_id: str, now: datetime) -> None:
    """What the heartbeat check does with an expired lease of a safe-rerun action."""
    with database.transaction() as connection:
        assert [row.id for row in leases.expired(connection, now=now)] == [row_id]
        payload = connection.execute(
            sa.select(tables.outbox.c.payload).where(tables.outbox.c.id == row_id)
        ).scalar_one()
        leases.offer_again(connection, row_id, payload, held=None)


def _hand_back(database: Database, holder: str, since: datetime, now: datetime) -> set[str]:
    handed = leases.HandBack("row-1", f"result-{holder}-{since:%S}", "workflow-1", {}, since)
    with database.transaction() as connection:
        return leases.hand_back_many(connection, [handed], now=now, held_by=holder)


@pytest.mark.parametrize("new_holder", ["executor-B", "executor-A"])
def test_a_stale_lease_is_neither_renewed_nor_handed_back(
    database: Database, new_holder: str
) -> None:
    insert_run_actions(database, [1])
    first = START
    assert _take(database, "executor-A", first) == ["row-1"]
    with database.transaction() as connection:  # a heartbeat of the live executor
        assert leases.renew(
            connection, {"row-1": first}, holder="executor-A", until=first + 2 * LEASE
        ) == {"row-1"}
    # Executor A stops; its lease runs out; the check offers the row again, and it is
    # taken anew (by another executor, or by A itself once it runs again).
    later = first + 3 * LEASE
    _taken_over(database, "row-1", later)
    assert _take(database, new_holder, later) == ["row-1"]
    # A's heartbeat for its old lease renews nothing: the new lease still ends when it did.
    with database.transaction() as connection:
        renewed = leases.renew(
            connection, {"row-1": first}, holder="executor-A", until=later + 10 * LEASE
        )
        assert renewed == set()
        assert leases.holders(connection, ["row-1"]) == {"row-1": (new_holder, later)}
    assert _row(database, "row-1").claimed_until == later + LEASE
    # A's result for its old lease replaces nothing; the current run's result does.
    assert _hand_back(database, "executor-A", first, later + LEASE) == set()
    assert _row(database, "row-1") is not None
    assert _results(database) == []
    assert _hand_back(database, new_holder, later, later + LEASE) == {"row-1"}
    assert _row(database, "row-1") is None
    assert [row.id for row in _results(database)] == [f"result-{new_holder}-{later:%S}"]


def test_a_result_holding_nan_or_infinity_is_handed_back_as_written(database: Database) -> None:
    """Python's JSON writes NaN and Infinity (a Python action may return them, a service
    may send them); the column keeps that text, and the hand-back's statement must not
    read it as PostgreSQL's json (which refuses them) on its way."""
    insert_run_actions(database, [1])
    assert _take(database, "executor-A", START) == ["row-1"]
    payload = {"result": [float("nan"), float("inf"), "caf\u00e9 \"q\" \\ \n"]}
    handed = leases.HandBack("row-1", "result-1", "workflow-1", payload, START)
    with database.transaction() as connection:
        replaced = leases.hand_back_many(connection, [handed], now=START, held_by="executor-A")
    assert replaced == {"row-1"}
    (result,) = _results(database)
    values = result.payload["result"]
    assert values[0] != values[0] and values[1] == float("inf")  # NaN, Infinity
    assert values[2] == "caf\u00e9 \"q\" \\ \n"


class Numbered(actions.Action):  # type: ignore[misc]
    """Returns which run it is (1, 2, ...), once the test opens that run's gate."""

    gates: ClassVar[dict[int, threading.Event]] = {}
    runs: ClassVar[list[int]] = []

    def __init__(self, number: int) -> None:
        super().__init__()

    def run(self, context: Any) -> Any:
        run = len(Numbered.runs) + 1
        Numbered.runs.append(run)
        Numbered.gates[run].wait(BOUND)
        return run


def _numbered_executor(database: Database, *, runs: int) -> ExecutorWorker:
    """An executor started with as many workers as ``runs``, one RunAction row of
    ``test.numbered`` in the outbox, and a closed gate for each run."""
    registry = ActionRegistry()
    registry.register("test.numbered", Numbered)
    Numbered.gates.update({run: threading.Event() for run in range(1, runs + 1)})
    Numbered.runs.clear()
    insert_run_actions(
        database, [1], action_name="test.numbered", input_of=lambda number: {"number": number}
    )
    worker = ExecutorWorker(
        database,
        registry,
        clock=utcnow,
        workers=runs,
        timing=Timing(interval=300.0),
        parcels=Asleep(database),
    )
    worker.start()
    return worker


def test_an_executor_taken_over_drops_its_stale_result_and_counts_it(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """The executor's own view: its heartbeat counts the lease taken over (and only it,
    not a row it is handing back), stops renewing it, and the result of that run is
    dropped; the run it started on the row's new lease hands back its result."""
    worker = _numbered_executor(database, runs=2)
    try:
        assert worker.take() == 1
        wait_for(lambda: Numbered.runs == [1], what="the first run to start")
        assert worker.beat() == 1  # alive: renewed
        # The check takes it over (as if this executor had been stopped past its lease)...
        with database.transaction() as connection:
            connection.execute(
                sa.update(tables.outbox)
                .where(tables.outbox.c.id == "row-1")
                .values(claimed_until=utcnow() - timedelta(seconds=1))
            )
        _taken_over(database, "row-1", utcnow())
        # ... and this executor takes the row anew: the action runs a second time here.
        assert worker.take() == 1
        wait_for(lambda: Numbered.runs == [1, 2], what="the second run to start")
        since = _row(database, "row-1").held_since
        caplog.clear()
        assert worker.beat() == 1  # the new lease renewed; the old one is the same row
        assert "taken over" not in caplog.text
        # The first run ends: its lease is over, so its result is dropped.
        Numbered.gates[1].set()
        wait_for(lambda: "results dropped" in caplog.text, what="the stale result dropped")
        assert _results(database) == []
        row = _row(database, "row-1")
        assert (row.kind, row.holder) == (outbox.Kind.RUN_ACTION, worker.name)
        assert row.held_since == since
        Numbered.gates[2].set()
        wait_for(lambda: _results(database), what="the second run's result")
        (result,) = _results(database)
        assert result.payload["result"] == 2, result.payload
        assert _row(database, "row-1") is None
        wait_for(lambda: worker.held() == [], what="the row no longer held")
    finally:
        for gate in Numbered.gates.values():
            gate.set()
        worker.stop()


def test_a_heartbeat_counts_only_the_leases_taken_over(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Another executor took this executor's row after its lease ran out: the heartbeat
    says so once, and renews that lease no more."""
    worker = _numbered_executor(database, runs=1)
    try:
        assert worker.take() == 1
        wait_for(lambda: Numbered.runs == [1], what="the run to start")
        now = utcnow()
        with database.transaction() as connection:
            connection.execute(
                sa.update(tables.outbox)
                .where(tables.outbox.c.id == "row-1")
                .values(claimed_until=now - timedelta(seconds=1))
            )
        _taken_over(database, "row-1", now)
        assert _take(database, "executor-B", now) == ["row-1"]
        caplog.clear()
        assert worker.beat() == 0
        assert "1 of 1 actions held here were taken over" in caplog.text
        assert worker.held() == []
        assert _row(database, "row-1").claimed_until == now + LEASE  # B's lease, untouched
        caplog.clear()
        assert worker.beat() == 0
        assert "taken over" not in caplog.text  # said once
        Numbered.gates[1].set()
        wait_for(lambda: "results dropped" in caplog.text, what="the stale result dropped")
        row = _row(database, "row-1")
        assert (row.kind, row.holder) == (outbox.Kind.RUN_ACTION, "executor-B")
        assert _results(database) == []
    finally:
        for gate in Numbered.gates.values():
            gate.set()
        worker.stop()


def test_a_heartbeat_skips_a_row_being_handed_back_and_counts_it_not(
    database: Database, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A row that another transaction holds locked (this executor's writer handing it
    back, or the check taking it over) is skipped, not waited for (PostgreSQL, SKIP
    LOCKED); while it is still this executor's lease, it is not counted as taken over."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: no row locks to skip")
    registry = ActionRegistry()
    registry.register("test.numbered", Numbered)
    Numbered.gates.update({1: threading.Event(), 2: threading.Event()})
    Numbered.runs.clear()
    insert_run_actions(
        database, [1, 2], action_name="test.numbered", input_of=lambda number: {"number": number}
    )
    worker = ExecutorWorker(
        database,
        registry,
        clock=utcnow,
        workers=2,
        timing=Timing(interval=300.0),
        parcels=Asleep(database),
    )
    worker.start()
    other = sa.create_engine(database_url)
    try:
        assert worker.take() == 2
        wait_for(lambda: len(Numbered.runs) == 2, what="both runs to start")
        before = _row(database, "row-1").claimed_until
        beats: list[int] = []
        with other.connect() as connection, connection.begin() as transaction:
            # A hand-back of row-1 under way: deleted, not committed.
            connection.execute(sa.delete(tables.outbox).where(tables.outbox.c.id == "row-1"))
            caplog.clear()
            beat = threading.Thread(target=lambda: beats.append(worker.beat()))
            beat.start()
            beat.join(BOUND)
            alive = beat.is_alive()
            transaction.rollback()
        beat.join(BOUND)
        assert not alive, "the heartbeat waited for the row's lock"
        assert beats == [1]  # row-2 renewed, row-1 skipped
        assert "taken over" not in caplog.text
        assert sorted(worker.held()) == ["row-1", "row-2"]
        assert _row(database, "row-1").claimed_until == before
        assert worker.beat() == 2
    finally:
        for gate in Numbered.gates.values():
            gate.set()
        worker.stop()
        other.dispose()

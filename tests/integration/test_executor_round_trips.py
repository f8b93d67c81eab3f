"""The round trips of one action's hand-off on the executor's side (PostgreSQL): the lease
is one statement that commits as it runs (no BEGIN and COMMIT round trips), the hand-back
replaces the RunAction row by the ActionResult row and wakes the engines in one
statement, and it leases next rows only when some may be waiting for a worker.

Statements and commits are counted (SQLAlchemy's events), nothing is timed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from sirocco.actions.registry import ActionRegistry
from sirocco.clock import utcnow
from sirocco.engine.states import State
from sirocco.executor.worker import ExecutorWorker, _Result
from sirocco.runtime import codec
from sirocco.runtime.heartbeats import Timing
from sirocco.store import leases, migrate, notify, one_statement, outbox, tables
from sirocco.store.database import Database
from tests.integration.executor_rows import Asleep, insert_run_actions, waiting_for_locks
from tests.waiting import BOUND, wait_for


@pytest.fixture
def database(postgres_url: str) -> Iterator[Database]:
    database = Database(postgres_url)
    migrate.prepare(database)
    try:
        yield database
    finally:
        database.dispose()


class Sent:
    """The statements and commits a thread sends through ``database``'s pool."""

    def __init__(self, database: Database, thread: str) -> None:
        self.statements: list[str] = []
        #: Whether each statement ran in autocommit (it committed as it ran).
        self.autocommitted: list[bool] = []
        self.commits = 0
        self._engine = database.engine
        self._thread = thread

    def _statement(self, connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if threading.current_thread().name == self._thread:
            self.statements.append(" ".join(statement.split()))
            self.autocommitted.append(bool(connection.connection.driver_connection.autocommit))

    def _commit(self, _connection: Any) -> None:
        if threading.current_thread().name == self._thread:
            self.commits += 1

    def __enter__(self) -> Sent:
        event.listen(self._engine, "before_cursor_execute", self._statement)
        event.listen(self._engine, "commit", self._commit)
        return self

    def __exit__(self, *_: object) -> None:
        event.remove(self._engine, "before_cursor_execute", self._statement)
        event.remove(self._engine, "commit", self._commit)


def _worker(database: Database, parcels: Asleep) -> ExecutorWorker:
    """An executor of two workers on ``parcels``, heartbeats far apart."""
    return ExecutorWorker(
        database, ActionRegistry(), clock=utcnow, workers=2, timing=Timing(interval=30.0),
        parcels=parcels,
    )  # fmt: skip


def _lease(database: Database, worker: ExecutorWorker, limit: int) -> tuple[list[Any], datetime]:
    """Lease ``limit`` rows as ``worker`` does (its name, from now), without running
    them: the worker holds them as if it ran them. Returns the rows and the lease's start."""
    since = utcnow()
    with database.statement() as connection:
        taken = leases.take(
            connection, limit=limit, targets=[None], until=since, holder=worker.name, now=since
        )
    worker._held.update((row.id, since) for row in taken)
    return taken, since


def _results(database: Database) -> list[str]:
    with database.read() as connection:
        return list(
            connection.execute(
                sa.select(tables.outbox.c.workflow_execution_id).where(
                    tables.outbox.c.kind == outbox.Kind.ACTION_RESULT
                )
            ).scalars()
        )


def test_a_statement_commits_as_it_runs_and_the_pool_gets_its_connection_back_as_it_was(
    database: Database,
) -> None:
    insert_run_actions(database, [1])
    with database.statement() as connection:
        taken = leases.take(connection, limit=1, targets=[None], until=utcnow())
        assert [row.id for row in taken] == ["row-1"]
        # Committed already: another connection sees the lease before this one is closed.
        with database.read() as other:
            held = other.execute(
                sa.select(tables.outbox.c.claimed_until).where(tables.outbox.c.id == "row-1")
            ).scalar()
        assert held is not None
    # The pooled connections are transactional again: a transaction that fails is rolled
    # back (each of them, whichever the pool hands out).
    for _ in range(3):
        with pytest.raises(RuntimeError), database.transaction() as connection:
            connection.execute(sa.delete(tables.outbox))
            raise RuntimeError("roll back")
        with database.read() as connection:
            assert connection.execute(sa.select(tables.outbox.c.id)).scalars().all() == ["row-1"]


def test_the_executor_leases_in_one_statement_without_begin_or_commit(
    database: Database,
) -> None:
    insert_run_actions(database, [1])
    parcels = Asleep(database)
    worker = _worker(database, parcels)
    worker.start()
    try:
        with Sent(database, threading.current_thread().name) as sent:
            assert worker.take() == 1
        assert len(sent.statements) == 1 and sent.statements[0].startswith("UPDATE outbox")
        assert sent.commits == 0  # the statement committed as it ran
        wait_for(lambda: _results(database) == ["workflow-1"], what="the result handed back")
    finally:
        worker.stop()
        parcels.close()


def test_a_hand_back_is_one_statement_and_leases_nothing_when_nothing_waits(
    database: Database,
) -> None:
    insert_run_actions(database, [1])
    parcels = Asleep(database)
    worker = _worker(database, parcels)
    engines = notify.Listener(database, [notify.ENGINE])
    engines.wait(0.001)  # listening from now on
    worker.start()
    try:
        with Sent(database, "executor-writer") as sent:
            # One row for two free workers: the look found every row there was.
            assert worker.take() == 1
            wait_for(lambda: _results(database) == ["workflow-1"], what="the result handed back")
            wait_for(lambda: worker.held() == [], what="the result written")
        # Delete the RunAction row, insert the ActionResult row, wake the engines: one
        # statement, which commits as it runs (the transaction sent nothing before it: no
        # BEGIN and no COMMIT round trip), the engines woken before its flush and the call
        # back after it (one_statement.EARLY, in the same simple query); no lease of next rows.
        assert len(sent.statements) == 1, sent.statements
        early = one_statement.EARLY.split("{statement}")
        assert sent.statements[0].startswith(early[0] + "WITH gone AS (DELETE FROM outbox")
        assert sent.statements[0].endswith(early[1])
        assert "INSERT INTO outbox" in sent.statements[0]
        assert "pg_notify" in sent.statements[0]
        assert sent.autocommitted == [True]
        assert engines.wait(BOUND)  # the engines were woken
        with database.read() as connection:
            rows = connection.execute(sa.select(tables.outbox.c.id)).scalars().all()
        assert "row-1" not in rows and len(rows) == 1  # replaced by its result
    finally:
        worker.stop()
        parcels.close()
        engines.close()


def test_a_hand_back_leases_the_next_rows_when_the_last_look_filled_every_worker(
    database: Database,
) -> None:
    insert_run_actions(database, [1, 2, 3])
    parcels = Asleep(database)
    worker = _worker(database, parcels)
    worker.start()
    try:
        # Two rows for two workers: a third may be waiting, so the hand-backs look for it
        # (the taker sleeps: only a hand-back can lease row 3).
        assert worker.take() == 2
        wait_for(
            lambda: sorted(_results(database)) == ["workflow-1", "workflow-2", "workflow-3"],
            what="all three results, the third leased by a hand-back",
        )
    finally:
        worker.stop()
        parcels.close()


def test_the_results_of_a_batch_are_handed_back_in_one_statement(database: Database) -> None:
    insert_run_actions(database, [1, 2, 3, 4])
    parcels = Asleep(database)
    worker = _worker(database, parcels)
    taken, since = _lease(database, worker, 4)
    with database.transaction() as connection:
        # Handed back already (the heartbeat check failed it): its outcome is dropped.
        leases.delete(connection, "row-4")
    engines = notify.Listener(database, [notify.ENGINE])
    engines.wait(0.001)  # listening from now on
    try:
        results = [
            _Result(row_id=row.id, command=codec.decode(row.payload), state=State.SUCCESS,
                    result={"number": index}, since=since)
            for index, row in enumerate(taken[:3])
        ]  # fmt: skip
        gone = codec.decode(taken[3].payload)
        results.append(
            _Result(row_id="row-4", command=gone, state=State.SUCCESS, result=4, since=since)
        )
        with Sent(database, threading.current_thread().name) as sent:
            worker.write(list(reversed(results)))
        handing = [one for one in sent.statements if "DELETE FROM outbox" in one]
        assert len(handing) == 1 and "pg_notify" in handing[0], sent.statements
        assert sent.commits == 1
        assert engines.wait(BOUND)
        with database.read() as connection:
            rows = connection.execute(sa.select(tables.outbox)).all()
        assert all(row.kind == outbox.Kind.ACTION_RESULT for row in rows)
        events = {codec.decode(row.payload).action_execution_id: row for row in rows}
        assert sorted(events) == ["action-1", "action-2", "action-3"]
        for index, row in enumerate(taken[:3]):
            event = codec.decode(events[f"action-{row.id.removeprefix('row-')}"].payload)
            assert event.result == {"number": index} and event.state == State.SUCCESS
            assert events[event.action_execution_id].workflow_execution_id == (
                f"workflow-{row.id.removeprefix('row-')}"
            )
    finally:
        parcels.close()
        engines.close()


def test_a_row_twice_in_one_batch_is_handed_back_once_by_its_first_outcome(
    database: Database,
) -> None:
    """The same row twice in a batch (its lease ran out and this executor took it again):
    one ActionResult row, the first outcome's; the second would reach an engine as a
    second result of one action."""
    insert_run_actions(database, [1])
    parcels = Asleep(database)
    worker = _worker(database, parcels)
    (row,), since = _lease(database, worker, 1)
    try:
        command = codec.decode(row.payload)
        worker.write(
            [
                _Result(row_id=row.id, command=command, state=State.SUCCESS, result="first",
                        since=since),
                _Result(row_id=row.id, command=command, state=State.SUCCESS, result="second",
                        since=since),
            ]
        )  # fmt: skip
        with database.read() as connection:
            rows = connection.execute(sa.select(tables.outbox)).all()
        assert [(one.kind, codec.decode(one.payload).result) for one in rows] == [
            (outbox.Kind.ACTION_RESULT, "first")
        ]
    finally:
        parcels.close()


def test_a_batch_of_several_statements_locks_its_rows_in_id_order_first(
    database: Database,
) -> None:
    """A batch that holds an asynchronous action's row beside a task's result takes its
    row locks in id order before any statement changes a row, as the heartbeat's renewal
    takes them: it never holds a later row while it waits for an earlier one."""
    insert_run_actions(database, [1, 2])
    parcels = Asleep(database)
    worker = _worker(database, parcels)
    taken, since = _lease(database, worker, 2)
    first, second = sorted(taken, key=lambda row: row.id)
    failures: list[BaseException] = []

    def write() -> None:
        try:
            worker.write(
                [
                    _Result(row_id=second.id, command=codec.decode(second.payload), state=None,
                            since=since),
                    _Result(row_id=first.id, command=codec.decode(first.payload),
                            state=State.SUCCESS, result=1, since=since),
                ]
            )  # fmt: skip
        except BaseException as exc:
            failures.append(exc)

    writer = threading.Thread(target=write)
    try:
        with database.transaction() as blocker:
            blocker.execute(
                sa.select(tables.outbox.c.id)
                .where(tables.outbox.c.id == first.id)
                .with_for_update()
            )
            writer.start()
            wait_for(
                lambda: waiting_for_locks(database), what="the writer waiting for the first row"
            )
            with database.transaction() as other:  # the later row is not locked meanwhile
                locked = (
                    other.execute(
                        sa.text("SELECT id FROM outbox WHERE id = :id FOR UPDATE NOWAIT"),
                        {"id": second.id},
                    )
                    .scalars()
                    .all()
                )
            assert locked == [second.id]
        writer.join(BOUND)
        assert not writer.is_alive() and not failures, failures
        with database.read() as connection:
            rows = {row.id: row for row in connection.execute(sa.select(tables.outbox))}
        assert rows[second.id].claimed_until == leases.FOREVER
        assert first.id not in rows
        assert [row.kind for row in rows.values()].count(outbox.Kind.ACTION_RESULT) == 1
    finally:
        parcels.close()


def test_an_engine_claims_result_rows_in_one_statement_without_begin_or_commit(
    database: Database,
) -> None:
    with database.transaction() as connection:
        outbox.insert(
            connection,
            [outbox.row(id="r1", kind=outbox.Kind.ACTION_RESULT, payload={}, created_at=utcnow())],
        )
    not_durable = database._not_durable_engine()
    commits: list[object] = []

    def commit(connection: Any) -> None:
        commits.append(connection)

    event.listen(not_durable, "commit", commit)
    try:
        claimed = outbox.claim(database, outbox.ENGINE_KINDS, now=utcnow())
    finally:
        event.remove(not_durable, "commit", commit)
    assert [row.id for row in claimed] == ["r1"]
    assert commits == []  # the statement committed as it ran
    assert outbox.claim(database, outbox.ENGINE_KINDS, now=utcnow()) == []  # leased

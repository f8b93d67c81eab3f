"""The heartbeat check on a clock of the test's own: an executor that dies is noticed when
its last lease ends (within ``max_missed`` intervals of its last heartbeat), and its
action fails with Mistral's message or is freed for another executor."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta

import sqlalchemy as sa

from sirocco.engine import commands
from sirocco.runtime import codec
from sirocco.runtime.heartbeats import MISSED, HeartbeatChecker, Timing
from sirocco.store import leases, migrate, outbox, tables
from sirocco.store.database import Database

START = datetime(2026, 1, 1, 12, 0, 0)
TIMING = Timing(interval=5.0, max_missed=3)
HOLDER = "executor@test:1"


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _database(url: str) -> Database:
    database = Database(url)
    migrate.prepare(database)
    return database


def _run_action(row_id: str, *, safe_rerun: bool) -> dict[str, object]:
    command = commands.RunAction(
        action_execution_id=f"action-{row_id}",
        workflow_execution_id="workflow-1",
        task_execution_id=None,
        action_name="std.sleep",
        input={"seconds": 600},
        safe_rerun=safe_rerun,
        execution={},
    )
    return codec.encode(command)


def _lease(database: Database, row_id: str, *, safe_rerun: bool, until: datetime) -> None:
    with database.transaction() as connection:
        outbox.insert(
            connection,
            [
                outbox.row(
                    id=row_id,
                    kind=outbox.Kind.RUN_ACTION,
                    payload=_run_action(row_id, safe_rerun=safe_rerun),
                    created_at=START,
                )
            ],
        )
        taken = leases.take(
            connection, limit=10, targets=[None], until=until, holder=HOLDER, now=START
        )
    assert [row.id for row in taken] == [row_id]


def _claimed_until(database: Database, row_id: str) -> datetime | None:
    with database.read() as connection:
        value = connection.execute(
            sa.select(tables.outbox.c.claimed_until).where(tables.outbox.c.id == row_id)
        ).scalar()
    assert value is None or isinstance(value, datetime)
    return value


def test_the_check_wakes_when_the_soonest_lease_ends(database_url: str) -> None:
    database = _database(database_url)
    clock = Clock()
    checker = HeartbeatChecker(database, clock, TIMING, new_id=lambda: "result-1")
    try:
        # At start, the check waits one lease (executors cut off too may renew first).
        assert checker.next_check() == START + timedelta(seconds=5)
        clock.now = START + TIMING.lease
        # An executor took the action, renewed its lease at its last heartbeat, then died
        # just before its next one: the lease ends three intervals after that heartbeat.
        last_heartbeat = clock.now + timedelta(seconds=1)
        _lease(database, "row-1", safe_rerun=True, until=last_heartbeat + TIMING.lease)
        clock.now = last_heartbeat + timedelta(seconds=4.9)  # death
        # The engine's loop: check, sleep until next_check(), check again.
        outcome = checker.check()
        looks = [clock.now]
        while not outcome.offered and len(looks) < 10:
            clock.now = checker.next_check()
            looks.append(clock.now)
            outcome = checker.check()
        lease_end = last_heartbeat + TIMING.lease
        assert lease_end < looks[-1] <= lease_end + timedelta(seconds=0.1), looks
        # Found within max_missed intervals of the last heartbeat, not one interval later.
        assert [row_id for row_id, _ in outcome.offered] == ["row-1"]
        assert outcome.offered[0][1].execution["redelivered"] is True
        assert _claimed_until(database, "row-1") is None  # free for any executor
        # Nothing is leased now: the next look is one interval away.
        assert checker.next_check() == clock.now + timedelta(seconds=5)
    finally:
        database.dispose()


def test_a_renewed_lease_is_not_taken(database_url: str) -> None:
    database = _database(database_url)
    clock = Clock()
    checker = HeartbeatChecker(database, clock, TIMING, new_id=lambda: "result-1")
    try:
        clock.now = START + TIMING.lease
        _lease(database, "row-1", safe_rerun=False, until=clock.now + TIMING.lease)
        checker.check()
        renewed_at = START + TIMING.lease + timedelta(seconds=4)
        with database.transaction() as connection:  # a heartbeat
            renewed = leases.renew(
                connection, {"row-1": START}, holder=HOLDER, until=renewed_at + TIMING.lease
            )
            assert renewed == {"row-1"}
        # Past the first lease's end, the check finds the renewed one and takes nothing.
        for _ in range(3):
            clock.now = checker.next_check()
            assert clock.now < renewed_at + TIMING.lease
            outcome = checker.check()
            assert outcome.offered == [] and outcome.failed == []
        assert _claimed_until(database, "row-1") == renewed_at + TIMING.lease
    finally:
        database.dispose()


def test_an_unsafe_action_of_a_dead_executor_fails_with_mistrals_message(
    database_url: str,
) -> None:
    database = _database(database_url)
    clock = Clock()
    checker = HeartbeatChecker(database, clock, TIMING, new_id=lambda: "result-1")
    try:
        clock.now = START + TIMING.lease
        _lease(database, "row-1", safe_rerun=False, until=clock.now + TIMING.lease)
        outcome = checker.check()
        while not outcome.failed and clock.now < START + TIMING.lease * 3:
            clock.now = checker.next_check()
            outcome = checker.check()
        assert outcome.offered == []
        [(result_id, event)] = outcome.failed
        assert event.message is not None
        assert event.message.startswith(MISSED + " ")  # Mistral's text first
        assert "safe-rerun: true" in event.message
        with database.read() as connection:
            rows = connection.execute(
                sa.select(tables.outbox.c.id, tables.outbox.c.kind, tables.outbox.c.payload)
            ).all()
        # The RunAction row became the ActionResult row that carries the failure.
        assert [(row.id, row.kind) for row in rows] == [(result_id, outbox.Kind.ACTION_RESULT)]
        assert codec.decode(rows[0].payload) == event
    finally:
        database.dispose()


def _queue(
    database: Database,
    row_id: str,
    *,
    action_name: str = "std.sleep",
    is_sync: bool | None = None,
    created_at: datetime = START,
) -> None:
    """A RunAction row that no executor takes (none serves its target, or none runs);
    with ``is_sync`` its action execution is stored too (a RunAction row has its id)."""
    payload = _run_action(row_id, safe_rerun=True)  # safe-rerun changes nothing here
    payload = codec.encode(
        dataclasses.replace(
            codec.decode(payload), action_name=action_name, action_execution_id=row_id
        )
    )
    with database.transaction() as connection:
        if is_sync is not None:
            connection.execute(
                sa.insert(tables.action_executions),
                [
                    {
                        "id": row_id,
                        "name": action_name,
                        "state": "RUNNING",
                        "is_sync": is_sync,
                        "created_at": created_at,
                    }
                ],
            )
        outbox.insert(
            connection,
            [
                outbox.row(
                    id=row_id,
                    kind=outbox.Kind.RUN_ACTION,
                    payload=payload,
                    created_at=created_at,
                    target="nobody",
                )
            ],
        )


UNTAKEN = Timing(interval=5.0, max_missed=3, untaken_timeout=60.0)


def test_an_action_no_executor_takes_fails_as_in_mistral(database_url: str) -> None:
    database = _database(database_url)
    clock = Clock()
    checker = HeartbeatChecker(database, clock, UNTAKEN, new_id=lambda: "result-1")
    try:
        _queue(database, "row-1")
        # Mistral: the first heartbeat is due first_heartbeat_timeout after the action was
        # created, and missing it counts once max_missed intervals have passed.
        due = START + timedelta(seconds=60) + UNTAKEN.lease
        looks: list[datetime] = []
        outcome = checker.check()
        while not outcome.failed and len(looks) < 40:
            clock.now = checker.next_check()
            looks.append(clock.now)
            outcome = checker.check()
            if clock.now <= due:
                assert outcome.failed == [], clock.now
        assert due < looks[-1] <= due + timedelta(seconds=0.1), looks
        [(result_id, event)] = outcome.failed
        assert outcome.offered == []  # safe-rerun: true changes nothing, as in Mistral
        assert event.state == "ERROR"
        assert event.message == MISSED  # Mistral's message alone: the action never ran
        assert outcome.untaken == [event.action_execution_id]
        with database.read() as connection:
            rows = connection.execute(sa.select(tables.outbox.c.id, tables.outbox.c.kind)).all()
        assert [(row.id, row.kind) for row in rows] == [(result_id, outbox.Kind.ACTION_RESULT)]
    finally:
        database.dispose()


def test_untaken_actions_wait_where_this_process_runs_them_or_they_are_async(
    database_url: str,
) -> None:
    database = _database(database_url)
    clock = Clock()
    embedded = HeartbeatChecker(
        database, clock, UNTAKEN, new_id=lambda: "result-1", keep_offered=True
    )
    engine = HeartbeatChecker(database, clock, UNTAKEN, new_id=lambda: "result-2")
    try:
        _queue(database, "row-1", action_name="std.async_noop", is_sync=False)
        clock.now = START + timedelta(hours=2)
        for checker in (embedded, engine):
            outcome = checker.check()
            assert (outcome.failed, outcome.offered) == ([], [])
        assert _claimed_until(database, "row-1") is None  # still waiting for an executor
        # Without a timeout (None) nothing waits for it either.
        forever = HeartbeatChecker(database, clock, TIMING, new_id=lambda: "result-3")
        clock.now = START + timedelta(days=30)
        assert forever.check().failed == []
    finally:
        database.dispose()


def test_asynchronous_actions_hide_no_synchronous_one_from_the_untaken_check(
    database_url: str,
) -> None:
    """The check reads at most 100 untaken rows, oldest first: asynchronous ones, which wait
    for ever, are left out by the query, so that more than 100 of them queued earlier do not
    keep a later synchronous action from failing, nor keep the next look in the past."""
    database = _database(database_url)
    clock = Clock()
    checker = HeartbeatChecker(database, clock, UNTAKEN, new_id=lambda: "result-1")
    try:
        for number in range(101):
            _queue(database, f"async-{number:03d}", action_name="std.async_noop", is_sync=False)
        with database.read() as connection:
            assert leases.oldest_untaken(connection) is None  # nothing that can fail
        later = START + timedelta(minutes=1)
        _queue(database, "sync-1", is_sync=True, created_at=later)
        with database.read() as connection:
            assert leases.oldest_untaken(connection) == later
        clock.now = later + UNTAKEN.untaken_wait + timedelta(seconds=1)  # type: ignore[operator]
        outcome = checker.check()
        assert outcome.untaken == ["sync-1"]
        [(_, event)] = outcome.failed
        assert (event.action_execution_id, event.message) == ("sync-1", MISSED)
        with database.read() as connection:
            assert leases.oldest_untaken(connection) is None
            queued = connection.execute(
                sa.select(sa.func.count()).where(
                    tables.outbox.c.kind == outbox.Kind.RUN_ACTION,
                    tables.outbox.c.claimed_until.is_(None),
                )
            ).scalar()
        assert queued == 101  # the asynchronous ones still wait
    finally:
        database.dispose()

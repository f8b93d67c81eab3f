"""A commit that wakes other roles before its WAL is flushed (``one_statement.EARLY``:
the API's start of an execution, an executor's hand-back; with a broker, either of them
then ``Database.wait_for_disk``) is on disk once the call returns: PostgreSQL stopped as
in a crash (``pg_ctl stop -m immediate``) right after it, and started again, still has
it.

The private server's WAL writer is made to wait 10 s between rounds, so that a commit
that did not wait for its own flush would still be in PostgreSQL's WAL buffers when it
stops (an immediate stop writes nothing more): without the durable second transaction the
rows are lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

import pytest
import sqlalchemy as sa
from rolekit import PrivatePostgres, private_postgres

from sirocco.clock import utcnow
from sirocco.store import leases, migrate, one_statement, outbox, tables
from sirocco.store.database import Database

ROUNDS = 2


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres("wal_writer_delay=10000") as server:
        yield server


def _crash(postgres: PrivatePostgres, database: Database) -> Database:
    """Stop the server as in a crash, start it again, and open the database anew."""
    postgres.stop("immediate")
    database.dispose()
    postgres.start("wal_writer_delay=10000")
    return Database(postgres.url)


def _leased(database: Database, row_id: str) -> None:
    """A RunAction row, leased by an executor (durable commits, before the one tested)."""
    now = utcnow()
    with database.transaction() as connection:
        outbox.insert(
            connection,
            [outbox.row(id=row_id, kind=outbox.Kind.RUN_ACTION, payload={}, created_at=now)],
        )
    with database.statement() as connection:
        leases.take(connection, limit=1, targets=[None], until=now, holder="test", now=now)


def _hand_back(database: Database, name: str) -> None:
    """An executor's hand-back on the database path, announced to the engines."""
    _leased(database, f"run-{name}")
    handed = leases.HandBack(f"run-{name}", f"result-{name}", None, {"result": name})
    with database.transaction() as connection:
        replaced = leases.hand_back_many(
            connection, [handed], now=utcnow(), announce="sirocco_test", last=True
        )
    assert replaced == {f"run-{name}"}


def _hand_back_brokered(database: Database, name: str) -> None:
    """With a broker: committed before its flush, the broker told, then the flush waited."""
    _leased(database, f"run-{name}")
    handed = leases.HandBack(f"run-{name}", f"result-{name}", None, {"result": name})
    with database.transaction() as connection:
        leases.hand_back_many(connection, [handed], now=utcnow(), last=True, unflushed=True)
        database.wait_for_disk(connection)


def _workflow(name: str) -> one_statement.Write:
    return one_statement.Write(
        tables.workflow_executions,
        {"id": f"workflow-{name}", "workflow_name": "wf", "definition": "",
         "state": "RUNNING", "created_at": datetime(2026, 1, 2)},
    )  # fmt: skip


def _start(database: Database, name: str) -> None:
    """The API's start of an execution, which wakes the executors."""
    workflow = _workflow(name)
    with database.transaction() as connection:
        one_statement.execute(connection, [workflow], ["sirocco_test"], commit=True, early=True)


def _start_brokered(database: Database, name: str) -> None:
    """With a broker: the start commits before its flush, the broker is told, then the
    flush is waited for on the same connection."""
    workflow = _workflow(name)
    with database.transaction() as connection:
        one_statement.execute(connection, [workflow], [], commit=True, early=True, flushed=False)
        database.wait_for_disk(connection)


def _kept(database: Database, name: str) -> set[str]:
    """The rows of ``name`` that PostgreSQL kept."""
    with database.read() as connection:
        outbox_ids = connection.execute(sa.select(tables.outbox.c.id)).scalars().all()
        workflow_ids = connection.execute(sa.select(tables.workflow_executions.c.id)).scalars()
        found = {*outbox_ids, *workflow_ids}
    return {row_id for row_id in found if row_id.split("-", 1)[1] == name}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("write", "expected"),
    [
        (_hand_back, {"result"}),
        (_hand_back_brokered, {"result"}),
        (_start, {"workflow"}),
        (_start_brokered, {"workflow"}),
    ],
    ids=["hand-back", "brokered-hand-back", "start", "brokered-start"],
)
def test_an_early_commit_outlives_a_crash_right_after_it(
    postgres: PrivatePostgres, write: Callable[[Database, str], None], expected: set[str]
) -> None:
    """Nothing durable is written after the commit tested (each round stops the server as
    in a crash right after it): what PostgreSQL keeps is that commit's own flush."""
    database = Database(postgres.url)
    migrate.upgrade(database)
    for number in range(ROUNDS):
        write(database, str(number))
        database = _crash(postgres, database)
        kept = {row_id.split("-", 1)[0] for row_id in _kept(database, str(number))}
        assert kept == expected, f"round {number}: PostgreSQL kept {sorted(kept)}"
    database.dispose()

"""Two executor processes share the work: neither leases (or, over the broker, holds back)
more actions than it has free workers, so with 2 x W long actions both run W, and the
actions beyond what the workers can run stay free in the outbox for whichever executor
frees a worker first. On the database path (LISTEN/NOTIFY) and over RabbitMQ.

Over RabbitMQ an executor leases from two sides: the broker's announcements (its leaser)
and the outbox (its taker, woken here by the NOTIFY too). Before both reserved their
workers first, the two could lease for the same free worker, and an executor held more
actions than it had workers (seen here as [4, 4] held with 3 workers each, at load 30).

Nothing is timed: the actions wait at a gate the test opens once it has looked."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar

import pytest
import sqlalchemy as sa
from mistral_lib import actions

from sirocco.actions.registry import ActionRegistry
from sirocco.clock import utcnow
from sirocco.engine import commands
from sirocco.executor.worker import ExecutorWorker
from sirocco.runtime import codec, delivery
from sirocco.runtime.heartbeats import Timing
from sirocco.store import migrate, notify, outbox, tables
from sirocco.store.database import Database
from tests.conftest import AMQP_URL, port_open
from tests.waiting import BOUND, wait_for

#: Workers per executor.
WORKERS = 3
#: Actions beyond what the two executors can run at once.
EXTRA = 2


class Held(actions.Action):  # type: ignore[misc]
    """Waits at the gate (the test opens it), then returns its number."""

    gate: ClassVar[threading.Event] = threading.Event()
    lock: ClassVar[threading.Lock] = threading.Lock()
    waiting: ClassVar[int] = 0

    def __init__(self, number: int) -> None:
        super().__init__()
        self.number = number

    def run(self, context: Any) -> Any:
        with Held.lock:
            Held.waiting += 1
        Held.gate.wait(BOUND)
        return self.number


@pytest.fixture(params=["database", "amqp"])
def transport(request: pytest.FixtureRequest) -> str:
    if request.param == "amqp" and not port_open(5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    return str(request.param)


def _open(database: Database, transport: str) -> delivery.Delivery:
    return delivery.open_delivery(database, AMQP_URL if transport == "amqp" else None)


def _rows(count: int, now: datetime) -> list[delivery.Parcel]:
    parcels = []
    for number in range(count):
        command = commands.RunAction(
            action_execution_id=f"action-{number}",
            workflow_execution_id=f"workflow-{number}",
            task_execution_id=f"task-{number}",
            action_name="test.held",
            input={"number": number},
            execution={},
        )
        parcels.append(
            delivery.Parcel(
                kind=outbox.Kind.RUN_ACTION,
                outbox_id=f"row-{number}",
                payload=codec.encode(command),
            )
        )
    return parcels


def _consumers(database: Database) -> int:
    """Consumers of the executors' queue of this database on the broker."""
    from kombu import Connection  # type: ignore[attr-defined]

    name = f"{delivery.executor_queue(None)}@{delivery.namespace(database)}"
    with Connection(AMQP_URL) as connection:  # type: ignore[no-untyped-call]
        try:
            _, _, consumers = connection.default_channel.queue_declare(queue=name, passive=True)
        except Exception:  # not declared yet
            return 0
    return int(consumers)


def _drop_queue(database: Database) -> None:
    from kombu import Connection  # type: ignore[attr-defined]

    name = f"{delivery.executor_queue(None)}@{delivery.namespace(database)}"
    with Connection(AMQP_URL) as connection:  # type: ignore[no-untyped-call]
        connection.default_channel.queue_delete(queue=name)


@pytest.fixture
def executors(postgres_url: str, transport: str) -> Iterator[tuple[Database, list[Any], Any]]:
    database = Database(postgres_url)
    migrate.prepare(database)
    registry = ActionRegistry()
    registry.register("test.held", Held)
    Held.gate.clear()
    Held.waiting = 0
    sender = _open(database, transport)
    opened = [_open(database, transport) for _ in range(2)]
    workers = [
        ExecutorWorker(
            database,
            registry,
            clock=utcnow,
            workers=WORKERS,
            timing=Timing(interval=30.0),
            parcels=parcels,
        )
        for parcels in opened
    ]
    for worker in workers:
        worker.start()
    try:
        if transport == "amqp":
            wait_for(lambda: _consumers(database) == 2, what="both executors to consume")
        yield database, workers, sender
    finally:
        Held.gate.set()
        for worker in workers:
            worker.stop()
        for parcels in [*opened, sender]:
            parcels.close()
        if transport == "amqp":
            _drop_queue(database)
        database.dispose()


def _free_rows(database: Database) -> int:
    """RunAction rows no executor has leased."""
    with database.read() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count())
                .select_from(tables.outbox)
                .where(
                    tables.outbox.c.kind == outbox.Kind.RUN_ACTION,
                    tables.outbox.c.claimed_until.is_(None),
                )
            ).scalar_one()
        )


def _results(database: Database) -> int:
    with database.read() as connection:
        return int(
            connection.execute(
                sa.select(sa.func.count())
                .select_from(tables.outbox)
                .where(tables.outbox.c.kind == outbox.Kind.ACTION_RESULT)
            ).scalar_one()
        )


def test_two_executors_each_run_as_many_actions_as_they_have_workers(
    executors: tuple[Database, list[ExecutorWorker], delivery.Delivery],
) -> None:
    database, workers, sender = executors
    now = utcnow()
    parcels = _rows(2 * WORKERS + EXTRA, now)
    with database.transaction() as connection:
        outbox.insert(
            connection,
            [
                outbox.row(id=p.outbox_id, kind=p.kind, payload=p.payload, created_at=now)
                for p in parcels
            ],
        )
        notify.send(connection, notify.EXECUTOR)
    left = sender.send(parcels)  # the database path leaves every parcel to the outbox
    assert left == [] or not sender.brokered, "the broker refused parcels"

    def seen() -> str:
        return f"held: {[len(w.held()) for w in workers]}, at the gate: {Held.waiting}"

    wait_for(lambda: Held.waiting == 2 * WORKERS, what="every worker to run", seen=seen)
    # Half each: no executor leased work beyond its free workers...
    assert [len(worker.held()) for worker in workers] == [WORKERS, WORKERS], seen()
    # ...so the rest waits, free, for the first worker that is done.
    assert _free_rows(database) == EXTRA
    assert Held.waiting == 2 * WORKERS
    Held.gate.set()
    wait_for(
        lambda: _results(database) == len(parcels),
        what="every action's result",
        seen=lambda: f"{_results(database)} results, {_free_rows(database)} free rows",
    )
    assert Held.waiting == len(parcels)  # each ran once

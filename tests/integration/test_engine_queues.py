"""Over RabbitMQ, an execution's events go to the queue of the engine whose share it is
(the share PostgreSQL computes for the outbox's pollers); when an engine dies, another
takes over its queue, what it held unacknowledged included; when an engine takes the slot
again, the others stop consuming its queue."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from sirocco.runtime import delivery, engine_queues
from sirocco.store import engine_slots, migrate, outbox
from sirocco.store.database import Database
from sirocco.transport import open_transport
from tests.conftest import AMQP_URL, port_open
from tests.waiting import wait_for


@pytest.fixture
def database(postgres_url: str) -> Iterator[Database]:
    database = Database(postgres_url)
    migrate.upgrade(database)
    yield database
    database.dispose()


def test_the_share_computed_in_python_is_the_one_postgresql_computes(database: Database) -> None:
    ids = ["", "a", "é", "x" * 11, "y" * 12, "z" * 13, "execution-7"] + [
        str(uuid.uuid4()) for _ in range(100)
    ]
    values = sa.values(sa.column("id", sa.Text), name="ids").data([(one,) for one in ids])
    for count in (2, 3, 7):
        query = sa.select(values.c.id, outbox._share_of(values.c.id, count))
        with database.read() as connection:
            found = dict(connection.execute(query).all())
        assert found == {one: outbox.share_of(one, count) for one in ids}


def test_a_sender_routes_by_the_live_slots_and_alone_to_the_shared_queue(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_queues, "REFRESH", 0.0)
    routes = engine_queues.Routes(database)
    first, second = engine_slots.Membership(database), engine_slots.Membership(database)
    try:
        first.share()
        assert routes.queue("execution-1") == engine_queues.SHARED  # one engine: no shares
        second.share()
        share = first.share()
        assert share is not None and first.slot is not None and second.slot is not None
        slots = sorted([first.slot, second.slot])
        for index in range(20):
            execution = f"execution-{index}"
            owner = slots[outbox.share_of(execution, 2)]
            assert routes.queue(execution) == engine_queues.of_slot(owner)
        assert routes.queue(None) == engine_queues.SHARED
        second.close()  # its lock goes as its backend ends, just after
        wait_for(
            lambda: routes.queue("execution-1") == engine_queues.SHARED,
            what="the sender to see one engine left",
        )
    finally:
        first.close()
        second.close()


class _Engine:
    """An engine's side of the broker: its membership, the parcels it received."""

    def __init__(self, database: Database, namespace: str, *, acknowledge: bool) -> None:
        self.membership = engine_slots.Membership(database)
        self.parcels = delivery.BrokeredDelivery(
            open_transport(AMQP_URL), delivery.DatabaseDelivery(database), namespace=namespace
        )
        self.received: list[delivery.Parcel] = []
        self._lock = threading.Lock()
        self._acknowledge = acknowledge
        self.parcels.receive(delivery.ENGINE_QUEUE, self.receive, prefetch=512)

    def receive(self, parcel: delivery.Parcel) -> None:
        with self._lock:
            self.received.append(parcel)
        if self._acknowledge:
            parcel.acknowledge()

    def look(self) -> None:
        """What the engine's outbox poller does once a second."""
        self.membership.share()
        self.parcels.follow_slot(self.membership.slot, self.membership.live, self.receive)

    def ids(self) -> set[str]:
        with self._lock:
            return {parcel.outbox_id for parcel in self.received}

    def close(self) -> None:
        self.parcels.close()
        self.membership.close()


def _results(prefix: str, count: int) -> list[delivery.Parcel]:
    return [
        delivery.Parcel(
            kind=outbox.Kind.ACTION_RESULT,
            outbox_id=f"{prefix}-{index}",
            payload={},
            execution=f"execution-{index}",
        )
        for index in range(count)
    ]


def _owned(engine: _Engine, parcels: list[delivery.Parcel], live: list[int]) -> set[str]:
    return {
        parcel.outbox_id
        for parcel in parcels
        if parcel.execution is not None
        and live[outbox.share_of(parcel.execution, len(live))] == engine.membership.slot
    }


def test_each_engine_gets_its_share_and_a_dead_engines_queue_is_taken_over(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not port_open(5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    monkeypatch.setattr(engine_queues, "REFRESH", 0.0)
    namespace = f"test-engine-queues-{uuid.uuid4().hex[:8]}"
    first = _Engine(database, namespace, acknowledge=True)
    second = _Engine(database, namespace, acknowledge=False)  # dies holding what it got
    third: _Engine | None = None
    sender = delivery.BrokeredDelivery(
        open_transport(AMQP_URL), delivery.DatabaseDelivery(database), namespace=namespace
    )
    try:
        for engine in (first, second, first):
            engine.look()
        live = list(first.membership.live)
        assert len(live) == 2
        sent = _results("a", 40)
        assert sender.send(sent) == []
        wait_for(
            lambda: len(first.ids()) + len(second.ids()) == 40,
            what="40 parcels received",
            seen=lambda: (first.ids(), second.ids()),
        )
        # Each engine got exactly the executions of its share, each share some.
        assert first.ids() == _owned(first, sent, live) != set()
        assert second.ids() == _owned(second, sent, live) != set()
        held = second.ids()

        # The second engine dies: what it held goes back to its queue, which the first
        # engine consumes once it sees the slot free; new parcels go to the shared queue.
        second.close()

        def alone() -> bool:
            first.look()
            return first.membership.live == [first.membership.slot]

        wait_for(alone, what="the first engine to see the second gone")
        later = _results("b", 10)
        assert sender.send(later) == []
        expected = {parcel.outbox_id for parcel in sent + later}
        wait_for(lambda: first.ids() >= expected, what="every parcel", seen=first.ids)
        redelivered = {parcel.outbox_id for parcel in first.received if parcel.redelivered}
        assert held <= redelivered

        # An engine takes the slot again: it alone consumes its queue from then on.
        third = _Engine(database, namespace, acknowledge=True)
        third.look()
        first.look()
        live = list(first.membership.live)
        assert len(live) == 2
        assert first.membership.slot in live and third.membership.slot in live
        before = first.ids()
        last = _results("c", 40)
        assert sender.send(last) == []
        wait_for(
            lambda: len(first.ids() - before) + len(third.ids()) == 40,
            what="the last 40 parcels",
            seen=lambda: (first.ids() - before, third.ids()),
        )
        assert third.ids() == _owned(third, last, live) != set()
        assert first.ids() - before == _owned(first, last, live)
    finally:
        for engine in (first, second, third):
            if engine is not None:
                engine.close()
        sender.close()

"""The delivery port: parcels over a transport, the database as the fallback, NOTIFY wake-ups."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from sirocco.runtime import delivery
from sirocco.store import notify, outbox
from sirocco.store.database import Database
from sirocco.transport import Delivery, MemoryTransport
from tests.waiting import BOUND


def _parcel(kind: outbox.Kind, target: str | None = None) -> delivery.Parcel:
    return delivery.Parcel(kind=kind, outbox_id="row-1", payload={"a": 1}, target=target)


class _RefusingTransport(MemoryTransport):
    """A broker that is down: every publish fails."""

    connected = False

    def publish(self, queue: str, body: dict[str, Any], *, fanout: bool = False) -> None:
        raise ConnectionError("broker down")


def test_parcels_go_to_the_queue_of_their_kind_and_target(tmp_path: object) -> None:
    transport = MemoryTransport()
    parcels = delivery.BrokeredDelivery(
        transport, delivery.DatabaseDelivery(Database(f"sqlite:///{tmp_path}/d.sqlite"))
    )
    received: dict[str, list[delivery.Parcel]] = {}
    arrived = threading.Semaphore(0)

    def into(queue: str) -> delivery.Receiver:
        def receive(parcel: delivery.Parcel) -> None:
            received.setdefault(queue, []).append(parcel)
            arrived.release()

        return receive

    for queue in (delivery.ENGINE_QUEUE, delivery.executor_queue(None), "sirocco.executor.gpu"):
        parcels.receive(queue, into(queue))
    left = parcels.send(
        [
            _parcel(outbox.Kind.RUN_ACTION),
            _parcel(outbox.Kind.RUN_ACTION, target="gpu"),
            _parcel(outbox.Kind.ACTION_RESULT),
        ]
    )
    assert left == []
    for _ in range(3):
        assert arrived.acquire(timeout=BOUND)
    assert {queue: [item.kind for item in items] for queue, items in received.items()} == {
        "sirocco.executor": [outbox.Kind.RUN_ACTION],
        "sirocco.executor.gpu": [outbox.Kind.RUN_ACTION],
        "sirocco.engine": [outbox.Kind.ACTION_RESULT],
    }
    assert received["sirocco.engine"][0].outbox_id == "row-1"
    parcels.close()


def test_parcels_the_broker_refuses_are_left_to_the_database(tmp_path: object) -> None:
    parcels = delivery.BrokeredDelivery(
        _RefusingTransport(),
        delivery.DatabaseDelivery(Database(f"sqlite:///{tmp_path}/d.sqlite")),
    )
    sent = [_parcel(outbox.Kind.RUN_ACTION), _parcel(outbox.Kind.TIMER_EVENT)]
    assert not parcels.brokered
    assert parcels.send(sent) == sent
    parcels.close()


def test_a_parcel_from_the_transport_keeps_its_redelivery_and_acknowledgement() -> None:
    acknowledged: list[bool] = []
    parcel = delivery.Parcel.received(
        Delivery(
            body=_parcel(outbox.Kind.RUN_ACTION, target="gpu").body(),
            redelivered=True,
            acknowledge=lambda: acknowledged.append(True),
        )
    )
    assert (parcel.kind, parcel.outbox_id, parcel.target, parcel.redelivered) == (
        outbox.Kind.RUN_ACTION,
        "row-1",
        "gpu",
        True,
    )
    parcel.acknowledge()
    assert acknowledged == [True]


def test_a_committed_transaction_wakes_the_listener_a_rolled_back_one_does_not(
    postgres_url: str,
) -> None:
    database = Database(postgres_url)
    listener = notify.Listener(database, [notify.ENGINE])
    assert listener.listening
    assert not listener.wait(0.01)  # connects and LISTENs
    with pytest.raises(RuntimeError), database.transaction() as connection:
        notify.send(connection, notify.ENGINE)
        raise RuntimeError("rolled back")
    assert not listener.wait(0.2)
    with database.transaction() as connection:
        notify.send(connection, notify.ENGINE)
    assert listener.wait(BOUND)
    listener.close()
    database.dispose()


def test_on_sqlite_the_listener_polls(tmp_path: object) -> None:
    listener = notify.Listener(Database(f"sqlite:///{tmp_path}/d.sqlite"), [notify.ENGINE])
    assert not listener.listening
    assert not listener.wait(0.01)


def test_deployments_on_different_databases_do_not_share_queues(tmp_path: object) -> None:
    transport = MemoryTransport()
    first = Database(f"sqlite:///{tmp_path}/first.sqlite")
    second = Database(f"sqlite:///{tmp_path}/second.sqlite")
    assert delivery.namespace(first) != delivery.namespace(second)
    parcels = delivery.BrokeredDelivery(
        transport, delivery.DatabaseDelivery(first), namespace=delivery.namespace(first)
    )
    assert parcels.send([_parcel(outbox.Kind.ACTION_RESULT)]) == []
    assert transport.pending(f"sirocco.engine@{delivery.namespace(first)}") == 1
    assert transport.pending(f"sirocco.engine@{delivery.namespace(second)}") == 0

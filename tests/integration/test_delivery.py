"""The delivery port: parcels over a transport, the database as the fallback, NOTIFY wake-ups."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from sirocco.runtime import delivery
from sirocco.runtime.health import Health, Report
from sirocco.store import notify, outbox
from sirocco.store.database import Database
from sirocco.transport import Delivery, MemoryTransport, open_transport
from tests.conftest import port_open
from tests.tcp_proxy import TcpProxy
from tests.waiting import BOUND, wait_for


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


class _RecordingTransport(MemoryTransport):
    """Records each message sent: its queue and its bodies' outbox ids; refuses after
    ``refuse_after`` messages."""

    def __init__(self, refuse_after: int | None = None) -> None:
        super().__init__()
        self.sent: list[tuple[str, list[str]]] = []
        self._refuse_after = refuse_after

    def publish_many(self, queue: str, bodies: Sequence[dict[str, Any]]) -> None:
        if self._refuse_after is not None and len(self.sent) >= self._refuse_after:
            raise ConnectionError("broker down")
        self.sent.append((queue, [body["outbox_id"] for body in bodies]))
        super().publish_many(queue, bodies)


def _numbered(kind: outbox.Kind, number: int) -> delivery.Parcel:
    return delivery.Parcel(kind=kind, outbox_id=f"row-{number}", payload={})


def test_the_engines_parcels_of_a_send_go_as_one_message_an_executors_one_each(
    tmp_path: object,
) -> None:
    transport = _RecordingTransport()
    parcels = delivery.BrokeredDelivery(
        transport, delivery.DatabaseDelivery(Database(f"sqlite:///{tmp_path}/d.sqlite"))
    )
    sent = [
        _numbered(outbox.Kind.RUN_ACTION, 1),
        _numbered(outbox.Kind.ACTION_RESULT, 2),
        _numbered(outbox.Kind.RUN_ACTION, 3),
        _numbered(outbox.Kind.TIMER_EVENT, 4),
        _numbered(outbox.Kind.ACTION_RESULT, 5),
    ]
    assert parcels.send(sent) == []
    assert transport.sent == [
        ("sirocco.executor", ["row-1"]),
        ("sirocco.engine", ["row-2", "row-4", "row-5"]),
        ("sirocco.executor", ["row-3"]),
    ]
    assert transport.pending("sirocco.engine") == 3  # each a parcel of its own again
    parcels.close()


def test_a_refused_message_leaves_its_parcels_and_the_later_ones_to_the_database(
    tmp_path: object,
) -> None:
    transport = _RecordingTransport(refuse_after=1)
    parcels = delivery.BrokeredDelivery(
        transport, delivery.DatabaseDelivery(Database(f"sqlite:///{tmp_path}/d.sqlite"))
    )
    first, second, third = (
        _numbered(outbox.Kind.RUN_ACTION, 1),
        _numbered(outbox.Kind.ACTION_RESULT, 2),
        _numbered(outbox.Kind.RUN_ACTION, 3),
    )
    assert parcels.send([first, second, third]) == [second, third]
    assert transport.sent == [("sirocco.executor", ["row-1"])]
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


def _collector() -> tuple[list[list[str]], threading.Semaphore, delivery.CancelReceiver]:
    heard: list[list[str]] = []
    arrived = threading.Semaphore(0)

    def receive(ids: list[str]) -> None:
        heard.append(ids)
        arrived.release()

    return heard, arrived, receive


def test_a_cancellation_reaches_every_executor_of_its_deployment_over_the_fanout(
    tmp_path: object,
) -> None:
    transport = MemoryTransport()
    ours = Database(f"sqlite:///{tmp_path}/ours.sqlite")
    theirs = Database(f"sqlite:///{tmp_path}/theirs.sqlite")

    def open_on(database: Database) -> delivery.BrokeredDelivery:
        return delivery.BrokeredDelivery(
            transport, delivery.DatabaseDelivery(database), namespace=delivery.namespace(database)
        )

    first, second, other = open_on(ours), open_on(ours), open_on(theirs)
    heard_first, arrived_first, receive_first = _collector()
    heard_second, arrived_second, receive_second = _collector()
    heard_other, _, receive_other = _collector()
    first.on_cancel(receive_first)
    second.on_cancel(receive_second)
    other.on_cancel(receive_other)
    open_on(ours).cancel(["wf-1", "wf-2"])
    assert arrived_first.acquire(timeout=BOUND) and arrived_second.acquire(timeout=BOUND)
    assert heard_first == heard_second == [["wf-1", "wf-2"]]
    # The other deployment's executors heard the fan-out too, and let it pass.
    open_on(theirs).cancel(["wf-3"])
    wait_for(lambda: heard_other == [["wf-3"]], what="the other deployment's cancellation")
    assert heard_first == [["wf-1", "wf-2"]]
    for parcels in (first, second, other):
        parcels.close()


def test_without_a_broker_a_cancellation_is_a_notify_with_the_ids(postgres_url: str) -> None:
    database = Database(postgres_url)
    parcels = delivery.DatabaseDelivery(database)
    heard, arrived, receive = _collector()
    parcels.on_cancel(receive)
    many = [f"{index:036d}" for index in range(250)]  # more than one NOTIFY's payload

    def told() -> bool:
        parcels.cancel(["wf-1"])  # until the listener has connected
        return arrived.acquire(timeout=0.5)

    wait_for(told, what="the listener to hear a cancellation")
    heard.clear()
    parcels.cancel(many)
    wait_for(lambda: sum(len(ids) for ids in heard) >= 250, what="every id")
    assert [item for ids in heard for item in ids if item != "wf-1"] == many
    parcels.close()
    database.dispose()


def test_a_cancellation_the_broker_refuses_goes_through_the_database(postgres_url: str) -> None:
    database = Database(postgres_url)
    listening = delivery.DatabaseDelivery(database)
    heard, arrived, receive = _collector()
    listening.on_cancel(receive)
    parcels = delivery.BrokeredDelivery(_RefusingTransport(), delivery.DatabaseDelivery(database))

    def told() -> bool:
        parcels.cancel(["wf-7"])
        return arrived.acquire(timeout=0.5)

    wait_for(told, what="the cancellation through the database")
    assert set(heard[0]) == {"wf-7"}
    listening.close()
    database.dispose()


def _not_ready(health: Health) -> Report | None:
    report = health.report()
    return None if report.ready else report


def test_ready_names_a_broker_that_a_role_lost_and_clears_once_it_is_back(
    tmp_path: object,
) -> None:
    if not port_open(5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    proxy = TcpProxy(("127.0.0.1", 5672))
    parcels = delivery.BrokeredDelivery(
        open_transport(f"amqp://guest:guest@127.0.0.1:{proxy.port}//", required=False),
        delivery.DatabaseDelivery(Database(f"sqlite:///{tmp_path}/d.sqlite")),
        namespace=f"audit-{uuid.uuid4().hex[:8]}",
    )
    health = Health()
    health.probe("broker", parcels.reach)
    try:
        parcels.receive(delivery.ENGINE_QUEUE, lambda parcel: None)
        wait_for(lambda: health.report().ready, what="/ready while the broker answers")
        proxy.cut()  # no parcel is sent meanwhile: only the consumer sees the broker go
        report = wait_for(lambda: _not_ready(health), what="/ready to name the lost broker")
        assert [reason for reason in report.reasons if reason.startswith("broker can't be reached")]
        assert f"127.0.0.1:{proxy.port}" in " ".join(report.reasons)
        assert parcels.send([_parcel(outbox.Kind.ACTION_RESULT)])  # left to the database
        proxy.restore()
        wait_for(lambda: health.report().ready, what="/ready once the broker is back")
        assert parcels.send([_parcel(outbox.Kind.ACTION_RESULT)]) == []
    finally:
        parcels.close()
        proxy.close()


def test_ready_names_a_broker_that_never_answered(tmp_path: object) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    parcels = delivery.BrokeredDelivery(
        open_transport(f"amqp://guest:guest@127.0.0.1:{port}//", required=False),
        delivery.DatabaseDelivery(Database(f"sqlite:///{tmp_path}/d.sqlite")),
    )
    health = Health()
    health.probe("broker", parcels.reach)
    try:
        report = health.report()
        assert not report.ready
        assert [reason for reason in report.reasons if reason.startswith("broker can't be reached")]
        assert f"127.0.0.1:{port}" in " ".join(report.reasons)
    finally:
        parcels.close()


def test_without_a_broker_ready_asks_only_the_database(tmp_path: object) -> None:
    parcels = delivery.DatabaseDelivery(Database(f"sqlite:///{tmp_path}/d.sqlite"))
    health = Health()
    health.probe("broker", parcels.reach)
    assert health.report().ready
    parcels.close()


class _KeepingTransport(MemoryTransport):
    """Keeps every body sent, with its queue."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[tuple[str, dict[str, Any]]] = []

    def publish_many(self, queue: str, bodies: Sequence[dict[str, Any]]) -> None:
        self.bodies.extend((queue, dict(body)) for body in bodies)
        super().publish_many(queue, bodies)


def test_a_run_action_parcel_names_its_row_and_the_executor_runs_the_rows_command(
    database_url: str,
) -> None:
    """The engine does not encode the command into the parcel again: the executor leases
    the row the parcel names and runs the command the row holds."""
    from sirocco.clock import utcnow
    from sirocco.executor.worker import ExecutorWorker
    from tests.integration import helpers

    app = helpers.build(database_url)
    app.parts.runtime.attach_executor(None)  # every action to the executor below
    app.parts.service.attach_executor(None)
    transport = _KeepingTransport()
    parcels = delivery.BrokeredDelivery(transport, delivery.DatabaseDelivery(app.parts.database))
    app.parts.runtime.attach_delivery(parcels)
    app.parts.runtime.start(poll_outbox=True)
    worker = ExecutorWorker(app.parts.database, app.parts.registry, clock=utcnow, parcels=parcels)
    worker.start()
    try:
        helpers.deploy(
            app,
            "version: '2.0'\nechoing:\n  tasks:\n"
            "    one:\n      action: std.echo output=7\n      on-success: [two]\n"
            "    two:\n      action: std.echo output=<% task(one).result %>\n"
            "      publish: {got: <% task().result %>}\n",
        )
        execution_id = helpers.start(app, "echoing", {})
        row = helpers.wait_for(app, execution_id)
        assert (row.state, row.output) == ("SUCCESS", {"got": 7}), row.state_info
    finally:
        worker.stop(timeout=5)
        app.close()
        parcels.close()
    run_actions = [body for queue, body in transport.bodies if queue == "sirocco.executor"]
    assert len(run_actions) == 2
    assert all(body["kind"] == "RunAction" and body["payload"] == {} for body in run_actions)

"""The same contract over the in-memory and the AMQP transport."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest

from sirocco.transport import Delivery, MemoryTransport, Transport, open_transport
from tests.conftest import AMQP_URL, port_open
from tests.waiting import BOUND


@pytest.fixture(params=["memory", "amqp"])
def transport(request: pytest.FixtureRequest) -> Iterator[Transport]:
    if request.param == "amqp":
        if not port_open(5672):
            pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
        made = open_transport(AMQP_URL)
    else:
        made = open_transport(None)
    yield made
    made.close()


def _collect(transport: Transport, queue: str, expected: int) -> list[Delivery]:
    received: list[Delivery] = []
    done = threading.Event()

    def handler(delivery: Delivery) -> None:
        received.append(delivery)
        if len(received) >= expected:
            done.set()

    transport.consume(queue, handler)
    assert done.wait(BOUND), f"got {len(received)} of {expected} messages"
    return received


def test_messages_arrive_in_order_with_their_bodies(transport: Transport) -> None:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    for index in range(20):
        transport.publish(queue, {"n": index, "nested": {"text": "é"}})
    received = _collect(transport, queue, 20)
    assert [item.body["n"] for item in received] == list(range(20))
    assert received[0].body["nested"] == {"text": "é"}
    assert not received[0].redelivered


def test_queues_are_separate(transport: Transport) -> None:
    first, second = f"a-{uuid.uuid4().hex[:8]}", f"b-{uuid.uuid4().hex[:8]}"
    transport.publish(first, {"to": "first"})
    transport.publish(second, {"to": "second"})
    assert [item.body for item in _collect(transport, second, 1)] == [{"to": "second"}]


def _received_past_a_failure(transport: Transport, queue: str, count: int) -> list[int]:
    """The ``n`` of the first ``count`` bodies of ``queue`` a consumer's handler took in,
    the handler failing on the body whose ``n`` is 0."""
    received: list[int] = []
    done = threading.Event()

    def handler(delivery: Delivery) -> None:
        if delivery.body["n"] == 0:
            raise RuntimeError("boom")
        received.append(delivery.body["n"])
        if len(received) == count:
            done.set()

    transport.consume(queue, handler)
    assert done.wait(BOUND)
    return received


def test_a_failing_handler_does_not_stop_the_consumer(transport: Transport) -> None:
    queue = f"fail-{uuid.uuid4().hex[:8]}"
    transport.publish(queue, {"n": 0})
    transport.publish(queue, {"n": 1})
    assert _received_past_a_failure(transport, queue, 1) == [1]


def test_memory_transport_counts_pending() -> None:
    transport = MemoryTransport()
    transport.publish("q", {"a": 1})
    assert transport.pending("q") == 1
    transport.close()


def test_an_unacknowledged_message_comes_back_redelivered_to_the_next_consumer() -> None:
    if not port_open(5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    queue = f"redeliver-{uuid.uuid4().hex[:8]}"
    first = open_transport(AMQP_URL)
    held = threading.Event()
    first.publish(queue, {"n": 1})
    first.consume(queue, lambda delivery: held.set())  # never acknowledged: its receiver "dies"
    assert held.wait(BOUND)
    first.close()
    second = open_transport(AMQP_URL)
    try:
        (again,) = _collect(second, queue, 1)
        assert again.body == {"n": 1}
        assert again.redelivered
        again.acknowledge()
    finally:
        second.close()


def test_an_acknowledged_message_is_gone() -> None:
    if not port_open(5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    queue = f"acked-{uuid.uuid4().hex[:8]}"
    first = open_transport(AMQP_URL)
    first.publish(queue, {"n": 1})
    (taken,) = _collect(first, queue, 1)
    taken.acknowledge()
    first.publish(queue, {"n": 2})  # a marker behind it: once it arrives, the ack was sent
    first.close()
    second = open_transport(AMQP_URL)
    try:
        assert [item.body for item in _collect(second, queue, 1)] == [{"n": 2}]
    finally:
        second.close()


def test_bodies_published_together_arrive_in_order_each_a_delivery_of_its_own(
    transport: Transport,
) -> None:
    queue = f"bundle-{uuid.uuid4().hex[:8]}"
    transport.publish_many(queue, [{"n": 0}, {"n": 1}, {"n": 2}])
    transport.publish_many(queue, [{"n": 3}])
    transport.publish(queue, {"n": 4})
    received = _collect(transport, queue, 5)
    assert [item.body for item in received] == [{"n": index} for index in range(5)]
    assert not any(item.redelivered for item in received)


def test_a_failing_handler_does_not_stop_the_rest_of_a_message(transport: Transport) -> None:
    queue = f"bundle-fail-{uuid.uuid4().hex[:8]}"
    transport.publish_many(queue, [{"n": 0}, {"n": 1}, {"n": 2}])
    assert _received_past_a_failure(transport, queue, 2) == [1, 2]


def _taken_again(queue: str, count: int) -> list[tuple[int, bool]]:
    """The ``n`` and the redelivered flag of ``count`` bodies that a new connection takes
    from ``queue``, each acknowledged."""
    again = open_transport(AMQP_URL)
    try:
        taken = _collect(again, queue, count)
        for item in taken:
            item.acknowledge()
        return [(item.body["n"], item.redelivered) for item in taken]
    finally:
        again.close()


def test_a_message_of_several_bodies_is_acknowledged_once_every_body_is() -> None:
    if not port_open(5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    queue = f"bundle-ack-{uuid.uuid4().hex[:8]}"
    first = open_transport(AMQP_URL)
    first.publish_many(queue, [{"n": 1}, {"n": 2}, {"n": 3}])
    taken = _collect(first, queue, 3)
    taken[0].acknowledge()
    taken[2].acknowledge()
    taken[2].acknowledge()  # twice counts once: the second body is still unacknowledged
    first.close()  # sends the acks that are due
    # The whole message comes back, every body of it redelivered.
    assert _taken_again(queue, 3) == [(1, True), (2, True), (3, True)]
    third = open_transport(AMQP_URL)
    try:
        third.publish(queue, {"n": 4})
        # Every body acknowledged: the message is gone, only the new one is there.
        assert [item.body for item in _collect(third, queue, 1)] == [{"n": 4}]
    finally:
        third.close()


def test_messages_acknowledged_out_of_order_leave_only_the_unacknowledged_one() -> None:
    if not port_open(5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    queue = f"acks-{uuid.uuid4().hex[:8]}"
    first = open_transport(AMQP_URL)
    for number in range(1, 6):
        first.publish(queue, {"n": number})
    taken = _collect(first, queue, 5)
    # Acks go as one for a run below the first message still held (1-2), and one by one
    # above it (4, 5): neither may take the held message (3) with them.
    for index in (4, 0, 1, 3):
        taken[index].acknowledge()
    first.close()
    second = open_transport(AMQP_URL)
    try:
        (again,) = _collect(second, queue, 1)
        assert (again.body, again.redelivered) == ({"n": 3}, True)
        again.acknowledge()
    finally:
        second.close()


def test_many_bodies_go_as_messages_of_at_most_a_bundle_each(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One message per ``BUNDLE`` bodies: a batch of any size stays under the broker's
    message size limit; a message whose bodies are all acknowledged is gone on its own."""
    if not port_open(5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    from sirocco.transport import amqp as amqp_transport

    monkeypatch.setattr(amqp_transport, "BUNDLE", 2, raising=False)
    queue = f"bundle-split-{uuid.uuid4().hex[:8]}"
    first = open_transport(AMQP_URL)
    first.publish_many(queue, [{"n": n} for n in range(1, 6)])
    taken = _collect(first, queue, 5)
    assert [item.body["n"] for item in taken] == [1, 2, 3, 4, 5]
    taken[0].acknowledge()
    taken[1].acknowledge()  # the first message (bodies 1 and 2) is done
    first.close()
    assert _taken_again(queue, 3) == [(3, True), (4, True), (5, True)]


def test_a_cancelled_consumer_takes_no_more_and_acknowledges_what_it_holds(
    transport: Transport,
) -> None:
    queue = f"cancel-{uuid.uuid4().hex[:8]}"
    held: list[Delivery] = []
    arrived = threading.Event()

    def hold(delivery: Delivery) -> None:
        held.append(delivery)
        arrived.set()

    transport.publish(queue, {"n": 1})
    transport.consume(queue, hold)
    assert arrived.wait(BOUND)
    transport.cancel(queue)
    transport.publish(queue, {"n": 2})
    held[0].acknowledge()  # after the cancel: still acknowledged, not delivered again
    received = _collect(transport, queue, 1)
    assert [item.body["n"] for item in received] == [2]
    assert [item.body["n"] for item in held] == [1]

"""The AMQP transport (kombu, RabbitMQ): durable queues, acknowledged when the receiver says.

A consumer runs on its own thread with its own connection. A message is handed
to the handler with an ``acknowledge`` callable; the receiver calls it once the
transaction that applies the message has committed (possibly from another
thread), and the consumer thread sends the ack. A message never acknowledged
(its receiver died) is delivered again, ``redelivered``, to another consumer.
A lost connection is retried with back-off; meanwhile ``connected`` is False so
that senders fall back to the database.

:meth:`AmqpTransport.publish_many` sends several bodies as one message whose body is
their JSON list (a single body is sent as itself): one publish, one delivery and one
ack for a batch instead of one each per body, the broker's per-message work being
most of what a message costs either side (~0.25 ms of CPU). The consumer hands each
body on as a delivery of its own, with the message's ``redelivered``, and acks the
message once every one of them is acknowledged.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import amqp
from kombu import Connection, Exchange, Queue  # type: ignore[attr-defined]
from kombu.utils import json as kombu_json

from sirocco import errors
from sirocco.transport.base import Delivery, Handler

log = logging.getLogger("sirocco.transport")

EXCHANGE = Exchange("sirocco", type="direct", durable=True)
#: Broadcast to every consumer bound to it (cancellations).
FANOUT = Exchange("sirocco.fanout", type="fanout", durable=True)
#: Seconds a consumer waits for a message before it sends the acks that are due, while
#: messages it delivered wait for theirs. An ack only lets the broker forget a message
#: whose work is committed, so it may wait; each wake costs about 0.13 ms of CPU, which
#: at 50 wakes a second was 0.2-0.3 ms per task for each busy consumer.
DRAIN = 0.1
#: Seconds it waits when every message it delivered is acknowledged (only a stop or a
#: message can need it then: no reason to wake 50 times a second).
IDLE_DRAIN = 1.0
MAX_BACKOFF = 5.0
#: The most bodies one message of ``publish_many`` holds. Each body is under the blob
#: threshold (64 KiB by default), so a message stays far below RabbitMQ's
#: ``max_message_size`` (16 MiB by default): a larger one would close the channel and the
#: bodies would wait for the database's slower delivery.
BUNDLE = 64
#: Seconds a consumer told to stop consuming its queue (:meth:`AmqpTransport.cancel`)
#: waits for the acknowledgements of what it delivered before it closes its connection
#: (what is still not acknowledged then goes back to the queue, to its next consumer).
CANCEL_WAIT = 10.0


def _queue(name: str) -> Queue:
    return Queue(name, EXCHANGE, routing_key=name, durable=True)


class _Consumer:
    """One queue consumed on one thread; acks sent from that thread."""

    def __init__(
        self, url: str, queue_name: str, handler: Handler, *, prefetch: int, fanout: bool
    ) -> None:
        self._url = url
        self._queue_name = self.queue_name = queue_name
        self._handler = handler
        self._prefetch = prefetch
        self._fanout = fanout
        #: Delivery tags whose messages were acknowledged, with their connection's number.
        self._acks: queue.Queue[tuple[int, int]] = queue.Queue()
        #: Which connection this is (tags of an earlier one are not acked on this one).
        self._generation = 0
        #: Tags delivered on this connection and not acknowledged yet, in delivery order.
        self._outstanding: dict[int, None] = {}
        self._channel: Any = None
        #: Why the last connection failed, until the consumer is connected again.
        self.failure: str | None = None
        self.stopping = threading.Event()
        #: Set by :meth:`AmqpTransport.cancel`: take no more messages, end once those
        #: delivered are acknowledged.
        self.cancelling = threading.Event()
        self.thread = threading.Thread(
            target=self._run, name=f"sirocco-amqp-{queue_name}", daemon=True
        )

    def _declaration(self) -> Queue:
        if self._fanout:
            # One exclusive queue per consumer: every consumer gets every message.
            return Queue(exchange=FANOUT, exclusive=True, auto_delete=True)
        return _queue(self._queue_name)

    def _run(self) -> None:
        backoff = 0.1
        # Cancelled, a lost connection needs no new one: its unacknowledged messages went
        # back to the queue with it.
        while not (self.stopping.is_set() or self.cancelling.is_set()):
            try:
                with Connection(self._url) as connection:
                    connection.ensure_connection(max_retries=1)
                    backoff = 0.1
                    self._consume(connection)
            except Exception as exc:  # the thread outlives any broker trouble
                if self.stopping.is_set():
                    return
                self.failure = str(exc) or type(exc).__name__
                log.warning(
                    "message broker unreachable; retrying",
                    extra={"queue": self._queue_name, "error": str(exc)},
                )
                self.stopping.wait(backoff)
                backoff = min(MAX_BACKOFF, backoff * 2)

    def _consume(self, connection: Connection) -> None:
        # Acks for messages of an earlier connection can't be sent: those are redelivered.
        self._generation += 1
        self._outstanding.clear()
        while not self._acks.empty():
            self._acks.get_nowait()
        channel = self._channel = connection.channel()
        consumer = connection.Consumer(
            channel=channel,
            queues=[self._declaration()],
            callbacks=[self._on_message],
            accept=["json"],
        )
        consumer.qos(prefetch_count=self._prefetch)
        with consumer:
            self.failure = None
            until: float | None = None  # while cancelling: when to stop waiting for acks
            while not self.stopping.is_set():
                if self.cancelling.is_set():
                    if until is None:
                        consumer.cancel()  # the broker sends no more; acks still go
                        until = time.monotonic() + CANCEL_WAIT
                    if not self._outstanding or time.monotonic() > until:
                        self.stopping.set()
                        break
                try:
                    connection.drain_events(timeout=DRAIN if self._outstanding else IDLE_DRAIN)
                except TimeoutError:
                    pass
                self._send_acks()
            self._send_acks()  # what was applied before the stop is acknowledged

    def _send_acks(self) -> None:
        """Ack what was acknowledged: every tag below the first one still outstanding with
        one ``multiple`` ack (the usual case: receivers acknowledge in delivery order),
        any other one by itself (so that a message held long holds back no other's ack)."""
        acked: list[int] = []
        while True:
            try:
                generation, tag = self._acks.get_nowait()
            except queue.Empty:
                break
            if generation == self._generation and tag in self._outstanding:
                del self._outstanding[tag]
                acked.append(tag)
        if not acked:
            return
        first = next(iter(self._outstanding), None)
        alone = [] if first is None else [tag for tag in acked if tag > first]
        below = [tag for tag in acked if first is None or tag < first]
        if below:
            self._channel.basic_ack(max(below), multiple=True)
        for tag in alone:
            self._channel.basic_ack(tag)

    def _on_message(self, body: Any, message: Any) -> None:
        if self.cancelling.is_set():  # sent before the broker heard the cancel
            message.requeue()  # to the queue's next consumer
            return
        tag = message.delivery_tag
        self._outstanding[tag] = None
        redelivered = bool(message.delivery_info.get("redelivered"))
        bodies = body if isinstance(body, list) else [body]
        done = (self._generation, tag)
        countdown = _Countdown(len(bodies), lambda: self._acks.put(done))
        for one in bodies:
            acknowledge = countdown.one()
            try:
                self._handler(Delivery(body=one, redelivered=redelivered, acknowledge=acknowledge))
            except Exception:
                log.exception("message handler failed", extra={"queue": self._queue_name})
                acknowledge()  # a bad message must not come back forever; the database has it


class _Countdown:
    """Calls ``done`` once each of ``count`` acknowledgements was given (from any thread;
    one given twice counts once)."""

    def __init__(self, count: int, done: Callable[[], None]) -> None:
        self._left = count
        self._done = done
        self._lock = threading.Lock()

    def one(self) -> Callable[[], None]:
        given = False

        def acknowledge() -> None:
            nonlocal given
            with self._lock:
                if given:
                    return
                given = True
                self._left -= 1
                last = self._left == 0
            if last:
                self._done()

        return acknowledge


class AmqpTransport:
    """Queues on a RabbitMQ broker, shared by every process that uses the same URL."""

    def __init__(self, url: str, *, required: bool = True) -> None:
        self._url = url
        self._lock = threading.Lock()
        self._publisher: Connection | None = None
        self._producer: Any = None
        self._declared: set[str] = set()
        self._consumers: list[_Consumer] = []
        #: Consumers told to stop consuming, until they have (joined at ``close``).
        self._cancelled: list[_Consumer] = []
        #: While the broker is away, publishes fail at once until this time (monotonic).
        self._retry_at = 0.0
        self._backoff = 0.0
        try:
            self._connect()
        except Exception as exc:
            if required:
                raise errors.ConfigurationError(
                    f"Can't reach the message broker at {_safe(url)}: {exc}"
                ) from exc
            log.warning("message broker unreachable at start", extra={"error": str(exc)})

    def _connect(self) -> None:
        if time.monotonic() < self._retry_at:
            raise ConnectionError("message broker unreachable (retrying later)")
        try:
            connection = Connection(self._url, connect_timeout=2)
            connection.ensure_connection(max_retries=1)
        except Exception:
            # Senders fall back to the database at once instead of waiting on the broker.
            self._backoff = min(MAX_BACKOFF, max(0.5, self._backoff * 2))
            self._retry_at = time.monotonic() + self._backoff
            raise
        self._backoff = 0.0
        self._publisher = connection
        self._producer = connection.Producer(serializer="json")
        self._declared = set()

    @property
    def connected(self) -> bool:
        """Whether the last publish (or the start) reached the broker."""
        return self._producer is not None

    def reach(self) -> None:
        """Raises while a consumer has lost the broker or a publisher can't connect (during
        the publisher's back-off, at once)."""
        for consumer in list(self._consumers):
            failure = consumer.failure
            if failure is not None:
                raise ConnectionError(f"{_safe(self._url)}: {failure}")
        with self._lock:
            if self._producer is None:
                try:
                    self._connect()
                except Exception as exc:
                    raise ConnectionError(f"{_safe(self._url)}: {exc}") from exc

    def publish(self, queue: str, body: dict[str, Any], *, fanout: bool = False) -> None:
        """Send ``body`` to ``queue`` (persistent); raises when the broker can't take it."""
        self._publish(queue, body, fanout=fanout)

    def publish_many(self, queue: str, bodies: Sequence[dict[str, Any]]) -> None:
        """Send ``bodies`` to ``queue`` as persistent messages of at most ``BUNDLE`` bodies
        each (their list); raises when the broker can't take them."""
        if len(bodies) == 1:
            self._publish(queue, bodies[0], fanout=False)
            return
        for start in range(0, len(bodies), BUNDLE):
            self._publish(queue, list(bodies[start : start + BUNDLE]), fanout=False)

    def _publish(self, queue: str, body: Any, *, fanout: bool) -> None:
        with self._lock:
            try:
                if self._producer is None:
                    self._connect()
                exchange = FANOUT if fanout else EXCHANGE
                declared = "fanout" if fanout else queue
                if declared in self._declared:
                    # Straight to the channel: kombu's Producer.publish costs twice as
                    # much CPU for the same frames (~65 against ~30 us a message).
                    self._producer.channel.basic_publish(
                        amqp.Message(
                            kombu_json.dumps(body),
                            content_type="application/json",
                            content_encoding="utf-8",
                            delivery_mode=2,
                        ),
                        exchange=exchange.name,
                        routing_key=queue,
                    )
                    return
                self._producer.publish(
                    body,
                    exchange=exchange,
                    routing_key=queue,
                    declare=[FANOUT] if fanout else [_queue(queue)],
                    delivery_mode=2,
                    retry=False,
                )
                self._declared.add(declared)
            except Exception:
                self._drop()
                raise

    def _drop(self) -> None:
        if self._publisher is not None:
            try:
                self._publisher.release()
            except Exception:  # a broken connection may fail to close; it is gone either way
                log.debug("closing a broken broker connection failed", exc_info=True)
        self._publisher = None
        self._producer = None

    def consume(
        self, queue: str, handler: Handler, *, prefetch: int = 64, fanout: bool = False
    ) -> None:
        consumer = _Consumer(self._url, queue, handler, prefetch=prefetch, fanout=fanout)
        consumer.thread.start()
        self._consumers.append(consumer)

    def cancel(self, queue: str) -> None:
        """Stop consuming ``queue``: its consumers take no more messages and end once
        those they delivered are acknowledged (at most ``CANCEL_WAIT`` seconds; what is
        not acknowledged by then goes back to the queue). Returns at once."""
        self._cancelled = [one for one in self._cancelled if one.thread.is_alive()]
        for consumer in list(self._consumers):
            if consumer.queue_name == queue:
                consumer.cancelling.set()
                self._consumers.remove(consumer)
                self._cancelled.append(consumer)

    def purge(self, queue: str) -> None:
        """Drop every message waiting in ``queue`` (for tests)."""
        with Connection(self._url) as connection:
            bound = _queue(queue)(connection.default_channel)
            bound.declare()
            bound.purge()

    def close(self) -> None:
        consumers = self._consumers + self._cancelled
        for consumer in consumers:
            consumer.stopping.set()
        for consumer in consumers:
            consumer.thread.join(5)
        self._consumers.clear()
        self._cancelled.clear()
        with self._lock:
            self._drop()


def _safe(url: str) -> str:
    """The URL without its password."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"

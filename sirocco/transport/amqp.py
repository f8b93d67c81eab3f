"""The AMQP transport (kombu, RabbitMQ): durable queues, acknowledged after handling."""

from __future__ import annotations

import logging
import threading
from typing import Any

from kombu import Connection, Exchange, Queue  # type: ignore[attr-defined]
from kombu.mixins import ConsumerMixin

from sirocco import errors
from sirocco.transport.base import Delivery, Handler

log = logging.getLogger("sirocco.transport")

EXCHANGE = Exchange("sirocco", type="direct", durable=True)


def _queue(name: str) -> Queue:
    return Queue(name, EXCHANGE, routing_key=name, durable=True)


class _Worker(ConsumerMixin):  # type: ignore[misc]
    def __init__(self, connection: Connection, queue: str, handler: Handler) -> None:
        self.connection = connection
        self._queue = queue
        self._handler = handler

    def get_consumers(self, consumer_class: Any, channel: Any) -> list[Any]:
        consumer = consumer_class(
            queues=[_queue(self._queue)], callbacks=[self._on_message], accept=["json"]
        )
        consumer.qos(prefetch_count=64)
        return [consumer]

    def _on_message(self, body: Any, message: Any) -> None:
        try:
            self._handler(
                Delivery(body=body, redelivered=bool(message.delivery_info.get("redelivered")))
            )
        except Exception:
            log.exception("message handler failed", extra={"queue": self._queue})
        message.ack()


class AmqpTransport:
    """Queues on a RabbitMQ broker, shared by every process that uses the same URL."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._publisher = Connection(url)
        try:
            self._publisher.ensure_connection(max_retries=3)
        except Exception as exc:
            raise errors.ConfigurationError(
                f"Can't reach the message broker at {url}: {exc}"
            ) from exc
        self._lock = threading.Lock()
        self._producer = self._publisher.Producer(serializer="json")
        self._declared: set[str] = set()
        self._workers: list[tuple[_Worker, threading.Thread]] = []

    def publish(self, queue: str, body: dict[str, Any]) -> None:
        with self._lock:
            declare = [] if queue in self._declared else [_queue(queue)]
            self._producer.publish(
                body,
                exchange=EXCHANGE,
                routing_key=queue,
                declare=declare,
                delivery_mode=2,
                retry=True,
            )
            self._declared.add(queue)

    def consume(self, queue: str, handler: Handler) -> None:
        worker = _Worker(Connection(self._url), queue, handler)
        thread = threading.Thread(target=worker.run, name=f"sirocco-amqp-{queue}", daemon=True)
        thread.start()
        self._workers.append((worker, thread))

    def purge(self, queue: str) -> None:
        """Drop every message waiting in ``queue`` (for tests)."""
        with Connection(self._url) as connection:
            bound = _queue(queue)(connection.default_channel)
            bound.declare()
            bound.purge()

    def close(self) -> None:
        for worker, _ in self._workers:
            worker.should_stop = True
        for worker, thread in self._workers:
            thread.join(5)
            worker.connection.release()
        self._workers.clear()
        self._publisher.release()

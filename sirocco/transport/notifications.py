"""Listening to other services' notifications on RabbitMQ (oslo.messaging's exchanges).

An OpenStack service publishes a notification to its topic exchange (``nova``,
``cinder``...) with the routing key ``<topic>.<priority>`` (``notifications.info``).
For each (exchange, topic) it is told to hear, a :class:`NotificationListener`
declares the exchange (as oslo.messaging does: a topic exchange, not durable,
unless it exists already), one durable queue ``sirocco.events.<exchange>.<topic>``
bound with ``<topic>.<priority>`` for each priority, and consumes it. Every
listening process consumes the same queue, so the broker hands each notification
to one of them (competing consumers); the receiver acknowledges it once it has
recorded what the notification starts.

One thread drives a listener: :meth:`listen`, :meth:`drain` and the handler's
acknowledgements all run on it (a kombu channel is not thread-safe).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

from amqp import exceptions as amqp_errors
from kombu import Connection, Consumer, Exchange, Queue  # type: ignore[attr-defined]

log = logging.getLogger("sirocco.transport")

#: Seconds to wait for the broker when connecting.
CONNECT_TIMEOUT = 2.0


class Subscription(NamedTuple):
    """An exchange and a topic that notifications are heard on."""

    exchange: str
    topic: str


def queue_name(subscription: Subscription) -> str:
    """The queue every listening process shares for ``subscription``."""
    return f"sirocco.events.{subscription.exchange}.{subscription.topic}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Received:
    """A message from a subscription; ``acknowledge()`` once it is recorded."""

    subscription: Subscription
    body: Any
    acknowledge: Callable[[], None]


Handler = Callable[[Received], None]


class NotificationListener:
    """One broker connection consuming the queues of the subscriptions it is given."""

    def __init__(self, url: str, *, priorities: Iterable[str], prefetch: int = 16) -> None:
        self._url = url
        self._priorities = tuple(priorities)
        self._prefetch = prefetch
        self._connection: Connection | None = None
        #: One channel per subscription: the broker closes a channel on a refused
        #: declaration, and that must not stop the other subscriptions.
        self._consumers: dict[Subscription, tuple[Consumer, Any]] = {}

    @property
    def listening(self) -> frozenset[Subscription]:
        """The subscriptions whose queue this listener consumes now."""
        return frozenset(self._consumers)

    def open(self) -> None:
        """Connect; raises when the broker can't be reached."""
        connection = Connection(self._url, connect_timeout=CONNECT_TIMEOUT)
        try:
            connection.ensure_connection(max_retries=1)
        except Exception:
            connection.release()
            raise
        self._connection = connection

    def listen(self, wanted: Iterable[Subscription], handler: Handler) -> dict[Subscription, str]:
        """Consume exactly the queues of ``wanted``: start the new ones, stop the others.

        A queue no trigger needs any more is deleted once no process consumes it.
        Returns the subscriptions the broker refused (an exchange of a reserved name,
        no permission...) with its reason; they are tried again at the next call.
        Raises when the connection is lost.
        """
        wanted = set(wanted)
        for subscription in sorted(set(self._consumers) - wanted):
            self._stop(subscription)
        refused: dict[Subscription, str] = {}
        for subscription in sorted(wanted - set(self._consumers)):
            try:
                self._start(subscription, handler)
            except amqp_errors.ChannelError as exc:
                refused[subscription] = str(exc)
        return refused

    def _start(self, subscription: Subscription, handler: Handler) -> None:
        assert self._connection is not None
        channel = self._connection.channel()
        try:
            exchange = self._exchange(subscription.exchange, channel)
            name = queue_name(subscription)
            # No exchange of its own: kombu would declare it (and fail on a durable one).
            queue = Queue(name, durable=True, auto_delete=False)
            bound = queue(channel)
            bound.declare()
            for priority in self._priorities:
                bound.bind_to(
                    exchange=exchange.name, routing_key=f"{subscription.topic}.{priority}"
                )

            def on_message(body: Any, message: Any) -> None:
                handler(Received(subscription=subscription, body=body, acknowledge=message.ack))

            consumer = Consumer(
                channel,
                queues=[queue],
                callbacks=[on_message],
                accept=["application/json", "json", "text/plain"],
                on_decode_error=self._undecodable,
            )
            consumer.qos(prefetch_count=self._prefetch)
            consumer.consume()
        except amqp_errors.ChannelError:
            _close(channel)
            raise
        self._consumers[subscription] = (consumer, channel)
        log.info(
            "listening for notifications",
            extra={"exchange": subscription.exchange, "topic": subscription.topic},
        )

    def _exchange(self, name: str, channel: Any) -> Exchange:
        """The topic exchange ``name``; declared as oslo.messaging does when it is missing
        (a passive look first, on a channel of its own: a miss closes the channel)."""
        assert self._connection is not None
        exchange = Exchange(name, type="topic", durable=False, auto_delete=False)
        probe = self._connection.channel()
        try:
            exchange(probe).declare(passive=True)
        except amqp_errors.NotFound:
            exchange(channel).declare()
        finally:
            _close(probe)
        return exchange

    def _stop(self, subscription: Subscription) -> None:
        consumer, channel = self._consumers.pop(subscription)
        consumer.cancel()
        log.info(
            "stopped listening for notifications",
            extra={"exchange": subscription.exchange, "topic": subscription.topic},
        )
        try:
            channel.queue_delete(queue_name(subscription), if_unused=True)
        except amqp_errors.PreconditionFailed:
            pass  # another process still listens; the last one deletes it
        finally:
            _close(channel)

    @staticmethod
    def _undecodable(message: Any, exc: Exception) -> None:
        log.warning("undecodable notification dropped", extra={"error": str(exc)})
        message.ack()

    def drain(self, timeout: float) -> None:
        """Hand the messages that arrive within ``timeout`` seconds to the handlers; raises
        when the connection is lost (or a handler raised: its message is not acknowledged,
        and comes back once this connection is closed)."""
        assert self._connection is not None
        try:
            self._connection.drain_events(timeout=timeout)
        except TimeoutError:
            pass

    def close(self) -> None:
        """Drop the connection (unacknowledged messages go back to their queue)."""
        self._consumers.clear()
        if self._connection is not None:
            try:
                self._connection.release()
            except Exception:  # a broken connection may fail to close; it is gone either way
                log.debug("closing the broker connection failed", exc_info=True)
        self._connection = None


def _close(channel: Any) -> None:
    try:
        channel.close()
    except Exception:  # closed by the broker already after a refusal
        log.debug("closing a broker channel failed", exc_info=True)

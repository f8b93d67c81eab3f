"""The transport port: publish a JSON message to a named queue, consume with acknowledgement."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


def _nothing() -> None:
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """A message taken from a queue; ``redelivered`` when an earlier consumer died holding it.

    ``acknowledge()`` says the message is applied (after the receiver's transaction
    committed); until then the broker keeps it for another consumer.
    """

    body: dict[str, Any]
    redelivered: bool = False
    acknowledge: Callable[[], None] = _nothing


Handler = Callable[[Delivery], None]


class Transport(Protocol):
    """Queues of JSON messages. A message not acknowledged when its consumer dies is
    delivered again."""

    @property
    def connected(self) -> bool:
        """Whether messages can be sent now (else senders fall back to the database)."""

    def reach(self) -> None:
        """Raises while the broker can't be reached, by a sender or by a consumer (for
        ``/ready``); a sender that is not connected tries once to connect."""

    def publish(self, queue: str, body: dict[str, Any], *, fanout: bool = False) -> None:
        """Send ``body`` to ``queue`` (durably where the transport can); raises on failure.
        ``fanout``: to every consumer that consumes with ``fanout``."""

    def publish_many(self, queue: str, bodies: Sequence[dict[str, Any]]) -> None:
        """Send ``bodies`` to ``queue``, in order, as one message where the transport can
        (all or none; raises on failure). The consumer hands each body to its handler as
        a delivery of its own; the message is acknowledged once every one of them is."""

    def consume(
        self, queue: str, handler: Handler, *, prefetch: int = 64, fanout: bool = False
    ) -> None:
        """Deliver the messages of ``queue`` to ``handler`` on a thread of the transport."""

    def cancel(self, queue: str) -> None:
        """Stop consuming ``queue``: no more messages are delivered from it; those
        delivered and not acknowledged yet may still be (then they are acknowledged), or
        go back to the queue for its next consumer. Returns at once."""

    def close(self) -> None:
        """Stop consuming and release connections."""

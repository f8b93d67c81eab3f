"""The transport port: publish a JSON message to a named queue, consume with acknowledgement."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True, kw_only=True)
class Delivery:
    """A message taken from a queue; ``redelivered`` when an earlier consumer died holding it."""

    body: dict[str, Any]
    redelivered: bool = False


Handler = Callable[[Delivery], None]


class Transport(Protocol):
    """Queues of JSON messages. A message is acknowledged when its handler returns;
    a consumer that dies before that leaves the message to be delivered again."""

    def publish(self, queue: str, body: dict[str, Any]) -> None:
        """Send ``body`` to ``queue`` (durably where the transport can)."""

    def consume(self, queue: str, handler: Handler) -> None:
        """Deliver the messages of ``queue`` to ``handler`` on a thread of the transport."""

    def close(self) -> None:
        """Stop consuming and release connections."""

"""The in-process transport: one thread per consumed queue, nothing survives the process."""

from __future__ import annotations

import logging
import queue as queues
import threading
from collections.abc import Sequence
from typing import Any

from sirocco.transport.base import Delivery, Handler

log = logging.getLogger("sirocco.transport")


class MemoryTransport:
    """Queues held in this process (the embedded default and the tests' stub broker)."""

    connected = True

    def __init__(self) -> None:
        self._queues: dict[str, queues.Queue[dict[str, Any] | None]] = {}
        self._fanout: dict[str, list[queues.Queue[dict[str, Any] | None]]] = {}
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def _queue(self, name: str) -> queues.Queue[dict[str, Any] | None]:
        with self._lock:
            return self._queues.setdefault(name, queues.Queue())

    def reach(self) -> None:
        """Always reachable: the queues are in this process."""

    def publish(self, queue: str, body: dict[str, Any], *, fanout: bool = False) -> None:
        if not fanout:
            self._queue(queue).put(body)
            return
        with self._lock:
            listeners = list(self._fanout.get(queue, ()))
        for listener in listeners:
            listener.put(body)

    def publish_many(self, queue: str, bodies: Sequence[dict[str, Any]]) -> None:
        for body in bodies:
            self.publish(queue, body)

    def consume(
        self, queue: str, handler: Handler, *, prefetch: int = 64, fanout: bool = False
    ) -> None:
        if fanout:
            source: queues.Queue[dict[str, Any] | None] = queues.Queue()
            with self._lock:
                self._fanout.setdefault(queue, []).append(source)
                self._queues[f"{queue}#{len(self._threads)}"] = source
        else:
            source = self._queue(queue)

        def run() -> None:
            while True:
                body = source.get()
                if body is None:
                    return
                try:
                    handler(Delivery(body=body))
                except Exception:
                    log.exception("message handler failed", extra={"queue": queue})

        thread = threading.Thread(target=run, name=f"sirocco-consume-{queue}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def pending(self, queue: str) -> int:
        """Messages waiting in ``queue`` (for tests)."""
        return self._queue(queue).qsize()

    def close(self) -> None:
        with self._lock:
            queues = list(self._queues.values())
        for item in queues:
            item.put(None)
        for thread in self._threads:
            thread.join(2)
        self._threads.clear()

"""The in-process transport: one thread per consumed queue, nothing survives the process."""

from __future__ import annotations

import logging
import queue as queues
import threading
import time
from collections.abc import Sequence
from typing import Any

from sirocco.transport.base import Delivery, Handler

log = logging.getLogger("sirocco.transport")

#: Put in a queue by :meth:`MemoryTransport.cancel`: one consumer told to stop, stops.
_CANCELLED: dict[str, Any] = {}


class MemoryTransport:
    """Queues held in this process (the embedded default and the tests' stub broker)."""

    connected = True

    def __init__(self) -> None:
        self._queues: dict[str, queues.Queue[dict[str, Any] | None]] = {}
        self._fanout: dict[str, list[queues.Queue[dict[str, Any] | None]]] = {}
        self._threads: list[threading.Thread] = []
        #: The stop flags of the threads consuming each queue (not fan-out).
        self._consumers: dict[str, list[threading.Event]] = {}
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
        cancelled = threading.Event()
        if not fanout:
            with self._lock:
                self._consumers.setdefault(queue, []).append(cancelled)

        def run() -> None:
            while True:
                body = source.get()
                if body is None:
                    return
                if body is _CANCELLED:
                    if cancelled.is_set():
                        return
                    source.put(body)  # for a consumer of this queue that was cancelled
                    time.sleep(0.001)
                    continue
                if cancelled.is_set():  # taken after the cancel: left to the next consumer
                    source.put(body)
                    time.sleep(0.001)
                    continue
                try:
                    handler(Delivery(body=body))
                except Exception:
                    log.exception("message handler failed", extra={"queue": queue})

        thread = threading.Thread(target=run, name=f"sirocco-consume-{queue}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def cancel(self, queue: str) -> None:
        """Stop consuming ``queue`` (its messages wait for the next consumer)."""
        with self._lock:
            consumers = self._consumers.pop(queue, [])
            source = self._queues.get(queue)
        for cancelled in consumers:
            cancelled.set()
            if source is not None:
                source.put(_CANCELLED)

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

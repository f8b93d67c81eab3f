"""How work moves between roles in separate processes: one port, a broker or the database.

The database is the source of truth: every parcel is an outbox row written by the
transaction that made it. Delivery only says "this row is there" sooner than a
poll would:

* :class:`BrokeredDelivery` publishes each parcel (its kind, its outbox id and its
  payload) over a :class:`sirocco.transport.Transport` (AMQP, or in memory): one
  queue per executor target, the engines' queues (``engine_queues``: an execution's
  events go to the queue of the engine whose share it is), and a fan-out that tells
  every executor which workflow executions were cancelled.
  Receivers acknowledge a parcel after the transaction that applies it.
* :class:`DatabaseDelivery` publishes nothing: receivers poll the outbox, woken by
  PostgreSQL ``LISTEN/NOTIFY`` (on SQLite they poll every ``POLL`` seconds);
  cancellations go out as a NOTIFY that carries the executions' ids.

Cancellations are a courtesy, not the source of truth: an executor that missed one
learns it at its next heartbeat, which reads the state of the executions it serves.

A parcel the broker can't take is left to the database path: the broker being down
slows hand-offs down to the database's pace, it never loses work.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sirocco.runtime import engine_queues
from sirocco.store import notify, outbox
from sirocco.store.database import Database
from sirocco.transport import Transport
from sirocco.transport import base as transport_base

log = logging.getLogger("sirocco.delivery")

#: Seconds between looks at the outbox without LISTEN/NOTIFY (SQLite).
POLL = 0.05
#: Seconds between looks at the outbox when something wakes the looker (a safety net).
SAFETY_POLL = 1.0

ENGINE_QUEUE = engine_queues.SHARED
#: The fan-out every executor hears: workflow executions cancelled.
CANCEL_FANOUT = "sirocco.cancel"


def executor_queue(target: str | None) -> str:
    """The queue of the executors serving ``target`` (None: any executor)."""
    return "sirocco.executor" if target is None else f"sirocco.executor.{target}"


def _nothing() -> None:
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Parcel:
    """One outbox row on its way to the role that applies it."""

    kind: outbox.Kind
    outbox_id: str
    payload: dict[str, Any]
    target: str | None = None
    redelivered: bool = False
    acknowledge: Callable[[], None] = _nothing
    #: The workflow execution an engine's parcel is for (where known): it goes to the
    #: engine whose share that execution is. Not sent.
    execution: str | None = None

    def body(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "outbox_id": self.outbox_id,
            "payload": self.payload,
            "target": self.target,
        }

    @classmethod
    def received(cls, delivery: transport_base.Delivery) -> Parcel:
        body = delivery.body
        return cls(
            kind=outbox.Kind(body["kind"]),
            outbox_id=str(body["outbox_id"]),
            payload=dict(body["payload"]),
            target=body.get("target"),
            redelivered=delivery.redelivered,
            acknowledge=delivery.acknowledge,
        )


Receiver = Callable[[Parcel], None]
#: Called with the ids of workflow executions that were cancelled.
CancelReceiver = Callable[[list[str]], object]


class Delivery(Protocol):
    """The port: send parcels after commit, receive them, wait for database work."""

    @property
    def brokered(self) -> bool:
        """Whether a broker carries parcels now (else receivers must poll the outbox)."""

    def reach(self) -> None:
        """Raises while the broker can't be reached (for ``/ready``; work goes through the
        database meanwhile)."""

    def send(self, parcels: Sequence[Parcel]) -> list[Parcel]:
        """Send parcels whose rows are committed; return those left to the database."""

    def receive(self, queue: str, receiver: Receiver, *, prefetch: int = 64) -> None:
        """Hand the parcels of ``queue`` to ``receiver`` on a thread of the delivery."""

    def follow_slot(self, slot: int | None, live: list[int], receiver: Receiver) -> None:
        """An engine holding ``slot`` among the ``live`` engine slots: hand the parcels of
        its slot's queue (and of the slots no engine holds) to ``receiver``."""

    def wait(
        self, channel: str, timeout: float | None = None, *, also: Sequence[str] = ()
    ) -> str | None:
        """Block until the outbox may hold work for ``channel`` (or a while passed);
        ``also``: channels heard too (they may change from one wait to the next; a wait
        that starts hearing one returns at once). Returns the channel that woke it, if
        one did and it is known (a listener holding a slot, ``notify.SLOTTED``, is woken
        on the slot's channel when it was chosen alone)."""

    def cancel(self, workflow_execution_ids: Sequence[str]) -> None:
        """Tell every executor that these workflow executions were cancelled (committed)."""

    def on_cancel(self, receiver: CancelReceiver) -> None:
        """Hand the ids of cancelled workflow executions to ``receiver`` as they come."""

    def close(self) -> None:
        """Stop receiving; release connections."""


class DatabaseDelivery:
    """No broker: the outbox is polled, woken by LISTEN/NOTIFY on PostgreSQL."""

    brokered = False

    def __init__(self, database: Database) -> None:
        self._database = self.database = database
        self._listeners: dict[str, notify.Listener] = {}
        self._closing = threading.Event()
        self._cancel_thread: threading.Thread | None = None

    def reach(self) -> None:
        """No broker to reach (the database has its own probe)."""

    def send(self, parcels: Sequence[Parcel]) -> list[Parcel]:
        return list(parcels)

    def receive(self, queue: str, receiver: Receiver, *, prefetch: int = 64) -> None:
        return None

    def follow_slot(self, slot: int | None, live: list[int], receiver: Receiver) -> None:
        return None

    def wait(
        self, channel: str, timeout: float | None = None, *, also: Sequence[str] = ()
    ) -> str | None:
        listener = self._listeners.get(channel)
        if listener is None:
            listener = self._listeners[channel] = notify.Listener(
                self._database, [channel], slot_class=notify.SLOTTED.get(channel)
            )
        listener.follow([channel, *also])
        if timeout is None:
            timeout = SAFETY_POLL if listener.listening else POLL
        listener.wait(timeout)
        return listener.woken_on

    def cancel(self, workflow_execution_ids: Sequence[str]) -> None:
        notify.send_ids(self._database, notify.CANCEL, list(workflow_execution_ids))

    def on_cancel(self, receiver: CancelReceiver) -> None:
        listener = notify.Listener(self._database, [notify.CANCEL])
        if not listener.listening:
            return  # SQLite: executors learn it at their next heartbeat

        def listen() -> None:
            while not self._closing.is_set():
                ids = listener.receive_ids(SAFETY_POLL)
                if ids:
                    try:
                        receiver(ids)
                    except Exception:  # the listener outlives a receiver's bug
                        log.exception("cancellation receiver failed")
            listener.close()

        self._cancel_thread = threading.Thread(
            target=listen, name="sirocco-cancel-listener", daemon=True
        )
        self._cancel_thread.start()

    def close(self) -> None:
        self._closing.set()
        if self._cancel_thread is not None:
            self._cancel_thread.join(SAFETY_POLL * 2)
            self._cancel_thread = None
        for listener in self._listeners.values():
            listener.close()
        self._listeners.clear()


class BrokeredDelivery:
    """Parcels over a transport; the database path stays on as the fallback.

    Queue names end with ``@namespace`` (the database's name): deployments on
    different databases can share a broker without taking each other's parcels.
    """

    def __init__(
        self, transport: Transport, fallback: DatabaseDelivery, *, namespace: str = ""
    ) -> None:
        self._transport = transport
        self._fallback = fallback
        self._namespace = namespace
        self._suffix = f"@{namespace}" if namespace else ""
        self._routes = engine_queues.Routes(fallback.database)
        self._following: engine_queues.Following | None = None

    @property
    def brokered(self) -> bool:
        return self._transport.connected

    def reach(self) -> None:
        self._transport.reach()

    def send(self, parcels: Sequence[Parcel]) -> list[Parcel]:
        # The parcels for one engine queue go as one message; an executor's are one
        # message each, as the broker shares messages, not parcels, between the executors
        # that wait for work.
        batches: list[tuple[str, list[Parcel]]] = []
        engines: dict[str, list[Parcel]] = {}
        for parcel in parcels:
            if parcel.kind == outbox.Kind.RUN_ACTION:
                batches.append((executor_queue(parcel.target), [parcel]))
                continue
            queue = self._routes.queue(parcel.execution)
            engine = engines.get(queue)
            if engine is None:
                engine = engines[queue] = []
                batches.append((queue, engine))
            engine.append(parcel)
        for index, (queue, batch) in enumerate(batches):
            try:
                self._transport.publish_many(
                    queue + self._suffix, [parcel.body() for parcel in batch]
                )
            except Exception as exc:
                log.warning("message broker refused a parcel; the database delivers it",
                            extra={"error": str(exc)})  # fmt: skip
                return [parcel for _, later in batches[index:] for parcel in later]
        return []

    def receive(self, queue: str, receiver: Receiver, *, prefetch: int = 64) -> None:
        def on_delivery(delivery: transport_base.Delivery) -> None:
            receiver(Parcel.received(delivery))

        self._transport.consume(queue + self._suffix, on_delivery, prefetch=prefetch)

    def follow_slot(self, slot: int | None, live: list[int], receiver: Receiver) -> None:
        if self._following is None:
            self._following = engine_queues.Following(
                lambda queue: self.receive(queue, receiver, prefetch=512),
                lambda queue: self._transport.cancel(queue + self._suffix),
            )
        self._following.update(slot, live)

    def wait(
        self, channel: str, timeout: float | None = None, *, also: Sequence[str] = ()
    ) -> str | None:
        if timeout is None and self._transport.connected:
            timeout = SAFETY_POLL  # parcels arrive by the broker; the outbox is the safety net
        return self._fallback.wait(channel, timeout, also=also)

    def cancel(self, workflow_execution_ids: Sequence[str]) -> None:
        body = {"namespace": self._namespace, "executions": list(workflow_execution_ids)}
        try:
            self._transport.publish(CANCEL_FANOUT, body, fanout=True)
        except Exception as exc:
            log.warning("message broker refused a cancellation; the database sends it",
                        extra={"error": str(exc)})  # fmt: skip
            self._fallback.cancel(workflow_execution_ids)

    def on_cancel(self, receiver: CancelReceiver) -> None:
        def on_delivery(delivery: transport_base.Delivery) -> None:
            delivery.acknowledge()
            body = delivery.body
            if body.get("namespace") == self._namespace:  # one fan-out for every deployment
                receiver([str(item) for item in body.get("executions") or ()])

        self._transport.consume(CANCEL_FANOUT, on_delivery, prefetch=16, fanout=True)
        self._fallback.on_cancel(receiver)  # sent while the broker was down

    def close(self) -> None:
        self._transport.close()
        self._fallback.close()


def open_delivery(database: Database, transport_url: str | None) -> Delivery:
    """The delivery for roles in separate processes: AMQP when a URL is given (the database
    when its broker is down), else the database."""
    fallback = DatabaseDelivery(database)
    if not transport_url or transport_url.startswith("memory"):
        return fallback
    from sirocco.transport import open_transport

    return BrokeredDelivery(
        open_transport(transport_url, required=False), fallback, namespace=namespace(database)
    )


def namespace(database: Database) -> str:
    """The name that keeps one deployment's queues apart from another's on one broker:
    the PostgreSQL database's name, or a digest of the SQLite file's path."""
    name = str(database.engine.url.database or "")
    if database.is_sqlite:
        return "sqlite-" + hashlib.blake2b(name.encode(), digest_size=6).hexdigest()
    return name

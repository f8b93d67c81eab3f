"""Event triggers fire: notifications heard on RabbitMQ (or posted to the API) start the
workflows of the triggers they match, each exactly once.

The listener thread keeps one broker connection. Every ``RECONCILE`` seconds it
reads the event triggers and listens to exactly the (exchange, topic) pairs they
name, so that a trigger created or deleted through any API process takes effect
in every listening process without a restart. Each notification is matched
against the triggers of its exchange and topic (the ``event`` equals the
notification's ``event_type``; a private trigger hears only its own project's
notifications, as in Mistral: :func:`sirocco.runtime.notifications.fires`). The starts it makes are
recorded in one transaction with the notification's id
(:mod:`sirocco.store.event_deliveries`); the message is acknowledged after that
commit. So a notification is started once even when two processes listen (they
share one queue: the broker gives a message to one of them) and when it comes
again (its listener died before acknowledging it: the record is found).

The thread never dies: a broker or database failure is logged once, shown by
``/ready`` (:class:`sirocco.runtime.health.Health`), and retried with back-off;
a message in hand when the database failed is not acknowledged and comes back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sirocco import errors
from sirocco.runtime import notifications
from sirocco.runtime.health import Guard, Health
from sirocco.runtime.loop import Runtime
from sirocco.store import event_deliveries, outbox
from sirocco.store.database import Database
from sirocco.store.event_deliveries import Recorded, Trigger
from sirocco.transport.notifications import NotificationListener, Received, Subscription

log = logging.getLogger("sirocco.events")

#: Seconds between two reads of the triggers (how soon a new trigger is heard).
RECONCILE = 1.0
#: Seconds a drain waits for a message before the thread looks at the triggers again.
DRAIN = 0.25
#: Seconds between two clean-ups of old delivery records.
FORGET_EVERY = 3600.0

Start = Callable[[str, Mapping[str, Any]], object]


def fire(
    database: Database,
    triggers: Sequence[Trigger],
    notification: notifications.Notification,
    *,
    now: datetime,
    claimed_until: datetime | None,
    definitions: notifications.Definitions = notifications.NO_DEFINITIONS,
) -> list[Recorded]:
    """Record the starts ``notification`` makes of ``triggers`` (once per message id).

    Raises:
        errors.ExpressionEvaluationError: the event's definition failed on it.
    """
    starts = [
        (trigger, notifications.start_payload(trigger, notification, definitions))
        for trigger in triggers
    ]
    return event_deliveries.record_all(
        database,
        starts,
        message_id=notification.message_id,
        now=now,
        claimed_until=claimed_until,
    )


class EventListener:
    """The thread that hears notifications for the event triggers of one process."""

    def __init__(
        self,
        database: Database,
        url: str,
        start: Start,
        *,
        clock: Callable[[], datetime],
        health: Health | None = None,
        reconcile: float = RECONCILE,
        definitions: notifications.Definitions = notifications.NO_DEFINITIONS,
    ) -> None:
        self._database = database
        self._url = url
        self._start = start
        self._clock = clock
        self._health = health
        self._reconcile_every = reconcile
        self._definitions = definitions
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._triggers: dict[Subscription, list[Trigger]] = {}
        self._listening: frozenset[Subscription] = frozenset()
        self._forgotten_at = 0.0
        self._refused = ""
        #: Notifications this process recorded starts for, and the starts (for tests, logs).
        self.heard = 0
        self.started = 0

    @property
    def listening(self) -> frozenset[Subscription]:
        """The (exchange, topic) pairs this process consumes now."""
        return self._listening

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="sirocco-events", daemon=True)
        self._thread.start()
        if self._health is not None:
            self._health.watch(self._thread)

    def stop(self) -> None:
        self._stopping.set()
        if self._health is not None:
            self._health.forget(self._thread)
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        broker = Guard("event-listener", self._health)
        database = Guard("event-triggers", self._health)
        while not self._stopping.is_set():
            listener = NotificationListener(self._url, priorities=notifications.PRIORITIES)
            try:
                listener.open()
                self._listen(listener, broker, database)
            except Exception as exc:
                if self._stopping.is_set():
                    break
                broker.failed(exc)
            finally:
                listener.close()
                self._listening = frozenset()
            self._stopping.wait(broker.backoff)

    def _listen(self, listener: NotificationListener, broker: Guard, database: Guard) -> None:
        next_look = 0.0
        while not self._stopping.is_set():
            if time.monotonic() >= next_look:
                self._reconcile(listener, database)
                broker.succeeded()
                next_look = time.monotonic() + (
                    database.backoff if database.in_outage else self._reconcile_every
                )
            listener.drain(DRAIN)

    def _reconcile(self, listener: NotificationListener, database: Guard) -> None:
        """Listen to what the triggers name now; keep what was heard while the database
        can't be read."""
        try:
            triggers = event_deliveries.listened(self._database)
            if time.monotonic() - self._forgotten_at > FORGET_EVERY:
                event_deliveries.forget_old(self._database, self._clock())
                self._forgotten_at = time.monotonic()
        except Exception as exc:
            database.failed(exc)
            return
        database.succeeded()
        grouped: dict[Subscription, list[Trigger]] = {}
        for trigger in triggers:
            grouped.setdefault(Subscription(trigger.exchange, trigger.topic), []).append(trigger)
        self._triggers = grouped
        refused = listener.listen(grouped, self._on_message)
        self._listening = listener.listening
        self._report_refused(refused)

    def _report_refused(self, refused: Mapping[Subscription, str]) -> None:
        """Say (once per change) which subscriptions the broker refused; /ready shows them."""
        shown = "; ".join(
            f"exchange {subscription.exchange!r} topic {subscription.topic!r}: {reason}"
            for subscription, reason in sorted(refused.items())
        )
        if shown == self._refused:
            return
        self._refused = shown
        if shown:
            log.warning("the broker refused event trigger subscriptions: %s", shown)
        if self._health is not None:
            if shown:
                self._health.failing("event-subscriptions", shown)
            else:
                self._health.recovered("event-subscriptions")

    def _on_message(self, received: Received) -> None:
        try:
            notification = notifications.parse(received.body)
        except errors.InputError as exc:
            log.warning(
                "message is not a notification; dropped",
                extra={"exchange": received.subscription.exchange, "error": exc.message},
            )
            received.acknowledge()
            return
        matching = [
            trigger
            for trigger in self._triggers.get(received.subscription, ())
            if notifications.fires(trigger, notification)
        ]
        if matching:
            # A database failure raises here: the message is not acknowledged, the
            # connection is dropped, and the broker delivers it again later.
            now = self._clock()
            try:
                recorded = fire(
                    self._database,
                    matching,
                    notification,
                    now=now,
                    claimed_until=now + outbox.CLAIM_FOR,
                    definitions=self._definitions,
                )
            except errors.ExpressionError as exc:
                # The same message would fail again: it is dropped, saying why.
                log.warning(
                    "event definition failed on a notification; dropped",
                    extra={"event_type": notification.event_type, "error": exc.message},
                )
                received.acknowledge()
                return
            self.heard += 1
            for item in recorded:
                if item.outbox_id is None:
                    log.info(
                        "notification seen before; not started again",
                        extra={"event_trigger_id": item.trigger_id},
                    )
                    continue
                log.info(
                    "event trigger fired",
                    extra={"event_trigger_id": item.trigger_id, "execution_id": item.execution_id},
                )
                self.started += 1
                self._start(item.outbox_id, item.payload)
        received.acknowledge()


def listen(
    runtime: Runtime,
    url: str | None,
    definitions: notifications.Definitions = notifications.NO_DEFINITIONS,
) -> EventListener | None:
    """Start hearing notifications for ``runtime``'s process (None without a broker)."""
    if not url:
        log.info("no events broker: event triggers fire only through the API")
        return None
    listener = EventListener(
        runtime.database,
        url,
        runtime.intake.start_from_outbox,
        clock=runtime.clock,
        health=runtime.health,
        definitions=definitions,
    )
    listener.start()
    return listener

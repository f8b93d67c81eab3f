"""Event triggers fire from RabbitMQ: oslo.messaging notifications published with kombu
start the trigger's workflow with Mistral's input and params, exactly once with two
listeners, follow triggers created and deleted while listening, and outlive the broker."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from amqp import exceptions as amqp_errors
from kombu import Connection, Exchange  # type: ignore[attr-defined]

from sirocco.cli.embedded import Embedded, open_embedded
from sirocco.runtime import event_triggers, notifications
from sirocco.runtime.event_triggers import EventListener
from sirocco.store import definitions, tables
from sirocco.store import triggers as stored
from sirocco.store.database import Database
from sirocco.transport.notifications import Subscription, queue_name
from tests.conftest import AMQP_URL, port_open
from tests.tcp_proxy import TcpProxy
from tests.waiting import wait_for

WORKFLOW = """
version: '2.0'
on_event:
  input: [x]
  tasks:
    only:
      action: std.echo output=<% $.x %>
"""


@pytest.fixture
def broker() -> str:
    if not port_open(5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    return AMQP_URL


@pytest.fixture
def exchange_name() -> Iterator[str]:
    """A topic exchange of this test alone (deleted afterwards, with its queues)."""
    name = f"events-test-{uuid.uuid4().hex[:10]}"
    yield name
    if port_open(5672):
        with Connection(AMQP_URL) as connection:
            channel = connection.channel()
            for topic in ("notifications", "other"):
                try:
                    channel.queue_delete(queue_name(Subscription(name, topic)))
                except amqp_errors.ChannelError:
                    channel = connection.channel()
            try:
                channel.exchange_delete(name)
            except amqp_errors.ChannelError:
                pass


@pytest.fixture
def app(database_url: str) -> Iterator[Embedded]:
    embedded = open_embedded(database_url)
    try:
        yield embedded
    finally:
        embedded.close()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _workflow(database: Database) -> str:
    with database.transaction() as connection:
        rows = definitions.create_workflows(connection, WORKFLOW, now=_now())
    return str(rows[0]["id"])


def _trigger(
    database: Database,
    workflow_id: str,
    exchange: str,
    *,
    topic: str = "notifications",
    event: str = "compute.instance.create.end",
    project_id: str = definitions.DEFAULT_PROJECT,
    scope: str = "private",
) -> str:
    with database.transaction() as connection:
        row = stored.create_event_trigger(
            connection,
            name=f"on-{event}",
            workflow_id=workflow_id,
            exchange=exchange,
            topic=topic,
            event=event,
            workflow_input={"x": "from the trigger"},
            workflow_params={"env": {"region": "north"}},
            scope=scope,
            now=_now(),
            project_id=project_id,
        )
    return str(row["id"])


def _listener(app: Embedded, url: str = AMQP_URL) -> EventListener:
    runtime = app.parts.runtime
    listener = EventListener(
        app.parts.database,
        url,
        runtime.intake.start_from_outbox,
        clock=runtime.clock,
        health=runtime.health,
        reconcile=0.1,
    )
    listener.start()
    return listener


def _publish(
    exchange: str,
    *,
    topic: str = "notifications",
    event: str = "compute.instance.create.end",
    message_id: str | None = None,
    project_id: str = "tenant-a",
    priority: str = "info",
) -> str:
    """Publish a notification as oslo.messaging's messagingv2 driver does."""
    message_id = message_id or str(uuid.uuid4())
    inner = {
        "message_id": message_id,
        "publisher_id": "compute.host1",
        "event_type": event,
        "priority": priority.upper(),
        "payload": {"instance_id": "i-42"},
        "timestamp": "2026-12-07 10:00:00.000000",
        "_unique_id": uuid.uuid4().hex,
        "_context_project_id": project_id,
        "_context_user_id": "user-1",
        "_context_request_id": "req-1",
    }
    body = {"oslo.version": "2.0", "oslo.message": json.dumps(inner)}
    with Connection(AMQP_URL) as connection:
        producer = connection.Producer(serializer="json")
        producer.publish(
            body,
            exchange=Exchange(exchange, type="topic", durable=False),
            routing_key=f"{topic}.{priority}",
            declare=[Exchange(exchange, type="topic", durable=False)],
            retry=True,
        )
    return message_id


def _executions(database: Database) -> list[Any]:
    table = tables.workflow_executions
    with database.read() as connection:
        return list(connection.execute(sa.select(table).order_by(table.c.created_at)))


def _pending(exchange: str, topic: str = "notifications") -> tuple[int, int]:
    """(messages ready or unacknowledged, consumers) of the shared queue."""
    with Connection(AMQP_URL) as connection:
        _name, messages, consumers = connection.channel().queue_declare(
            queue_name(Subscription(exchange, topic)), passive=True
        )
    return int(messages), int(consumers)


def test_a_notification_starts_the_workflow_with_mistrals_input_and_params(
    broker: str, app: Embedded, exchange_name: str
) -> None:
    database = app.parts.database
    workflow_id = _workflow(database)
    trigger_id = _trigger(database, workflow_id, exchange_name)
    listener = _listener(app)
    try:
        wait_for(
            lambda: Subscription(exchange_name, "notifications") in listener.listening,
            what="the listener to bind its queue",
        )
        _publish(exchange_name, event="compute.instance.delete.end")  # another event: nothing
        _publish(exchange_name, priority="warn")  # a priority Mistral does not hear
        _publish(exchange_name)
        [execution] = wait_for(lambda: _executions(database), what="the execution to start")
        assert execution.workflow_id == workflow_id
        assert execution.input == {"x": "from the trigger"}
        assert execution.params["env"] == {"region": "north"}
        assert execution.params["event_params"] == {
            "service": "compute.host1",
            "project_id": "tenant-a",
            "user_id": "user-1",
            "timestamp": "2026-12-07 10:00:00.000000",
        }
        assert json.loads(execution.description) == {
            "description": f"Workflow execution created by event trigger '({trigger_id})'.",
            "triggered_by": {
                "type": "event_trigger",
                "id": trigger_id,
                "name": "on-compute.instance.create.end",
            },
        }
        assert execution.project_id == definitions.DEFAULT_PROJECT
        wait_for(
            lambda: [row for row in _executions(database) if row.state == "SUCCESS"],
            what="the execution to succeed",
        )
        wait_for(lambda: _pending(exchange_name) == (0, 1), what="the queue to be drained")
        assert len(_executions(database)) == 1
    finally:
        listener.stop()


def test_two_listeners_start_each_notification_once(
    broker: str, app: Embedded, exchange_name: str
) -> None:
    database = app.parts.database
    _trigger(database, _workflow(database), exchange_name)
    first, second = _listener(app), _listener(app)
    try:
        wanted = Subscription(exchange_name, "notifications")
        wait_for(
            lambda: wanted in first.listening and wanted in second.listening,
            what="both listeners to consume the shared queue",
        )
        ids = [_publish(exchange_name) for _ in range(12)]
        _publish(exchange_name, message_id=ids[0])  # the same notification, published again
        _publish(exchange_name, message_id=ids[1])
        wait_for(lambda: len(_executions(database)) >= 12, what="twelve executions")
        wait_for(lambda: _pending(exchange_name) == (0, 2), what="every message acknowledged")
        wait_for(lambda: first.heard + second.heard == 14, what="both repeats to be heard")
        assert len(_executions(database)) == 12
        assert first.started + second.started == 12
    finally:
        first.stop()
        second.stop()


def test_a_notification_recorded_before_starts_nothing(app: Embedded) -> None:
    """A redelivered message (its listener died before acknowledging) finds its record."""
    database = app.parts.database
    trigger_id = _trigger(database, _workflow(database), "nova")
    with database.read() as connection:
        from sirocco.store import event_deliveries

        trigger = event_deliveries.trigger(connection, trigger_id)
    assert trigger is not None
    notification = notifications.parse(
        {"event_type": trigger.event, "message_id": "m-1", "publisher_id": "compute"}
    )
    first = event_triggers.fire(database, [trigger], notification, now=_now(), claimed_until=None)
    again = event_triggers.fire(database, [trigger], notification, now=_now(), claimed_until=None)
    assert first[0].outbox_id is not None
    assert again[0].outbox_id is None
    assert again[0].execution_id == first[0].execution_id


def test_triggers_created_and_deleted_while_listening_take_effect(
    broker: str, app: Embedded, exchange_name: str
) -> None:
    database = app.parts.database
    workflow_id = _workflow(database)
    listener = _listener(app)
    try:
        other = Subscription(exchange_name, "other")
        wanted = Subscription(exchange_name, "notifications")
        _trigger(database, workflow_id, exchange_name, topic="other", event="marker")
        wait_for(lambda: other in listener.listening, what="the first trigger to be heard")
        assert wanted not in listener.listening
        trigger_id = _trigger(database, workflow_id, exchange_name)
        wait_for(lambda: wanted in listener.listening, what="the new trigger to be heard")
        _publish(exchange_name)
        wait_for(lambda: len(_executions(database)) == 1, what="the new trigger to fire")

        with database.transaction() as connection:
            stored.delete_event_trigger(connection, trigger_id)
        wait_for(lambda: wanted not in listener.listening, what="the listener to stop")
        with pytest.raises(amqp_errors.NotFound):
            _pending(exchange_name)  # the queue nobody needs is gone
        _publish(exchange_name)  # heard by no one
        _publish(exchange_name, topic="other", event="marker")
        wait_for(lambda: len(_executions(database)) >= 2, what="the marker's execution")
        assert len(_executions(database)) == 2
    finally:
        listener.stop()


def test_the_listener_outlives_the_broker_and_says_so(
    broker: str, app: Embedded, exchange_name: str
) -> None:
    database = app.parts.database
    _trigger(database, _workflow(database), exchange_name)
    proxy = TcpProxy(("127.0.0.1", 5672))
    url = f"amqp://guest:guest@127.0.0.1:{proxy.port}//"
    listener = _listener(app, url)
    health = app.parts.runtime.health
    try:
        wanted = Subscription(exchange_name, "notifications")
        wait_for(lambda: wanted in listener.listening, what="the listener to bind its queue")
        proxy.cut()
        report = wait_for(
            lambda: (lambda seen: seen if not seen.ready else None)(health.report()),
            what="/ready to report the broker outage",
        )
        assert any(reason.startswith("event-listener:") for reason in report.reasons)
        _publish(exchange_name)  # kept by the broker in the durable queue meanwhile
        proxy.restore()
        wait_for(lambda: len(_executions(database)) == 1, what="the kept notification to fire")
        wait_for(lambda: health.report().ready, what="/ready to be ready again")
    finally:
        listener.stop()
        proxy.close()


def test_a_subscription_the_broker_refuses_stops_no_other(
    broker: str, app: Embedded, exchange_name: str
) -> None:
    database = app.parts.database
    workflow_id = _workflow(database)
    # The broker refuses to declare an exchange named amq.* (a reserved name).
    reserved = f"amq.{exchange_name}"
    _trigger(database, workflow_id, reserved, event="refused.event")
    _trigger(database, workflow_id, exchange_name)
    listener = _listener(app)
    health = app.parts.runtime.health
    try:
        wanted = Subscription(exchange_name, "notifications")
        wait_for(lambda: wanted in listener.listening, what="the good subscription")
        report = wait_for(
            lambda: (lambda seen: seen if not seen.ready else None)(health.report()),
            what="/ready to name the refused subscription",
        )
        assert any(
            reason.startswith("event-subscriptions:") and reserved in reason
            for reason in report.reasons
        ), report.reasons
        assert Subscription(reserved, "notifications") not in listener.listening
        _publish(exchange_name)
        wait_for(lambda: len(_executions(database)) == 1, what="the good trigger to fire")
    finally:
        listener.stop()


def test_records_older_than_a_week_are_forgotten(app: Embedded) -> None:
    from datetime import timedelta

    from sirocco.store import event_deliveries

    database = app.parts.database
    trigger_id = _trigger(database, _workflow(database), "nova")
    trigger = event_deliveries.find_trigger(database, trigger_id)
    assert trigger is not None
    notification = notifications.parse({"event_type": trigger.event, "message_id": "old"})
    now = _now()
    old = now - event_deliveries.REMEMBER - timedelta(minutes=1)
    event_triggers.fire(database, [trigger], notification, now=old, claimed_until=None)
    recent = notifications.parse({"event_type": trigger.event, "message_id": "recent"})
    event_triggers.fire(database, [trigger], recent, now=now, claimed_until=None)
    assert event_deliveries.forget_old(database, now) == 1
    again = event_triggers.fire(database, [trigger], recent, now=now, claimed_until=None)
    assert again[0].outbox_id is None  # the recent one is still remembered

"""Event triggers across real processes: `sirocco api` and two `sirocco engine` on PostgreSQL
hear notifications on RabbitMQ (each started once, whichever engine takes it), follow
triggers created and deleted through the API without a restart; `sirocco server` hears
them too, and its /ready says when the events broker is away."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from amqp import exceptions as amqp_errors
from kombu import Connection, Exchange  # type: ignore[attr-defined]

from tests import processes
from tests.conftest import AMQP_URL, port_open
from tests.waiting import BOUND, wait_for

SIROCCO = str(Path(sys.executable).parent / "sirocco")

WORKFLOW = """version: '2.0'
on_event:
  input: [x]
  output:
    x: <% $.x %>
    service: <% execution().params.event_params.service %>
  tasks:
    t:
      action: std.noop
"""


def _call(url: str, method: str = "GET", body: Any = None, *, text: bool = False) -> Any:
    data = None
    if body is not None:
        data = body.encode() if text else json.dumps(body).encode()
    headers = {"Content-Type": "text/plain" if text else "application/json", "Accept": "*/*"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def _publish(exchange: str, event: str, message_id: str) -> None:
    inner = {
        "message_id": message_id,
        "publisher_id": "compute.host1",
        "event_type": event,
        "priority": "INFO",
        "payload": {},
        "timestamp": "2026-12-07 10:00:00.000000",
        "_context_project_id": "tenant-a",
        "_context_user_id": "user-1",
    }
    with Connection(AMQP_URL) as connection:
        declared = Exchange(exchange, type="topic", durable=False)
        connection.Producer(serializer="json").publish(
            {"oslo.version": "2.0", "oslo.message": json.dumps(inner)},
            exchange=declared,
            routing_key="notifications.info",
            declare=[declared],
            retry=True,
        )


def _queue(exchange: str) -> tuple[int, int] | None:
    """(messages ready or unacknowledged, consumers) of the shared queue; None if gone."""
    with Connection(AMQP_URL) as connection:
        try:
            _name, messages, consumers = connection.channel().queue_declare(
                f"sirocco.events.{exchange}.notifications", passive=True
            )
        except amqp_errors.NotFound:
            return None
    return int(messages), int(consumers)


@pytest.fixture
def exchange() -> Iterator[str]:
    if not port_open(5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    name = f"events-test-{uuid.uuid4().hex[:10]}"
    yield name
    with Connection(AMQP_URL) as connection:
        channel = connection.channel()
        try:
            channel.queue_delete(f"sirocco.events.{name}.notifications")
        except amqp_errors.ChannelError:
            channel = connection.channel()
        try:
            channel.exchange_delete(name)
        except amqp_errors.ChannelError:
            pass


def _create(base: str, exchange: str) -> str:
    made = _call(f"{base}/workflows", "POST", WORKFLOW, text=True)
    trigger = _call(
        f"{base}/event_triggers",
        "POST",
        {
            "name": "on-create",
            "workflow_id": made["workflows"][0]["id"],
            "workflow_input": {"x": 3},
            "exchange": exchange,
            "topic": "notifications",
            "event": "compute.instance.create.end",
        },
    )
    return str(trigger["id"])


def _executions(base: str) -> list[dict[str, Any]]:
    return list(_call(f"{base}/executions?include_output=true")["executions"])


def test_two_engines_start_each_notification_once(
    postgres_url: str, exchange: str, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "SIROCCO_DB": postgres_url,
        "SIROCCO_EVENTS_BROKER": AMQP_URL,
        "SIROCCO_TRANSPORT": "",
    }
    upgraded = processes.run([SIROCCO, "db", "upgrade"], env=env)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    port = processes.free_port()
    commands = [["engine"], ["engine"], ["api", "--port", str(port)]]
    started = [
        processes.Process([SIROCCO, *command], log=tmp_path / f"{command[0]}-{index}.log", env=env)
        for index, command in enumerate(commands)
    ]
    base = f"http://127.0.0.1:{port}/v2"
    logs = lambda: "\n".join(process.output() for process in started)  # noqa: E731
    try:
        started[-1].wait_answering(base)
        trigger_id = _create(base, exchange)
        # Both engines took the new trigger without a restart: two consumers on one queue.
        wait_for(lambda: _queue(exchange) == (0, 2), what="both engines to listen", seen=logs)
        ids = [str(uuid.uuid4()) for _ in range(10)]
        for message_id in [*ids, ids[0], ids[5]]:
            _publish(exchange, "compute.instance.create.end", message_id)
        wait_for(lambda: _queue(exchange) == (0, 2), what="every notification handled", seen=logs)
        wait_for(
            lambda: len([e for e in _executions(base) if e["state"] == "SUCCESS"]) >= 10,
            what="ten executions to succeed",
            seen=logs,
        )
        engine = sa.create_engine(postgres_url)
        try:
            with engine.connect() as connection:
                recorded = connection.execute(
                    sa.text("SELECT count(*) FROM event_deliveries")
                ).scalar_one()
                pending = connection.execute(
                    sa.text("SELECT count(*) FROM outbox WHERE kind = 'EventStart'")
                ).scalar_one()
        finally:
            engine.dispose()
        assert (recorded, pending) == (10, 0)
        executions = _executions(base)
        assert len(executions) == 10
        assert {json.loads(e["output"])["service"] for e in executions} == {"compute.host1"}
        assert all(
            json.loads(e["description"])["triggered_by"]["id"] == trigger_id for e in executions
        )

        _call(f"{base}/event_triggers/{trigger_id}", "DELETE")
        wait_for(lambda: _queue(exchange) is None, what="the engines to stop listening", seen=logs)
    finally:
        codes = [process.stop() for process in started]
        problems = [
            f"{process} exited {code} after SIGTERM\n{process.output()}"
            for process, code in zip(started, codes, strict=True)
            if code not in processes.STOPPED
        ]
        assert not problems, "\n".join(problems)


def _ready(base: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(f"{base}/ready", timeout=BOUND) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_sirocco_server_hears_notifications_and_reports_a_missing_broker(
    exchange: str, tmp_path: Path
) -> None:
    port, dead = processes.free_port(), processes.free_port()
    env = {**os.environ, "SIROCCO_EVENTS_BROKER": AMQP_URL, "SIROCCO_TRANSPORT": ""}
    db = f"sqlite:///{tmp_path / 'server.sqlite'}"
    server = processes.Process(
        [SIROCCO, "server", "--port", str(port), "--db", db], log=tmp_path / "server.log", env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        server.wait_answering(f"{base}/v2")
        _create(f"{base}/v2", exchange)
        wait_for(
            lambda: _queue(exchange) == (0, 1), what="the server to listen", seen=server.output
        )
        _publish(exchange, "compute.instance.create.end", "m-1")
        [execution] = wait_for(
            lambda: _executions(f"{base}/v2"), what="the execution", seen=server.output
        )
        assert json.loads(execution["input"]) == {"x": 3}
    finally:
        assert server.stop() in processes.STOPPED, server.output()

    env["SIROCCO_EVENTS_BROKER"] = f"amqp://guest:guest@127.0.0.1:{dead}//"
    port = processes.free_port()
    base = f"http://127.0.0.1:{port}"
    away = processes.Process(
        [SIROCCO, "server", "--port", str(port), "--db", db], log=tmp_path / "away.log", env=env
    )
    try:
        away.wait_answering(f"{base}/v2")
        _code, body = wait_for(
            lambda: (lambda seen: seen if seen[0] == 503 else None)(_ready(base)),
            what="/ready to report the broker",
            seen=away.output,
        )
        assert "event-listener" in json.dumps(body), body
        assert _call(f"{base}/v2/event_triggers")["event_triggers"]  # the API still serves
    finally:
        assert away.stop() in processes.STOPPED, away.output()


def test_a_wrong_event_definitions_file_stops_the_command_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "definitions.yml"
    bad.write_text("- event_types: compute.*\n")
    env = {**os.environ, "SIROCCO_EVENT_DEFINITIONS": str(bad)}
    db = f"sqlite:///{tmp_path / 'x.sqlite'}"
    for command in (["server", "--port", str(processes.free_port())], ["engine"]):
        done = processes.run([SIROCCO, *command, "--db", db], env=env)
        assert done.returncode != 0, done.stdout + done.stderr
        assert done.stderr.strip().splitlines() == [
            f"sirocco: Required field properties not specified (entry 1 of the event "
            f"definitions file {bad})."
        ], done.stderr

"""Cancelling an execution whose action runs on an executor in another process reaches that
executor: the action (a long std.sleep) stops and is CANCELLED, and nothing of the execution
is left in the outbox. Over RabbitMQ the cancellation is a fan-out message; without a broker
it is a PostgreSQL NOTIFY. Heartbeats are 10 minutes apart there, so the executor can't have
learnt it from its next heartbeat. On SQLite (no NOTIFY) the heartbeat is how it learns it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from rolekit import Roles, call, free_port

from sirocco.actions.cancellation import CANCELLED_MESSAGE
from sirocco.store import tables
from tests.conftest import AMQP_URL, port_open

WORKFLOW = """
version: '2.0'
long_nap:
  tasks:
    nap:
      action: std.sleep seconds=600
"""


@pytest.fixture(params=["notify", "amqp", "sqlite-heartbeat"])
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, str]:
    """(database URL, transport, heartbeat interval) of the roles."""
    if request.param == "sqlite-heartbeat":
        return f"sqlite:///{tmp_path}/sirocco.sqlite", "", "0.3"
    database = str(request.getfixturevalue("postgres_url"))
    if request.param == "notify":
        return database, "", "600"
    if not port_open(5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    return database, AMQP_URL, "600"


@pytest.fixture
def database_url(setup: tuple[str, str, str]) -> str:
    return setup[0]


@pytest.fixture
def roles(setup: tuple[str, str, str], tmp_path: Path) -> Iterator[tuple[Roles, str]]:
    database, transport, interval = setup
    env = {
        **os.environ,
        "SIROCCO_DB": database,
        "SIROCCO_TRANSPORT": transport,
        "SIROCCO_HEARTBEAT_INTERVAL": interval,
    }
    group = Roles(folder=tmp_path, env=env)
    port = free_port()
    group.start("api", "--port", str(port))
    base = f"http://127.0.0.1:{port}/v2"
    try:
        group.wait_http(base)  # the database is migrated: the other roles may start
        group.start("engine")
        group.start("executor", "--workers", "4")
        group.wait_started()
        yield group, base
    finally:
        problems = group.stop_all()
        assert not problems, f"{problems}\n{group.logs()}"


def test_cancelling_an_execution_stops_its_action_on_the_executor(
    roles: tuple[Roles, str], database_url: str
) -> None:
    group, base = roles
    call(f"{base}/workflows", "POST", WORKFLOW, text=True)
    execution_id = call(f"{base}/executions", "POST", {"workflow_name": "long_nap"})["id"]
    engine = sa.create_engine(database_url)
    actions, outbox = tables.action_executions, tables.outbox
    try:

        def leased() -> bool:
            with engine.connect() as connection:
                rows = connection.execute(sa.select(outbox.c.claimed_until)).all()
            return len(rows) == 1 and rows[0].claimed_until is not None

        group.wait_for(leased, 30, "the executor to take the action")
        call(f"{base}/executions/{execution_id}", "PUT", {"state": "CANCELLED"})

        def stopped() -> list[tuple[str, str | None]] | None:
            with engine.connect() as connection:
                found = connection.execute(
                    sa.select(actions.c.state, actions.c.state_info).where(
                        actions.c.workflow_execution_id == execution_id
                    )
                ).all()
                left = connection.execute(sa.select(outbox.c.id)).all()
            done = [tuple(row) for row in found if row.state != "RUNNING"]
            return done if done and not left else None

        assert group.wait_for(stopped, 30, "the action to stop") == [
            ("CANCELLED", CANCELLED_MESSAGE)
        ]
        assert call(f"{base}/executions/{execution_id}")["state"] == "CANCELLED"
        # As in Mistral, whose actions run on after a cancel, the task stays RUNNING.
        listed = call(f"{base}/executions/{execution_id}/tasks")["tasks"]
        assert [task["state"] for task in listed] == ["RUNNING"]
    finally:
        engine.dispose()

"""Large values by reference across split roles (docs/limits.md, "Large values by
reference"): an executor process stores a large action result once, in the
transaction that hands the result back, and sends its reference through the outbox
row or the broker; the engine stores the reference, never a second copy; deleting the
execution deletes the blob; an executor killed while it runs the action loses nothing.

The large value is made on the executor (a dynamic action), so no engine ever held it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from rolekit import Gate, Roles, call, free_port

from sirocco import references
from sirocco.store import blobs, tables
from tests.conftest import AMQP_URL, port_open

#: Small, so that a test's value surely goes to the blob table and ids never do.
THRESHOLD = 1000
SIZE = 50_000

MODULE = '''import urllib.request

from mistral_lib import actions


class Big(actions.Action):
    """A text of ``size`` characters, made here (after calling ``gate``, if given)."""

    def __init__(self, size, gate=None):
        self.size = size
        self.gate = gate

    def run(self, context):
        if self.gate:
            urllib.request.urlopen(self.gate, timeout=300).read()
        return "y" * self.size
'''

WORKFLOWS = """
version: '2.0'
big_remote:
  input:
    - size
    - gate: null
  tasks:
    make:
      action: big_text size=<% $.size %> gate=<% $.gate %>
      safe-rerun: true
      publish:
        copy: <% task().result %>
      on-success: measure
    measure:
      action: std.echo output=<% len($.copy) %>
      publish:
        length: <% task().result %>
  output:
    length: <% $.length %>
    copy: <% $.copy %>
"""

#: Short heartbeats, so that a killed executor's action is offered again quickly.
HEARTBEATS = {"SIROCCO_HEARTBEAT_INTERVAL": "0.3", "SIROCCO_HEARTBEAT_MAX_MISSED": "3"}


@pytest.fixture(params=["database", "amqp"])
def transport(request: pytest.FixtureRequest) -> str:
    """Results handed back through the outbox row alone, or over RabbitMQ."""
    if request.param == "database":
        return ""
    if not port_open(5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    return AMQP_URL


@pytest.fixture
def roles(postgres_url: str, transport: str, tmp_path: Path) -> Iterator[tuple[Roles, str, str]]:
    env = {
        **os.environ,
        "SIROCCO_DB": postgres_url,
        "SIROCCO_TRANSPORT": transport,
        "SIROCCO_BLOB_THRESHOLD": str(THRESHOLD),
        **HEARTBEATS,
    }
    group = Roles(folder=tmp_path, env=env)
    port = free_port()
    group.start("api", "--port", str(port))
    base = f"http://127.0.0.1:{port}/v2"
    try:
        group.wait_http(base)  # its schema is in place before the other roles start
        group.start("engine")
        call(f"{base}/code_sources?name=big_mod", "POST", MODULE, text=True)
        call(
            f"{base}/dynamic_actions",
            "POST",
            {"name": "big_text", "class_name": "Big", "code_source_name": "big_mod"},
        )
        call(f"{base}/workflows", "POST", WORKFLOWS, text=True)
        yield group, base, postgres_url
    finally:
        problems = group.stop_all()
        assert not problems, f"{problems}\n{group.logs()}"


def _start(base: str, gate: str | None = None) -> str:
    body = {"workflow_name": "big_remote", "input": json.dumps({"size": SIZE, "gate": gate})}
    return str(call(f"{base}/executions", "POST", body)["id"])


def _ended(group: Roles, base: str, execution_id: str) -> dict[str, Any]:
    def ended() -> dict[str, Any] | None:
        found = call(f"{base}/executions/{execution_id}")
        return found if found["state"] in ("SUCCESS", "ERROR") else None

    found: dict[str, Any] = group.wait_for(ended, 60, "the execution to end")
    assert found["state"] == "SUCCESS", f"{found}\n{group.logs()}"
    return found


def _stored(url: str, execution_id: str) -> dict[str, Any]:
    """The blob and reference counts, the stored action outputs and the published copy."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            actions = tables.action_executions
            task_rows = tables.task_executions
            outputs = connection.execute(
                sa.select(actions.c.output)
                .join(task_rows, task_rows.c.id == actions.c.task_execution_id)
                .where(actions.c.workflow_execution_id == execution_id, task_rows.c.name == "make")
            ).scalars()
            published = connection.execute(
                sa.select(task_rows.c.published).where(
                    task_rows.c.workflow_execution_id == execution_id, task_rows.c.name == "make"
                )
            ).scalar_one()
            return {
                "counts": blobs.count(connection),
                "owners": connection.execute(sa.select(tables.blob_refs.c.owner_id))
                .scalars()
                .all(),
                "outputs": list(outputs),
                "copy": published["copy"],
            }
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_a_large_result_from_an_executor_process_is_stored_once_by_reference(
    roles: tuple[Roles, str, str],
) -> None:
    group, base, url = roles
    gate = Gate()
    try:
        group.start("executor")
        execution_id = _start(base, gate.url)
        group.wait_for(lambda: gate.requests == 1, 60, "the executor to run the action")
        # No engine takes the result: the test reads what the executor handed back.
        [engine] = [role for role in group.running if role.name == "engine"]
        group.kill(engine)
        gate.opened.set()
        payload = group.wait_for(lambda: _action_result(url), 60, "the ActionResult row")
    finally:
        gate.close()
    digest = blobs.text_digest("y" * SIZE)
    # The row (and the parcel: the same payload) carries a reference to the stored blob.
    result = payload["result"]
    assert references.is_reference(result), str(result)[:200]
    assert result[references.REF_KEY] == digest
    assert _stored_counts(url) == (1, 1)
    group.start("engine")
    found = _ended(group, base, execution_id)
    output = json.loads(found["output"])
    assert output["length"] == SIZE and output["copy"] == "y" * SIZE
    stored = _stored(url, execution_id)
    # One blob, one reference (the execution's), however many rows hold it.
    assert stored["counts"] == (1, 1), stored["counts"]
    assert stored["owners"] == [execution_id]
    [action_output] = stored["outputs"]
    assert action_output[references.REF_KEY] == digest
    assert stored["copy"][references.REF_KEY] == digest
    # The API serves the value in full.
    [task] = call(f"{base}/tasks?workflow_execution_id={execution_id}&name=make")["tasks"]
    [action] = call(f"{base}/action_executions?task_execution_id={task['id']}")["action_executions"]
    assert json.loads(call(f"{base}/action_executions/{action['id']}")["output"]) == {
        "result": "y" * SIZE
    }
    call(f"{base}/executions/{execution_id}", "DELETE")
    assert _stored_counts(url) == (0, 0)


def _action_result(url: str) -> dict[str, Any] | None:
    """The payload of the ActionResult row waiting in the outbox, if there is one."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            payload = connection.execute(
                sa.select(tables.outbox.c.payload).where(tables.outbox.c.kind == "ActionResult")
            ).scalar()
            return dict(payload) if payload else None
    finally:
        engine.dispose()


def _stored_counts(url: str) -> tuple[int, int]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return blobs.count(connection)
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.postgres
def test_an_executor_killed_while_it_makes_a_large_result_loses_nothing(
    roles: tuple[Roles, str, str],
) -> None:
    group, base, url = roles
    gate = Gate()
    try:
        doomed = group.start("executor")
        execution_id = _start(base, gate.url)
        group.wait_for(lambda: gate.requests == 1, 60, "the executor to run the action")
        assert _stored_counts(url) == (0, 0)  # nothing stored before the action ends
        group.kill(doomed)
        group.start("executor")
        group.wait_for(lambda: gate.requests == 2, 60, "another executor to run it again")
        gate.opened.set()
        found = _ended(group, base, execution_id)
    finally:
        gate.close()
    assert json.loads(found["output"])["length"] == SIZE
    stored = _stored(url, execution_id)
    assert stored["counts"] == (1, 1), stored["counts"]
    [action_output] = stored["outputs"]
    assert action_output[references.REF_KEY] == blobs.text_digest("y" * SIZE)
    call(f"{base}/executions/{execution_id}", "DELETE")
    assert _stored_counts(url) == (0, 0)

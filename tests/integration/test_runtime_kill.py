"""A real crash: ``sirocco run`` killed with SIGKILL mid-run, ``sirocco server`` restarted on
the same SQLite file finishes the execution with the end state of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from sirocco.store import tables

SIROCCO = [sys.executable, "-m", "sirocco.cli.main"]

WORKFLOW = """
version: '2.0'
interrupted:
  input:
    - who: world
  tasks:
    first:
      action: std.echo output="hello <% $.who %>"
      publish:
        greeting: <% task().result %>
      on-success: [later]
    later:
      wait-before: 1
      action: std.echo output="<% $.greeting %>, later"
      publish:
        greeting: <% task().result %>
      on-success: [items]
    items:
      with-items: n in [1, 2, 3]
      action: std.echo output=<% $.n * 10 %>
      publish:
        numbers: <% task().result %>
  output:
    greeting: <% $.greeting %>
    numbers: <% $.numbers %>
"""

EXPECTED_OUTPUT = {"greeting": "hello world, later", "numbers": [10, 20, 30]}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(condition: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _rows(engine: sa.Engine, query: Any) -> list[Any]:
    try:
        with engine.connect() as connection:
            return list(connection.execute(query))
    except sa.exc.OperationalError:  # the tables are not created yet
        return []


@pytest.mark.slow
def test_sigkill_mid_run_then_restart_finishes_the_execution(tmp_path: Path) -> None:
    database = tmp_path / "killed.sqlite"
    url = f"sqlite:///{database}"
    workflow_file = tmp_path / "interrupted.yaml"
    workflow_file.write_text(WORKFLOW)
    environment = {**os.environ, "SIROCCO_DB": ""}
    engine = sa.create_engine(url)
    run = subprocess.Popen(
        [*SIROCCO, "run", str(workflow_file), "--db", url, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=environment,
    )
    try:
        task_table = tables.task_executions
        _wait(
            lambda: _rows(
                engine,
                sa.select(task_table.c.id).where(
                    task_table.c.name == "later", task_table.c.state == "DELAYED"
                ),
            ),
            15,
            "the task to wait",
        )
        run.send_signal(signal.SIGKILL)
        run.wait(5)
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()
    assert run.returncode == -signal.SIGKILL
    (execution,) = _rows(engine, sa.select(tables.workflow_executions))
    assert execution.state == "RUNNING"
    assert _rows(engine, sa.select(tables.timers))  # the wait is a durable timer

    port = _free_port()
    server = subprocess.Popen(
        [*SIROCCO, "server", "--db", url, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=environment,
    )
    try:

        def listening() -> bool:
            with socket.socket() as probe:
                return probe.connect_ex(("127.0.0.1", port)) == 0

        _wait(listening, 20, "the restarted server to listen")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/v2", timeout=5) as client:

            def finished() -> dict[str, Any] | None:
                body: dict[str, Any] = client.get(f"/executions/{execution.id}").json()
                return body if body.get("state") in ("SUCCESS", "ERROR", "CANCELLED") else None

            body = _wait(finished, 10, "the restarted server to finish the execution")
        assert body["state"] == "SUCCESS", body.get("state_info")
        assert json.loads(body["output"]) == EXPECTED_OUTPUT
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            _, errors = server.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            _, errors = server.communicate()
    assert server.returncode == 0, errors.decode()[-2000:]
    assert b"Traceback" not in errors
    task_rows = _rows(
        engine,
        sa.select(task_table.c.name, task_table.c.state).order_by(task_table.c.seq),
    )
    assert [(row.name, row.state) for row in task_rows] == [
        ("first", "SUCCESS"),
        ("later", "SUCCESS"),
        ("items", "SUCCESS"),
    ]
    action_table = tables.action_executions
    actions = _rows(engine, sa.select(action_table.c.name, action_table.c.state))
    assert sorted(actions) == [("std.echo", "SUCCESS")] * 5  # nothing ran twice
    assert not _rows(engine, sa.select(tables.timers))
    assert not _rows(engine, sa.select(tables.outbox))
    engine.dispose()

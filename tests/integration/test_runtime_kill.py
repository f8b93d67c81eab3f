"""A real crash: ``sirocco run`` killed with SIGKILL mid-run, ``sirocco server`` restarted on
the same SQLite file finishes the execution with the end state of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from sirocco.store import tables
from tests import processes

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
      wait-before: 3
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
    run = processes.Process(
        [*SIROCCO, "run", str(workflow_file), "--db", url, "--json"],
        log=tmp_path / "run.log",
        env=environment,
    )
    task_table = tables.task_executions
    try:
        # The kill must land while `later` waits (3 s): long enough on a loaded machine.
        run.wait_until(
            lambda: _rows(
                engine,
                sa.select(task_table.c.id).where(
                    task_table.c.name == "later", task_table.c.state == "DELAYED"
                ),
            ),
            "the task to wait",
        )
    finally:
        code = run.kill()
    assert code == -signal.SIGKILL, run.output()
    (execution,) = _rows(engine, sa.select(tables.workflow_executions))
    assert execution.state == "RUNNING"
    assert _rows(engine, sa.select(tables.timers))  # the wait is a durable timer

    port = processes.free_port()
    server = processes.Process(
        [*SIROCCO, "server", "--db", url, "--port", str(port)],
        log=tmp_path / "server.log",
        env=environment,
    )
    try:
        server.wait_answering(f"http://127.0.0.1:{port}/v2/")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}/v2", timeout=60) as client:

            def finished() -> dict[str, Any] | None:
                body: dict[str, Any] = client.get(f"/executions/{execution.id}").json()
                return body if body.get("state") in ("SUCCESS", "ERROR", "CANCELLED") else None

            body = server.wait_until(finished, "the restarted server to finish the execution")
        assert body["state"] == "SUCCESS", body.get("state_info")
        assert json.loads(body["output"]) == EXPECTED_OUTPUT
    finally:
        code = server.stop()
    assert code == 0, server.output()
    assert "Traceback" not in server.output()
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

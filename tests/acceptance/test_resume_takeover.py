"""`sirocco resume ID` takes over executions that dead role processes left RUNNING: every
role (api, engine, executor) killed with SIGKILL while actions ran on the executor; the
resume runs the `safe-rerun` action again and fails the other with Mistral's message."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from rolekit import SIROCCO, Roles, call, free_port

from sirocco.runtime.heartbeats import MISSED_MESSAGE
from sirocco.store import tables

WORKFLOWS = """
version: '2.0'
unsafe_nap:
  tasks:
    nap:
      action: std.sleep seconds=600
safe_nap:
  tasks:
    nap:
      action: std.sleep seconds=2
      safe-rerun: true
      on-success: say
    say:
      action: std.echo output="taken over"
      publish:
        said: <% task().result %>
  output:
    said: <% $.said %>
"""

HEARTBEATS = {"SIROCCO_HEARTBEAT_INTERVAL": "0.3", "SIROCCO_HEARTBEAT_MAX_MISSED": "3"}


@pytest.mark.slow
@pytest.mark.postgres
def test_resume_takes_over_what_dead_roles_left_running(postgres_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "SIROCCO_DB": postgres_url, **HEARTBEATS}
    group = Roles(folder=tmp_path, env=env)
    port = free_port()
    group.start("api", "--port", str(port))
    base = f"http://127.0.0.1:{port}/v2"
    database = sa.create_engine(postgres_url)
    try:
        group.wait_http(base)
        group.start("engine")
        group.start("executor")
        call(f"{base}/workflows", "POST", WORKFLOWS, text=True)
        unsafe = call(f"{base}/executions", "POST", {"workflow_name": "unsafe_nap"})["id"]
        safe = call(f"{base}/executions", "POST", {"workflow_name": "safe_nap"})["id"]

        def taken() -> bool:
            outbox = tables.outbox
            with database.connect() as connection:
                rows = connection.execute(
                    sa.select(outbox.c.workflow_execution_id).where(
                        outbox.c.kind == "RunAction", outbox.c.claimed_until.is_not(None)
                    )
                ).all()
            return {row.workflow_execution_id for row in rows} == {unsafe, safe}

        group.wait_for(taken, 60, "the executor to take both actions")
        for role in list(group.running):
            group.kill(role)

        def resume(execution_id: str) -> tuple[int, dict[str, object]]:
            done = subprocess.run(
                [SIROCCO, "resume", execution_id, "--json", "--timeout", "60"],
                env=env,
                capture_output=True,
                text=True,
                timeout=90,
            )
            assert done.stdout.strip(), done.stderr
            return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])

        code, report = resume(safe)
        assert (code, report["state"], report["output"]) == (0, "SUCCESS", {"said": "taken over"})
        # The same take-over failed the action that is not safe to re-run.
        actions = tables.action_executions
        workflows = tables.workflow_executions
        with database.connect() as connection:
            state = connection.execute(
                sa.select(workflows.c.state).where(workflows.c.id == unsafe)
            ).scalar_one()
            attempts = connection.execute(
                sa.select(actions.c.state, actions.c.state_info).where(
                    actions.c.workflow_execution_id == unsafe
                )
            ).all()
        assert state == "ERROR"
        assert [tuple(row) for row in attempts] == [("ERROR", MISSED_MESSAGE)]
    finally:
        database.dispose()
        group.stop_all()

"""`sirocco resume ID` takes over executions that dead role processes left RUNNING: every
role (api, engine, executor) killed with SIGKILL while actions ran on the executor; the
resume runs the `safe-rerun` action again and fails the other with Mistral's message.

The `safe-rerun` action calls a local HTTP gate that holds every request until the test
opens it, so the roles are killed while that action surely runs (a timed action could
end first on a slow machine), and the re-run is held until the same take-over has failed
the other execution."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from rolekit import SIROCCO, Gate, Roles, call, free_port

from sirocco.runtime.heartbeats import MISSED_MESSAGE
from sirocco.store import tables
from tests.waiting import BOUND, wait_for

WORKFLOWS = """
version: '2.0'
unsafe_nap:
  tasks:
    nap:
      action: std.sleep seconds=600
safe_nap:
  input:
    - gate
  tasks:
    nap:
      action: std.http url=<% $.gate %>
      safe-rerun: true
      on-success: say
    say:
      action: std.echo output="taken over"
      publish:
        said: <% task().result %>
  output:
    said: <% $.said %>
"""

#: Heartbeats a second apart, a lease of 3 s: short enough for a quick test, long enough
#: that a live executor starved of CPU on a loaded machine (load 30-40 on two cores) still
#: renews it (with 0.3 s, a lease of 0.9 s, an engine once took a live executor for dead).
HEARTBEATS = {"SIROCCO_HEARTBEAT_INTERVAL": "1", "SIROCCO_HEARTBEAT_MAX_MISSED": "3"}


@pytest.fixture
def gate() -> Iterator[Gate]:
    service = Gate()
    try:
        yield service
    finally:
        service.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_resume_takes_over_what_dead_roles_left_running(
    postgres_url: str, tmp_path: Path, gate: Gate
) -> None:
    env = {**os.environ, "SIROCCO_DB": postgres_url, **HEARTBEATS}
    group = Roles(folder=tmp_path, env=env)
    port = free_port()
    group.start("api", "--port", str(port))
    base = f"http://127.0.0.1:{port}/v2"
    database = sa.create_engine(postgres_url)
    resume: subprocess.Popen[str] | None = None
    try:
        group.wait_http(base)
        group.start("engine")
        group.start("executor")
        call(f"{base}/workflows", "POST", WORKFLOWS, text=True)
        unsafe = call(f"{base}/executions", "POST", {"workflow_name": "unsafe_nap"})["id"]
        safe = call(
            f"{base}/executions",
            "POST",
            {"workflow_name": "safe_nap", "input": json.dumps({"gate": gate.url})},
        )["id"]

        def taken() -> bool:
            outbox = tables.outbox
            with database.connect() as connection:
                rows = connection.execute(
                    sa.select(outbox.c.workflow_execution_id).where(
                        outbox.c.kind == "RunAction", outbox.c.claimed_until.is_not(None)
                    )
                ).all()
            return gate.requests == 1 and {row.workflow_execution_id for row in rows} == {
                unsafe,
                safe,
            }

        group.wait_for(taken, BOUND, "the executor to take both actions")
        for role in list(group.running):
            group.kill(role)

        workflows = tables.workflow_executions

        def state_of(execution_id: str) -> str:
            with database.connect() as connection:
                return str(
                    connection.execute(
                        sa.select(workflows.c.state).where(workflows.c.id == execution_id)
                    ).scalar_one()
                )

        with (tmp_path / "resume.log").open("w") as log:
            resume = subprocess.Popen(
                [SIROCCO, "resume", safe, "--json", "--timeout", str(BOUND)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )

        def rerun_held_and_other_failed() -> bool:
            assert resume is not None and resume.poll() is None, (
                f"sirocco resume ended early\n{(tmp_path / 'resume.log').read_text()}"
            )
            return gate.requests == 2 and state_of(unsafe) == "ERROR"

        # The take-over offers the safe action again (held at the gate) and fails the other.
        wait_for(
            rerun_held_and_other_failed,
            what="the safe action to run again and the other execution to fail",
            seen=lambda: (gate.requests, state_of(unsafe), group.logs()),
        )
        gate.opened.set()
        try:
            output, _ = resume.communicate(timeout=BOUND)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"sirocco resume did not end\n{group.logs()}") from None
        assert output.strip(), (tmp_path / "resume.log").read_text()
        report = json.loads(output.strip().splitlines()[-1])
        assert (resume.returncode, report["state"], report["output"]) == (
            0,
            "SUCCESS",
            {"said": "taken over"},
        )
        assert gate.requests == 2  # killed once, run again once
        actions = tables.action_executions
        with database.connect() as connection:
            attempts = connection.execute(
                sa.select(actions.c.state, actions.c.state_info).where(
                    actions.c.workflow_execution_id == unsafe
                )
            ).all()
        assert [tuple(row) for row in attempts] == [("ERROR", MISSED_MESSAGE)]
    finally:
        if resume is not None and resume.poll() is None:
            resume.kill()
            resume.wait()
        database.dispose()
        group.stop_all()

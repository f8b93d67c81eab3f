"""`sirocco api`, `engine` (two of them), `executor` and `scheduler` as separate processes on one
database: a workflow with a timer, an action on the executor and a sub-workflow completes."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import processes
from tests.conftest import AMQP_URL, port_open
from tests.waiting import wait_for

SIROCCO = str(Path(sys.executable).parent / "sirocco")

WORKFLOWS = """
version: '2.0'
roles_wf:
  output:
    a: <% $.a %>
    b: <% $.b %>
    child: <% $.child %>
  tasks:
    t1:
      action: std.echo output="one"
      wait-before: 1
      publish:
        a: <% task().result %>
      on-success: t2
    t2:
      action: std.sleep seconds=1
      publish:
        b: slept
      on-success: t3
    t3:
      workflow: roles_child
      publish:
        child: <% task().result.c %>
roles_child:
  output:
    c: <% $.c %>
  tasks:
    c1:
      action: std.echo output="child" delay=0.05
      publish:
        c: <% task().result %>
"""


def _call(url: str, method: str = "GET", body: bytes | None = None, text: bool = False) -> object:
    headers = {"Content-Type": "text/plain" if text else "application/json", "Accept": "*/*"}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture(params=["database", "amqp", "broker-down"])
def transport(request: pytest.FixtureRequest) -> str:
    """The roles hand work over through the database alone, over RabbitMQ, or are told
    of a broker that is not there (they fall back to the database)."""
    if request.param == "database":
        return ""
    if request.param == "broker-down":
        return f"amqp://guest:guest@127.0.0.1:{processes.free_port()}//"
    if not port_open(5672):
        pytest.skip("RabbitMQ is not running on 127.0.0.1:5672")
    return AMQP_URL


@pytest.fixture
def roles(database_url: str, transport: str, tmp_path: Path) -> Iterator[str]:
    env = {**os.environ, "SIROCCO_DB": database_url, "SIROCCO_TRANSPORT": transport}
    upgraded = processes.run([SIROCCO, "db", "upgrade"], env=env)
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    port = processes.free_port()
    commands = [["engine"], ["engine"], ["executor"], ["scheduler"], ["api", "--port", str(port)]]
    started = [
        processes.Process([SIROCCO, *command], log=tmp_path / f"{command[0]}-{index}.log", env=env)
        for index, command in enumerate(commands)
    ]
    api = started[-1]
    base = f"http://127.0.0.1:{port}/v2"
    try:
        api.wait_answering(base)
        yield base
    finally:
        codes = [process.stop() for process in started]
        problems = [
            f"{process} exited {code} after SIGTERM\n{process.output()}"
            for process, code in zip(started, codes, strict=True)
            if code not in processes.STOPPED
        ]
        assert not problems, "\n".join(problems)


def _ready(url: str) -> tuple[int, object]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def test_roles_in_separate_processes_run_a_workflow(roles: str, transport: str) -> None:
    _call(f"{roles}/workflows", "POST", WORKFLOWS.encode(), text=True)
    ids = [
        _call(f"{roles}/executions", "POST", json.dumps({"workflow_name": "roles_wf"}).encode())[
            "id"  # type: ignore[index]
        ]
        for _ in range(3)
    ]
    states: dict[str, object] = {}

    def ended() -> bool:
        executions = [_call(f"{roles}/executions/{execution_id}") for execution_id in ids]
        states.update({item["id"]: item["state"] for item in executions})  # type: ignore[index]
        return all(state in ("SUCCESS", "ERROR") for state in states.values())

    wait_for(ended, what="the three executions to end", seen=lambda: states)
    assert set(states.values()) == {"SUCCESS"}, states
    output = json.loads(_call(f"{roles}/executions/{ids[0]}")["output"])  # type: ignore[index]
    assert output == {"a": "one", "b": "slept", "child": "child"}
    # The roles worked through the database, and /ready names the broker they can't reach.
    broker_down = transport not in ("", AMQP_URL)
    ready = roles.removesuffix("/v2") + "/ready"
    _, body = wait_for(
        lambda: (lambda seen: seen if (seen[0] == 503) == broker_down else None)(_ready(ready)),
        what=f"/ready to answer {503 if broker_down else 200}",
    )
    if broker_down:
        assert any("broker can't be reached" in reason for reason in body["reasons"]), body  # type: ignore[index]
        # A broker out of reach is a fault: /health says it too.
        code, body = _ready(roles.removesuffix("/v2") + "/health")
        assert code == 503, body
        assert any("broker can't be reached" in reason for reason in body["reasons"]), body  # type: ignore[index]

"""`sirocco api`, `engine` (two of them), `executor` and `scheduler` as separate processes on one
database: a workflow with a timer, an action on the executor and a sub-workflow completes."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _call(url: str, method: str = "GET", body: bytes | None = None, text: bool = False) -> object:
    headers = {"Content-Type": "text/plain" if text else "application/json", "Accept": "*/*"}
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture
def roles(database_url: str, tmp_path: Path) -> Iterator[str]:
    env = {**os.environ, "SIROCCO_DB": database_url}
    subprocess.run([SIROCCO, "db", "upgrade"], env=env, check=True, capture_output=True)
    port = _free_port()
    commands = [["engine"], ["engine"], ["executor"], ["scheduler"], ["api", "--port", str(port)]]
    processes = [
        subprocess.Popen(
            [SIROCCO, *command],
            env=env,
            stdout=open(tmp_path / f"{command[0]}-{index}.log", "w"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        for index, command in enumerate(commands)
    ]
    base = f"http://127.0.0.1:{port}/v2"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _call(base)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield base
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                assert process.wait(15) == 0, f"{process.args} exited {process.returncode}"
            except subprocess.TimeoutExpired:
                process.kill()
                raise


def test_roles_in_separate_processes_run_a_workflow(roles: str) -> None:
    _call(f"{roles}/workflows", "POST", WORKFLOWS.encode(), text=True)
    ids = [
        _call(f"{roles}/executions", "POST", json.dumps({"workflow_name": "roles_wf"}).encode())[
            "id"  # type: ignore[index]
        ]
        for _ in range(3)
    ]
    deadline = time.monotonic() + 30
    states: dict[str, object] = {}
    while time.monotonic() < deadline:
        executions = [_call(f"{roles}/executions/{execution_id}") for execution_id in ids]
        states = {item["id"]: item["state"] for item in executions}  # type: ignore[index]
        if all(state in ("SUCCESS", "ERROR") for state in states.values()):
            break
        time.sleep(0.2)
    assert set(states.values()) == {"SUCCESS"}, states
    output = json.loads(_call(f"{roles}/executions/{ids[0]}")["output"])  # type: ignore[index]
    assert output == {"a": "one", "b": "slept", "child": "child"}

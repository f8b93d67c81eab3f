"""Helpers of the browser tests: the server under test, waiting on a condition, Chromium's flags."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.waiting import BOUND

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WORKFLOWS = Path(__file__).with_name("workflows.yaml")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], Any], what: str, bound: float = BOUND) -> Any:
    """Poll ``condition`` until it returns a true value; fail naming ``what`` at the bound."""
    deadline = time.monotonic() + bound
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@dataclass
class Server:
    """A running ``sirocco server`` and an HTTP client for its API."""

    url: str
    api: httpx.Client
    process: subprocess.Popen[bytes]
    log: Path

    def start(self, workflow: str, **input: Any) -> str:
        response = self.api.post("/v2/executions", json={"workflow_name": workflow, "input": input})
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def execution(self, execution_id: str) -> dict[str, Any]:
        return dict(self.api.get(f"/v2/executions/{execution_id}").json())

    def wait_state(self, execution_id: str, *states: str) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            found = self.execution(execution_id)
            return found if found["state"] in states else None

        return dict(wait_for(reached, f"execution {execution_id} in {states}"))

    def running_action(self, execution_id: str, task: str) -> str:
        """The id of the RUNNING action execution of ``task``, once there is one."""
        return self.running_actions(execution_id, task, 1)[0]

    def running_actions(self, execution_id: str, task: str, count: int) -> list[str]:
        """The ids of the RUNNING action executions of ``task``, once there are ``count``."""

        def found() -> list[str] | None:
            tasks = self.api.get(f"/v2/executions/{execution_id}/tasks").json()["tasks"]
            running = []
            for item in tasks:
                if item["name"] != task:
                    continue
                actions = self.api.get(f"/v2/tasks/{item['id']}/action_executions").json()
                running += [
                    str(action["id"])
                    for action in actions["action_executions"]
                    if action["state"] == "RUNNING"
                ]
            return running if len(running) >= count else None

        return list(wait_for(found, f"{count} running actions of {task}"))

    def task_id(self, execution_id: str, task: str) -> str:
        tasks = self.api.get(f"/v2/executions/{execution_id}/tasks").json()["tasks"]
        return str(next(item["id"] for item in tasks if item["name"] == task))

    def complete(self, action_id: str, state: str, output: Any) -> None:
        body = {"state": state, "output": json.dumps(output)}
        response = self.api.put(f"/v2/action_executions/{action_id}", json=body)
        assert response.status_code == 200, response.text


@contextlib.contextmanager
def running_server(
    folder: Path, *options: str, token: str | None = None, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """``sirocco server`` on a free port over a SQLite file in ``folder`` (with ``options``
    and the environment variables ``env``); its API client sends ``token`` when given."""
    port = free_port()
    command = shutil.which("sirocco", path=str(Path(sys.executable).parent)) or "sirocco"
    log = folder / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [command, "server", "--host", "127.0.0.1", "--port", str(port),
             "--db", database_url(folder), *options],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    headers = {"X-Auth-Token": token} if token else {}
    api = httpx.Client(base_url=url, timeout=30, headers=headers)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()}")
        try:
            return api.get("/").status_code == 200
        except httpx.TransportError:
            return False

    try:
        try:
            wait_for(ready, "the server to answer")
        except AssertionError as error:
            raise AssertionError(f"{error}; it printed: {log.read_text()}") from None
        yield Server(url=url, api=api, process=process, log=log)
    finally:
        api.close()
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def database_url(folder: Path) -> str:
    return f"sqlite:///{folder / 'sirocco.sqlite'}"

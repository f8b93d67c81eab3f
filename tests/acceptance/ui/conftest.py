"""A real ``sirocco server`` in a subprocess, a headless Debian Chromium, and helpers.

One server and one browser per module; each test gets a fresh page whose
screenshot is saved under the test's temporary directory.
"""

from __future__ import annotations

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
import pytest

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
#: How long a condition may take on a loaded machine before the test gives up.
BOUND = 60.0

playwright_api = pytest.importorskip("playwright.sync_api")
if not os.path.exists(CHROMIUM):
    pytest.skip(
        "Debian's chromium is not installed (make services installs it)", allow_module_level=True
    )


def _free_port() -> int:
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

        def found() -> str | None:
            tasks = self.api.get(f"/v2/executions/{execution_id}/tasks").json()["tasks"]
            for item in tasks:
                if item["name"] != task:
                    continue
                actions = self.api.get(f"/v2/tasks/{item['id']}/action_executions").json()
                for action in actions["action_executions"]:
                    if action["state"] == "RUNNING":
                        return str(action["id"])
            return None

        return str(wait_for(found, f"a running action of {task}"))

    def complete(self, action_id: str, state: str, output: Any) -> None:
        body = {"state": state, "output": json.dumps(output)}
        response = self.api.put(f"/v2/action_executions/{action_id}", json=body)
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("ui_server")
    port = _free_port()
    command = shutil.which("sirocco", path=str(Path(sys.executable).parent)) or "sirocco"
    log = folder / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [command, "server", "--host", "127.0.0.1", "--port", str(port),
             "--db", f"sqlite:///{folder / 'sirocco.sqlite'}"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    api = httpx.Client(base_url=url, timeout=30)

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text()}")
        try:
            return api.get("/v2").status_code == 200
        except httpx.TransportError:
            return False

    try:
        try:
            wait_for(ready, "the server to answer")
        except AssertionError as error:
            raise AssertionError(f"{error}; it printed: {log.read_text()}") from None
        uploaded = api.post(
            "/v2/workflows", content=WORKFLOWS.read_text(), headers={"Content-Type": "text/plain"}
        )
        assert uploaded.status_code == 201, uploaded.text
        yield Server(url=url, api=api, process=process, log=log)
    finally:
        api.close()
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_api.sync_playwright() as driver:
        launched = driver.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Any, server: Server, tmp_path: Path) -> Iterator[Any]:
    """A fresh page that accepts every confirmation; its screenshot is saved at the end."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, base_url=server.url)
    context.set_default_timeout(BOUND * 1000)
    opened = context.new_page()
    opened.on("dialog", lambda dialog: dialog.accept())
    try:
        yield opened
    finally:
        opened.screenshot(path=str(tmp_path / "screenshot.png"), full_page=True)
        context.close()

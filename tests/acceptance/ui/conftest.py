"""A real ``sirocco server`` in a subprocess, a headless Debian Chromium, a page per test.

One server and one browser per module; each test gets a fresh page whose
screenshot is saved under the test's temporary directory.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ui_browser import BOUND, CHROMIUM, CHROMIUM_FLAGS, WORKFLOWS, Server, free_port, wait_for

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("ui_server")
    port = free_port()
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

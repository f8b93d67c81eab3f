"""A real ``sirocco server`` in a subprocess, a headless Debian Chromium, a page per test.

One server and one browser per module; each test gets a fresh page whose
screenshot is saved under the test's temporary directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_browser import BOUND, CHROMIUM, CHROMIUM_FLAGS, WORKFLOWS, Server, running_server

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("ui_server")
    with running_server(folder) as started:
        uploaded = started.api.post(
            "/v2/workflows", content=WORKFLOWS.read_text(), headers={"Content-Type": "text/plain"}
        )
        assert uploaded.status_code == 201, uploaded.text
        yield started


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

"""A real Sirocco server (API, engine, executor) on a free port, and the real ``mistral`` CLI."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from api_cli_server import Server

from sirocco.api.app import create_app
from sirocco.cli.embedded import open_embedded
from tests.waiting import wait_for


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    for name in [key for key in os.environ if key.startswith("OS_")]:
        os.environ.pop(name)
    folder = tmp_path_factory.mktemp("api_cli")
    embedded = open_embedded(f"sqlite:///{folder / 'sirocco.sqlite'}")
    port = _free_port()
    config = uvicorn.Config(
        create_app(embedded.service),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    wait_for(lambda: web.started or not thread.is_alive(), what="the API server to start")
    assert web.started, "the API server's thread ended before it started (see its log above)"
    try:
        yield Server(url=f"http://127.0.0.1:{port}/v2", embedded=embedded, folder=folder)
    finally:
        web.should_exit = True
        thread.join(10)
        embedded.close()

"""A real Sirocco server (API, engine, executor) with authentication on, on a free port."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import uvicorn

from sirocco.api import authentication
from sirocco.api.app import create_app
from sirocco.cli.embedded import Embedded, open_embedded
from sirocco.settings import Settings
from sirocco.store import tokens


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class SecuredServer:
    url: str
    embedded: Embedded

    def token(self, project: str, role: str = "member") -> str:
        now = datetime.now(UTC).replace(tzinfo=None)
        with self.embedded.parts.database.transaction() as connection:
            _made, secret = tokens.create(connection, project_id=project, role=role, now=now)
        return secret


@contextmanager
def secured_server(folder: Path, mode: str, settings: Settings) -> Iterator[SecuredServer]:
    """Serve an embedded Sirocco in ``mode`` until the block ends."""
    for name in [key for key in os.environ if key.startswith("OS_")]:
        os.environ.pop(name)
    embedded = open_embedded(f"sqlite:///{folder / 'sirocco.sqlite'}")
    gate = authentication.gate_for(mode, settings, embedded.parts.database)
    port = free_port()
    config = uvicorn.Config(
        create_app(embedded.service, gate=gate),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
    )
    web = uvicorn.Server(config)
    thread = threading.Thread(target=web.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not web.started:
        assert time.monotonic() < deadline, "the API server did not start"
        time.sleep(0.02)
    try:
        yield SecuredServer(url=f"http://127.0.0.1:{port}/v2", embedded=embedded)
    finally:
        web.should_exit = True
        thread.join(10)
        embedded.close()

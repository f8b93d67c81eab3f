"""An executor stopped (SIGSTOP) while it runs a `safe-rerun` action is taken for dead:
its lease runs out and another executor runs the action again. That one is killed, and
the stopped one continued (SIGCONT): it must not keep the killed executor's lease alive
with its own heartbeats (the action would then wait for ever), and the result of its old
run must not count; the action runs a third time, on the executor that came back, and
that run's result is the one the execution gets.

The action calls a local HTTP gate that answers each call, with its number, only once
the test opens it."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa
from rolekit import Roles, api_and_engine, call

from sirocco.store import tables
from tests.waiting import BOUND

WORKFLOW = """
version: '2.0'
numbered:
  input:
    - gate
  tasks:
    call:
      action: std.http url=<% $.gate %>
      safe-rerun: true
      publish:
        run: <% task().result.content %>
  output:
    run: <% $.run %>
"""

HEARTBEATS = {"SIROCCO_HEARTBEAT_INTERVAL": "1", "SIROCCO_HEARTBEAT_MAX_MISSED": "3"}


class Turnstile:
    """A local HTTP service that numbers its calls (1, 2, ...) and answers call N, with
    N as its body, once the test opens gate N."""

    def __init__(self) -> None:
        self.requests = 0
        self.gates: dict[int, threading.Event] = {}
        lock = threading.Lock()
        turnstile = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    turnstile.requests += 1
                    number = turnstile.requests
                    gate = turnstile.gates.setdefault(number, threading.Event())
                gate.wait(BOUND)
                body = str(number).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the caller was killed meanwhile

            def log_message(self, format: str, *args: object) -> None:
                return

        self.lock = lock
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/gate"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def open(self, number: int) -> None:
        with self.lock:
            self.gates.setdefault(number, threading.Event()).set()

    def close(self) -> None:
        with self.lock:
            for gate in self.gates.values():
                gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def roles(postgres_url: str, tmp_path: Path) -> Iterator[tuple[Roles, str, str]]:
    with api_and_engine(postgres_url, tmp_path, HEARTBEATS) as started:
        yield started


@pytest.mark.slow
@pytest.mark.postgres
def test_an_executor_stopped_then_continued_neither_renews_nor_hands_back_a_lease_taken_over(
    roles: tuple[Roles, str, str],
) -> None:
    group, base, url = roles
    turnstile = Turnstile()
    stopped = group.start("executor", "--workers", "4")
    engine = sa.create_engine(url)
    continued = False
    try:
        call(f"{base}/workflows", "POST", WORKFLOW, text=True)
        execution = call(
            f"{base}/executions",
            "POST",
            {"workflow_name": "numbered", "input": json.dumps({"gate": turnstile.url})},
        )["id"]
        group.wait_for(lambda: turnstile.requests == 1, 30, "the first executor's call")
        stopped.process.send_signal(signal.SIGSTOP)
        # Its lease runs out; the action is offered again and the second executor runs it.
        second = group.start("executor", "--workers", "4")
        group.wait_for(lambda: turnstile.requests == 2, 60, "the second executor's call")
        group.kill(second)
        stopped.process.send_signal(signal.SIGCONT)
        continued = True
        # The second executor's lease runs out in turn (nothing renews it), and the one
        # that came back runs the action again on a lease of its own.
        group.wait_for(
            lambda: turnstile.requests == 3, 60, "the action to run again after the kill"
        )
        # The first call ends: its run's lease is over, so its result is dropped.
        turnstile.open(1)
        group.wait_for(
            lambda: "results dropped" in stopped.log.read_text(errors="replace"),
            30,
            "the stale result dropped",
        )
        assert call(f"{base}/executions/{execution}")["state"] == "RUNNING"
        turnstile.open(3)

        def ended() -> dict[str, object] | None:
            found: dict[str, object] = call(f"{base}/executions/{execution}")
            return found if found["state"] in ("SUCCESS", "ERROR") else None

        found = group.wait_for(ended, 60, "the execution to end")
        assert found["state"] == "SUCCESS", found
        assert str(json.loads(str(found["output"]))["run"]) == "3", found
        actions = tables.action_executions
        with engine.connect() as connection:
            attempts = connection.execute(
                sa.select(actions.c.state).where(actions.c.workflow_execution_id == execution)
            ).all()
            assert [row.state for row in attempts] == ["SUCCESS"]
            assert connection.execute(sa.select(tables.outbox)).all() == []
        assert turnstile.requests == 3
    finally:
        if not continued:
            stopped.process.send_signal(signal.SIGCONT)  # else it cannot stop on SIGTERM
        engine.dispose()
        turnstile.close()

"""``sirocco logs ID [--follow]`` and ``sirocco show ID --url``: an execution's events and
tree, read from the database or from a server, the same either way."""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from click.testing import CliRunner

from sirocco.api.app import create_app
from sirocco.cli.embedded import Embedded
from sirocco.cli.main import main
from tests.integration import helpers
from tests.processes import Process
from tests.waiting import wait_for

WORKFLOWS = """
version: '2.0'
outer:
  tasks:
    prepare:
      action: std.echo output="ready"
      publish:
        status: <% task().result %>
      on-success: [call]
    call:
      workflow: inner
inner:
  tasks:
    broken:
      action: std.fail error_data="disk full"
held:
  tasks:
    wait:
      action: test.hold value=1
      on-success: [after]
    after:
      action: std.noop
"""


@dataclass
class Served:
    app: Embedded
    db: str
    url: str


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    """An embedded Sirocco with the test actions, and its API on a free port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    with helpers.embedded(database_url) as app:
        helpers.deploy(app, WORKFLOWS)
        config = uvicorn.Config(
            create_app(app.service), host="127.0.0.1", port=port, log_level="warning",
            lifespan="off",
        )  # fmt: skip
        web = uvicorn.Server(config)
        thread = threading.Thread(target=web.run, daemon=True)
        thread.start()
        wait_for(lambda: web.started or not thread.is_alive(), what="the API to start")
        assert web.started
        try:
            yield Served(app, database_url, f"http://127.0.0.1:{port}")
        finally:
            web.should_exit = True
            thread.join(10)


def _without_times(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: _without_times(value)
            for key, value in node.items()
            if key not in ("started_at", "finished_at")
        }
    if isinstance(node, list):
        return [_without_times(item) for item in node]
    return node


def test_show_over_a_server_gives_the_tree_of_the_database(served: Served) -> None:
    failed = helpers.start(served.app, "outer")
    assert helpers.wait_for(served.app, failed).state == "ERROR"
    runner = CliRunner()
    trees = []
    for source in (["--db", served.db], ["--url", served.url]):
        shown = runner.invoke(main, ["show", failed, *source, "--json"])
        assert shown.exit_code == 0, shown.output
        trees.append(json.loads(shown.stdout))
    from_database, from_server = trees
    assert _without_times(from_server) == _without_times(from_database)
    assert from_server["children"][0]["published"] == {"status": "ready"}
    assert from_server["children"][1]["children"][0]["workflow_name"] == "inner"
    plain = runner.invoke(main, ["show", failed, "--url", served.url])
    lines = plain.stdout.splitlines()
    assert lines[0].startswith(f"outer {failed} ERROR")
    assert lines[4].startswith("      - broken ERROR") and "disk full" in lines[4]
    missing = runner.invoke(main, ["show", "0" * 32, "--url", served.url])
    assert missing.exit_code == 2
    assert missing.stderr.startswith(f"sirocco: {served.url} answered 404: ")


def test_logs_lists_the_events_in_time_order(served: Served) -> None:
    failed = helpers.start(served.app, "outer")
    assert helpers.wait_for(served.app, failed).state == "ERROR"
    runner = CliRunner()
    outputs = []
    for source in (["--db", served.db], ["--url", served.url]):
        answer = runner.invoke(main, ["logs", failed, *source, "--json"])
        assert answer.exit_code == 0, answer.output
        events = [json.loads(line) for line in answer.stdout.splitlines()]
        outputs.append([(e["kind"], e["name"], e["state"], e["depth"]) for e in events])
        errors = {e["name"]: e["info"] for e in events if e["state"] == "ERROR"}
        assert "disk full" in errors["broken"] and "disk full" in errors["std.fail"]
        assert errors["outer"] == "Failure caused by error in tasks: call"
    from_database, from_server = outputs
    # the server's times are whole seconds: the order within one second may differ
    assert sorted(from_server) == sorted(from_database)
    assert from_database == [
        ("execution", "outer", "RUNNING", 0),
        ("task", "prepare", "RUNNING", 0),
        ("action", "std.echo", "RUNNING", 1),
        ("action", "std.echo", "SUCCESS", 1),
        ("task", "prepare", "SUCCESS", 0),
        ("task", "call", "RUNNING", 0),
        ("execution", "inner", "RUNNING", 1),
        ("task", "broken", "RUNNING", 1),
        ("action", "std.fail", "RUNNING", 2),
        ("action", "std.fail", "ERROR", 2),
        ("task", "broken", "ERROR", 1),
        ("execution", "inner", "ERROR", 1),
        ("task", "call", "ERROR", 0),
        ("execution", "outer", "ERROR", 0),
    ]
    plain = runner.invoke(main, ["logs", failed, "--db", served.db]).stdout.splitlines()
    assert plain[3].endswith("    action std.echo (task prepare) SUCCESS")
    assert plain[-1].endswith(
        f"  execution outer {failed} ERROR: Failure caused by error in tasks: call"
    )
    missing = runner.invoke(main, ["logs", "no-such-id", "--db", served.db])
    assert (missing.exit_code, missing.stderr) == (
        2, "sirocco: WorkflowExecution not found [id=no-such-id]\n"
    )  # fmt: skip


def test_logs_follow_ends_with_the_execution(
    served: Served, gate: threading.Event, tmp_path: Path
) -> None:
    held = helpers.start(served.app, "held")
    command = [sys.executable, "-m", "sirocco.cli.main", "logs", held, "--follow"]
    followers = [
        Process([*command, "--db", served.db], log=tmp_path / "db.log"),
        Process([*command, "--url", served.url], log=tmp_path / "url.log"),
    ]
    try:
        for follower in followers:
            follower.wait_until(
                lambda f=follower: "action test.hold (task wait) RUNNING" in f.log.read_text(),
                "the held action's start",
            )
        for follower in followers:
            assert "SUCCESS" not in follower.log.read_text()
        gate.set()
        for follower in followers:
            assert follower.popen.wait(timeout=300) == 0, follower.output()
            lines = follower.log.read_text().splitlines()
            assert [line.split("  ", 1)[1].strip() for line in lines] == [
                f"execution held {held} RUNNING",
                "task wait RUNNING",
                "action test.hold (task wait) RUNNING",
                "action test.hold (task wait) SUCCESS",
                "task wait SUCCESS",
                "task after RUNNING",
                "action std.noop (task after) RUNNING",
                "action std.noop (task after) SUCCESS",
                "task after SUCCESS",
                f"execution held {held} SUCCESS",
            ], follower.output()
    finally:
        gate.set()
        for follower in followers:
            follower.kill()


def test_logs_follow_of_a_failed_execution_exits_1(served: Served) -> None:
    failed = helpers.start(served.app, "outer")
    assert helpers.wait_for(served.app, failed).state == "ERROR"
    answer = CliRunner().invoke(main, ["logs", failed, "--url", served.url, "--follow"])
    assert answer.exit_code == 1
    assert answer.stdout.splitlines()[-1].endswith("ERROR: Failure caused by error in tasks: call")

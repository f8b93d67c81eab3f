"""The real ``mistral`` CLI (python-mistralclient 6.3) against a real Sirocco server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from api_cli_server import Server

WORKFLOW = """version: '2.0'
cli_wf:
  description: from the CLI
  tags: [cli]
  input:
    - a
    - b: 2
  output:
    sum: <% $.a + $.b %>
  tasks:
    t:
      action: std.noop
"""

WORKBOOK = """version: '2.0'
name: cli_book
tags: [books]
actions:
  shout:
    base: std.echo
    base-input:
      output: <% $.text %>
    input:
      - text
workflows:
  main:
    tasks:
      loud:
        action: shout text=hi
"""

ACTION = """version: '2.0'
cli_action:
  description: echoes x
  base: std.echo
  base-input:
    output: <% $.x %>
  input:
    - x
"""

MISTRAL = Path(sys.executable).with_name("mistral")


def test_the_mistral_program_talks_to_the_server(server: Server) -> None:
    result = subprocess.run(
        [str(MISTRAL), "--os-mistral-url", server.url, "workflow-list", "-f", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list)


def test_workflow_commands(server: Server) -> None:
    path = server.file("wf.yaml", WORKFLOW)
    table = server.ok("workflow-create", path)
    assert "| cli_wf |" in table.replace("  ", " ")
    assert "Updated at" in table and 'a, b="2"' in table
    created = server.json("workflow-get", "cli_wf")
    assert created["Name"] == "cli_wf"
    assert created["Input"] == 'a, b="2"'
    assert created["Tags"] == "cli"
    assert created["Project ID"] == "<default-project>"
    assert created["Updated at"] is None
    assert server.ok("workflow-get-definition", "cli_wf") == WORKFLOW
    listed = server.json("workflow-list", "--filter", "name=cli_wf")
    assert [item["ID"] for item in listed] == [created["ID"]]
    valid = server.json("workflow-validate", path)
    assert valid == {"Valid": True, "Error": None}
    bad = server.json("workflow-validate", server.file("bad.yaml", "version: '2.0'\nx: 1\n"))
    assert bad["Valid"] is False and bad["Error"]
    updated = server.json(
        "workflow-update", server.file("wf2.yaml", WORKFLOW.replace("b: 2", "b: 3"))
    )
    assert updated[0]["Input"] == 'a, b="3"'
    assert updated[0]["Updated at"] is not None
    code, _, err = server.mistral("workflow-create", path)
    assert code == 1
    assert "Duplicate entry for WorkflowDefinition" in err
    assert "accepted" in server.ok("workflow-delete", "cli_wf")
    code, _, err = server.mistral("workflow-get", "cli_wf")
    assert code == 1
    assert "Workflow not found [workflow_identifier=cli_wf, namespace=]" in err


def test_workflow_namespaces(server: Server) -> None:
    path = server.file("ns.yaml", WORKFLOW.replace("cli_wf", "ns_wf"))
    server.ok("workflow-create", path, "--namespace", "team")
    assert server.json("workflow-get", "ns_wf", "--namespace", "team")["Namespace"] == "team"
    assert server.mistral("workflow-get", "ns_wf")[0] == 1
    server.ok("workflow-delete", "ns_wf", "--namespace", "team")


def test_workbook_commands(server: Server) -> None:
    path = server.file("wb.yaml", WORKBOOK)
    created = server.json("workbook-create", path)
    assert (created["Name"], created["Tags"], created["Scope"]) == ("cli_book", "books", "private")
    assert [item["Name"] for item in server.json("workbook-list")] == ["cli_book"]
    assert server.json("workbook-get", "cli_book")["Name"] == "cli_book"
    assert server.ok("workbook-get-definition", "cli_book") == WORKBOOK
    assert server.json("workbook-validate", path)["Valid"] is True
    updated = server.json(
        "workbook-update", server.file("wb2.yaml", WORKBOOK.replace("[books]", "[b2]"))
    )
    assert updated["Tags"] == "b2"
    names = [item["Name"] for item in server.json("workflow-list")]
    assert "cli_book.main" in names
    assert server.json("action-get", "cli_book.shout")["Input"] == "text"
    assert "accepted" in server.ok("workbook-delete", "cli_book")
    assert server.names("workbook-list") == []


def test_action_commands(server: Server) -> None:
    path = server.file("action.yaml", ACTION)
    created = server.json("action-create", path)
    assert [(item["Name"], item["Is system"], item["Input"]) for item in created] == [
        ("cli_action", False, "x")
    ]
    got = server.json("action-get", "cli_action")
    assert got["Description"] == "echoes x"
    assert server.ok("action-get-definition", "cli_action") == ACTION
    system = server.json("action-get", "std.echo")
    assert (system["Name"], system["Is system"]) == ("std.echo", True)
    listed = {item["Name"] for item in server.json("action-list")}
    assert {"cli_action", "std.echo", "std.noop"} <= listed
    assert server.json("action-validate", path)["Valid"] is True
    assert "accepted" in server.ok("action-delete", "cli_action")
    assert server.mistral("action-get", "cli_action")[0] == 1


def test_environment_commands(server: Server) -> None:
    path = server.file(
        "env.json", json.dumps({"name": "cli_env", "description": "d", "variables": {"a": 1}})
    )
    created = server.json("environment-create", path)
    assert created["Name"] == "cli_env"
    assert json.loads(created["Variables"]) == {"a": 1}
    assert server.json("environment-get", "cli_env")["Description"] == "d"
    assert [item["Name"] for item in server.json("environment-list")] == ["cli_env"]
    update = server.file("env2.json", json.dumps({"name": "cli_env", "variables": {"b": 2}}))
    assert json.loads(server.json("environment-update", update)["Variables"]) == {"b": 2}
    assert "accepted" in server.ok("environment-delete", "cli_env")
    assert server.names("environment-list") == []


def test_cron_trigger_commands(server: Server) -> None:
    server.ok("workflow-create", server.file("cron_wf.yaml", WORKFLOW.replace("cli_wf", "cron_wf")))
    first = (datetime.utcnow() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    created = server.json(
        "cron-trigger-create",
        "cli_cron",
        "cron_wf",
        '{"a": 1}',
        "--pattern",
        "0 * * * *",
        "--first-time",
        first,
        "--count",
        "3",
    )
    assert created["Workflow"] == "cron_wf"
    assert created["Pattern"] == "0 * * * *"
    assert created["Next execution time"] == first + ":00"
    assert created["Remaining executions"] == 3
    assert [item["Name"] for item in server.json("cron-trigger-list")] == ["cli_cron"]
    assert server.json("cron-trigger-get", "cli_cron")["Workflow"] == "cron_wf"
    code, _, err = server.mistral(
        "cron-trigger-create", "bad_cron", "cron_wf", '{"zzz": 1}', "--pattern", "0 * * * *"
    )
    assert code == 1
    assert "Invalid input [name=cron_wf, class=DirectWorkflowSpec" in err
    assert "accepted" in server.ok("cron-trigger-delete", "cli_cron")
    assert server.names("cron-trigger-list") == []
    server.ok("workflow-delete", "cron_wf")


# ---------------------------------------------------------------- executions (real engine)

RUNNABLE = """version: '2.0'
run_wf:
  input:
    - name
  output:
    greeting: <% $.greeting %>
  tasks:
    hello:
      action: std.echo output="hi <% $.name %>"
      publish:
        greeting: <% task().result %>
"""

FAILING = """version: '2.0'
fail_wf:
  tasks:
    boom:
      action: std.fail
"""


def _wait(
    server: Server, execution_id: str, states: tuple[str, ...], timeout: float = 10
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        found = server.json("execution-get", execution_id)
        if found["State"] in states or time.monotonic() > deadline:
            return dict(found)
        time.sleep(0.05)


@pytest.fixture(scope="module")
def engine_works(server: Server) -> None:
    server.ok("workflow-create", server.file("run.yaml", RUNNABLE))
    code, out, err = server.mistral("execution-create", "run_wf", '{"name": "probe"}', "-f", "json")
    if code != 0:
        pytest.skip(f"the engine cannot start a workflow yet: {err.strip()[:200]}")
    found = _wait(server, json.loads(out)["ID"], ("SUCCESS", "ERROR"), timeout=5)
    if found["State"] != "SUCCESS":
        pytest.skip(f"the engine does not finish a trivial workflow yet: {found}")


def test_execution_commands(server: Server, engine_works: None) -> None:
    created = server.json("execution-create", "run_wf", '{"name": "ann"}', "-d", "from cli")
    assert (created["Workflow name"], created["Description"]) == ("run_wf", "from cli")
    execution_id = created["ID"]
    assert _wait(server, execution_id, ("SUCCESS", "ERROR"))["State"] == "SUCCESS"
    assert json.loads(server.ok("execution-get-output", execution_id)) == {"greeting": "hi ann"}
    assert json.loads(server.ok("execution-get-input", execution_id)) == {"name": "ann"}
    listed = server.json("execution-list")
    assert execution_id in [item["ID"] for item in listed]
    tasks = server.json("task-list", execution_id)
    assert [(item["Name"], item["State"]) for item in tasks] == [("hello", "SUCCESS")]
    task_id = tasks[0]["ID"]
    assert json.loads(server.ok("task-get-result", task_id)) == "hi ann"
    assert json.loads(server.ok("task-get-published", task_id)) == {"greeting": "hi ann"}
    actions = server.json("action-execution-list", task_id)
    assert [(item["Name"], item["State"]) for item in actions] == [("std.echo", "SUCCESS")]
    report = server.ok("execution-get-report", execution_id)
    assert f"workflow 'run_wf' [SUCCESS] {execution_id}" in report
    assert "Number of tasks in ERROR state: 0" in report
    assert "accepted" in server.ok("execution-delete", execution_id)
    assert server.mistral("execution-get", execution_id)[0] == 1


def test_failed_task_rerun_and_run_action(server: Server, engine_works: None) -> None:
    server.ok("workflow-create", server.file("fail.yaml", FAILING))
    created = server.json("execution-create", "fail_wf")
    assert _wait(server, created["ID"], ("SUCCESS", "ERROR"))["State"] == "ERROR"
    task = server.json("task-list", created["ID"])[0]
    assert task["State"] == "ERROR"
    rerun = server.json("task-rerun", task["ID"])
    assert rerun["ID"] == task["ID"]
    assert _wait(server, created["ID"], ("SUCCESS", "ERROR"))["State"] == "ERROR"
    # The client prints the API's `output` string as it is (Mistral's JsonType: json.dumps).
    assert server.ok("run-action", "std.echo", '{"output": "direct"}').strip() == (
        '{"result": "direct"}'
    )
    saved = server.json("run-action", "std.echo", '{"output": "kept"}', "--save-result")
    assert saved["State"] in ("RUNNING", "SUCCESS")

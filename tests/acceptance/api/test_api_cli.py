"""Definitions through the real ``mistral`` CLI (python-mistralclient 6.3) against a real server.

Workflows, workbooks, ad-hoc actions, environments and cron triggers: each
command's table and ``-f json`` output are checked (``Server.both``), and the
values were compared with what Mistral 23 prints for the same commands.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from api_cli_server import Server, assert_table_matches, parse_table

from tests import processes

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
    - y: 2
"""

MISTRAL = Path(sys.executable).with_name("mistral")
WORKFLOW_COLUMNS = [
    "ID", "Name", "Namespace", "Project ID", "Tags", "Input", "Scope", "Created at", "Updated at",
]  # fmt: skip


def _future(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).strftime("%Y-%m-%d %H:%M")


def test_the_mistral_program_talks_to_the_server(server: Server) -> None:
    result = processes.run(
        [str(MISTRAL), "--os-mistral-url", server.url, "workflow-list", "-f", "json"],
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list)


def test_workflow_create_list_get_update_delete(server: Server) -> None:
    path = server.file("wf.yaml", WORKFLOW)
    created = parse_table(server.ok("workflow-create", path))
    assert list(created[0]) == WORKFLOW_COLUMNS
    assert created[0]["Name"] == "cli_wf"
    assert (created[0]["Input"], created[0]["Tags"]) == ('a, b="2"', "cli")
    assert (created[0]["Scope"], created[0]["Updated at"]) == ("private", "None")
    other = server.json(
        "workflow-create", server.file("wf_other.yaml", WORKFLOW.replace("cli_wf", "cli_other"))
    )
    assert [item["Name"] for item in other] == ["cli_other"]
    assert other[0]["Project ID"] == "<default-project>"

    got = server.both("workflow-get", "cli_wf")
    assert list(got) == WORKFLOW_COLUMNS
    assert (got["ID"], got["Name"], got["Namespace"]) == (created[0]["ID"], "cli_wf", "")
    assert (got["Input"], got["Tags"], got["Updated at"]) == ('a, b="2"', "cli", None)
    assert server.both("workflow-get", got["ID"])["Name"] == "cli_wf"
    assert server.ok("workflow-get-definition", "cli_wf") == WORKFLOW

    listed = server.both("workflow-list")
    assert sorted(item["Name"] for item in listed) == ["cli_other", "cli_wf"]
    filtered = server.both("workflow-list", "--filter", "name=cli_wf")
    assert [item["ID"] for item in filtered] == [got["ID"]]
    assert server.names("workflow-list", "--filter", "tags=nope") == []

    # The same text again changes nothing, so Mistral leaves updated_at null.
    same = server.both("workflow-update", path)
    assert (same[0]["ID"], same[0]["Updated at"]) == (got["ID"], None)
    changed = server.both(
        "workflow-update", server.file("wf2.yaml", WORKFLOW.replace("b: 2", "b: 3"))
    )
    assert changed[0]["Input"] == 'a, b="3"'
    assert changed[0]["Updated at"] is not None

    assert "Duplicate entry for WorkflowDefinition ['name', 'namespace', 'project_id']: " in (
        server.fails("workflow-create", path)
    )
    assert server.ok("workflow-delete", "cli_wf", "cli_other").splitlines() == [
        "Request to delete workflow cli_wf has been accepted.",
        "Request to delete workflow cli_other has been accepted.",
    ]
    assert "Workflow not found [workflow_identifier=cli_wf, namespace=]" in server.fails(
        "workflow-get", "cli_wf"
    )
    gone = server.fails("workflow-delete", "cli_wf")
    assert "Workflow not found [workflow_identifier=cli_wf, namespace=]" in gone
    assert "Unable to delete the specified workflow(s)." in gone


def test_workflow_validate(server: Server) -> None:
    path = server.file("valid.yaml", WORKFLOW)
    assert server.both("workflow-validate", path) == {"Valid": True, "Error": None}
    bad = server.file("bad.yaml", "version: '2.0'\nx: 1\n")
    result = server.both("workflow-validate", bad)
    assert result["Valid"] is False
    assert "workflow 'x'" in result["Error"]
    assert "x" not in server.names("workflow-list")  # validating stores nothing


def test_workflow_namespaces(server: Server) -> None:
    path = server.file("ns.yaml", WORKFLOW.replace("cli_wf", "ns_wf"))
    server.ok("workflow-create", path, "--namespace", "team")
    found = server.both("workflow-get", "ns_wf", "--namespace", "team")
    assert found["Namespace"] == "team"
    assert "namespace=]" in server.fails("workflow-get", "ns_wf")
    server.ok("workflow-delete", "ns_wf", "--namespace", "team")


def test_workbook_commands(server: Server) -> None:
    path = server.file("wb.yaml", WORKBOOK)
    created = server.table("workbook-create", path)
    assert created == {
        "Name": "cli_book",
        "Namespace": "",
        "Tags": "books",
        "Scope": "private",
        "Created at": created["Created at"],
        "Updated at": "None",
    }
    assert "Duplicate entry for WorkbookDefinition" in server.fails("workbook-create", path)
    other = server.json(
        "workbook-create", server.file("wb_other.yaml", WORKBOOK.replace("cli_book", "cli_other"))
    )
    assert (other["Name"], other["Tags"], other["Updated at"]) == ("cli_other", "books", None)
    server.ok("workbook-delete", "cli_other")
    server.ok("workflow-delete", "cli_other.main")
    server.ok("action-delete", "cli_other.shout")
    listed = server.both("workbook-list")
    assert [(item["Name"], item["Tags"]) for item in listed] == [("cli_book", "books")]
    got = server.both("workbook-get", "cli_book")
    assert (got["Name"], got["Created at"], got["Updated at"]) == (
        "cli_book",
        created["Created at"],
        None,
    )
    assert server.ok("workbook-get-definition", "cli_book") == WORKBOOK
    assert server.both("workbook-validate", path) == {"Valid": True, "Error": None}
    assert server.both("workbook-update", path)["Updated at"] is None
    updated = server.both(
        "workbook-update", server.file("wb2.yaml", WORKBOOK.replace("[books]", "[b2]"))
    )
    assert (updated["Tags"], updated["Updated at"] is not None) == ("b2", True)
    assert "cli_book.main" in server.names("workflow-list")
    assert server.both("action-get", "cli_book.shout")["Input"] == "text"
    assert "Request to delete workbook cli_book has been accepted." in server.ok(
        "workbook-delete", "cli_book"
    )
    assert server.names("workbook-list") == []
    assert "Workbook not found [name=cli_book, namespace=]" in server.fails(
        "workbook-get", "cli_book"
    )
    # Mistral keeps a deleted workbook's workflows and actions.
    assert "cli_book.main" in server.names("workflow-list")
    server.ok("workflow-delete", "cli_book.main")
    server.ok("action-delete", "cli_book.shout")


def test_action_commands(server: Server) -> None:
    path = server.file("action.yaml", ACTION)
    created = server.table("action-create", path)
    assert [
        (row["Name"], row["Is system"], row["Input"], row["Description"], row["Updated at"])
        for row in created
    ] == [("cli_action", "False", "x, y=2", "echoes x", "None")]
    assert "Duplicate entry for Action ['name', 'namespace', 'project_id']: cli_action, , None" in (
        server.fails("action-create", path)
    )
    got = server.both("action-get", "cli_action")
    assert got == {
        "ID": created[0]["ID"],
        "Name": "cli_action",
        "Is system": False,
        "Input": "x, y=2",
        "Description": "echoes x",
        "Tags": "<none>",
        "Created at": created[0]["Created at"],
        "Updated at": None,
    }
    assert server.ok("action-get-definition", "cli_action") == ACTION
    # Mistral 23 shows every action, Python ones too, with "Is system" False.
    echo = server.both("action-get", "std.echo")
    assert (echo["ID"], echo["Is system"], echo["Input"]) == ("std.echo", False, "output, delay=0")
    assert (echo["Created at"], echo["Updated at"]) == ("", "")
    listed = server.both("action-list", "--filter", "name=cli_action")
    assert [item["ID"] for item in listed] == [got["ID"]]
    every = server.json("action-list")
    names = [item["Name"] for item in every]
    assert {"cli_action", "std.echo", "std.noop", "std.fail"} <= set(names)
    # As in Mistral 23 (the CLI sorts by created_at): the Python actions, which have no
    # creation time, by name; then the stored ones, oldest first. Two stored in the same
    # second (std.wait_ssh at start-up, cli_action just now) come in either order.
    python = [item["Name"] for item in every if not item["Created at"]]
    stored = [item for item in every if item["Created at"]]
    assert names[: len(python)] == python == sorted(python)
    assert "cli_action" in [item["Name"] for item in stored]
    created = [item["Created at"] for item in stored]
    assert created == sorted(created)
    assert server.both("action-validate", path) == {"Valid": True, "Error": None}
    assert server.both("action-update", path)[0]["Updated at"] is None
    assert "Action not found [name=nope, namespace=]" in server.fails("action-get", "nope")
    assert "Request to delete action cli_action has been accepted." in server.ok(
        "action-delete", "cli_action"
    )
    assert "Action definition not found [action_name=std.echo, namespace=]" in server.fails(
        "action-delete", "std.echo"
    )
    assert server.names("action-list", "--filter", "name=cli_action") == []


def test_environment_commands(server: Server) -> None:
    variables = {"a": 1, "b": {"c": [1, 2]}}
    path = server.file(
        "env.json", json.dumps({"name": "cli_env", "description": "d", "variables": variables})
    )
    created = server.table("environment-create", path)
    assert (created["Name"], created["Description"], created["Scope"]) == (
        "cli_env",
        "d",
        "private",
    )
    assert json.loads(created["Variables"]) == variables
    assert created["Variables"].splitlines()[1] == '    "a": 1,'  # indented like Mistral's
    assert "Duplicate entry for Environment ['name', 'project_id']: cli_env, None" in (
        server.fails("environment-create", path)
    )
    second = server.json(
        "environment-create",
        server.file("env_b.json", json.dumps({"name": "cli_env_b", "variables": {"z": 1}})),
    )
    assert (second["Name"], json.loads(second["Variables"])) == ("cli_env_b", {"z": 1})
    server.ok("environment-delete", "cli_env_b")
    got = server.both("environment-get", "cli_env")
    assert (got["Description"], got["Updated at"]) == ("d", "<none>")
    assert json.loads(got["Variables"]) == variables
    listed = server.both("environment-list")
    assert [(item["Name"], item["Description"]) for item in listed] == [("cli_env", "d")]
    update = server.file("env2.json", json.dumps({"name": "cli_env", "variables": {"b": 2}}))
    updated = server.both("environment-update", update)
    assert json.loads(updated["Variables"]) == {"b": 2}
    assert updated["Updated at"] not in (None, "<none>")
    assert "Request to delete environment cli_env has been accepted." in server.ok(
        "environment-delete", "cli_env"
    )
    gone = server.fails("environment-delete", "cli_env")
    assert "Environment not found [name=cli_env]" in gone
    assert "Unable to delete the specified environment(s)." in gone
    assert "Environment not found [name=cli_env]" in server.fails("environment-get", "cli_env")
    assert server.names("environment-list") == []


def test_cron_trigger_commands(server: Server) -> None:
    server.ok("workflow-create", server.file("cron_wf.yaml", WORKFLOW.replace("cli_wf", "cron_wf")))
    first = _future(days=1)
    created = server.table(
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
    assert created == {
        "Name": "cli_cron",
        "Workflow": "cron_wf",
        "Params": "{}",
        "Pattern": "0 * * * *",
        "Next execution time": first + ":00",
        "Remaining executions": "3",
        "Created at": created["Created at"],
        "Updated at": "None",
    }
    once = server.json(
        "cron-trigger-create", "cli_once", "cron_wf", '{"a": 2}', "--first-time", first
    )
    # Only a first time: Mistral stores its "never" pattern and one remaining run.
    assert (once["Pattern"], once["Remaining executions"]) == ("0 0 30 2 0", 1)
    assert once["Next execution time"] == first + ":00"
    listed = server.both("cron-trigger-list")
    assert sorted((item["Name"], item["Remaining executions"]) for item in listed) == [
        ("cli_cron", 3),
        ("cli_once", 1),
    ]
    got = server.both("cron-trigger-get", "cli_cron")
    assert (got["Workflow"], got["Params"], got["Updated at"]) == ("cron_wf", "{}", None)

    # The same workflow, input and schedule under another name is a duplicate too.
    twin = server.fails(
        "cron-trigger-create", "cli_twin", "cron_wf", '{"a": 2}', "--first-time", first
    )
    assert "Duplicate entry for cron trigger ['name', 'project_id']: cli_twin, None" in twin
    refusals = {
        ("bad_input", "cron_wf", '{"zzz": 1}', "--pattern", "0 * * * *"): (
            "Invalid input [name=cron_wf, class=DirectWorkflowSpec, missing=['a'], "
            "unexpected=['zzz']]"
        ),
        ("soon", "cron_wf", '{"a": 1}', "--first-time", _future(seconds=20)): (
            "first_execution_time must be at least 1 minute in the future."
        ),
        ("bad_pattern", "cron_wf", '{"a": 1}', "--pattern", "* * *"): (
            "The specified pattern is not valid: * * *"
        ),
        ("bad_time", "cron_wf", '{"a": 1}', "--first-time", "tomorrow"): (
            "time data 'tomorrow' does not match format '%Y-%m-%d %H:%M'"
        ),
        ("many", "cron_wf", '{"a": 1}', "--first-time", first, "--count", "3"): (
            "Pattern must be provided if count is superior to 1."
        ),
        ("no_wf", "nope_wf", "{}", "--pattern", "0 * * * *"): (
            "Workflow not found [workflow_identifier=nope_wf, namespace=]"
        ),
    }
    for arguments, message in refusals.items():
        assert message in server.fails("cron-trigger-create", *arguments), arguments
    assert "Can't delete workflow that has cron triggers associated." in server.fails(
        "workflow-delete", "cron_wf"
    )
    assert server.ok("cron-trigger-delete", "cli_cron", "cli_once").splitlines() == [
        "Request to delete cron trigger cli_cron has been accepted.",
        "Request to delete cron trigger cli_once has been accepted.",
    ]
    assert "Cron trigger not found [identifier=cli_cron]" in server.fails(
        "cron-trigger-get", "cli_cron"
    )
    assert server.names("cron-trigger-list") == []
    server.ok("workflow-delete", "cron_wf")


def test_the_table_parser_reads_multi_line_cells() -> None:
    text = (
        "+-------+-------+\n| Field | Value |\n+-------+-------+\n| A     | {     |\n"
        '|       |   "x" |\n|       | }     |\n| B     | None  |\n+-------+-------+\n'
    )
    assert parse_table(text) == {"A": '{\n  "x"\n}', "B": "None"}
    assert_table_matches(parse_table(text), {"A": '{\n  "x"\n}', "B": None})

"""Executions, tasks and action executions through the real ``mistral`` CLI and the real engine.

The server is Sirocco's embedded runtime (engine, executor, timers) behind
the API; workflows really run. Every command that prints a resource is
checked as a table and as ``-f json`` (``Server.both``); the expected values
are what Mistral 23 prints for the same commands.
"""

from __future__ import annotations

import json

import pytest
from api_cli_server import Server

from tests.waiting import wait_for

RUNNABLE = """version: '2.0'
run_wf:
  input:
    - name
    - greeting: hi
  output:
    said: <% $.said %>
  tasks:
    hello:
      action: std.echo output="<% $.greeting %> <% $.name %>"
      publish:
        said: <% task().result %>
"""

WAITING = """version: '2.0'
wait_wf:
  tasks:
    wait:
      action: std.async_noop
      on-success: after
    after:
      action: std.echo output="done"
      publish:
        word: <% task().result %>
  output:
    word: <% $.word %>
"""

NEEDS_ENV = """version: '2.0'
env_wf:
  tasks:
    needs_env:
      action: std.echo output=<% env().word %>
      publish:
        said: <% task().result %>
"""

FAILING = """version: '2.0'
fail_wf:
  tasks:
    boom:
      action: std.fail
"""

EXECUTION_FIELDS = [
    "ID", "Workflow ID", "Workflow name", "Workflow namespace", "Description",
    "Task Execution ID", "Root Execution ID", "State", "State info", "Created at", "Updated at",
    "Duration",
]  # fmt: skip
TASK_FIELDS = [
    "ID", "Name", "Workflow name", "Workflow namespace", "Workflow Execution ID", "State",
    "State info", "Created at", "Started at", "Finished at", "Duration",
]  # fmt: skip
ACTION_EXECUTION_FIELDS = [
    "ID", "Name", "Workflow name", "Workflow namespace", "Task name", "Task ID", "State",
    "State info", "Accepted", "Created at", "Updated at",
]  # fmt: skip


@pytest.fixture(scope="module")
def workflows(server: Server) -> Server:
    for name, text in (
        ("run", RUNNABLE),
        ("wait", WAITING),
        ("env", NEEDS_ENV),
        ("fail", FAILING),
    ):
        server.ok("workflow-create", server.file(f"{name}.yaml", text))
    return server


def _action_of(server: Server, task_id: str) -> dict[str, object]:
    actions = server.both("action-execution-list", task_id)
    assert len(actions) == 1, actions
    return dict(actions[0])


def _only_task(server: Server, execution_id: str) -> dict[str, object]:
    tasks = server.both("task-list", execution_id)
    assert len(tasks) == 1, tasks
    return dict(tasks[0])


def test_execution_create_get_list_input_output_delete(workflows: Server) -> None:
    server = workflows
    created = server.table("execution-create", "run_wf", '{"name": "ann"}', "-d", "from cli")
    assert list(created) == EXECUTION_FIELDS
    assert (created["Workflow name"], created["Description"]) == ("run_wf", "from cli")
    assert (created["Task Execution ID"], created["Root Execution ID"]) == ("<none>", "<none>")
    assert created["State"] in ("RUNNING", "SUCCESS")
    assert created["Updated at"] not in ("None", "<none>")
    execution_id = created["ID"]
    done = server.wait(execution_id, "SUCCESS")
    got = server.both("execution-get", execution_id)
    assert got["State"] == "SUCCESS" and got["State info"] is None
    assert (got["ID"], got["Workflow ID"]) == (execution_id, done["Workflow ID"])
    assert got["Duration"].count(":") == 2  # finished: h:mm:ss, no trailing "..."

    second = server.json("execution-create", "run_wf", '{"name": "bob", "greeting": "yo"}')
    assert second["Description"] == ""
    server.wait(second["ID"], "SUCCESS")
    assert json.loads(server.ok("execution-get-output", second["ID"])) == {"said": "yo bob"}
    assert json.loads(server.ok("execution-get-input", execution_id)) == {
        "name": "ann",
        "greeting": "hi",
    }
    # The CLI prints them re-indented like Mistral's: four spaces.
    assert server.ok("execution-get-output", execution_id) == '{\n    "said": "hi ann"\n}\n'

    listed = server.both("execution-list")
    assert [item["ID"] for item in listed] == [execution_id, second["ID"]]
    assert list(listed[0]) == EXECUTION_FIELDS
    described = server.both("execution-list", "--filter", "description=from cli")
    assert [item["ID"] for item in described] == [execution_id]
    assert len(server.both("execution-list", "--limit", "1")) == 1

    assert server.ok("execution-delete", execution_id, second["ID"]).splitlines() == [
        f"Request to delete execution {execution_id} has been accepted.",
        f"Request to delete execution {second['ID']} has been accepted.",
    ]
    assert f"WorkflowExecution not found [id={execution_id}]" in server.fails(
        "execution-get", execution_id
    )
    refusals = {
        ("nope_wf",): "Workflow not found [workflow_identifier=nope_wf",
        ("run_wf",): "Invalid input [name=run_wf, class=DirectWorkflowSpec, missing=['name']]",
        ("run_wf", '{"name": 1}', '{"env": "nope_env"}'): "Environment is not found: nope_env",
    }
    for arguments, message in refusals.items():
        assert message in server.fails("execution-create", *arguments), arguments


def test_execution_update_pause_resume_cancel(workflows: Server) -> None:
    server = workflows
    execution_id = server.json("execution-create", "wait_wf")["ID"]
    server.wait(execution_id, "RUNNING")
    paused = server.table("execution-update", execution_id, "-s", "PAUSED")
    assert list(paused) == EXECUTION_FIELDS
    assert paused["State"] == "PAUSED"
    assert paused["Duration"].endswith("...")  # not finished yet
    assert server.both("execution-get", execution_id)["State"] == "PAUSED"
    # While paused the env may change (Mistral merges it into params).
    assert server.json("execution-update", execution_id, "-e", '{"k": 1}')["State"] == "PAUSED"
    resumed = server.json("execution-update", execution_id, "-s", "RUNNING")
    assert resumed["State"] == "RUNNING"
    refused = server.fails("execution-update", execution_id, "-e", '{"k": 2}')
    assert (
        "Updating env to workflow execution is only permitted if it is in IDLE, PAUSED, or "
        "ERROR state." in refused
    )
    described = server.table("execution-update", execution_id, "-d", "renamed")
    assert (described["Description"], described["State"]) == ("renamed", "RUNNING")
    cancelled = server.json("execution-update", execution_id, "-s", "CANCELLED")
    assert cancelled["State"] == "CANCELLED"
    assert server.both("execution-get", execution_id)["Description"] == "renamed"
    for state in ("PAUSED", "SUCCESS"):
        message = server.fails("execution-update", execution_id, "-s", state)
        assert (
            f"Can't change workflow execution state from CANCELLED to {state}. "
            f"[workflow=wait_wf, execution_id={execution_id}]"
        ) in message
    # Resuming, failing or cancelling a finished execution changes nothing.
    assert server.json("execution-update", execution_id, "-s", "ERROR")["State"] == "CANCELLED"
    server.ok("execution-delete", execution_id)


def test_action_execution_update_completes_a_waiting_task(workflows: Server) -> None:
    server = workflows
    execution_id = server.json("execution-create", "wait_wf")["ID"]
    server.wait(execution_id, "RUNNING")
    server.ok("execution-update", execution_id, "-d", "kept")
    task = _only_task(server, execution_id)
    assert (task["Name"], task["State"], task["Finished at"]) == ("wait", "RUNNING", "<none>")
    action = _action_of(server, str(task["ID"]))
    assert (action["Name"], action["State"], action["Accepted"]) == (
        "std.async_noop",
        "RUNNING",
        False,
    )
    assert (action["Workflow name"], action["Task name"], action["Task ID"]) == (
        "wait_wf",
        None,  # Mistral 23 no longer fills it
        task["ID"],
    )
    got = server.both("action-execution-get", str(action["ID"]))
    assert list(got) == ACTION_EXECUTION_FIELDS
    assert (got["State"], got["State info"]) == ("RUNNING", None)
    completed = server.table(
        "action-execution-update", str(action["ID"]), "--state", "SUCCESS", "--output", '{"v": 1}'
    )
    assert list(completed) == ACTION_EXECUTION_FIELDS
    assert completed["State"] == "SUCCESS"
    assert json.loads(server.ok("action-execution-get-output", str(action["ID"]))) == {
        "result": {"v": 1}
    }
    assert json.loads(server.ok("action-execution-get-input", str(action["ID"]))) == {}
    finished = server.wait(execution_id, "SUCCESS")
    # A description set while the engine was working on the execution survives its steps.
    assert finished["Description"] == "kept"
    assert json.loads(server.ok("execution-get-output", execution_id)) == {"word": "done"}
    assert server.both("action-execution-get", str(action["ID"]))["Accepted"] is True
    names = [item["Name"] for item in server.both("task-list", execution_id)]
    assert sorted(names) == ["after", "wait"]
    again = server.fails("action-execution-update", str(action["ID"]), "--state", "ERROR")
    assert f"Action {action['ID']} is already completed" in again


def test_task_get_published_result_and_rerun(workflows: Server) -> None:
    server = workflows
    execution_id = server.json("execution-create", "env_wf")["ID"]
    failed = server.wait(execution_id, "ERROR")
    assert "Can not evaluate YAQL expression [expression=env().word" in failed["State info"]
    task = _only_task(server, execution_id)
    assert list(task) == TASK_FIELDS
    assert (task["Name"], task["State"], task["Workflow name"]) == ("needs_env", "ERROR", "env_wf")
    task_id = str(task["ID"])
    got = server.both("task-get", task_id)
    assert got["State info"].startswith("Failed to run task [error=Can not evaluate YAQL")
    assert got["Workflow Execution ID"] == execution_id
    assert "Only with-items task has the option to not reset." in server.fails(
        "task-rerun", task_id, "--resume"
    )
    rerun = server.table("task-rerun", task_id, "-e", '{"word": "hello"}')
    assert list(rerun) == TASK_FIELDS
    assert (rerun["ID"], rerun["Name"]) == (task_id, "needs_env")
    server.wait(execution_id, "SUCCESS")
    assert server.both("task-get", task_id)["State"] == "SUCCESS"
    assert json.loads(server.ok("task-get-published", task_id)) == {"said": "hello"}
    assert json.loads(server.ok("task-get-result", task_id)) == "hello"
    assert "The current task execution must be in ERROR for rerun." in server.fails(
        "task-rerun", task_id
    )
    assert "Task execution not found [id=nope]" in server.fails("task-get", "nope")
    everything = [item["ID"] for item in server.both("task-list")]
    assert task_id in everything


def test_execution_report(workflows: Server) -> None:
    server = workflows
    execution_id = server.json("execution-create", "fail_wf")["ID"]
    server.wait(execution_id, "ERROR")
    task = _only_task(server, execution_id)
    action = _action_of(server, str(task["ID"]))
    assert (action["State"], action["Accepted"]) == ("ERROR", True)
    assert server.both("action-execution-get", str(action["ID"]))["State info"] is None
    output = json.loads(server.ok("action-execution-get-output", str(action["ID"])))
    assert "Fail action expected exception." in output["result"]
    report = server.ok("execution-get-report", execution_id).splitlines()
    assert "Number of tasks in ERROR state: 1" in report
    assert "Number of tasks in SUCCESS state: 0" in report
    assert "Estimated time (seconds) for the execution to finish: 0" in report
    tree = report[report.index(f"workflow 'fail_wf' [ERROR] {execution_id}") :]
    assert tree[1] == f"    task 'boom' [ERROR] {task['ID']}"
    assert tree[2].startswith("    (error info: The action raised an exception [action=Fail")
    assert tree[3] == f"        action 'std.fail' [ERROR] {action['ID']}"
    assert "Number of tasks in ERROR state: 1" in server.ok(
        "execution-get-report", execution_id, "--statistics-only"
    )


def test_execution_delete_needs_force_while_running(workflows: Server) -> None:
    server = workflows
    execution_id = server.json("execution-create", "wait_wf")["ID"]
    server.wait(execution_id, "RUNNING")
    refused = server.fails("execution-delete", execution_id)
    assert (
        "Only completed executions can be deleted. Use --force to override this. "
        f"Execution {execution_id} is in RUNNING state"
    ) in refused
    assert f"Request to delete execution {execution_id} has been accepted." in server.ok(
        "execution-delete", execution_id, "--force"
    )
    assert server.mistral("execution-get", execution_id)[0] == 1


def test_run_action_sync_and_async(workflows: Server) -> None:
    server = workflows
    # Sync without saving: the CLI prints the result itself, table or not.
    assert server.ok("run-action", "std.echo", '{"output": "direct"}') == '{"result": "direct"}\n'
    assert server.ok("run-action", "std.echo", '{"output": 3}', "-f", "json") == '{"result": 3}\n'
    failing = server.ok("run-action", "std.fail")
    assert failing.startswith('{"result": "The action raised an exception')

    saved = server.table("run-action", "std.echo", '{"output": "kept"}', "--save-result")
    assert list(saved) == ACTION_EXECUTION_FIELDS
    assert (saved["Name"], saved["Workflow name"], saved["Task ID"]) == ("std.echo", "None", "None")
    assert saved["State"] in ("RUNNING", "SUCCESS")
    # Saved, it runs on the executor: its output is there once it has finished.
    wait_for(
        lambda: server.json("action-execution-get", saved["ID"])["State"] == "SUCCESS",
        what=f"action execution {saved['ID']} to succeed",
        seen=lambda: server.json("action-execution-get", saved["ID"]),
    )
    kept = server.both("action-execution-get", saved["ID"])
    assert kept["Name"] == "std.echo"
    assert json.loads(server.ok("action-execution-get-output", saved["ID"])) == {"result": "kept"}

    # An async action run alone: stored, RUNNING until its result is sent.
    pending = server.json("run-action", "std.async_noop", "-s")
    assert (pending["State"], pending["Updated at"]) == ("RUNNING", "<none>")
    action_id = pending["ID"]
    listed = server.both("action-execution-list", "--filter", "name=std.async_noop")
    assert action_id in [item["ID"] for item in listed]
    paused = server.table("action-execution-update", action_id, "--state", "PAUSED")
    assert paused["State"] == "PAUSED"
    assert server.json("action-execution-update", action_id, "--state", "RUNNING")["State"] == (
        "RUNNING"
    )
    done = server.json(
        "action-execution-update", action_id, "--state", "SUCCESS", "--output", '{"x": 1}'
    )
    assert done["State"] == "SUCCESS"
    assert json.loads(server.ok("action-execution-get-output", action_id)) == {"result": {"x": 1}}
    refusals = {
        ("std.async_noop", "--run-sync"): "Action does not support synchronous execution.",
        ("nope.nope",): "Failed to find action [action_name=nope.nope]",
        ("std.echo",): "Invalid input [name=std.echo",
    }
    for arguments, message in refusals.items():
        assert message in server.fails("run-action", *arguments), arguments
    assert "ActionExecution not found [id=nope]" in server.fails("action-execution-get", "nope")
    # Mistral refuses to delete action executions unless configured to.
    assert "Action execution deletion is not allowed." in server.fails(
        "action-execution-delete", action_id
    )


def test_a_stored_standalone_action_is_not_accepted_until_its_result(workflows: Server) -> None:
    server = workflows
    pending = server.json("run-action", "std.async_noop", "-s")
    assert pending["Accepted"] is False
    server.ok("action-execution-update", pending["ID"], "--state", "SUCCESS", "--output", "{}")
    assert server.json("action-execution-get", pending["ID"])["Accepted"] is True


def test_the_action_list_has_every_std_action_of_mistral(workflows: Server) -> None:
    names = {item["Name"] for item in workflows.json("action-list")}
    assert "std.wait_ssh" in names


RUN_ACTION_ADHOC = """version: '2.0'
cli_ra_greet:
  base: std.echo
  base-input:
    output: "Hello <% $.name %>"
  input:
    - name
  output: <% $ %>!
"""


def test_run_action_as_mistral_23_prints_it(workflows: Server) -> None:
    # Every expectation below is what `mistral run-action` (python-mistralclient 6.3)
    # printed against a real Mistral 23 (shared/oracle) for the same commands.
    server = workflows
    server.ok("action-create", server.file("ra_adhoc.yaml", RUN_ACTION_ADHOC))
    # Mistral 23: {"result": "Hello Ann"} (an ad-hoc action run alone: its output
    # transform is not applied to an unsaved run).
    assert server.ok("run-action", "cli_ra_greet", '{"name": "Ann"}') == (
        '{"result": "Hello Ann"}\n'
    )
    # Mistral 23 with -s: {"Name": "cli_ra_greet", "State": "RUNNING"}; then the
    # saved execution ends SUCCESS with the transform applied.
    saved = server.json("run-action", "cli_ra_greet", '{"name": "Ann"}', "-s")
    assert (saved["Name"], saved["State"]) == ("cli_ra_greet", "RUNNING")
    wait_for(
        lambda: server.json("action-execution-get", saved["ID"])["State"] == "SUCCESS",
        what=f"the saved ad-hoc run {saved['ID']} to succeed",
        seen=lambda: server.json("action-execution-get", saved["ID"]),
    )
    assert json.loads(server.ok("action-execution-get-output", saved["ID"])) == {
        "result": "Hello Ann!"
    }
    # Mistral 23: ERROR (app) ActionException: Invalid input [name=cli_ra_greet,
    # class=mistral.actions.adhoc.AdHocAction, missing=['name']] (exit 1; the CLI run in
    # this process logs without the "ERROR (app)" prefix).
    assert (
        "ActionException: Invalid input [name=cli_ra_greet, "
        "class=mistral.actions.adhoc.AdHocAction, missing=['name']]"
    ) in server.fails("run-action", "cli_ra_greet", "{}")
    # Mistral 23 with --run-sync -s: {"result": "hi"}; the stored execution is
    # SUCCESS, not accepted, never updated (GET: "accepted": false, "updated_at": null,
    # which the CLI prints as <none>).
    assert server.ok("run-action", "std.echo", '{"output": "hi"}', "-s", "--run-sync") == (
        '{"result": "hi"}\n'
    )
    stored = [
        item
        for item in server.json("action-execution-list", "--filter", "name=std.echo")
        if item["Task ID"] is None
    ]
    latest = server.json("action-execution-get", stored[-1]["ID"])
    assert (latest["State"], latest["Accepted"], latest["Updated at"]) == (
        "SUCCESS",
        False,
        "<none>",
    )
    # Mistral 23 with -t: the run goes to the executor of that target; the embedded
    # server's executor serves every target, as the oracle's one process did:
    # {"result": "t"}, and with -s {"State": "RUNNING"} then SUCCESS.
    assert server.ok("run-action", "std.echo", '{"output": "t"}', "-t", "127.0.0.1") == (
        '{"result": "t"}\n'
    )
    targeted = server.json("run-action", "std.echo", '{"output": "t"}', "-s", "-t", "127.0.0.1")
    assert targeted["State"] == "RUNNING"
    wait_for(
        lambda: server.json("action-execution-get", targeted["ID"])["State"] == "SUCCESS",
        what=f"the targeted run {targeted['ID']} to succeed",
    )
    # Mistral 23: ERROR (app) Expecting value: line 1 column 1 (char 0), exit 1 (the
    # CLI's own JSON check).
    assert "Expecting value: line 1 column 1 (char 0)" in server.fails(
        "run-action", "std.echo", "not json"
    )

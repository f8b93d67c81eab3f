"""Project isolation: project alpha tries every route and list filter on project beta's
data, through the API and the ``mistral`` CLI, and the leaks are counted: 0.

The test cannot pass by accident: every read alpha tries is tried again with
beta's own token, and must find beta's data there (a probe that finds nothing
for the owner proves nothing for the intruder). Writes are tried first, and
beta's data is compared before and after.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from mistralclient import shell
from secured_server import SecuredServer, secured_server

from sirocco.settings import Settings

WORKFLOWS = """
version: '2.0'
wf_{p}:
  input:
    - secret_input
  tasks:
    first:
      action: std.echo output=<% $.secret_input %>
      publish:
        echoed: <% task().result %>
      on-success: [call]
    call:
      workflow: sub_{p}
sub_{p}:
  tasks:
    inner:
      action: std.noop
"""

WORKBOOK = """
version: '2.0'
name: wb_{p}
workflows:
  book_wf:
    tasks:
      one:
        action: std.noop
actions:
  book_action:
    base: std.echo
    base-input:
      output: 1
"""

ACTION = """
version: '2.0'
act_{p}:
  base: std.echo
  base-input:
    output: "{p}"
"""


@dataclass
class Project:
    """What one project put in the database, by name and id."""

    name: str
    token: str
    ids: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)

    def markers(self) -> set[str]:
        return set(self.ids.values()) | set(self.names.values()) | {f"secret-of-{self.name}"}


def _populate(client: httpx.Client, project: Project) -> None:
    p = project.name
    headers = {"X-Auth-Token": project.token}

    def ok(answer: httpx.Response) -> Any:
        assert answer.status_code < 300, (answer.request.url, answer.text)
        return answer.json() if answer.content else None

    made = ok(client.post("/workflows", content=WORKFLOWS.format(p=p), headers=headers))
    project.ids["workflow"] = made["workflows"][0]["id"]
    project.ids["subworkflow"] = made["workflows"][1]["id"]
    project.names["workflow"] = f"wf_{p}"
    book = ok(client.post("/workbooks", content=WORKBOOK.format(p=p), headers=headers))
    project.ids["workbook"] = book["id"]
    project.names["workbook"] = f"wb_{p}"
    made = ok(client.post("/actions", content=ACTION.format(p=p), headers=headers))
    project.ids["action"] = made["actions"][0]["id"]
    project.names["action"] = f"act_{p}"
    env = {"name": f"env_{p}", "variables": json.dumps({"password": f"secret-of-{p}"})}
    project.ids["environment"] = ok(client.post("/environments", json=env, headers=headers))["id"]
    project.names["environment"] = f"env_{p}"
    cron = {
        "name": f"cron_{p}",
        "pattern": "0 0 1 1 *",
        "workflow_name": f"wf_{p}",
        "workflow_input": json.dumps({"secret_input": f"secret-of-{p}"}),
    }
    project.ids["cron_trigger"] = ok(client.post("/cron_triggers", json=cron, headers=headers))[
        "id"
    ]
    project.names["cron_trigger"] = f"cron_{p}"
    event = {
        "name": f"event_{p}",
        "workflow_id": project.ids["workflow"],
        "exchange": "openstack",
        "topic": "notifications",
        "event": f"compute.{p}",
        "workflow_input": json.dumps({"secret_input": f"secret-of-{p}"}),
    }
    project.ids["event_trigger"] = ok(client.post("/event_triggers", json=event, headers=headers))[
        "id"
    ]
    start = {"workflow_name": f"wf_{p}", "input": json.dumps({"secret_input": f"secret-of-{p}"})}
    execution = ok(client.post("/executions", json=start, headers=headers))
    project.ids["execution"] = execution["id"]
    deadline = time.monotonic() + 60
    while True:
        state = ok(client.get(f"/executions/{execution['id']}", headers=headers))["state"]
        if state == "SUCCESS":
            break
        assert time.monotonic() < deadline and state == "RUNNING", f"execution is {state}"
        time.sleep(0.05)
    tasks = ok(client.get(f"/executions/{execution['id']}/tasks", headers=headers))["tasks"]
    by_name = {task["name"]: task["id"] for task in tasks}
    project.ids["task"] = by_name["first"]
    project.ids["subworkflow_task"] = by_name["call"]
    actions = ok(client.get(f"/tasks/{by_name['first']}/action_executions", headers=headers))
    project.ids["action_execution"] = actions["action_executions"][0]["id"]
    subs = ok(client.get(f"/tasks/{by_name['call']}/workflow_executions", headers=headers))
    project.ids["subworkflow_execution"] = subs["executions"][0]["id"]
    standalone = {
        "name": "std.echo",
        "input": json.dumps({"output": f"secret-of-{p}"}),
        "params": json.dumps({"save_result": True}),
    }
    project.ids["standalone_action"] = ok(
        client.post("/action_executions", json=standalone, headers=headers)
    )["id"]


def _reads(b: Project) -> list[str]:
    """Every read route, with beta's ids and names (alpha must get 404 on each)."""
    i, n = b.ids, b.names
    return [
        f"/workflows/{i['workflow']}",
        f"/workflows/{n['workflow']}",
        f"/workbooks/{n['workbook']}",
        f"/actions/{n['action']}",
        f"/actions/{i['action']}",
        f"/environments/{n['environment']}",
        f"/cron_triggers/{n['cron_trigger']}",
        f"/cron_triggers/{i['cron_trigger']}",
        f"/event_triggers/{i['event_trigger']}",
        f"/executions/{i['execution']}",
        f"/executions/{i['subworkflow_execution']}",
        f"/executions/{i['execution']}/report",
        f"/tasks/{i['task']}",
        f"/tasks/{i['task']}/action_executions/{i['action_execution']}",
        f"/action_executions/{i['action_execution']}",
        f"/action_executions/{i['standalone_action']}",
    ]


def _lists(b: Project) -> list[str]:
    """Every list, plain and filtered by beta's ids and names (alpha must see none of it)."""
    i, n = b.ids, b.names
    return [
        "/workflows",
        f"/workflows?name={n['workflow']}",
        f"/workflows?namespace=&name=sub_{b.name}",
        "/workbooks",
        f"/workbooks?name={n['workbook']}",
        "/actions",
        f"/actions?name={n['action']}",
        "/environments",
        f"/environments?name={n['environment']}",
        "/cron_triggers",
        f"/cron_triggers?name={n['cron_trigger']}",
        f"/cron_triggers?workflow_name={n['workflow']}",
        "/event_triggers",
        f"/event_triggers?workflow_id={i['workflow']}",
        "/executions",
        f"/executions?workflow_name={n['workflow']}",
        f"/executions?workflow_id={i['workflow']}",
        f"/executions?root_execution_id={i['execution']}",
        f"/executions?task_execution_id={i['subworkflow_task']}",
        f"/executions?include_output=true&input=has:secret-of-{b.name}",
        "/tasks",
        f"/tasks?workflow_execution_id={i['execution']}",
        f"/tasks?workflow_name={n['workflow']}",
        "/action_executions",
        f"/action_executions?task_execution_id={i['task']}",
        f"/action_executions?workflow_name={n['workflow']}",
        "/action_executions?include_output=true&name=std.echo",
        f"/executions/{i['execution']}/tasks",
        f"/executions/{i['execution']}/executions",
        f"/tasks/{i['task']}/action_executions",
        f"/tasks/{i['subworkflow_task']}/workflow_executions",
        f"/tasks/{i['subworkflow_task']}/executions",
    ]


def _writes(b: Project) -> list[tuple[str, str, dict[str, Any]]]:
    """Every change, aimed at beta's resources (each must be refused)."""
    i, n, p = b.ids, b.names, b.name
    text = {"headers": {"Content-Type": "text/plain"}}
    return [
        ("PUT", f"/executions/{i['execution']}", {"json": {"description": "taken"}}),
        ("PUT", f"/executions/{i['execution']}", {"json": {"state": "PAUSED"}}),
        ("PUT", f"/tasks/{i['task']}", {"json": {"state": "RUNNING", "reset": True}}),
        ("PUT", f"/action_executions/{i['standalone_action']}", {"json": {"state": "SUCCESS"}}),
        ("PUT", "/workflows", {"content": WORKFLOWS.format(p=p), **text}),
        ("PUT", f"/workflows/{i['workflow']}", {"content": WORKFLOWS.format(p=p), **text}),
        ("PUT", "/workbooks", {"content": WORKBOOK.format(p=p), **text}),
        ("PUT", "/actions", {"content": ACTION.format(p=p), **text}),
        ("PUT", f"/actions/{n['action']}", {"content": ACTION.format(p=p), **text}),
        ("PUT", "/environments", {"json": {"name": n["environment"], "description": "taken"}}),
        ("PUT", f"/event_triggers/{i['event_trigger']}", {"json": {"name": "taken"}}),
        ("POST", "/executions", {"json": {"workflow_name": n["workflow"]}}),
        ("POST", "/executions", {"json": {"workflow_id": i["workflow"]}}),
        ("POST", "/executions", {"json": {"source_execution_id": i["execution"]}}),
        (
            "POST",
            "/executions",
            {
                "json": {
                    "workflow_name": "wf_alpha",
                    "params": json.dumps({"env": n["environment"]}),
                    "input": json.dumps({"secret_input": 1}),
                }
            },
        ),
        ("POST", "/executions", {"json": {"id": i["execution"], "workflow_name": "wf_alpha"}}),
        ("POST", "/action_executions", {"json": {"name": n["action"]}}),
        (
            "POST",
            "/cron_triggers",
            {"json": {"name": "c", "pattern": "* * * * *", "workflow_name": n["workflow"]}},
        ),
        (
            "POST",
            "/event_triggers",
            {"json": {"workflow_id": i["workflow"], "exchange": "x", "topic": "t", "event": "e"}},
        ),
        ("DELETE", f"/executions/{i['execution']}?force=true", {}),
        ("DELETE", f"/action_executions/{i['standalone_action']}", {}),
        ("DELETE", f"/workflows/{n['workflow']}", {}),
        ("DELETE", f"/workflows/{i['workflow']}", {}),
        ("DELETE", f"/workbooks/{n['workbook']}", {}),
        ("DELETE", f"/actions/{n['action']}", {}),
        ("DELETE", f"/environments/{n['environment']}", {}),
        ("DELETE", f"/cron_triggers/{n['cron_trigger']}", {}),
        ("DELETE", f"/event_triggers/{i['event_trigger']}", {}),
    ]


THIEF = """
version: '2.0'
thief:
  tasks:
    call:
      workflow: {name}
      input:
        secret_input: 1
"""


def _borrow_a_subworkflow(
    client: httpx.Client, intruder: dict[str, str], owner: Project
) -> list[str]:
    """Alpha's own workflow calling beta's private one by name must fail, showing nothing."""
    text = THIEF.format(name=owner.names["workflow"])
    made = client.post("/workflows", content=text, headers=intruder)
    assert made.status_code == 201, made.text
    started = client.post("/executions", json={"workflow_name": "thief"}, headers=intruder)
    assert started.status_code == 201, started.text
    execution = started.json()["id"]
    deadline = time.monotonic() + 60
    while (found := client.get(f"/executions/{execution}", headers=intruder).json())[
        "state"
    ] == "RUNNING":
        assert time.monotonic() < deadline, "the thief's execution did not end"
        time.sleep(0.05)
    tasks = client.get(f"/executions/{execution}/tasks", headers=intruder).text
    subs = client.get(f"/executions/{execution}/executions", headers=intruder).text
    shown = json.dumps(found) + tasks + subs
    if found["state"] != "ERROR" or _leaks(shown, owner, owner.names["workflow"]):
        return [f"sub-workflow {owner.names['workflow']}: {found['state']} {shown[:300]}"]
    return []


def _leaks(text: str, owner: Project, asked: str = "") -> list[str]:
    """The owner's ids and secrets that ``text`` shows, beyond those the request named
    (a 404 message repeats the id it was asked for)."""
    return sorted(marker for marker in owner.markers() if marker in text and marker not in asked)


def _snapshot(client: httpx.Client, owner: Project) -> str:
    headers = {"X-Auth-Token": owner.token}
    parts = [client.get(path, headers=headers).text for path in _reads(owner)]
    parts += [client.get(path, headers=headers).text for path in _lists(owner)]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SecuredServer, Project, Project]]:
    folder = tmp_path_factory.mktemp("isolation")
    with secured_server(folder, "tokens", Settings()) as server:
        alpha = Project("alpha", server.token("alpha"))
        beta = Project("beta", server.token("beta"))
        with httpx.Client(base_url=server.url, timeout=60) as client:
            _populate(client, alpha)
            _populate(client, beta)
        yield server, alpha, beta


def test_project_alpha_never_sees_or_changes_project_beta_through_the_api(
    world: tuple[SecuredServer, Project, Project],
) -> None:
    server, alpha, beta = world
    intruder = {"X-Auth-Token": alpha.token}
    owner = {"X-Auth-Token": beta.token}
    leaks: list[str] = []
    with httpx.Client(base_url=server.url, timeout=60) as client:
        before = _snapshot(client, beta)
        for method, path, extra in _writes(beta):
            options = dict(extra)
            headers = {**intruder, **options.pop("headers", {})}
            answer = client.request(method, path, headers=headers, **options)
            if answer.status_code < 400 or answer.status_code >= 500:
                leaks.append(f"{method} {path}: {answer.status_code} {answer.text[:200]}")
        assert _snapshot(client, beta) == before, "a write of alpha changed beta's data"
        blind: list[str] = []
        for path in _reads(beta):
            answer = client.get(path, headers=intruder)
            if answer.status_code != 404 or _leaks(answer.text, beta, path):
                leaks.append(f"GET {path}: {answer.status_code} {answer.text[:200]}")
            mine = client.get(path, headers=owner)
            if mine.status_code != 200:
                blind.append(f"GET {path}: {mine.status_code}")
        for path in _lists(beta):
            answer = client.get(path, headers=intruder)
            found = _leaks(answer.text, beta, path)
            if answer.status_code not in (200, 404) or found:
                leaks.append(f"GET {path}: {answer.status_code} shows {found}")
            mine = client.get(path, headers=owner)
            if mine.status_code != 200 or not _leaks(mine.text, beta, path):
                blind.append(f"GET {path}: {mine.status_code} {mine.text[:200]}")
        # last: the thief's own definition names beta's workflow
        leaks += _borrow_a_subworkflow(client, intruder, beta)
    assert leaks == [], f"{len(leaks)} leaks:\n" + "\n".join(leaks)
    # The probe works: beta's own token sees beta's data on every one of those routes.
    assert blind == [], "the owner does not see its data:\n" + "\n".join(blind)


def _auth(url: str, token: str) -> list[str]:
    """The mistral CLI's options for a built-in token: keystoneauth exchanges it at
    Sirocco's own token endpoint (``/identity/v3``)."""
    identity = url.removesuffix("/v2") + "/identity/v3"
    return ["--os-auth-url", identity, "--os-auth-token", token, "--os-mistral-url", url]


def _mistral(url: str, token: str, *args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    logging.getLogger().addHandler(handler)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = shell.main([*_auth(url, token), *args])
            except SystemExit as exc:  # argparse: a wrong command line in this test
                raise AssertionError(f"mistral {' '.join(args)}: {err.getvalue()}") from exc
    finally:
        logging.getLogger().removeHandler(handler)
    return int(code or 0), out.getvalue() + err.getvalue()


def test_project_alpha_never_sees_project_beta_through_the_mistral_cli(
    world: tuple[SecuredServer, Project, Project], tmp_path: Path
) -> None:
    server, alpha, beta = world
    i, n = beta.ids, beta.names
    gets = [
        ("workflow-get", i["workflow"]),
        ("workflow-get", n["workflow"]),
        ("workflow-get-definition", n["workflow"]),
        ("workbook-get", n["workbook"]),
        ("workbook-get-definition", n["workbook"]),
        ("action-get", n["action"]),
        ("action-get-definition", n["action"]),
        ("environment-get", n["environment"]),
        ("cron-trigger-get", n["cron_trigger"]),
        ("event-trigger-get", i["event_trigger"]),
        ("execution-get", i["execution"]),
        ("execution-get-input", i["execution"]),
        ("execution-get-output", i["execution"]),
        ("execution-get-report", i["execution"]),
        ("task-get", i["task"]),
        ("task-get-result", i["task"]),
        ("task-get-published", i["task"]),
        ("action-execution-get", i["action_execution"]),
        ("action-execution-get-input", i["standalone_action"]),
        ("action-execution-get-output", i["standalone_action"]),
    ]
    lists = [
        ("workflow-list",),
        ("workbook-list",),
        ("action-list",),
        ("environment-list",),
        ("cron-trigger-list",),
        ("event-trigger-list",),
        ("execution-list",),
        ("execution-list", "--task", i["subworkflow_task"]),
        ("execution-list", "--filter", f"root_execution_id={i['execution']}"),
        ("task-list",),
        ("task-list", i["execution"]),
        ("action-execution-list",),
        ("action-execution-list", i["task"]),
        ("execution-list", "--filter", f"workflow_name={n['workflow']}"),
        ("task-list", "--filter", f"workflow_name={n['workflow']}"),
    ]
    writes = [
        ("execution-update", i["execution"], "-s", "PAUSED"),
        ("execution-update", i["execution"], "-d", "taken"),
        ("execution-delete", i["execution"], "--force"),
        ("execution-create", n["workflow"]),
        ("task-rerun", i["task"]),
        ("workflow-delete", n["workflow"]),
        ("workbook-delete", n["workbook"]),
        ("action-delete", n["action"]),
        ("environment-delete", n["environment"]),
        ("cron-trigger-delete", n["cron_trigger"]),
        ("event-trigger-delete", i["event_trigger"]),
        ("action-execution-delete", i["standalone_action"]),
        ("run-action", n["action"]),
    ]
    leaks: list[str] = []
    blind: list[str] = []
    for command in writes:
        code, text = _mistral(server.url, alpha.token, *command)
        if code == 0 or _leaks(text, beta, " ".join(command)):
            leaks.append(f"mistral {' '.join(command)}: exit {code} {text[:200]}")
    for command in gets:
        code, text = _mistral(server.url, alpha.token, *command)
        if code == 0 or _leaks(text, beta, " ".join(command)):
            leaks.append(f"mistral {' '.join(command)}: exit {code} {text[:200]}")
        code, text = _mistral(server.url, beta.token, *command)
        if code != 0:
            blind.append(f"mistral {' '.join(command)}: exit {code} {text[:200]}")
    for command in lists:
        code, text = _mistral(server.url, alpha.token, *command, "-f", "json")
        found = _leaks(text, beta, " ".join(command))
        if found:
            leaks.append(f"mistral {' '.join(command)}: exit {code} shows {found}")
        code, text = _mistral(server.url, beta.token, *command, "-f", "json")
        if code != 0 or not _leaks(text, beta, " ".join(command)):
            blind.append(f"mistral {' '.join(command)}: exit {code} {text[:200]}")
    assert leaks == [], f"{len(leaks)} leaks:\n" + "\n".join(leaks)
    assert blind == [], "the owner does not see its data:\n" + "\n".join(blind)
    code, text = _mistral(server.url, "sir_wrong", "workflow-list")
    assert code != 0 and "Invalid or expired token." in text, text

"""Mistral 23's newer routes through the real ``mistral`` CLI (python-mistralclient 6.3):
maintenance mode seen by the CLI, code sources and dynamic actions.

The CLI has no maintenance command; while maintenance is on, its changing commands
fail with one line naming the mode, as against Mistral 23 (which prints
``Current Mistral state is PAUSED. Method is not allowed`` in its HTML error page).
"""

from __future__ import annotations

import json

import httpx
from api_cli_server import Server

from tests.waiting import BOUND

WORKFLOW = """version: '2.0'
cli_maint:
  tasks:
    t:
      action: std.noop
"""


def _maintenance(server: Server, status: str) -> str:
    root = server.url.removesuffix("/v2")
    answer = httpx.put(f"{root}/maintenance", json={"status": status}, timeout=BOUND)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


def test_cli_changes_are_refused_in_maintenance(server: Server) -> None:
    server.ok("workflow-create", server.file("maint.yaml", WORKFLOW))
    try:  # the module's server is shared: whatever happens, it leaves maintenance
        assert _maintenance(server, "PAUSED") == "PAUSING"
        printed = server.fails("execution-create", "cli_maint")
        assert "Current Mistral state is PAUSED. Method is not allowed" in printed
        assert "Traceback" not in printed
        # Reads still work.
        assert server.names("workflow-list") == ["cli_maint"]
    finally:
        assert _maintenance(server, "RUNNING") == "RUNNING"
    execution = server.json("execution-create", "cli_maint")
    server.wait(execution["ID"], "SUCCESS")


MODULE = '''from mistral_lib import actions


class Greet(actions.Action):
    """Says hello."""

    def __init__(self, name, punctuation="!"):
        self.name = name
        self.punctuation = punctuation

    def run(self, context):
        return "Hello, %s%s" % (self.name, self.punctuation)
'''

USES_GREET = """version: '2.0'
cli_uses_greet:
  tasks:
    hello:
      action: cli_greet
      input:
        name: CLI
      publish:
        said: <% task().result %>
"""


def test_code_sources_and_dynamic_actions_through_the_cli(server: Server) -> None:
    # Mistral 23 (policy opened for code sources: its default is admins only, and without
    # Keystone no caller is one) prints the same columns and values for these commands.
    path = server.file("cli_mod.py", MODULE)
    created = server.json("code-source-create", "cli_mod", path)
    assert {key: created[key] for key in ("Name", "Namespace", "Project ID", "Scope")} == {
        "Name": "cli_mod",
        "Namespace": "",
        "Project ID": "<default-project>",
        "Scope": "private",
    }
    assert created["Updated at"] is None
    shown = server.both("code-source-get", "cli_mod")
    assert shown["ID"] == created["ID"]
    assert [item["Name"] for item in server.both("code-source-list")] == ["cli_mod"]
    action = server.json("dynamic-action-create", "cli_greet", "Greet", "cli_mod")
    assert {
        key: action[key] for key in ("Name", "Class", "Code source ID", "Code source name")
    } == {
        "Name": "cli_greet",
        "Class": "Greet",
        "Code source ID": created["ID"],
        "Code source name": "cli_mod",
    }
    assert server.both("dynamic-action-get", "cli_greet")["ID"] == action["ID"]
    assert [item["Name"] for item in server.both("dynamic-action-list")] == ["cli_greet"]

    server.ok("workflow-create", server.file("uses_greet.yaml", USES_GREET))
    execution = server.json("execution-create", "cli_uses_greet")
    done = server.wait(execution["ID"], "SUCCESS", "ERROR")
    assert done["State"] == "SUCCESS", done
    tasks = server.json("task-list", execution["ID"])
    published = json.loads(server.ok("task-get-published", tasks[0]["ID"]))
    assert published == {"said": "Hello, CLI!"}
    ran = server.json("run-action", "cli_greet", '{"name": "run-action"}')
    assert ran == {"result": "Hello, run-action!"}

    server.file("cli_mod.py", MODULE.replace("Hello", "Hi"))
    server.ok("code-source-update", "cli_mod", path)
    assert server.json("run-action", "cli_greet", '{"name": "again"}') == {"result": "Hi, again!"}
    updated = server.json("dynamic-action-update", "cli_greet", "--class-name", "Greet", "--public")
    assert updated["Scope"] == "public" and updated["Updated at"] is not None

    assert "has been accepted" in server.ok("dynamic-action-delete", "cli_greet")
    assert "has been accepted" in server.ok("code-source-delete", "cli_mod")
    printed = server.fails("code-source-get", "cli_mod")
    assert "Code Source not found [name=cli_mod,namespace=]" in printed
    assert "Traceback" not in printed

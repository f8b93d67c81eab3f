"""The engine resolves names in the execution's project: ad-hoc actions, sub-workflows,
``executions()``; never another project's private definitions (authentication on)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sirocco.api import authentication
from sirocco.api.app import create_app
from sirocco.cli.embedded import open_embedded
from sirocco.settings import Settings
from sirocco.store import tokens
from tests.waiting import wait_for

BETA_ACTIONS = """version: '2.0'
shout:
  input:
    - text
  base: std.echo
  base-input:
    output: <% $.text.toUpper() %> (beta)
"""
BETA_PUBLIC_ACTIONS = """version: '2.0'
greet_all:
  base: std.echo
  base-input:
    output: hello from a public action
"""
BETA_WORKFLOWS = """version: '2.0'
b_only:
  tasks:
    t:
      action: std.noop
b_flow:
  tasks:
    t:
      action: shout
      input:
        text: hi
      publish:
        said: <% task().result %>
  output:
    said: <% $.said %>
"""
ALPHA_WORKFLOWS = """version: '2.0'
a_adhoc:
  tasks:
    t:
      action: shout
      input:
        text: hi
a_sub:
  tasks:
    t:
      workflow: b_only
a_public:
  tasks:
    t:
      action: greet_all
      publish:
        said: <% task().result %>
  output:
    said: <% $.said %>
a_count:
  tasks:
    t:
      action: std.noop
      publish:
        seen: <% executions().select($.workflow_name) %>
  output:
    seen: <% $.seen %>
"""


@pytest.fixture
def service(tmp_path: Path) -> Iterator[dict[str, Any]]:
    embedded = open_embedded(f"sqlite:///{tmp_path / 'engine.sqlite'}")
    try:
        database = embedded.parts.database
        now = datetime.now(UTC).replace(tzinfo=None)
        with database.transaction() as connection:
            _made, alpha = tokens.create(connection, project_id="alpha", role="member", now=now)
            _made, beta = tokens.create(connection, project_id="beta", role="member", now=now)
        gate = authentication.gate_for("tokens", Settings(), database)
        client = TestClient(create_app(embedded.service, gate=gate))
        yield {"client": client, "alpha": {"X-Auth-Token": alpha}, "beta": {"X-Auth-Token": beta}}
    finally:
        embedded.close()


def _upload(client: TestClient, path: str, text: str, headers: dict[str, str]) -> None:
    made = client.post(path, content=text, headers={**headers, "Content-Type": "text/plain"})
    assert made.status_code == 201, made.text


def _run(client: TestClient, workflow: str, headers: dict[str, str]) -> dict[str, Any]:
    started = client.post("/v2/executions", json={"workflow_name": workflow}, headers=headers)
    assert started.status_code == 201, started.text
    path = f"/v2/executions/{started.json()['id']}"

    def ended() -> dict[str, Any] | None:
        found: dict[str, Any] = client.get(path, headers=headers).json()
        return found if found["state"] in ("SUCCESS", "ERROR") else None

    return wait_for(ended, what=f"{workflow} to end")


def test_an_execution_never_resolves_another_projects_private_names(
    service: dict[str, Any],
) -> None:
    client, alpha, beta = service["client"], service["alpha"], service["beta"]
    _upload(client, "/v2/actions", BETA_ACTIONS, beta)
    _upload(client, "/v2/actions?scope=public", BETA_PUBLIC_ACTIONS, beta)
    _upload(client, "/v2/workflows", BETA_WORKFLOWS, beta)
    _upload(client, "/v2/workflows", ALPHA_WORKFLOWS, alpha)

    own = _run(client, "b_flow", beta)
    assert own["state"] == "SUCCESS", own["state_info"]
    assert '"HI (beta)"' in own["output"]

    adhoc = _run(client, "a_adhoc", alpha)
    assert adhoc["state"] == "ERROR"
    assert "shout" in adhoc["state_info"] and "(beta)" not in adhoc["state_info"]
    sub = _run(client, "a_sub", alpha)
    assert sub["state"] == "ERROR"
    assert "b_only" in sub["state_info"]
    public = _run(client, "a_public", alpha)
    assert public["state"] == "SUCCESS", public["state_info"]
    assert "hello from a public action" in public["output"]

    counted = _run(client, "a_count", alpha)
    assert counted["state"] == "SUCCESS", counted["state_info"]
    seen = set(json.loads(counted["output"])["seen"])
    assert seen == {"a_adhoc", "a_sub", "a_public", "a_count"}  # none of beta's

    direct = client.post(
        "/v2/action_executions", json={"name": "shout", "input": {"text": "x"}}, headers=alpha
    )
    assert direct.status_code in (400, 404), direct.text
    assert "(beta)" not in direct.text


SAME_NAMES = """version: '2.0'
flow:
  tasks:
    t:
      action: shout
      input:
        text: hi
      publish:
        said: <% task().result %>
      on-success: [sub]
    sub:
      workflow: child
      publish:
        child_said: <% task().result.who %>
  output:
    said: <% $.said %>
    child_said: <% $.child_said %>
    env_who: <% env().who %>
child:
  tasks:
    t:
      action: std.noop
  output:
    who: {who}
"""
SAME_ACTION = """version: '2.0'
shout:
  input:
    - text
  base: std.echo
  base-input:
    output: <% $.text %> ({who})
"""


def test_two_projects_with_the_same_names_each_run_their_own(service: dict[str, Any]) -> None:
    client = service["client"]
    for who in ("alpha", "beta"):
        headers = service[who]
        _upload(client, "/v2/actions", SAME_ACTION.replace("{who}", who), headers)
        _upload(client, "/v2/workflows", SAME_NAMES.replace("{who}", who), headers)
        made = client.post(
            "/v2/environments", json={"name": "stage", "variables": {"who": who}}, headers=headers
        )
        assert made.status_code == 201, made.text
    for who in ("alpha", "beta"):
        started = client.post(
            "/v2/executions",
            json={"workflow_name": "flow", "params": {"env": "stage"}},
            headers=service[who],
        )
        assert started.status_code == 201, started.text
        path = f"/v2/executions/{started.json()['id']}"

        def ended(path: str = path, who: str = who) -> dict[str, Any] | None:
            found: dict[str, Any] = client.get(path, headers=service[who]).json()
            return found if found["state"] in ("SUCCESS", "ERROR") else None

        finished = wait_for(ended, what=f"{who}'s flow to end")
        assert finished["state"] == "SUCCESS", finished["state_info"]
        assert json.loads(finished["output"]) == {
            "said": f"hi ({who})",
            "child_said": who,
            "env_who": who,
        }


DYNAMIC_MODULE = """from mistral_lib import actions


class Greet(actions.Action):
    def __init__(self, name):
        self.name = name

    def run(self, context):
        return "hello %s from {who}" % self.name
"""
USES_DYNAMIC = """version: '2.0'
{workflow}:
  tasks:
    t:
      action: {action}
      input:
        name: you
      publish:
        said: <% task().result %>
  output:
    said: <% $.said %>
"""


def _dynamic_action(
    client: TestClient, headers: dict[str, str], name: str, who: str, scope: str = "private"
) -> None:
    module = f"{name}_mod"
    made = client.post(
        f"/v2/code_sources?name={module}&scope={scope}",
        content=DYNAMIC_MODULE.replace("{who}", who),
        headers={**headers, "Content-Type": "text/plain"},
    )
    assert made.status_code == 201, made.text
    defined = client.post(
        "/v2/dynamic_actions",
        json={"name": name, "class_name": "Greet", "code_source_name": module, "scope": scope},
        headers=headers,
    )
    assert defined.status_code == 201, defined.text


def test_a_dynamic_action_resolves_only_in_the_executions_project(
    tmp_path: Path,
) -> None:
    # Mistral 23 finds a dynamic action through its secure query: the caller's
    # project's own or a public one (db/v2/sqlalchemy/api.py _secure_query).
    embedded = open_embedded(f"sqlite:///{tmp_path / 'dynamic.sqlite'}")
    try:
        now = datetime.now(UTC).replace(tzinfo=None)
        with embedded.parts.database.transaction() as connection:
            _made, alpha_token = tokens.create(
                connection, project_id="alpha", role="admin", now=now
            )
            _made, beta_token = tokens.create(connection, project_id="beta", role="admin", now=now)
        gate = authentication.gate_for("tokens", Settings(), embedded.parts.database)
        client = TestClient(create_app(embedded.service, gate=gate))
        alpha, beta = {"X-Auth-Token": alpha_token}, {"X-Auth-Token": beta_token}
        _dynamic_action(client, beta, "beta_greet", "beta")
        _dynamic_action(client, beta, "all_greet", "beta", scope="public")
        for who, headers in (("alpha", alpha), ("beta", beta)):
            _dynamic_action(client, headers, "greet", who)
        _upload(
            client,
            "/v2/workflows",
            USES_DYNAMIC.format(workflow="b_dyn", action="beta_greet"),
            beta,
        )
        for workflow, action in (("a_private", "beta_greet"), ("a_public", "all_greet")):
            _upload(
                client,
                "/v2/workflows",
                USES_DYNAMIC.format(workflow=workflow, action=action),
                alpha,
            )
        for headers in (alpha, beta):
            _upload(
                client,
                "/v2/workflows",
                USES_DYNAMIC.format(workflow="same", action="greet"),
                headers,
            )

        own = _run(client, "b_dyn", beta)
        assert own["state"] == "SUCCESS", own["state_info"]
        assert json.loads(own["output"]) == {"said": "hello you from beta"}

        private = _run(client, "a_private", alpha)
        assert private["state"] == "ERROR"
        assert "Failed to find action [action_name=beta_greet" in private["state_info"]
        public = _run(client, "a_public", alpha)
        assert public["state"] == "SUCCESS", public["state_info"]
        assert json.loads(public["output"]) == {"said": "hello you from beta"}
        for who, headers in (("alpha", alpha), ("beta", beta)):
            same = _run(client, "same", headers)
            assert same["state"] == "SUCCESS", same["state_info"]
            assert json.loads(same["output"]) == {"said": f"hello you from {who}"}

        direct = client.post(
            "/v2/action_executions",
            json={"name": "beta_greet", "input": {"name": "x"}},
            headers=alpha,
        )
        assert direct.status_code == 400, direct.text
        assert direct.json()["faultstring"] == "Failed to find action [action_name=beta_greet]"
        for who, headers in (("alpha", alpha), ("beta", beta)):
            ran = client.post(
                "/v2/action_executions",
                json={"name": "greet", "input": {"name": "x"}},
                headers=headers,
            )
            assert ran.status_code == 201, ran.text
            assert json.loads(ran.json()["output"]) == {"result": f"hello x from {who}"}
    finally:
        embedded.close()
